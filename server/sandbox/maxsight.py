"""Simulated Moody's Maxsight API v5 (``/maxsight`` stands for ``https://api.{region}.maxsight.com``).

Follows Maxsight's v5 API docs: ``GET /v5/tasks/{task_id}`` returns the bare task object and
``POST /v5/tasks/search`` a cursor page ``{"items": [...], "next_page_token": ...}``. The v5 error
body is unknown, so errors use the v4 PassFort shape ``{"errors": [{"code", "message"}]}`` with the
v4 codes where one exists (204 invalid API key, 201 invalid input).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from .asgi import Request, Response
from .clock import Clock, parse_iso
from .keys import SANDBOX_KEYS
from .maxsight_seed import MaxsightRecord, seed_tasks
from .routing import Route, find_route
from .timeline import state_at

__all__ = ["MaxsightApi"]

_DEFAULT_PAGE_SIZE = 50
_MAX_PAGE_SIZE = 100  # not documented; larger requests are clamped (inferred)

_SORT_FIELDS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "TASK_ID": lambda t: t["id"],
    "CREATED_AT": lambda t: t["created_at"],
    "ENTITY_ID": lambda t: t["entity_id"],
    "ASSESSMENT_ID": lambda t: t["assessment_id"],
    "STATUS": lambda t: t["status"],
    "ASSIGNED_TO_ID": lambda t: (t.get("assignment") or {}).get("assigned_to_id") or "",
}

# filter_model keys (field names are not documented; the sorting names and the task's own field
# names are both accepted, case-insensitively).
_FILTER_FIELDS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "task_id": lambda t: t["id"],
    "id": lambda t: t["id"],
    "created_at": lambda t: t["created_at"],
    "updated_at": lambda t: t["updated_at"],
    "locked_at": lambda t: t["locked_at"],
    "entity_id": lambda t: t["entity_id"],
    "assessment_id": lambda t: t["assessment_id"],
    "status": lambda t: t["status"],
    "assigned_to_id": lambda t: (t.get("assignment") or {}).get("assigned_to_id"),
    "step_name": lambda t: t["step_name"],
    "c_name": lambda t: t["c_name"],
    "name": lambda t: t["name"],
}


class BadInput(ValueError):
    """A search body the API would reject with 400 (v4 code 201, "invalid input data")."""


class MaxsightApi:
    """Routes, payloads and PassFort-style errors for the Maxsight prefix."""

    name = "maxsight"

    def __init__(self, clock: Clock, seed: int) -> None:
        self._clock = clock
        self._tasks: dict[str, MaxsightRecord] = {r.id: r for r in seed_tasks(clock, seed)}
        self._routes = [
            Route("GET", "v5/tasks/{task_id}", self._get_task),
            Route("POST", "v5/tasks/search", self._search),
        ]

    def error(self, status: int, message: str) -> Response:
        codes = {400: 201, 401: 204}
        return Response.json(status, {"errors": [{"code": codes.get(status, status), "message": message}]})

    async def handle(self, request: Request, path: Sequence[str]) -> Response:
        match = find_route(self._routes, request.method, path)
        if match is None:
            return self.error(404, "Not found")
        if not match.method_allowed:
            return self.error(405, "Method not allowed")
        if request.header("apikey") != SANDBOX_KEYS[self.name]:
            return self.error(401, "Invalid API key")
        assert match.route is not None
        return match.route.handler(request, match.params)

    def task_payload(self, record: MaxsightRecord, now: float) -> dict[str, Any] | None:
        state = state_at(record.versions, now)
        return copy.deepcopy(state) if state is not None else None

    def _get_task(self, request: Request, params: dict[str, str]) -> Response:
        record = self._tasks.get(params["task_id"])
        task = self.task_payload(record, self._clock.now()) if record is not None else None
        if task is None:
            return self.error(404, "Task not found")
        return Response.json(200, task)

    def _search(self, request: Request, params: dict[str, str]) -> Response:
        try:
            body = request.json()
            if not isinstance(body, dict):
                raise BadInput("request body must be a JSON object")
            return Response.json(200, self._run_search(body))
        except (BadInput, ValueError) as exc:
            return self.error(400, f"Invalid input data: {exc}")

    def _run_search(self, body: dict[str, Any]) -> dict[str, Any]:
        unknown = set(body) - {"filter_model", "max_page_size", "page_token", "sorting_field", "sorting_type"}
        if unknown:
            raise BadInput(f"unknown fields {sorted(unknown)}")
        size = body.get("max_page_size") or _DEFAULT_PAGE_SIZE
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            raise BadInput("max_page_size must be a positive integer")
        size = min(size, _MAX_PAGE_SIZE)
        sorting_field = body.get("sorting_field") or "CREATED_AT"
        sorting_type = body.get("sorting_type") or "DESC"
        if sorting_field not in _SORT_FIELDS:
            raise BadInput(f"sorting_field must be one of {sorted(_SORT_FIELDS)}")
        if sorting_type not in ("ASC", "DESC"):
            raise BadInput("sorting_type must be ASC or DESC")
        filter_model = body.get("filter_model")
        predicate = _compile_filter_model(filter_model)
        fingerprint = hashlib.sha256(
            json.dumps([filter_model, sorting_field, sorting_type], sort_keys=True).encode()
        ).hexdigest()[:16]
        offset = _decode_token(body.get("page_token"), fingerprint)

        now = self._clock.now()
        tasks = [t for r in self._tasks.values() if (t := self.task_payload(r, now)) is not None]
        tasks = [t for t in tasks if predicate(t)]
        key = _SORT_FIELDS[sorting_field]
        tasks.sort(key=lambda t: (key(t), t["id"]), reverse=sorting_type == "DESC")
        page = tasks[offset : offset + size]
        more = offset + size < len(tasks)
        return {"items": page, "next_page_token": _encode_token(offset + size, fingerprint) if more else None}


def _encode_token(offset: int, fingerprint: str) -> str:
    raw = json.dumps({"o": offset, "f": fingerprint}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_token(token: Any, fingerprint: str) -> int:
    """Opaque cursor; it is only valid with the same filter and sorting it was issued for."""
    if token in (None, ""):
        return 0
    if not isinstance(token, str):
        raise BadInput("page_token must be a string")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = json.loads(raw)
        offset, issued_for = int(data["o"]), data["f"]
    except (ValueError, KeyError, TypeError) as exc:
        raise BadInput("page_token is not valid") from exc
    if issued_for != fingerprint or offset < 0:
        raise BadInput("page_token does not belong to this query")
    return offset


Predicate = Callable[[dict[str, Any]], bool]


def _compile_filter_model(model: Any) -> Predicate:
    """A small AG-Grid filter model: text, set and date filters, with AND/OR conditions."""
    if model in (None, {}):
        return lambda task: True
    if not isinstance(model, dict):
        raise BadInput("filter_model must be an object or null")
    checks: list[Predicate] = []
    for field, spec in model.items():
        getter = _FILTER_FIELDS.get(str(field).lower())
        if getter is None:
            raise BadInput(f"cannot filter on {field!r}")
        checks.append(_compile_spec(getter, spec))
    return lambda task: all(check(task) for check in checks)


def _compile_spec(getter: Callable[[dict[str, Any]], Any], spec: Any) -> Predicate:
    if not isinstance(spec, dict):
        raise BadInput("each filter must be an object")
    if "conditions" in spec:
        operator = spec.get("operator", "AND")
        if operator not in ("AND", "OR") or not isinstance(spec["conditions"], list):
            raise BadInput("conditions need operator AND or OR and a list")
        parts = [_compile_spec(getter, {"filterType": spec.get("filterType"), **c}) for c in spec["conditions"]]
        combine = all if operator == "AND" else any
        return lambda task: combine(p(task) for p in parts)
    kind = spec.get("filterType", "text")
    if kind == "set":
        values = spec.get("values")
        if not isinstance(values, list):
            raise BadInput("set filter needs values")
        allowed = set(values)
        return lambda task: getter(task) in allowed
    if kind == "text":
        return _text_filter(getter, spec.get("type", "contains"), spec.get("filter"))
    if kind == "date":
        return _date_filter(getter, spec)
    raise BadInput(f"unsupported filterType {kind!r}")


def _text_filter(getter: Callable[[dict[str, Any]], Any], op: str, needle: Any) -> Predicate:
    if op in ("blank", "notBlank"):
        want_blank = op == "blank"
        return lambda task: (getter(task) in (None, "")) == want_blank
    if not isinstance(needle, str):
        raise BadInput("text filter needs a string 'filter'")
    low = needle.lower()
    tests: dict[str, Callable[[str], bool]] = {
        "equals": lambda v: v.lower() == low,
        "notEqual": lambda v: v.lower() != low,
        "contains": lambda v: low in v.lower(),
        "notContains": lambda v: low not in v.lower(),
        "startsWith": lambda v: v.lower().startswith(low),
        "endsWith": lambda v: v.lower().endswith(low),
    }
    test = tests.get(op)
    if test is None:
        raise BadInput(f"unsupported text filter type {op!r}")
    return lambda task: test(str(getter(task) or ""))


def _date_filter(getter: Callable[[dict[str, Any]], Any], spec: dict[str, Any]) -> Predicate:
    def parse(value: Any) -> datetime:
        if not isinstance(value, str):
            raise BadInput("date filter needs dateFrom")
        return parse_iso(value.replace(" ", "T") + ("" if value.endswith("Z") or "+" in value else "Z"))

    op = spec.get("type", "equals")
    if op in ("blank", "notBlank"):
        want_blank = op == "blank"
        return lambda task: (getter(task) in (None, "")) == want_blank
    if op not in ("equals", "notEqual", "greaterThan", "lessThan", "inRange"):
        raise BadInput(f"unsupported date filter type {op!r}")
    start = parse(spec.get("dateFrom"))
    end = parse(spec.get("dateTo")) if op == "inRange" else None

    def test(task: dict[str, Any]) -> bool:
        raw = getter(task)
        if not raw:
            return False
        moment = parse_iso(raw)
        if op == "equals":
            return moment.date() == start.date()
        if op == "notEqual":
            return moment.date() != start.date()
        if op == "greaterThan":
            return moment > start
        if op == "lessThan":
            return moment < start
        return end is not None and start <= moment <= end

    return test
