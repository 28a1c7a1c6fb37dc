"""Ango Hub export: query options in, a ZIP behind a "signed" URL out.

``GET /v2/export`` answers ``data.exportPath``, an absolute URL to a ZIP whose first member is the
export file (as Ango's SDK reads it). In the sandbox the URL points at
``/_sandbox/ango/exports/<token>.zip`` on the same host the client used, and works without the
API key, like a pre-signed S3 URL. The ZIP is built at request time from the tasks visible at
the current sandbox time.
"""

from __future__ import annotations

import hashlib
import io
import json
import threading
import zipfile
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

__all__ = ["ExportOptions", "ExportStore", "OptionError", "build_zip", "member_name"]


class OptionError(ValueError):
    """An export query the API would reject with 400."""


def _json_param(raw: str | None, name: str, default: Any) -> Any:
    if raw is None or raw == "":
        return default
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise OptionError(f"{name} must be JSON") from exc


def _bool_param(raw: str | None, default: bool) -> bool:
    if raw is None:
        return default
    return raw.strip().lower() == "true"


@dataclass(frozen=True)
class ExportOptions:
    """The subset of SDK ``ExportOptions`` the sandbox honours (others are accepted, ignored)."""

    project: str
    format: str = "json"
    type: str = "task"
    stages: tuple[str, ...] = ("Complete",)
    batches: tuple[str, ...] | None = None
    task_types: tuple[str, ...] = ("default",)
    include_history: bool = True
    include_metadata: bool = True
    updated_at: dict[str, str] | None = None
    created_at: dict[str, str] | None = None

    @classmethod
    def from_query(cls, params: dict[str, str]) -> ExportOptions:
        project = params.get("project")
        if not project:
            raise OptionError("project is required")
        fmt = params.get("format", "json")
        if fmt not in ("json", "ndjson"):
            raise OptionError("format must be json or ndjson")
        kind = params.get("type", "task")
        if kind not in ("task", "issue"):
            raise OptionError("type must be task or issue")
        stages = _json_param(params.get("stage"), "stage", ["Complete"])
        batches = _json_param(params.get("batches"), "batches", None)
        task_types = _json_param(params.get("taskTypes"), "taskTypes", ["default"])
        for name, value in (("stage", stages), ("taskTypes", task_types)):
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise OptionError(f"{name} must be a JSON list of strings")
        if batches is not None and (not isinstance(batches, list) or not all(isinstance(v, str) for v in batches)):
            raise OptionError("batches must be a JSON list of strings")
        ranges = {}
        for name in ("updatedAt", "createdAt"):
            value = _json_param(params.get(name), name, None)
            if value is not None and not (isinstance(value, dict) and set(value) <= {"$gt", "$lt"}):
                raise OptionError(f'{name} must be {{"$gt": ..., "$lt": ...}}')
            ranges[name] = value
        return cls(
            project=project,
            format=fmt,
            type=kind,
            stages=tuple(stages),
            batches=tuple(batches) if batches is not None else None,
            task_types=tuple(task_types),
            include_history=_bool_param(params.get("includeHistory"), True),
            include_metadata=_bool_param(params.get("includeMetadata"), True),
            updated_at=ranges["updatedAt"],
            created_at=ranges["createdAt"],
        )

    def in_range(self, field: str, value: str) -> bool:
        bounds = self.updated_at if field == "updatedAt" else self.created_at
        if not bounds:
            return True
        return ("$gt" not in bounds or value > bounds["$gt"]) and ("$lt" not in bounds or value < bounds["$lt"])


def build_zip(assets: Iterable[dict[str, Any]], fmt: str, member_name: str) -> bytes:
    """A ZIP with one member: a JSON array (``json``) or one asset per line (``ndjson``)."""
    items = list(assets)
    if fmt == "ndjson":
        text = "".join(json.dumps(a, ensure_ascii=False, separators=(",", ":")) + "\n" for a in items)
    else:
        text = json.dumps(items, ensure_ascii=False, separators=(",", ":"))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(member_name, text)
    return buffer.getvalue()


def member_name(project_name: str, at: datetime, fmt: str) -> str:
    """``<project>-<timestamp>.json|ndjson``; the real file name is not documented."""
    slug = "".join(c if c.isalnum() else "_" for c in project_name).strip("_")
    return f"{slug}-{at.strftime('%Y-%m-%dT%H-%M-%S')}.{fmt}"


class ExportStore:
    """Built exports by token, keeping the most recent ``capacity`` (old links expire)."""

    def __init__(self, seed: int, capacity: int = 32) -> None:
        self._seed = seed
        self._capacity = capacity
        self._counter = 0
        self._items: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, data: bytes) -> str:
        with self._lock:
            self._counter += 1
            token = hashlib.sha256(f"ango-export:{self._seed}:{self._counter}".encode()).hexdigest()[:32]
            self._items[token] = data
            while len(self._items) > self._capacity:
                self._items.popitem(last=False)
            return token

    def get(self, token: str) -> bytes | None:
        with self._lock:
            return self._items.get(token)
