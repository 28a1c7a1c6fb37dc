"""The `get_task_history` tool: a task's stage timeline and what changed between stages, compactly."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Context
from pydantic import BeforeValidator, Field

from .app_state import app_state
from .get_task import Format, ProjectId, TeamId
from .results.history import MAX_LIMIT, TaskHistory
from .results.provider_name import ProviderName
from .task_ids import MAX_ID_LENGTH, id_text

OptionalTaskId = Annotated[
    str | None, Field(max_length=MAX_ID_LENGTH, description="the provider's task id"), BeforeValidator(id_text)
]
HistoryId = Annotated[str | None, Field(max_length=MAX_ID_LENGTH, description="ango: one entry, with its answer")]
Cursor = Annotated[str | None, Field(max_length=32, description="next_cursor from a previous call")]
Limit = Annotated[int, Field(ge=1, le=MAX_LIMIT)]
About = Annotated[
    str | None, Field(max_length=200, description="ango: only changes to this class or question, in every entry")
]


async def get_task_history(
    provider: ProviderName,
    ctx: Context,
    task_id: OptionalTaskId = None,
    history_id: HistoryId = None,
    cursor: Cursor = None,
    limit: Limit = 20,
    team_id: TeamId = None,
    project_id: ProjectId = None,
    response_format: Format = "concise",
    about: About = None,
) -> TaskHistory:
    """Who touched a task, when, and what changed: Ango stage visits (who, active time, review outcome)
    with every object and answer changed since the previous visit, rejections and reviewers. A page holds
    the newest `limit` entries, oldest first; next_cursor reads earlier ones. Other providers have no
    history API: their timeline is derived from the task's timestamps.
    """
    client = app_state(ctx).registry.client(provider)
    return await client.get_history(
        task_id,
        history_id=history_id,
        team_id=team_id,
        project_id=project_id,
        cursor=cursor,
        limit=limit,
        detailed=response_format == "detailed",
        about=about,
    )
