"""`tasklens doctor`: which providers are configured, whether each key works, how fast, and the fix.

Every provider gets a line, configured or not. One without a key is reported with the variable to set;
one with a key and an incomplete setting (Maxsight without a region) is a failure naming what is
missing; a configured one runs its client's `check()` — the cheapest authenticated read of that API,
chosen and explained in the provider's module — timed in milliseconds. A failed check prints the exact
change that fixes it.

Keys are never printed: the text comes from settings (whose repr hides the key), from provider hints
that name variables, and from upstream messages that the HTTP policy has already redacted of the key.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal, TextIO

import anyio

from tasklens.tools.errors import ProviderError
from tasklens.tools.http.policy import RetryPolicy
from tasklens.tools.providers import PROVIDERS, SPECS_BY_NAME, ProviderClient, ProviderRegistry, Runtime
from tasklens.tools.providers.base import CHECK_DEADLINE_S
from tasklens.tools.results.provider_name import ProviderName
from tasklens.tools.shared.link import SharedLink

from .app import in_process_sandbox
from .config import Config
from .sandbox import Sandbox

# One retry rides over a blip; more would only delay the diagnosis of a real problem.
DOCTOR_RETRY = RetryPolicy(max_attempts=2, deadline_s=CHECK_DEADLINE_S)

Status = Literal["ok", "not configured", "incomplete", "failed"]
INDENT = " " * 14  # a check's detail and fix lines, under its `where` column


@dataclass(frozen=True)
class Diagnosis:
    """One provider's line in the report."""

    provider: ProviderName
    status: Status
    where: str = ""  # the base URL checked
    latency_ms: int | None = None
    detail: str = ""  # what the check proved, or what went wrong
    fix: str = ""

    @property
    def failed(self) -> bool:
        """A problem the user must fix: a key that does not work, or a key without its region."""
        return self.status in ("incomplete", "failed")


async def diagnose(config: Config, runtime: Callable[[ProviderName], Runtime] | None = None) -> list[Diagnosis]:
    """Check every provider of `config` concurrently; the result is in the canonical provider order."""

    def doctor_runtime(name: ProviderName) -> Runtime:
        return replace(runtime(name) if runtime else Runtime(), retry=DOCTOR_RETRY)

    registry = ProviderRegistry(config.providers, doctor_runtime)
    results: dict[ProviderName, Diagnosis] = {}

    async def run(name: ProviderName) -> None:
        results[name] = await _check(name, registry.client(name), config.sandbox)

    try:
        async with anyio.create_task_group() as group:
            for name in PROVIDERS:
                settings = config.providers.get(name)
                if name in registry.configured:
                    group.start_soon(run, name)
                elif settings is not None and settings.api_key:
                    results[name] = Diagnosis(name, "incomplete", fix=settings.missing)
                else:
                    key = SPECS_BY_NAME[name].key_variable
                    results[name] = Diagnosis(name, "not configured", fix=f"set {key} to use it")
    finally:
        await registry.aclose()
    return [results[name] for name in PROVIDERS]


async def _check(name: ProviderName, client: ProviderClient, sandbox: bool) -> Diagnosis:
    where = "in-process sandbox" if sandbox else client.settings.base_url or ""
    started = time.perf_counter()
    try:
        proof = await client.check()
    except ProviderError as error:
        latency = round((time.perf_counter() - started) * 1000)
        return Diagnosis(name, "failed", where, latency, _problem(error), _fix(name, client, error))
    latency = round((time.perf_counter() - started) * 1000)
    return Diagnosis(name, "ok", where, latency, f"{proof.request} → {proof.evidence}")


def _status_text(error: ProviderError) -> str:
    return f" (HTTP {error.http_status})" if error.http_status else ""


def _problem(error: ProviderError) -> str:
    """A few words on what went wrong; the sentence with the details is the fix."""
    labels = {
        "unauthorized": "key rejected",
        "forbidden": "access refused",
        "not_found": "API not found at this base URL",
        "bad_request": "request refused",
        "rate_limited": "rate limited",
        "unavailable": "provider failing on its side",
        "timeout": "no answer in time",
        "network": "unreachable",
        "bad_response": "answer is not this provider's API",
        "invalid_argument": "configured id refused",
        "not_configured": "not configured",
    }
    return labels.get(error.kind, error.kind) + _status_text(error)


def _fix(name: ProviderName, client: ProviderClient, error: ProviderError) -> str:
    """The change that fixes `error`. Provider checks explain refusals in their own terms (which key,
    region, scope or allow-list); transport-level failures are the same for every provider."""
    url = client.settings.base_url
    where = " or ".join(SPECS_BY_NAME[name].location_variables)
    match error.kind:
        case "network" | "timeout":
            return (
                f"Check that {url} is reachable from this machine (DNS, proxy, firewall); "
                f"if the host is wrong, set {where}."
            )
        case "bad_response":
            return (
                f"{url} answered with something that is not the {name} API (a sign-in page, a proxy?): "
                f"set {where} to the API host. {error.for_model()}"
            )
        case "rate_limited":
            return (
                f"{error.for_model()} If it keeps happening, other clients share this key, or lower "
                f"{SPECS_BY_NAME[name].rate_variable}."
            )
        case "unavailable":
            return f"{error.for_model()} Nothing to change in tasklens' configuration."
        case _:
            return error.for_model()


def render(diagnoses: list[Diagnosis], *, sandbox: bool) -> str:
    """The report for a terminal: one block per provider, a summary line last."""
    scope = " against the built-in sandbox (no network, no real keys)" if sandbox else ""
    lines = [f"tasklens doctor: checking {len(diagnoses)} providers{scope}", ""]
    for d in diagnoses:
        lines.append(_head(d.provider, d.status.upper() if d.failed else d.status, d.latency_ms, d.where))
        if d.detail:
            lines.append(f"{INDENT}{d.detail}")
        if d.fix:
            lines.append(f"{INDENT}{'fix: ' if d.failed else ''}{d.fix}")
    counts: dict[str, int] = {}
    for d in diagnoses:
        counts[d.status] = counts.get(d.status, 0) + 1
    summary = ", ".join(f"{n} {status}" for status, n in counts.items())
    lines += ["", summary + "."]
    if counts.get("not configured") == len(diagnoses):
        lines.append(
            "Nothing to check: set the key of a provider you use (`tasklens config CLIENT` prints a client "
            "configuration with every variable), or try the simulated providers: tasklens doctor --sandbox"
        )
    return "\n".join(lines) + "\n"


async def check_redis(url: str, replicas: int) -> tuple[bool, str]:
    """Whether the Redis replicas share answers, and the report's line for it (its location, never a password)."""
    link = SharedLink(url, replicas=replicas)
    started = time.perf_counter()
    try:
        answered = await link.ping()
    finally:
        await link.aclose()
    latency = round((time.perf_counter() - started) * 1000)
    if answered:
        return True, _head("redis", "ok", latency, f"{link.location}, shared by {replicas} replicas") + "\n"
    return False, (
        _head("redis", "FAILED", latency, link.location) + "\n"
        f"{INDENT}fix: start Redis there or correct TASKLENS_REDIS_URL; until it answers, each replica waits one "
        "rate window, then sends at most its share\n"
    )


def _head(name: str, status: str, latency_ms: int | None, where: str) -> str:
    """A checked item's first line: name, status, latency and where, in the report's columns."""
    latency = f"{latency_ms} ms" if latency_ms is not None else ""
    return f"  {name:<11} {status:<15} {latency:>7}  {where}".rstrip()


async def run_doctor(config: Config, out: TextIO | None = None, sandbox: Sandbox | None = None) -> int:
    """Print the report; 1 when a configured provider fails (or has a key without its region), or the
    configured Redis does not answer, else 0."""
    runtime = None
    if config.sandbox:
        config, runtime = in_process_sandbox(config, sandbox)
    diagnoses = await diagnose(config, runtime)
    report = render(diagnoses, sandbox=config.sandbox)
    redis_ok = True
    if config.redis_url:
        redis_ok, line = await check_redis(config.redis_url, config.replicas)
        report += line
    (out or sys.stdout).write(report)
    return 1 if any(d.failed for d in diagnoses) or not redis_ok else 0
