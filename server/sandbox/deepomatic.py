"""Simulated Deepomatic API v0.7 (``/deepomatic`` stands for ``https://api.deepomatic.com``).

Follows Deepomatic's v0.7 API docs: ``GET /v0.7/tasks/{id}/`` returns the bare task,
``GET /v0.7/tasks/?task_ids=..`` a Django REST Framework page with absolute ``next``/``previous``
URLs. The API is a DRF service (inferred), so a GET without the trailing slash gets Django's
APPEND_SLASH **301** (a relative ``Location``, no auth needed, as the redirect happens in
middleware before the view), and errors use DRF's ``{"detail": ...}`` shape.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote, urlencode

from .asgi import Request, Response
from .clock import Clock, format_iso_us, instant
from .deepomatic_seed import DeepomaticRecord, classification_output, seed_tasks
from .keys import SANDBOX_KEYS
from .routing import Route, find_route, path_exists
from .timeline import reached

__all__ = ["DeepomaticApi"]

_DEFAULT_LIMIT = 100  # DRF PAGE_SIZE is not documented; 100 matches the SDK's batch usage.
_MAX_LIMIT = 1000
_FIRST_ADDED_ID = 271_000_000


class DeepomaticApi:
    """Routes, payloads and DRF-style errors for the Deepomatic prefix."""

    name = "deepomatic"

    def __init__(self, clock: Clock, seed: int) -> None:
        self._clock = clock
        self._tasks: dict[str, DeepomaticRecord] = {r.id: r for r in seed_tasks(seed)}
        self._next_id = _FIRST_ADDED_ID
        self._routes = [
            Route("GET", "v0.7/tasks/", self._list_tasks),
            Route("GET", "v0.7/tasks/{task_id}/", self._get_task),
        ]

    # ---- errors ---------------------------------------------------------------------------------
    def error(self, status: int, message: str) -> Response:
        """DRF's ``{"detail": ...}``; a 500 is Django's bare HTML page, as DRF does not catch it."""
        if status >= 500:
            return Response.text(status, "<h1>Server Error (500)</h1>", "text/html; charset=utf-8")
        if status == 429:
            message = "Request was throttled. Expected available in 60 seconds."
        return Response.json(status, {"detail": message}, headers=[("vary", "Accept")])

    # ---- dispatch -------------------------------------------------------------------------------
    async def handle(self, request: Request, path: Sequence[str]) -> Response:
        match = find_route(self._routes, request.method, path)
        if match is None:
            if request.method in ("GET", "HEAD") and path and path[-1] != "" and path_exists(self._routes, [*path, ""]):
                return self._append_slash(request)
            return self.error(404, "Not found.")
        if not match.method_allowed:
            return self.error(405, f'Method "{request.method}" not allowed.')
        key = request.header("x-api-key")
        if key is None:
            return self.error(401, "Authentication credentials were not provided.")
        if key != SANDBOX_KEYS[self.name]:
            return self.error(401, "Invalid API key.")
        assert match.route is not None
        response = match.route.handler(request, match.params)
        response.headers += [("vary", "Accept"), ("allow", "GET, HEAD, OPTIONS")]
        return response

    def _append_slash(self, request: Request) -> Response:
        location = f"{request.root_path}{request.path_text}/"
        if request.query:
            location += "?" + request.query
        return Response(301, b"", [("content-type", "text/html; charset=utf-8"), ("location", location)])

    # ---- endpoints ------------------------------------------------------------------------------
    def _get_task(self, request: Request, params: dict[str, str]) -> Response:
        record = self._tasks.get(params["task_id"])
        now = self._clock.now()
        if record is None or record.created_at > now:
            return self.error(404, "Not found.")
        return Response.json(200, self.task_payload(record, now))

    def _list_tasks(self, request: Request, params: dict[str, str]) -> Response:
        now = self._clock.now()
        wanted = _requested_ids(request.param_all("task_ids"))
        if wanted is None:
            records = [r for r in self._tasks.values() if r.created_at <= now]
        else:
            records = [r for i in wanted if (r := self._tasks.get(i)) is not None and r.created_at <= now]
        records.sort(key=lambda r: int(r.id) if r.id.isascii() and r.id.isdigit() and len(r.id) < 19 else 0)
        limit = _int_param(request.param("limit"), _DEFAULT_LIMIT, minimum=1, maximum=_MAX_LIMIT)
        offset = _int_param(request.param("offset"), 0, minimum=0, maximum=None)
        page = records[offset : offset + limit]
        count = len(records)
        return Response.json(
            200,
            {
                "count": count,
                "next": _page_url(request, limit, offset + limit) if offset + limit < count else None,
                "previous": _page_url(request, limit, offset - limit) if offset > 0 else None,
                "results": [self.task_payload(r, now) for r in page],
            },
        )

    # ---- payloads -------------------------------------------------------------------------------
    def task_payload(self, record: DeepomaticRecord, now: float) -> dict[str, Any]:
        """The task as it looks at sandbox time ``now``."""
        if record.verbatim is not None:
            return json.loads(json.dumps(record.verbatim))
        finished = reached(record.finish_at, now)
        status = "pending"
        if finished:
            status = "error" if record.error is not None else "success"
        return {
            "id": record.id,
            "status": status,
            "error": record.error if status == "error" else None,
            "date_created": format_iso_us(instant(self._clock, record.created_at)),
            "date_updated": (
                format_iso_us(instant(self._clock, record.finish_at))
                if finished and record.finish_at is not None
                else None
            ),
            "data": json.loads(json.dumps(record.data)) if status == "success" else None,
            "subtasks": None,
        }

    # ---- control --------------------------------------------------------------------------------
    def add_tasks(self, n: int, finish_between: tuple[float, float], error_rate: float, seed: int) -> list[str]:
        """New pending tasks created now, each finishing ``uniform(*finish_between)`` seconds
        later as success (or error with probability ``error_rate``)."""
        low, high = finish_between
        if n < 0 or low < 0 or high < low:
            raise ValueError("need n >= 0 and 0 <= finish_between[0] <= finish_between[1]")
        if not 0.0 <= error_rate <= 1.0:
            raise ValueError("error_rate must be within [0, 1]")
        rng = random.Random(seed)
        now = self._clock.now()
        ids: list[str] = []
        for _ in range(n):
            task_id = str(self._next_id)
            self._next_id += 1
            finish = now + rng.uniform(low, high)
            if rng.random() < error_rate:
                record = DeepomaticRecord(
                    task_id, now, finish, error="Inference failed: worker exited unexpectedly (exit code 137)"
                )
            else:
                record = DeepomaticRecord(task_id, now, finish, data={"outputs": [classification_output(rng)]})
            self._tasks[task_id] = record
            ids.append(task_id)
        return ids

    def finish_time(self, task_id: str) -> float | None:
        """When the task leaves pending (sandbox seconds), or ``None`` if it never does."""
        record = self._tasks.get(task_id)
        return None if record is None else record.finish_at


def _requested_ids(values: list[str]) -> list[str] | None:
    """``task_ids`` as repeated keys, comma lists or a JSON array; ``None`` = not filtered."""
    if not values:
        return None
    ids: list[str] = []
    for value in values:
        value = value.strip()
        if value.startswith("["):
            try:
                parsed = json.loads(value)
            except ValueError:
                parsed = []
            if isinstance(parsed, list):
                ids.extend(str(v) for v in parsed)
        else:
            ids.extend(part.strip() for part in value.split(",") if part.strip())
    seen: dict[str, None] = dict.fromkeys(ids)
    return list(seen)


def _int_param(raw: str | None, default: int, *, minimum: int, maximum: int | None) -> int:
    """DRF's lenient parsing: an invalid value falls back to the default."""
    try:
        value = int(raw) if raw is not None else default
    except ValueError:
        return default
    if value < minimum:
        return default if minimum > 0 else minimum
    return min(value, maximum) if maximum is not None else value


def _page_url(request: Request, limit: int, offset: int) -> str:
    """Absolute page URL, built like DRF's ``replace_query_param``: other params kept, keys
    sorted, and ``offset`` dropped for the first page."""
    query = [(k, v) for k, v in request.params if k not in ("limit", "offset")]
    query.append(("limit", str(limit)))
    if offset > 0:
        query.append(("offset", str(offset)))
    query.sort(key=lambda kv: kv[0])
    path = quote(request.path_text, safe="/%:@!$&'()*+,;=")
    return f"{request.origin}{path}?{urlencode(query)}"
