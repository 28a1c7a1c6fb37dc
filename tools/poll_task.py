"""The `poll_task` tool: wait a bounded time for up to 100 tasks, then say where each one stands."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Context
from pydantic import BeforeValidator, Field

from .app_state import app_state
from .get_task import ProjectId, TeamId
from .polling.poller import MAX_TASKS, MAX_WAIT_S, Progress, Until, poll
from .results.poll import PollResult
from .results.provider_name import ProviderName
from .task_ids import MAX_ID_LENGTH, id_text

TaskIds = Annotated[
    list[Annotated[str, Field(max_length=MAX_ID_LENGTH), BeforeValidator(id_text)]],
    Field(min_length=1, max_length=MAX_TASKS, description="1-100 task ids"),
]
WaitS = Annotated[float, Field(ge=0, le=MAX_WAIT_S, description="max seconds to wait; 0 = read once")]
UntilArg = Annotated[
    Until, Field(description="return when all are terminal, any changed, or any finished or needs a person")
]


async def poll_task(
    provider: ProviderName,
    task_ids: TaskIds,
    ctx: Context,
    wait_s: WaitS = 30,
    until: UntilArg = "terminal",
    team_id: TeamId = None,
    project_id: ProjectId = None,
) -> PollResult:
    """Wait for tasks of one provider, then return each one's state and whether it changed, with
    next_poll_s: when to call again. Paced under the provider's rate limit; sends progress. Tasks
    waiting_on_human are reported, not waited on. Use get_task for a task's results.
    """
    client = app_state(ctx).registry.client(provider)
    result = await poll(
        client,
        task_ids,
        wait_s=wait_s,
        until=until,
        team_id=team_id,
        project_id=project_id,
        progress=_progress(ctx),
    )
    return result


def _progress(ctx: Context) -> Progress | None:
    """`ctx.report_progress` if the client asked for progress, else None (no heartbeat at all).

    A client asks by sending a `progressToken` in the request's `_meta`; without one the SDK drops every
    notification, so a heartbeat would wake every few seconds for nothing while the poll waits."""
    meta = ctx.request_context.meta or {}
    return ctx.report_progress if meta.get("progress_token") is not None else None
