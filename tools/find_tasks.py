"""The `find_tasks` tool: which tasks need attention, filtered, counted and paged on the provider's side."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Context
from pydantic import Field

from .app_state import app_state
from .get_task import Format, TeamId
from .results.find import MAX_CURSOR, MAX_LIMIT, FindState, SortOrder, TaskList, find_query
from .results.provider_name import ProviderName

Project = Annotated[str | None, Field(description="ango: required")]
StateArg = Annotated[FindState | None, Field(description="normalized state")]
Stage = Annotated[str | None, Field(max_length=200, description="stage or step name")]
Assignee = Annotated[str | None, Field(max_length=200, description='e-mail or id; "none" = unassigned')]
Batch = Annotated[str | None, Field(max_length=200, description="ango: batch name or id")]
Time = Annotated[str | None, Field(max_length=40, description="ISO 8601")]
Sort = Annotated[SortOrder, Field(description="oldest_update = stuck longest first")]
Limit = Annotated[int, Field(ge=1, le=MAX_LIMIT)]
Cursor = Annotated[str | None, Field(max_length=MAX_CURSOR, description="next_cursor of the previous call")]


async def find_tasks(
    provider: ProviderName,
    ctx: Context,
    project_id: Project = None,
    state: StateArg = None,
    stage: Stage = None,
    assignee: Assignee = None,
    batch: Batch = None,
    updated_after: Time = None,
    updated_before: Time = None,
    sort: Sort = "oldest_update",
    limit: Limit = 20,
    cursor: Cursor = None,
    team_id: TeamId = None,
    response_format: Format = "concise",
) -> TaskList:
    """Find tasks by state, stage, assignee, batch or update time, oldest update first by default:
    total, counts by state and stage (first page), then rows (id, state, stage, assignee, age) for
    get_task / poll_task, and next_cursor. Filters apply upstream; `note` says what was not.
    Ango (per project_id) and Maxsight; Send.ai and Deepomatic list no tasks.
    """
    query = find_query(
        provider,
        project_id=project_id,
        team_id=team_id,
        state=state,
        stage=stage,
        assignee=assignee,
        batch=batch,
        updated_after=updated_after,
        updated_before=updated_before,
        sort=sort,
        limit=limit,
        cursor=cursor,
        detailed=response_format == "detailed",
    )
    return await app_state(ctx).registry.client(provider).find_tasks(query)
