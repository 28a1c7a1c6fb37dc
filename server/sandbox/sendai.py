"""Simulated Send.ai API v2 (``/sendai`` stands for ``https://api.send.ai``).

Follows Send.ai's v2 API docs: ``GET /v2/{team_id}/project/{project_id}/task/{task_id}`` returns
``{"payload": Task}`` with ``Authorization: Bearer <key>``. The error body is undocumented, so
the sandbox uses a shape unlike the other three providers,
``{"error": {"code": "NOT_FOUND", "message": "..."}}``, which forces clients to parse errors
defensively rather than assume one provider's shape everywhere.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from .asgi import Request, Response
from .clock import Clock
from .keys import SANDBOX_KEYS
from .routing import Route, find_route
from .sendai_seed import PROJECTS, SendaiRecord, seed_tasks
from .timeline import state_at

__all__ = ["SendaiApi"]

_ERROR_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    429: "RATE_LIMITED",
    500: "INTERNAL_ERROR",
}


class SendaiApi:
    """Routes, payloads and errors for the Send.ai prefix."""

    name = "sendai"

    def __init__(self, clock: Clock, seed: int) -> None:
        self._clock = clock
        self._tasks: dict[tuple[str, str, str], SendaiRecord] = {
            (r.team_id, r.project_id, r.id): r for r in seed_tasks(clock, seed)
        }
        self._routes = [Route("GET", "v2/{team_id}/project/{project_id}/task/{task_id}", self._get_task)]

    def error(self, status: int, message: str) -> Response:
        code = _ERROR_CODES.get(status, "ERROR" if status < 500 else "INTERNAL_ERROR")
        return Response.json(status, {"error": {"code": code, "message": message}})

    async def handle(self, request: Request, path: Sequence[str]) -> Response:
        match = find_route(self._routes, request.method, path)
        if match is None:
            return self.error(404, "Route not found")
        if not match.method_allowed:
            return self.error(405, "Method not allowed")
        scheme, _, token = (request.header("authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or token.strip() != SANDBOX_KEYS[self.name]:
            return self.error(401, "Invalid or missing API key")
        assert match.route is not None
        return match.route.handler(request, match.params)

    def task_payload(self, record: SendaiRecord, now: float) -> dict[str, Any] | None:
        state = state_at(record.versions, now)
        return copy.deepcopy(state) if state is not None else None

    def _get_task(self, request: Request, params: dict[str, str]) -> Response:
        team, project, task_id = params["team_id"], params["project_id"], params["task_id"]
        projects = PROJECTS.get(team)
        if projects is None:
            return self.error(404, "Team not found")
        if project not in projects:
            return self.error(404, "Project not found")
        if not projects[project]:
            return self.error(403, "API key does not have access to this project")
        record = self._tasks.get((team, project, task_id))
        task = self.task_payload(record, self._clock.now()) if record is not None else None
        if task is None:
            return self.error(404, "Task not found")
        return Response.json(200, {"payload": task})
