"""The `get_task` tool: one task's normalized state on any provider, in a few dozen tokens."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Context
from pydantic import BeforeValidator, Field

from .app_state import app_state
from .results.provider_name import ProviderName
from .results.task import ResponseFormat, TaskView
from .task_ids import MAX_ID_LENGTH, id_text

# Every id argument is bounded in the schema, so an oversized one is refused before any per-id work.
TaskId = Annotated[str, Field(max_length=MAX_ID_LENGTH, description="the provider's task id"), BeforeValidator(id_text)]
TeamId = Annotated[str | None, Field(max_length=MAX_ID_LENGTH, description="sendai only (default SENDAI_TEAM_ID)")]
ProjectId = Annotated[
    str | None, Field(max_length=MAX_ID_LENGTH, description="sendai (default SENDAI_PROJECT_ID); ango optional")
]
Format = Annotated[ResponseFormat, Field(description="detailed adds ids, times, longer lists")]


async def get_task(
    provider: ProviderName,
    task_id: TaskId,
    ctx: Context,
    team_id: TeamId = None,
    project_id: ProjectId = None,
    response_format: Format = "concise",
) -> TaskView:
    """Current state of one task: normalized state, terminal flag, raw status, stage, assignee,
    error, and a compact view of results (top predictions, extracted fields with low-confidence ones
    flagged, objects per class). waiting_on_human means a person must act: report it, don't poll it.
    """
    client = app_state(ctx).registry.client(provider)
    return await client.get_task(
        task_id, team_id=team_id, project_id=project_id, detailed=response_format == "detailed"
    )
