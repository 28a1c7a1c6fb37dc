"""Simulated Ango Hub REST API (``/ango`` stands for ``https://imeritapi.ango.ai``).

Follows iMerit's Ango Hub API docs and SDK: ``apikey`` header, ``{"status": "success", "data": {...}}`` envelopes,
``{"status": "fail"|"error", "message"}`` errors (fail for 4xx, error for 5xx), the documented
100 requests/minute per key answered with a 429 that carries **no** ``Retry-After`` (none is
documented), and the endpoints tasklens uses: task, task history (list, or the docs' single
object), one history entry, project, task list with Mongo-style ``filter``, and export.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from typing import Any

from .ango_export import ExportOptions, ExportStore, OptionError, build_zip, member_name
from .ango_payloads import AngoWorld
from .ango_schema import BATCHES, PROJECT_NAME, STAGE_BY_ID, project_payload
from .asgi import Request, Response
from .catalog import ANGO_PROJECT
from .clock import Clock, instant
from .keys import SANDBOX_KEYS
from .ratelimit import SlidingWindowLimiter
from .routing import Route, find_route

__all__ = ["AngoApi", "EXPORT_DOWNLOAD_PREFIX"]

#: Path (under the sandbox root) where export ZIPs are served without authentication.
EXPORT_DOWNLOAD_PREFIX = "/_sandbox/ango/exports/"

_DEFAULT_LIMIT = 10
_MAX_LIMIT = 100

#: Keys of the TaskFilter of Ango's Python SDK (imerit-ango).
_FILTER_KEYS = frozenset(
    {
        "_id",
        "stage",
        "batches",
        "status",
        "reviewStatus",
        "type",
        "assignee",
        "externalId",
        "createdAt",
        "updatedAt",
        "createdBy",
        "updatedBy",
        "priority",
        "duration",
        "totalDuration",
        "openIssuesCount",
        "isDraft",
        "isSkipped",
        "isBenchmark",
    }
)


class BadQuery(ValueError):
    """A query the API would reject with 400."""


def _truthy(raw: str | None) -> bool:
    """``includeAnswer``: the SDK sends ``True``/``False`` for one task, lowercase elsewhere."""
    return raw is not None and raw.strip().lower() == "true"


class AngoApi:
    """Routes, auth, rate limit and errors for the Ango prefix."""

    name = "ango"

    def __init__(self, clock: Clock, seed: int, requests_per_minute: int | None) -> None:
        self._clock = clock
        self.world = AngoWorld(clock, seed)
        self.exports = ExportStore(seed)
        self._limiter = SlidingWindowLimiter(requests_per_minute)
        self._routes = [
            Route("GET", "v2/task/{task_id}", self._get_task),
            Route("GET", "v2/task/{task_id}/history", self._get_task_history),
            Route("GET", "v2/taskHistory/{history_id}", self._get_history_entry),
            Route("GET", "v2/project/{project_id}", self._get_project),
            Route("GET", "v2/project/{project_id}/tasks", self._list_tasks),
            Route("GET", "v2/export", self._export),
        ]

    # ---- errors ---------------------------------------------------------------------------------
    def error(self, status: int, message: str) -> Response:
        return Response.json(status, {"status": "fail" if status < 500 else "error", "message": message})

    @staticmethod
    def ok(data: dict[str, Any]) -> Response:
        return Response.json(200, {"status": "success", "data": data})

    # ---- dispatch -------------------------------------------------------------------------------
    async def handle(self, request: Request, path: Sequence[str]) -> Response:
        match = find_route(self._routes, request.method, path)
        if match is None:
            return self.error(404, "Not Found")
        if not match.method_allowed:
            return self.error(405, "Method Not Allowed")
        key = request.header("apikey")
        if not key:
            return self.error(401, "API key is missing")
        if key != SANDBOX_KEYS[self.name]:
            return self.error(401, "Invalid API key")
        if not self._limiter.allow(key, self._clock.now()):
            return self.error(429, "Too many requests, please try again later.")
        assert match.route is not None
        try:
            return match.route.handler(request, match.params)
        except (BadQuery, OptionError) as exc:
            return self.error(400, str(exc))

    # ---- endpoints ------------------------------------------------------------------------------
    def _get_task(self, request: Request, params: dict[str, str]) -> Response:
        task = self.world.tasks.get(params["task_id"])
        payload = None
        if task is not None:
            payload = self.world.task_payload(task, self._clock.now(), _truthy(request.param("includeAnswer")))
        if payload is None:
            return self.error(404, "Task not found")
        return self.ok({"task": payload})

    def _get_task_history(self, request: Request, params: dict[str, str]) -> Response:
        task = self.world.tasks.get(params["task_id"])
        now = self._clock.now()
        if task is None or not task.visible_visits(now):
            return self.error(404, "Task not found")
        return self.ok({"taskHistory": self.world.history(task, now)})

    def _get_history_entry(self, request: Request, params: dict[str, str]) -> Response:
        entry = self.world.find_history(params["history_id"], self._clock.now())
        if entry is None:
            return self.error(404, "Task history not found")
        return self.ok({"taskHistory": entry})

    def _get_project(self, request: Request, params: dict[str, str]) -> Response:
        if params["project_id"] != ANGO_PROJECT:
            return self.error(404, "Project not found")
        return self.ok({"project": project_payload()})

    def _list_tasks(self, request: Request, params: dict[str, str]) -> Response:
        if params["project_id"] != ANGO_PROJECT:
            return self.error(404, "Project not found")
        page = _int(request.param("page"), 1, "page")
        limit = min(_int(request.param("limit"), _DEFAULT_LIMIT, "limit"), _MAX_LIMIT)
        fields = [f for f in (request.param("fields") or "").split(",") if f]
        include_answer = _truthy(request.param("includeAnswer")) or "answer" in fields
        conditions = _filter_conditions(request)
        now = self._clock.now()
        tasks = []
        for task in self.world.tasks.values():
            payload = self.world.task_payload(task, now, include_answer=False)
            if payload is not None and _matches(payload, conditions):
                tasks.append((task, payload))
        for key, descending in reversed(_sort_keys(request.param("sort") or "-createdAt")):
            tasks.sort(key=lambda tp: _sort_value(tp[1].get(key)), reverse=descending)
        total = len(tasks)
        window = tasks[(page - 1) * limit : page * limit]
        out = []
        for task, payload in window:
            if include_answer:
                payload = self.world.task_payload(task, now, include_answer=True) or payload
            if fields:
                payload = {k: v for k, v in payload.items() if k == "_id" or k in fields}
            out.append(payload)
        return self.ok({"tasks": out, "total": total})

    def _export(self, request: Request, params: dict[str, str]) -> Response:
        query = dict(request.params)
        options = ExportOptions.from_query(query)
        if options.project != ANGO_PROJECT:
            return self.error(404, "Project not found")
        now = self._clock.now()
        assets: list[dict[str, Any]] = []
        if options.type == "task":
            wanted_stages = set(options.stages)
            wanted_batches = set(options.batches) if options.batches is not None else None
            for task in self.world.tasks.values():
                payload = self.world.task_payload(task, now, include_answer=False)
                if payload is None:
                    continue
                stage = STAGE_BY_ID[payload["stage"]]
                if stage.id not in wanted_stages and stage.name not in wanted_stages:
                    continue
                if payload["type"] not in options.task_types:
                    continue
                if wanted_batches is not None and not any(
                    b in wanted_batches or BATCHES.get(b) in wanted_batches for b in task.batches
                ):
                    continue
                if not (
                    options.in_range("updatedAt", payload["updatedAt"])
                    and options.in_range("createdAt", payload["createdAt"])
                ):
                    continue
                assets.append(
                    self.world.export_asset(
                        task, now, include_history=options.include_history, include_metadata=options.include_metadata
                    )
                )
        name = member_name(PROJECT_NAME, instant(self._clock, now), options.format)
        token = self.exports.put(build_zip(assets, options.format, name))
        signature = hashlib.sha256(f"signature:{token}".encode()).hexdigest()
        url = (
            f"{request.origin}{EXPORT_DOWNLOAD_PREFIX}{token}.zip"
            f"?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=120000&X-Amz-Signature={signature}"
        )
        return self.ok({"exportPath": url})


def _int(raw: str | None, default: int, name: str) -> int:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise BadQuery(f"{name} must be an integer") from exc
    if value < 1:
        raise BadQuery(f"{name} must be at least 1")
    return value


def _filter_conditions(request: Request) -> dict[str, Any]:
    """``filter`` (SDK) or the deprecated ``status[eq]``/``stage`` parameters, as one Mongo filter."""
    conditions: dict[str, Any] = {}
    raw = request.param("filter")
    if raw:
        try:
            parsed = json.loads(raw)
        except ValueError as exc:
            raise BadQuery("filter must be a JSON object") from exc
        if not isinstance(parsed, dict):
            raise BadQuery("filter must be a JSON object")
        conditions.update(parsed)
    if (status := request.param("status[eq]")) is not None:
        conditions.setdefault("status", {"$eq": status})
    if (stage := request.param("stage")) is not None:
        conditions.setdefault("stage", {"$eq": stage})
    unknown = set(conditions) - _FILTER_KEYS
    if unknown:
        raise BadQuery(f"Invalid filter field(s): {', '.join(sorted(unknown))}")
    return conditions


def _matches(doc: dict[str, Any], conditions: dict[str, Any]) -> bool:
    return all(_match_field(doc.get(key), cond) for key, cond in conditions.items())


def _match_field(value: Any, cond: Any) -> bool:
    """Mongo semantics for the operators the SDK documents; arrays match element-wise."""
    if not (isinstance(cond, dict) and cond and all(str(k).startswith("$") for k in cond)):
        return _eq(value, cond)
    for op, arg in cond.items():
        if op == "$options":
            continue
        if op == "$eq":
            ok = _eq(value, arg)
        elif op == "$ne":
            ok = not _eq(value, arg)
        elif op == "$in":
            ok = isinstance(arg, list) and any(_eq(value, a) for a in arg)
        elif op == "$nin":
            ok = isinstance(arg, list) and not any(_eq(value, a) for a in arg)
        elif op == "$exists":
            ok = (value is not None) == bool(arg)
        elif op in ("$gt", "$gte", "$lt", "$lte"):
            ok = _compare(value, op, arg)
        elif op == "$regex":
            flags = re.IGNORECASE if "i" in str(cond.get("$options", "")) else 0
            try:
                pattern = re.compile(str(arg), flags)
            except re.error as exc:
                raise BadQuery(f"invalid $regex: {exc}") from exc
            ok = any(isinstance(v, str) and pattern.search(v) for v in _values(value))
        else:
            raise BadQuery(f"Unsupported filter operator {op}")
        if not ok:
            return False
    return True


def _values(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _eq(value: Any, arg: Any) -> bool:
    return value == arg or (isinstance(value, list) and arg in value)


def _compare(value: Any, op: str, arg: Any) -> bool:
    for v in _values(value):
        if v is None or type(v) is bool or isinstance(v, str) != isinstance(arg, str):
            continue
        try:
            if (
                (op == "$gt" and v > arg)
                or (op == "$gte" and v >= arg)
                or (op == "$lt" and v < arg)
                or (op == "$lte" and v <= arg)
            ):
                return True
        except TypeError:
            continue
    return False


def _sort_keys(raw: str) -> list[tuple[str, bool]]:
    keys = []
    for part in raw.split(","):
        part = part.strip()
        if part:
            keys.append((part.lstrip("-+"), part.startswith("-")))
    return keys


def _sort_value(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, "")
    if isinstance(value, bool | int | float):
        return (1, float(value))
    return (2, str(value))
