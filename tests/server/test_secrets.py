"""API keys never appear in a tool result, an error, a log line or an exception's text, on any error path.

Every provider gets a distinctive fake key. A translating proxy in front of the loopback sandbox plays
an upstream that knows those keys: it swaps each fake key for the sandbox's own on the way in, and
back on the way out. So the sandbox answers 403, 404 and every injected fault, and `echo_headers`
sends tasklens' fake key back in an error body, as a real upstream that echoes request headers would.
With the proxy off, the fake keys reach the sandbox, which answers 401.

For every tool and provider, and every path, the test captures three things:
- the MCP result: text, structured content and the whole wire form;
- every log record at DEBUG, from every logger;
- the text of the `ProviderError` the provider client raises: str, repr, args and pickled form.
It then greps them for each key, its first and last 8 characters, and any 12-character window. One
stdio subprocess case greps the server's stderr too.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from support.catalog_calls import catalog_calls
from support.clocks import WarpTime
from support.mcp_harness import text_of
from tasklens.server.app import build_server, sandbox_providers
from tasklens.server.config import Config
from tasklens.server.sandbox import SANDBOX_KEYS, Fault, ManualClock, Sandbox, serve_on_loopback
from tasklens.server.sandbox.catalog import SENDAI_RESTRICTED_PROJECT, SENDAI_RESTRICTED_TASK, SENDAI_TEAM
from tasklens.tools.errors import ProviderError
from tasklens.tools.http.policy import RetryPolicy
from tasklens.tools.providers import ProviderRegistry, Runtime
from tasklens.tools.results.find import FindQuery

pytestmark = pytest.mark.anyio
# Same length as the sandbox's keys, so swapping them never changes a Content-Length.
FAKE_KEYS = {
    name: hashlib.sha256(f"tasklens-secret-{name}".encode()).hexdigest()[: len(key)]
    for name, key in SANDBOX_KEYS.items()
}
RETRY = RetryPolicy(max_attempts=2, base_delay_s=0.01, max_delay_s=0.05, read_timeout_s=0.15, deadline_s=5.0)
FAULTS = [
    Fault("429", times=-1, retry_after=1),
    *(Fault(kind, times=-1) for kind in ("500", "502", "503", "504", "html", "malformed", "truncated", "reset")),
    Fault("slow", times=-1, delay_s=0.4),
    Fault("echo_headers", times=-1),
]
UNKNOWN_IDS = {
    "deepomatic": "999999999",
    "maxsight": "00000000-0000-4000-8000-000000000000",
    "ango": "000000000000000000000000",
    "sendai": "task_000000000000",
}


def leaked(text: str, keys: dict[str, str] = FAKE_KEYS) -> list[str]:
    """Which keys show up in `text`, whole or as their first/last 8 characters or any 12-character window."""
    found = []
    for name, key in keys.items():
        pieces = {key, key[:8], key[-8:], *(key[i : i + 12] for i in range(len(key) - 11))}
        if any(piece in text for piece in pieces):
            found.append(name)
    return found


class KeyTranslator:
    """An upstream that knows the fake keys: fake -> sandbox key in request headers, back in response bodies."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.enabled = True
        self.sent: Counter[str] = Counter()  # requests that carried a fake key, per provider
        self.echoed: Counter[str] = Counter()  # response bodies that carried a key back

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = []
        for name, value in scope["headers"]:
            for provider, fake in FAKE_KEYS.items():
                if fake.encode() in value:
                    self.sent[provider] += 1
                    if self.enabled:
                        value = value.replace(fake.encode(), SANDBOX_KEYS[provider].encode())
            headers.append((name, value))

        async def send_back(message: Any) -> None:
            if message["type"] == "http.response.body":
                body = message.get("body", b"")
                for provider, real in SANDBOX_KEYS.items():
                    if real.encode() in body:
                        self.echoed[provider] += 1
                        body = body.replace(real.encode(), FAKE_KEYS[provider].encode())
                message = {**message, "body": body}
            await send(message)

        await self.app({**scope, "headers": headers}, receive, send_back)


@pytest.fixture
def upstream() -> Iterator[tuple[Sandbox, KeyTranslator]]:
    sandbox = Sandbox(clock=ManualClock(), ango_requests_per_minute=None)
    yield sandbox, KeyTranslator(sandbox)


def _error_cases(tools: list[Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(label, tool, arguments) for each tool and provider: a task that exists, one that does not, and a
    Send.ai project the key may not read."""
    cases = []
    for tool in tools:
        by_provider: dict[str, dict[str, Any]] = {}
        for arguments in catalog_calls(tool):
            by_provider.setdefault(arguments.get("provider", ""), arguments)
        for provider, arguments in by_provider.items():
            cases.append(("existing", tool.name, arguments))
            if not {"task_id", "task_ids"} & set(tool.input_schema.get("properties", {})):
                continue  # a listing (find_tasks) names no task: the 401 and fault plans cover it
            if provider in UNKNOWN_IDS:
                cases.append(("404", tool.name, _with_task(arguments, UNKNOWN_IDS[provider])))
            if provider == "sendai":
                restricted = {"team_id": SENDAI_TEAM, "project_id": SENDAI_RESTRICTED_PROJECT}
                cases.append(("403", tool.name, _with_task({**arguments, **restricted}, SENDAI_RESTRICTED_TASK)))
    return cases


def _with_task(arguments: dict[str, Any], task_id: str) -> dict[str, Any]:
    """`arguments` naming `task_id` instead, whether the tool takes one id or a list of them."""
    if "task_ids" in arguments:
        return {**arguments, "task_ids": [task_id]}
    return {**arguments, "task_id": task_id}


async def test_keys_never_leak_on_any_error_path(
    upstream: tuple[Sandbox, KeyTranslator], caplog: pytest.LogCaptureFixture
) -> None:
    sandbox, translator = upstream
    caplog.set_level(logging.DEBUG)
    warp = WarpTime()
    runtime = Runtime(clock=warp.clock, sleep=warp.sleep, retry=RETRY)
    outputs: list[str] = []
    kinds: Counter[str] = Counter()
    async with serve_on_loopback(translator) as origin:
        providers = {
            name: replace(settings, api_key=FAKE_KEYS[name], requests_per_minute=None)
            for name, settings in sandbox_providers(sandbox, origin=origin).items()
        }
        registry = ProviderRegistry(providers, lambda name: runtime)  # the same clients, called directly
        server = build_server(Config(providers=providers, sandbox=True), lambda name: runtime)
        try:
            async with Client(server, mode="legacy") as client:
                cases = _error_cases((await client.list_tools()).tools)
                assert {label for label, _, _ in cases} == {"existing", "404", "403"}
                plans: list[tuple[str, Fault | None, bool]] = [("401", None, False)]
                plans += [(label, None, True) for label in ("404", "403")]
                plans += [(fault.kind, fault, True) for fault in FAULTS]
                for plan, fault, translate in plans:
                    translator.enabled = translate
                    for label, tool, arguments in cases:
                        if label != plan and not (label == "existing" and plan not in ("404", "403")):
                            continue
                        sandbox.faults.clear()
                        if fault is not None:
                            sandbox.faults.add(replace(fault, provider=arguments.get("provider", "ango")))
                        result = await client.call_tool(tool, arguments)
                        # Ango builds an export while the request is open, so summarize_export waits
                        # out a slow answer (long read timeout) instead of failing: still checked below.
                        slow_export = plan == "slow" and tool == "summarize_export"
                        assert result.is_error or slow_export, (plan, tool, arguments, text_of(result))
                        outputs += [text_of(result), result.model_dump_json(by_alias=True)]
                        outputs.append(await _provider_error_text(registry, tool, arguments))
                        kinds[plan] += 1
            for name in providers:  # what a debugger, a log formatter or a crash report would print
                outputs += [
                    repr(providers[name]),
                    repr(registry.client(name).http),
                    repr(registry.client(name).settings),
                ]
        finally:
            sandbox.faults.clear()
            await registry.aclose()
    outputs += [record.getMessage() for record in caplog.records]
    outputs += [caplog.text]
    for output in outputs:
        assert not leaked(output), (leaked(output), output[:500])
    # not vacuous: every path ran for every provider, the keys were sent, and upstream echoed them back
    assert set(kinds) == {"401", "403", "404", *(f.kind for f in FAULTS)}, kinds
    assert set(translator.sent) == set(FAKE_KEYS), translator.sent
    assert set(translator.echoed) == set(FAKE_KEYS), translator.echoed


async def _provider_error_text(registry: ProviderRegistry, tool: str, arguments: dict[str, Any]) -> str:
    """The same call on the provider client itself: everything its ProviderError would show anyone."""
    if "provider" not in arguments:  # summarize_export: its ProviderError is the one its result showed
        return ""
    client = registry.client(arguments["provider"])
    try:
        if tool == "find_tasks":
            await client.find_tasks(
                FindQuery(provider=arguments["provider"], project_id=arguments.get("project_id"), limit=1)
            )
        else:
            await client.get_task(
                arguments.get("task_id") or arguments["task_ids"][0],
                team_id=arguments.get("team_id"),
                project_id=arguments.get("project_id"),
            )
    except ProviderError as error:
        revived = pickle.loads(pickle.dumps(error))
        return "\n".join(
            [str(error), repr(error), repr(error.args), error.for_model(), str(vars(error)), repr(revived)]
        )
    raise AssertionError(f"expected a ProviderError for {arguments}")


async def test_stdio_server_stderr_never_shows_the_key(upstream: tuple[Sandbox, KeyTranslator], tmp_path: Path) -> None:
    """A real `tasklens serve` subprocess at DEBUG, with a real key variable, on the echo_headers fault and
    a 401: neither its results nor anything it writes to stderr carries the key."""
    sandbox, translator = upstream
    sandbox.faults.add(Fault("echo_headers", times=1, provider="deepomatic"))
    async with serve_on_loopback(translator) as origin:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("ANGO_", "DEEPOMATIC_", "SENDAI_", "MAXSIGHT_", "TASKLENS_"))
        }
        env |= {
            "DEEPOMATIC_API_KEY": FAKE_KEYS["deepomatic"],
            "DEEPOMATIC_API_URL": f"{origin}/deepomatic",
            "TASKLENS_LOG_LEVEL": "DEBUG",
        }
        parameters = StdioServerParameters(command=sys.executable, args=["-m", "tasklens.server", "serve"], env=env)
        log = tmp_path / "stderr.log"
        texts = []
        with log.open("w") as errlog:
            async with Client(stdio_client(parameters, errlog=errlog), mode="legacy") as client:
                for translate in (True, False):  # echo_headers first, then a 401
                    translator.enabled = translate
                    result = await client.call_tool("get_task", {"provider": "deepomatic", "task_id": "269999729"})
                    assert result.is_error
                    texts.append(result.model_dump_json(by_alias=True))
        stderr = log.read_text()
    assert translator.echoed["deepomatic"] == 1 and translator.sent["deepomatic"] >= 2
    assert "DEBUG" in stderr and "HTTP Request" in stderr  # the subprocess really logged at DEBUG
    for text in [*texts, stderr]:
        assert not leaked(text), text[:500]


async def test_a_key_echoed_in_a_response_header_stays_out_of_the_debug_log() -> None:
    """At DEBUG, httpcore logs raw response headers; an upstream whose redirect `Location:` echoes the key
    must not put it on stderr. `tasklens doctor` at DEBUG against such an upstream, run as a subprocess."""
    import anyio

    key = FAKE_KEYS["deepomatic"]

    async def redirecting_upstream(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        location = f"https://elsewhere.example/login?apikey={key}".encode()
        await send({"type": "http.response.start", "status": 302, "headers": [(b"location", location)]})
        await send({"type": "http.response.body", "body": b""})

    async with serve_on_loopback(redirecting_upstream) as origin:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("ANGO_", "DEEPOMATIC_", "SENDAI_", "MAXSIGHT_", "TASKLENS_"))
        }
        env |= {"DEEPOMATIC_API_KEY": key, "DEEPOMATIC_API_URL": origin, "TASKLENS_LOG_LEVEL": "DEBUG"}
        done = await anyio.run_process([sys.executable, "-m", "tasklens.server", "doctor"], env=env, check=False)
    stderr, stdout = done.stderr.decode(), done.stdout.decode()
    assert "DEBUG" in stderr and "HTTP Request" in stderr and "302" in stderr  # it really logged, at DEBUG
    assert done.returncode == 1 and "deepomatic" in stdout
    assert not leaked(stderr + stdout), stderr[-2000:]
