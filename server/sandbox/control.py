"""The sandbox's own HTTP control plane under ``/_sandbox/`` (no auth, never faulted).

It lets a ``tasklens sandbox`` user or a loopback test do over HTTP what in-process tests do
with the :class:`~.app.Sandbox` object: read the catalog, add or clear faults, read the request
log, advance a manual clock and add Deepomatic tasks. It also serves the Ango export ZIPs, which
stand in for pre-signed S3 URLs and therefore need no API key.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .asgi import Request, Response
from .catalog import catalog_json
from .clock import ManualClock
from .faults import Fault
from .keys import SANDBOX_KEYS

if TYPE_CHECKING:
    from .app import Sandbox

__all__ = ["ControlPlane"]


def _error(status: int, message: str) -> Response:
    return Response.json(status, {"error": message})


class ControlPlane:
    """Handles ``/_sandbox/<path>`` for one sandbox."""

    def __init__(self, sandbox: Sandbox) -> None:
        self._sb = sandbox

    def is_export_download(self, path: Sequence[str]) -> bool:
        return len(path) == 3 and path[0] == "ango" and path[1] == "exports"

    async def handle(self, request: Request, path: Sequence[str]) -> Response:
        key = (request.method, "/".join(path))
        try:
            if self.is_export_download(path) and request.method in ("GET", "HEAD"):
                return self._download(path[2])
            handler = {
                ("GET", ""): self._index,
                ("GET", "catalog"): self._catalog,
                ("GET", "faults"): self._list_faults,
                ("POST", "faults"): self._add_fault,
                ("DELETE", "faults"): self._clear_faults,
                ("POST", "faults/random"): self._random_faults,
                ("GET", "requests"): self._requests,
                ("DELETE", "requests"): self._clear_requests,
                ("GET", "clock"): self._clock,
                ("POST", "clock/advance"): self._advance,
                ("POST", "deepomatic/tasks"): self._add_deepomatic,
            }.get(key)
            if handler is None:
                return _error(404, f"no control endpoint {request.method} /_sandbox/{key[1]}")
            return handler(request)
        except (ValueError, TypeError, KeyError) as exc:
            return _error(400, f"bad request: {exc}")

    # ---- endpoints ------------------------------------------------------------------------------
    def _index(self, request: Request) -> Response:
        origin = request.origin
        return Response.json(
            200,
            {
                "providers": {p: self._sb.base_url(p, origin) for p in SANDBOX_KEYS},
                "keys": dict(SANDBOX_KEYS),
                "catalog": f"{origin}/_sandbox/catalog",
                "clock": {"now": self._sb.clock.now(), "manual": isinstance(self._sb.clock, ManualClock)},
            },
        )

    def _catalog(self, request: Request) -> Response:
        return Response.json(200, catalog_json())

    def _list_faults(self, request: Request) -> Response:
        return Response.json(200, [{**f.to_json(), "remaining": n} for f, n in self._sb.faults.rules])

    def _add_fault(self, request: Request) -> Response:
        body = _object(request)
        fault = self._sb.faults.add(Fault.from_json(body))
        return Response.json(201, {"added": fault.to_json()})

    def _clear_faults(self, request: Request) -> Response:
        self._sb.faults.clear()
        return Response.json(200, {"cleared": True})

    def _random_faults(self, request: Request) -> Response:
        body = _object(request)
        self._sb.faults.set_random(
            rate=float(body.get("rate", 0.0)),
            kinds=list(body.get("kinds", ["429", "500", "502", "503", "504"])),
            seed=int(body.get("seed", 0)),
            delay_s=float(body.get("delay_s", 0.5)),
            providers=body.get("providers"),
            retry_after=body.get("retry_after"),
        )
        return Response.json(200, {"random": body})

    def _requests(self, request: Request) -> Response:
        return Response.json(200, [r.to_json() for r in self._sb.requests.snapshot()])

    def _clear_requests(self, request: Request) -> Response:
        self._sb.requests.clear()
        return Response.json(200, {"cleared": True})

    def _clock(self, request: Request) -> Response:
        clock = self._sb.clock
        return Response.json(
            200, {"now": clock.now(), "manual": isinstance(clock, ManualClock), "epoch": clock.epoch.isoformat()}
        )

    def _advance(self, request: Request) -> Response:
        clock = self._sb.clock
        if not isinstance(clock, ManualClock):
            return _error(409, "the sandbox runs on a wall clock; only a ManualClock can be advanced")
        seconds = float(_object(request)["seconds"])
        if seconds < 0:
            return _error(400, "seconds must be >= 0")
        return Response.json(200, {"now": clock.advance(seconds)})

    def _add_deepomatic(self, request: Request) -> Response:
        body = _object(request)
        low, high = body.get("finish_between", [1.0, 5.0])
        ids = self._sb.add_deepomatic_tasks(
            int(body.get("n", 1)),
            finish_between=(float(low), float(high)),
            error_rate=float(body.get("error_rate", 0.1)),
            seed=int(body.get("seed", 0)),
        )
        return Response.json(201, {"task_ids": ids})

    def _download(self, name: str) -> Response:
        data = self._sb.ango_export_bytes(name.removesuffix(".zip")) if name.endswith(".zip") else None
        if data is None:
            # What S3 answers for an expired or unknown object key.
            return Response.text(
                404,
                '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchKey</Code>'
                "<Message>The specified key does not exist.</Message></Error>",
                "application/xml",
            )
        return Response(
            200, data, [("content-type", "application/zip"), ("content-disposition", f'attachment; filename="{name}"')]
        )


def _object(request: Request) -> dict[str, Any]:
    body = request.json()
    if not isinstance(body, dict):
        raise ValueError("body must be a JSON object")
    return body
