"""The `task://{provider}/{task_id}` resource: one task's state for clients that attach resources.

Some clients let a person attach context instead of letting the model call tools. This resource
template serves exactly the compact JSON that `get_task` returns (concise form), through the same
provider client, so the two can never disagree. Send.ai tasks need a team and a project: the URI takes
them as `?team_id=…&project_id=…` when the server's SENDAI_TEAM_ID / SENDAI_PROJECT_ID defaults do
not apply. Failures are resource errors carrying the same one-sentence explanation as the tool's
isError text; an unknown provider or task is "not found" (-32602), as the spec asks.
"""

from __future__ import annotations

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError

from .app_state import app_state
from .compact import compact_json
from .errors import ProviderError
from .models import PROVIDERS

TASK_URI_TEMPLATE = "task://{provider}/{task_id}{?team_id,project_id}"
TASK_MIME_TYPE = "application/json"


async def read_task_resource(
    provider: str, task_id: str, ctx: Context, team_id: str | None = None, project_id: str | None = None
) -> str:
    """Current normalized state of one task, as the compact JSON get_task returns."""
    if provider not in PROVIDERS:
        raise ResourceNotFoundError(
            f"No provider {provider!r}: task:// URIs name one of {', '.join(PROVIDERS)}, as in task://deepomatic/269999729."
        )
    try:
        client = app_state(ctx).registry.client(provider)  # type: ignore[arg-type]  # checked above
        view = await client.get_task(task_id, team_id=team_id, project_id=project_id)
    except ProviderError as error:
        if error.kind in ("not_found", "invalid_argument"):
            raise ResourceNotFoundError(error.for_model()) from None
        raise ResourceError(error.for_model()) from None
    return compact_json(view)
