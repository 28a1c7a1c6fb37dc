"""summarize_export through a real MCP client: results, budgets, progress, cancellation, errors, and the
`ango:<project_id>` path against the sandbox (in memory and over real loopback HTTP)."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.server.mcpserver import MCPServer

from support.export_fixtures import DATA, ExportGenerator, encode, wrap
from support.mcp_harness import text_of, tokens
from tasklens.server.app import build_server, in_process_sandbox, sandbox_providers
from tasklens.server.config import Config
from tasklens.server.sandbox import Sandbox, serve_on_loopback
from tasklens.tools.export import pipeline
from tasklens.tools.providers import ProviderRegistry

pytestmark = pytest.mark.anyio
PROJECT = "645240ed462db80015ce881f"
OTHER_PROJECT = "64f0c1a2b3d4e5f601234a01"
MODES = ["auto", "legacy"]


def server_for(root: Path) -> MCPServer:
    config, runtime = in_process_sandbox(Config(providers={}, export_roots=(str(root),)))
    return build_server(config, runtime)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("exports")
    assets = list(ExportGenerator(31, legacy_share=0.1).assets(150))
    (folder / "small.json").write_bytes(encode(assets))
    (folder / "small.zip").write_bytes(wrap(encode(assets, "ndjson"), "zip", "export.ndjson"))
    big = ExportGenerator(37, classes=400, labelers=300, reviewers=60, questions=80, legacy_share=0.2, max_tools=8)
    (folder / "large.ndjson.gz").write_bytes(wrap(encode(big.assets(900), "ndjson"), "gz"))
    (folder / "invalid.json").write_bytes((DATA / "ango_legacy_export_readme_sample.INVALID.json").read_bytes())
    return folder


@pytest.mark.parametrize("mode", MODES)
async def test_a_local_export_through_the_mcp_client(root: Path, mode: str) -> None:
    async with Client(server_for(root), mode=mode) as client:
        result = await client.call_tool("summarize_export", {"source": "small.json"})
        zipped = await client.call_tool("summarize_export", {"source": str(root / "small.zip")})
    assert not result.is_error, text_of(result)
    data = result.structured_content
    assert json.loads(text_of(result)) == data and "null" not in text_of(result)
    assert data["source"] == "small.json" and data["assets"] == 150 and data["sandbox"] is True
    assert data["generation"].startswith("mixed") and data["labels"]["classes"]
    # Only where it came from differs, and with it the export-summary:// URI it is kept under.
    assert data["resource"] != zipped.structured_content["resource"]
    assert {k: v for k, v in zipped.structured_content.items() if k not in ("source", "resource")} == {
        k: v for k, v in data.items() if k not in ("source", "resource")
    }


@pytest.mark.parametrize("top_k", [10, 50])
async def test_token_budgets_on_a_large_export_with_many_classes_and_people(root: Path, top_k: int) -> None:
    async with Client(server_for(root)) as client:
        concise = await client.call_tool("summarize_export", {"source": "large.ndjson.gz", "top_k": top_k})
        detailed = await client.call_tool(
            "summarize_export", {"source": "large.ndjson.gz", "top_k": top_k, "response_format": "detailed"}
        )
    assert not concise.is_error and not detailed.is_error, text_of(concise)
    assert tokens(text_of(concise)) <= 2000, tokens(text_of(concise))
    assert tokens(text_of(detailed)) <= 8000, tokens(text_of(detailed))
    summary = detailed.structured_content
    assert len(summary["labels"]["classes"]) <= top_k and len(summary["people"]["labelers"]) <= top_k
    assert "truncated" in summary and "classes" in summary["truncated"]
    assert tokens(text_of(concise)) < tokens(text_of(detailed))


@pytest.mark.parametrize("mode", MODES)
async def test_progress_notifications_reach_the_client(root: Path, mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "PROGRESS_EVERY_S", 0.0)  # every chunk, so a small file shows several
    monkeypatch.setattr(pipeline, "CHUNK", 64 << 10)
    seen: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))

    async with Client(server_for(root), mode=mode) as client:
        result = await client.call_tool("summarize_export", {"source": "small.json"}, progress_callback=on_progress)
    assert not result.is_error
    size = os.path.getsize(root / "small.json")
    assert len(seen) >= 3
    assert [p for p, _, _ in seen] == sorted({p for p, _, _ in seen})  # strictly increasing
    assert seen[-1][:2] == (size, size) and "assets so far" in (seen[-1][2] or "")


async def test_cancellation_stops_the_read_promptly(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "PROGRESS_EVERY_S", 0.0)
    monkeypatch.setattr(pipeline, "CHUNK", 4 << 10)
    fed: list[int] = []
    original = pipeline.ExportReader.feed

    def counting_feed(self: pipeline.ExportReader, raw: bytes) -> None:
        fed.append(len(raw))
        original(self, raw)

    monkeypatch.setattr(pipeline.ExportReader, "feed", counting_feed)
    started = anyio.Event()

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        started.set()

    async with Client(server_for(root)) as client:
        with anyio.move_on_after(10) as timeout:
            async with anyio.create_task_group() as group:

                async def call() -> None:
                    await client.call_tool(
                        "summarize_export", {"source": "large.ndjson.gz"}, progress_callback=on_progress
                    )

                group.start_soon(call)
                await started.wait()
                group.cancel_scope.cancel()
        assert not timeout.cancelled_caught
        await anyio.sleep(0.3)
        after_cancel = len(fed)
        await anyio.sleep(0.3)
        assert len(fed) == after_cancel  # the server stopped reading
        assert sum(fed) < os.path.getsize(root / "large.ndjson.gz")
        again = await client.call_tool("summarize_export", {"source": "small.json"})  # the server is fine
        assert not again.is_error


@pytest.mark.parametrize("mode", MODES)
async def test_failures_are_is_error_sentences(root: Path, mode: str) -> None:
    async with Client(server_for(root), mode=mode) as client:
        invalid = await client.call_tool("summarize_export", {"source": "invalid.json"})
        outside = await client.call_tool("summarize_export", {"source": "/etc/passwd"})
        url = await client.call_tool("summarize_export", {"source": "http://169.254.169.254/latest/meta-data"})
        bad_top_k = await client.call_tool("summarize_export", {"source": "small.json", "top_k": 0})
        bad_project = await client.call_tool("summarize_export", {"source": "ango:../../admin"})
    offset = (DATA / "ango_legacy_export_readme_sample.INVALID.json").read_bytes().index(b'"reviewedAt"')
    assert invalid.is_error and f"at byte {offset}: expected ',' or '}}'" in text_of(invalid)
    assert invalid.structured_content is None  # never a partial summary
    assert outside.is_error and "outside the export roots" in text_of(outside)
    assert url.is_error and "https://" in text_of(url)
    assert bad_top_k.is_error
    assert bad_project.is_error and "project_id contains characters an id cannot have" in text_of(bad_project)


async def test_an_ango_project_export_in_memory() -> None:
    sandbox = Sandbox()
    config, runtime = in_process_sandbox(Config(providers={}), sandbox)
    async with Client(build_server(config, runtime)) as client:
        result = await client.call_tool("summarize_export", {"source": f"ango:{PROJECT}", "stage": "Complete"})
    assert not result.is_error, text_of(result)
    data = result.structured_content
    assert data["source"] == f"ango:{PROJECT}" and data["sandbox"] is True
    assert data["stages"] == {"Complete": data["assets"]} and data["records"] > data["assets"] > 0
    exports = [r for r in sandbox.requests if r.path.endswith("/export")]
    assert len(exports) == 1 and "format=ndjson" in exports[0].query and "stage=" in exports[0].query


async def test_an_ango_project_export_over_real_loopback_http_matches_the_reference() -> None:
    from support.export_expected import expected_summary
    from support.export_reference import summarize as reference

    sandbox = Sandbox()
    async with serve_on_loopback(sandbox) as origin:
        config = Config(providers=sandbox_providers(sandbox, origin=origin), sandbox=True)
        async with Client(build_server(config)) as client:
            result = await client.call_tool(
                "summarize_export", {"source": f"ango:{PROJECT}", "response_format": "detailed", "top_k": 50}
            )
            missing = await client.call_tool("summarize_export", {"source": "ango:000000000000000000000000"})
    assert not result.is_error, text_of(result)
    downloads = [r for r in sandbox.requests if "/_sandbox/ango/exports/" in r.path]
    assert len(downloads) == 1 and "apikey" not in downloads[0].header_names  # signed link: no key sent
    token = downloads[0].path.rsplit("/", 1)[-1].removesuffix(".zip")
    import io
    import zipfile

    archive = zipfile.ZipFile(io.BytesIO(sandbox.ango_export_bytes(token) or b""))
    assets = [json.loads(line) for line in archive.read(archive.namelist()[0]).splitlines() if line.strip()]
    got = result.structured_content
    expected = expected_summary(reference(assets), f"ango:{PROJECT}")
    assert {k: v for k, v in got.items() if k not in ("sandbox", "resource")} == expected
    assert missing.is_error and "Ango has no project 000000000000000000000000" in text_of(missing)


async def test_exports_of_one_project_are_serialized(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ango keeps one export file per project: a second export must wait for the first read to end."""
    from tasklens.tools.export import service

    active: dict[str, int] = {}
    peak: dict[str, int] = {}

    async def slow_read(reader: Any, url: str, settings: Any, progress: Any) -> None:
        active[url] = active.get(url, 0) + 1
        peak[url] = max(peak.get(url, 0), active[url])
        await anyio.sleep(0.05)
        reader.feed(b'[{"externalId": "a.jpg", "task": {"stage": "Complete"}}]')  # one asset, read whole
        reader.finish()
        active[url] -= 1

    monkeypatch.setattr(service, "read_url", slow_read)
    config, runtime = in_process_sandbox(Config(providers={}))
    registry = ProviderRegistry(config.providers, runtime)
    settings = pipeline.ExportSettings(sandbox=True)
    client = registry.client("ango")
    calls: list[str] = []

    async def recording_request(project_id: str) -> str:
        calls.append(project_id)
        await anyio.sleep(0.01)
        return f"project:{project_id}"

    monkeypatch.setattr(client, "request_export", recording_request)
    try:
        async with anyio.create_task_group() as group:
            for project in (PROJECT, PROJECT, PROJECT, OTHER_PROJECT):
                group.start_soon(
                    lambda p=project: service.summarize(
                        f"ango:{p}",
                        settings=settings,
                        registry=registry,
                        filters=service.Filters(),
                        top_k=5,
                        detailed=False,
                    )
                )
                await anyio.sleep(0)
    finally:
        await registry.aclose()
    assert sorted(calls) == sorted([PROJECT] * 3 + [OTHER_PROJECT])
    assert peak == {f"project:{PROJECT}": 1, f"project:{OTHER_PROJECT}": 1}
    assert client.export_lock(PROJECT) is client.export_lock(PROJECT)
    assert client.export_lock(PROJECT) is not client.export_lock(OTHER_PROJECT)


def test_settings_follow_the_config(tmp_path: Path) -> None:
    from tasklens.server.app import export_settings

    config = replace(Config(providers={}), export_roots=(str(tmp_path),))
    settings = export_settings(config, None)
    assert settings.roots == (str(tmp_path),) and not settings.sandbox and not settings.download.trusted_origins


async def test_an_export_link_on_the_configured_ango_origin_is_read_even_over_plain_http() -> None:
    """An on-premise or proxied Hub answers with links on its own origin; the user configured that host,
    so its plain-http link is read (outside sandbox mode), while a URL on any other loopback port is not."""
    sandbox = Sandbox()
    async with serve_on_loopback(sandbox) as origin, serve_on_loopback(Sandbox()) as other:
        providers = {"ango": replace(sandbox_providers(sandbox, origin=origin)["ango"], sandbox=False)}
        async with Client(build_server(Config(providers=providers))) as client:
            result = await client.call_tool("summarize_export", {"source": f"ango:{PROJECT}"})
            elsewhere = await client.call_tool("summarize_export", {"source": f"{other}/_sandbox/ango/exports/x.zip"})
    assert not result.is_error, text_of(result)
    assert result.structured_content["assets"] > 0
    assert elsewhere.is_error and "must be https://" in text_of(elsewhere)
    assert "pass its path instead" in text_of(elsewhere)


@pytest.mark.parametrize(
    "content, expected",
    [
        (b"", "holds no records"),
        (b"   \n\n  ", "holds no records"),
        (b"[]", "holds no records"),
        (b'[{"name": "get_task", "inputSchema": {}}, {"name": "poll_task"}]', "not an Ango export"),
        (b'[1, "x", {"task": {}}]', "not an Ango export"),
    ],
)
async def test_what_is_no_ango_export_is_refused_with_what_to_pass(
    tmp_path: Path, content: bytes, expected: str
) -> None:
    (tmp_path / "export.json").write_bytes(content)
    async with Client(server_for(tmp_path)) as client:
        result = await client.call_tool("summarize_export", {"source": str(tmp_path / "export.json")})
    assert result.is_error and expected in text_of(result), text_of(result)
    assert "ango:<project_id>" in text_of(result)


async def test_sandbox_mode_reads_only_the_sandboxs_own_origin_over_plain_http() -> None:
    """In sandbox mode the sandbox's signed links are read; any other local port (another service on
    this machine) is refused before it is contacted."""
    sandbox, bystander = Sandbox(), Sandbox()
    async with serve_on_loopback(sandbox) as origin, serve_on_loopback(bystander) as other:
        config = Config(providers=sandbox_providers(sandbox, origin=origin), sandbox=True)
        async with Client(build_server(config)) as client:
            result = await client.call_tool("summarize_export", {"source": f"ango:{PROJECT}"})
            elsewhere = await client.call_tool("summarize_export", {"source": f"{other}/_sandbox/ango/exports/x.zip"})
    assert not result.is_error, text_of(result)
    assert elsewhere.is_error and "must be https://" in text_of(elsewhere)
    assert not bystander.requests
