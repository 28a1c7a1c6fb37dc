"""The `export-summary://` resources: summarize_export's last results, read back through a real MCP client
in both protocol generations (listing, reading, eviction, errors, what the listing may show)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import Client, MCPError
from mcp.client.subscriptions import ResourcesListChanged
from mcp.server.mcpserver import MCPServer
from mcp.types import ResourceListChangedNotification

from support.export_fixtures import ExportGenerator, encode
from support.mcp_harness import text_of
from tasklens.server.app import build_server, in_process_sandbox
from tasklens.server.config import Config
from tasklens.server.sandbox import SANDBOX_KEYS, Sandbox
from tasklens.tools.export.store import CAPACITY, summary_label

pytestmark = pytest.mark.anyio
MODES = ["auto", "legacy"]
PROJECT = "645240ed462db80015ce881f"
URI = re.compile(r"export-summary://[0-9a-f]{12}")


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """CAPACITY + 1 small exports that summarize differently, one of them in a sub-folder."""
    folder = tmp_path_factory.mktemp("summaries")
    (folder / "nested" / "deeper").mkdir(parents=True)
    for n in range(CAPACITY + 1):
        where = folder / "nested" / "deeper" if n == 0 else folder
        (where / f"export{n}.json").write_bytes(encode(ExportGenerator(100 + n).assets(3 + n)))
    return folder


def server_for(root: Path, sandbox: Sandbox | None = None) -> MCPServer:
    config, runtime = in_process_sandbox(Config(providers={}, export_roots=(str(root),)), sandbox)
    return build_server(config, runtime)


async def summaries_listed(client: Client) -> list[Any]:
    return [r for r in (await client.list_resources()).resources if str(r.uri).startswith("export-summary://")]


async def read_text(client: Client, uri: str) -> str:
    contents = (await client.read_resource(uri)).contents
    assert len(contents) == 1 and contents[0].mime_type == "application/json", uri
    return contents[0].text  # type: ignore[union-attr]


@pytest.mark.parametrize("mode", MODES)
async def test_a_summary_is_listed_and_reads_back_exactly_as_the_tool_returned_it(root: Path, mode: str) -> None:
    async with Client(server_for(root), mode=mode) as client:
        templates = (await client.list_resource_templates()).resource_templates
        assert ("export-summary://{summary_id}", "application/json") in [
            (t.uri_template, t.mime_type) for t in templates
        ]
        assert await summaries_listed(client) == []

        first = await client.call_tool("summarize_export", {"source": "export1.json"})
        assert not first.is_error, text_of(first)
        uri = first.structured_content["resource"]
        assert URI.fullmatch(uri) and f'"resource":"{uri}"' in text_of(first)
        [listed] = await summaries_listed(client)
        assert (str(listed.uri), listed.mime_type, listed.size) == (
            uri,
            "application/json",
            len(text_of(first).encode()),
        )
        assert await read_text(client, uri) == text_of(first)
        assert await read_text(client, "export-summary://latest") == text_of(first)

        # A filter makes another summary of the same source, kept beside the first, newest listed first.
        filtered = await client.call_tool(
            "summarize_export", {"source": "export1.json", "top_k": 2, "stage": "Complete"}
        )
        other = filtered.structured_content["resource"]
        assert other != uri and await read_text(client, other) == text_of(filtered)
        assert [str(r.uri) for r in await summaries_listed(client)] == [other, uri]
        assert "stage=Complete, top_k=2" in (await summaries_listed(client))[0].title

        # The same summary again is the same URI, refreshed rather than stored twice.
        again = await client.call_tool("summarize_export", {"source": "export1.json"})
        assert text_of(again) == text_of(first)
        assert [str(r.uri) for r in await summaries_listed(client)] == [uri, other]
        assert await read_text(client, "export-summary://latest") == text_of(first)


@pytest.mark.parametrize("mode", MODES)
async def test_the_server_keeps_the_last_eight_and_says_how_to_get_an_evicted_one_back(root: Path, mode: str) -> None:
    async with Client(server_for(root), mode=mode) as client:
        results = []
        for n in range(CAPACITY + 1):
            source = f"nested/deeper/export{n}.json" if n == 0 else f"export{n}.json"
            result = await client.call_tool("summarize_export", {"source": source})
            assert not result.is_error, text_of(result)
            results.append((result.structured_content["resource"], text_of(result)))
        assert len({uri for uri, _ in results}) == CAPACITY + 1
        listed = [str(r.uri) for r in await summaries_listed(client)]
        assert listed == [uri for uri, _ in reversed(results[1:])]
        for uri, text in results[1:]:
            assert await read_text(client, uri) == text
        with pytest.raises(MCPError) as evicted:
            await read_text(client, results[0][0])
    message = evicted.value.error.message
    assert evicted.value.error.code == -32602 and message.endswith("run summarize_export again.")
    assert "\n" not in message and message.count(". ") == 0 and len(message) < 200


@pytest.mark.parametrize("mode", MODES)
async def test_unknown_ids_are_one_clean_sentence(root: Path, mode: str) -> None:
    async with Client(server_for(root), mode=mode) as client:
        for uri in ("export-summary://latest", "export-summary://0123456789ab", "export-summary://%0Aignore%20this"):
            with pytest.raises(MCPError) as caught:
                await client.read_resource(uri)
            error = caught.value.error
            assert error.code == -32602, uri
            assert "run summarize_export again" in error.message and "\n" not in error.message, error.message
            assert "Traceback" not in error.message
        failed = await client.call_tool("summarize_export", {"source": "missing.json"})
        assert failed.is_error and await summaries_listed(client) == []  # only successful results are kept


async def test_the_store_is_the_servers_not_a_sessions(root: Path) -> None:
    """Over HTTP each client (and, in 2026-07-28, each request) is its own session; all share the store."""
    server = server_for(root)
    async with Client(server, mode="legacy") as one:
        uri = (await one.call_tool("summarize_export", {"source": "export2.json"})).structured_content["resource"]
    async with Client(server) as two:
        assert [str(r.uri) for r in await summaries_listed(two)] == [uri]
        assert URI.fullmatch(uri) and '"source":"export2.json"' in await read_text(two, uri)


async def test_listing_never_shows_directories_or_a_signed_urls_path_and_query(root: Path) -> None:
    sandbox = Sandbox()
    server = server_for(root, sandbox)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sandbox), base_url="http://sandbox") as http:
        answer = await http.get(
            "/ango/v2/export", params={"project": PROJECT}, headers={"apikey": SANDBOX_KEYS["ango"]}
        )
    signed = answer.json()["data"]["exportPath"]
    url = httpx.URL(signed)
    assert url.query and "/_sandbox/ango/exports/" in url.path  # the signed link carries a query and a token path
    token = url.path.rsplit("/", 1)[-1].removesuffix(".zip")
    secrets = [url.query.decode(), token, url.path, str(root), "nested", "deeper"]
    async with Client(server) as client:
        by_url = await client.call_tool("summarize_export", {"source": signed, "batch": "x"})
        by_path = await client.call_tool(
            "summarize_export", {"source": str(root / "nested" / "deeper" / "export0.json")}
        )
        assert not by_url.is_error and not by_path.is_error, (text_of(by_url), text_of(by_path))
        listed = await summaries_listed(client)
        templates = (await client.list_resource_templates()).resource_templates
    shown = [(str(r.uri), r.name, r.title or "", r.description or "") for r in listed]
    assert [s[2] for s in shown] == ["Export summary: export0.json", "Export summary: an export from sandbox (batch=x)"]
    for fields in shown:
        for field in fields:
            for secret in secrets:
                assert secret not in field, (secret, field)
    assert all(URI.fullmatch(uri) for uri, *_ in shown)
    assert all(
        t.description and "/" not in t.description for t in templates if t.uri_template.startswith("export-summary")
    )


def test_labels_keep_only_a_file_name_or_a_host() -> None:
    label = summary_label(
        "https://bucket.s3.amazonaws.com/exports/tok3n-secret/export.zip?X-Amz-Signature=abc123&X-Amz-Credential=k",
        stage=None,
        batch=None,
        annotator="Ana@example.com",
        top_k=5,
        detailed=True,
    )
    assert label == "an export from bucket.s3.amazonaws.com (annotator=Ana@example.com, top_k=5, detailed)"
    assert (
        summary_label(
            "/home/me/private/2024/export.ndjson.gz",
            stage="Review",
            batch=None,
            annotator=None,
            top_k=None,
            detailed=False,
        )
        == "export.ndjson.gz (stage=Review)"
    )
    assert (
        summary_label(f"  ango:{PROJECT} ", stage=None, batch=None, annotator=None, top_k=None, detailed=False)
        == f"ango:{PROJECT}"
    )
    assert (
        summary_label("https://[::1", stage=None, batch=None, annotator=None, top_k=None, detailed=False)
        == "an export URL"
    )


async def test_a_new_summary_notifies_listening_clients(root: Path) -> None:
    """2026-07-28: resources/list changes reach `subscriptions/listen` streams (listChanged is advertised)."""
    async with Client(server_for(root)) as client:
        assert client.server_capabilities.resources and client.server_capabilities.resources.list_changed
        async with client.listen(resources_list_changed=True) as subscription:
            result = await client.call_tool("summarize_export", {"source": "export3.json"})
            assert not result.is_error
            with anyio.fail_after(5):
                event = await subscription.__anext__()
        assert isinstance(event, ResourcesListChanged)


async def test_legacy_clients_are_not_sent_a_notification_the_server_does_not_advertise(root: Path) -> None:
    """2025-11-25: MCPServer declares `listChanged: false` for resources, so nothing is sent; clients re-list."""
    seen: list[Any] = []

    async def on_message(message: Any) -> None:
        seen.append(message)

    async with Client(server_for(root), mode="legacy", message_handler=on_message) as client:
        assert client.server_capabilities.resources and not client.server_capabilities.resources.list_changed
        result = await client.call_tool("summarize_export", {"source": "export4.json"})
        assert not result.is_error and len(await summaries_listed(client)) == 1
    assert not any(isinstance(m, ResourceListChangedNotification) for m in seen)
