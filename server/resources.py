"""The MCP resources: `task://{provider}/{task_id}` and the kept `export-summary://{summary_id}` results.

Some clients let a person attach context instead of letting the model call tools. The task template
serves exactly the compact JSON that `get_task` returns (concise form), through the same provider
client, so the two can never disagree. Send.ai tasks need a team and a project: the URI takes them as
`?team_id=…&project_id=…` when the server's SENDAI_TEAM_ID / SENDAI_PROJECT_ID defaults do not apply.
Failures are resource errors carrying the same one-sentence explanation as the tool's isError text;
an unknown provider or task is "not found" (-32602), as the MCP specification asks.

A summary can take minutes to compute (a multi-gigabyte export, or an Ango project export built on
request), and putting it in front of the model again should not mean computing it again: the server
keeps its last results (`tasklens.tools.export.store`), lists them in resources/list and serves them
back by URI; `export-summary://latest` is the newest.
"""

from __future__ import annotations

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError
from mcp.types import Annotations
from mcp.types import Resource as MCPResource

from tasklens.tools.app_state import app_state
from tasklens.tools.errors import ProviderError, clean_upstream_text
from tasklens.tools.export.store import SUMMARY_MIME_TYPE, SUMMARY_SCHEME, SummaryStore
from tasklens.tools.providers import PROVIDERS
from tasklens.tools.results.compact import compact_json

TASK_URI_TEMPLATE = "task://{provider}/{task_id}{?team_id,project_id}"
TASK_MIME_TYPE = "application/json"
SUMMARY_URI_TEMPLATE = SUMMARY_SCHEME + "{summary_id}"


async def read_task_resource(
    provider: str, task_id: str, ctx: Context, team_id: str | None = None, project_id: str | None = None
) -> str:
    """Current normalized state of one task, as the compact JSON get_task returns."""
    if provider not in PROVIDERS:
        raise ResourceNotFoundError(
            f"No provider {provider!r}: task:// URIs name one of {', '.join(PROVIDERS)}, as in task://deepomatic/269999729."
        )
    try:
        client = app_state(ctx).registry.client(provider)
        view = await client.get_task(task_id, team_id=team_id, project_id=project_id)
    except ProviderError as error:
        if error.kind in ("not_found", "invalid_argument"):
            raise ResourceNotFoundError(error.for_model()) from None
        raise ResourceError(error.for_model()) from None
    return compact_json(view)


async def read_export_summary(summary_id: str, ctx: Context) -> str:
    """One of the last 8 summarize_export results, as the JSON the tool returned; `latest` is the newest."""
    store = app_state(ctx).summaries
    entry = await store.get(summary_id)
    if entry is None:
        raise ResourceNotFoundError(
            f"No export summary {clean_upstream_text(summary_id, limit=40)!r} is kept (the server keeps its last "
            f"{store.capacity}); run summarize_export again."
        )
    return entry.text


async def summary_resources(store: SummaryStore) -> list[MCPResource]:
    """The kept summaries as resources/list entries, newest first."""
    return [
        MCPResource(
            uri=entry.uri,
            name=f"export-summary-{entry.summary_id}",
            title=f"Export summary: {entry.label}",
            description=f"summarize_export result, {entry.assets} assets",
            mime_type=SUMMARY_MIME_TYPE,
            size=len(entry.text.encode()),
            annotations=Annotations(last_modified=entry.stored_at.isoformat(timespec="seconds")),
        )
        for entry in await store.newest_first()
    ]
