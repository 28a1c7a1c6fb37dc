"""The sandbox ASGI app: one app, one path prefix per provider, plus the control plane.

Each prefix stands for that provider's API host, so a client configured with
``base_url = sb.base_url("deepomatic")`` builds exactly the paths it would send upstream
(``/v0.7/tasks/{id}/``). Every request passes through the same pipeline: record it, pick a
fault (provider paths only), otherwise let the provider answer (route, auth, rate limit, data
as of the sandbox clock).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import anyio

from .ango import AngoApi
from .asgi import Receive, Request, Response, Scope, Send, read_body, send_response
from .clock import Clock, WallClock
from .control import ControlPlane
from .deepomatic import DeepomaticApi
from .faults import FaultBook, SimulatedDisconnect, fault_response, truncate
from .keys import SANDBOX_KEYS
from .maxsight import MaxsightApi
from .requestlog import RecordedRequest, RequestLog
from .sendai import SendaiApi

__all__ = ["Sandbox"]

PROVIDERS: tuple[str, ...] = tuple(SANDBOX_KEYS)
CONTROL_PREFIX = "_sandbox"


class ProviderApi(Protocol):
    name: str

    def error(self, status: int, message: str) -> Response: ...

    async def handle(self, request: Request, path: Sequence[str]) -> Response: ...


class Sandbox:
    """Simulated provider APIs in one ASGI3 app (``await sb(scope, receive, send)``).

    ``clock`` defaults to a :class:`WallClock`; pass a ManualClock to drive timed transitions
    from a test. ``seed`` varies the filler data (catalog ids never change).
    ``ango_requests_per_minute`` is the per-key Ango limit (``None`` = unlimited).
    """

    def __init__(
        self,
        clock: Clock | None = None,
        seed: int = 7,
        ango_requests_per_minute: int | None = 100,
    ) -> None:
        self.clock: Clock = clock if clock is not None else WallClock()
        self.seed = seed
        self.faults = FaultBook()
        self.requests = RequestLog()
        self._ango = AngoApi(self.clock, seed, ango_requests_per_minute)
        self._deepomatic = DeepomaticApi(self.clock, seed)
        self._apis: dict[str, ProviderApi] = {
            "ango": self._ango,
            "deepomatic": self._deepomatic,
            "sendai": SendaiApi(self.clock, seed),
            "maxsight": MaxsightApi(self.clock, seed),
        }
        self._control = ControlPlane(self)

    # ---- public helpers -------------------------------------------------------------------------
    def base_url(self, provider: str, origin: str = "http://sandbox") -> str:
        """The URL that stands for ``provider``'s API host, e.g. ``http://sandbox/ango``."""
        if provider not in self._apis:
            raise ValueError(f"unknown provider {provider!r}; expected one of {PROVIDERS}")
        return f"{origin.rstrip('/')}/{provider}"

    def add_deepomatic_tasks(
        self,
        n: int,
        *,
        finish_between: tuple[float, float],
        error_rate: float = 0.1,
        seed: int = 0,
    ) -> list[str]:
        """Create ``n`` pending Deepomatic tasks now; each finishes ``uniform(*finish_between)``
        sandbox seconds from now, as ``error`` with probability ``error_rate``. Returns the ids."""
        return self._deepomatic.add_tasks(n, finish_between, error_rate, seed)

    def deepomatic_finish_time(self, task_id: str) -> float | None:
        """Sandbox time at which the task leaves ``pending`` (``None``: never, or unknown id)."""
        return self._deepomatic.finish_time(task_id)

    def ango_export_bytes(self, token: str) -> bytes | None:
        """The ZIP behind an export URL (used by the control plane's download route)."""
        return self._ango.exports.get(token)

    def __repr__(self) -> str:
        return f"Sandbox(clock={self.clock!r}, seed={self.seed})"

    # ---- ASGI -----------------------------------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            raise RuntimeError(f"the sandbox serves HTTP only, not {scope['type']!r}")
        request = Request.from_scope(scope, await read_body(receive))
        segments = request.segments
        prefix = segments[0] if segments else ""
        path_text = scope.get("path") or request.path_text

        if prefix == CONTROL_PREFIX:
            response = await self._control.handle(request, segments[1:])
            provider = "ango" if self._control.is_export_download(segments[1:]) else "sandbox"
            self._record(provider, request, path_text, response.status, None)
            await send_response(send, response)
            return

        api = self._apis.get(prefix)
        if api is None:
            response = self._unknown_prefix(request)
            self._record("sandbox", request, path_text, response.status, None)
            await send_response(send, response)
            return

        fault = self.faults.pick(prefix, request)
        if fault is not None and fault.kind == "reset":
            self._record(prefix, request, path_text, 0, "reset")
            raise SimulatedDisconnect("sandbox fault: connection reset before any response")
        if fault is not None and fault.kind == "slow":
            assert fault.delay_s is not None
            if not await _sleep_unless_disconnected(fault.delay_s, receive):
                self._record(prefix, request, path_text, 0, "slow")
                return
            response = await api.handle(request, segments[1:])
            response.fault = "slow"
        elif fault is not None and fault.kind == "truncated":
            response = truncate(await api.handle(request, segments[1:]))
        elif fault is not None:
            response = fault_response(fault, request, api.error)
        else:
            response = await api.handle(request, segments[1:])
        self._record(prefix, request, path_text, response.status, response.fault)
        await send_response(send, response)

    # ---- internals ------------------------------------------------------------------------------
    def _record(self, provider: str, request: Request, path: str, status: int, fault: str | None) -> None:
        self.requests.append(
            RecordedRequest(
                provider=provider,
                method=request.method,
                path=path,
                raw_path=request.raw_path,
                query=request.query,
                header_names=[name for name, _ in request.headers],
                status=status,
                fault=fault,
                at=self.clock.now(),
            )
        )

    def _unknown_prefix(self, request: Request) -> Response:
        if request.segments in ((), ("",)) and request.method == "GET":
            return Response.json(
                200,
                {
                    "sandbox": "tasklens provider sandbox",
                    "providers": {p: self.base_url(p, request.origin) for p in PROVIDERS},
                    "control": f"{request.origin}/_sandbox/",
                },
            )
        return Response.json(
            404,
            {
                "error": "unknown provider prefix",
                "providers": [f"/{p}" for p in PROVIDERS],
            },
        )


async def _sleep_unless_disconnected(delay_s: float, receive: Receive) -> bool:
    """Sleep ``delay_s`` real seconds; ``False`` if the client hung up meanwhile (then there is
    nobody to answer, which also lets a loopback server shut down without waiting)."""
    disconnected = False
    async with anyio.create_task_group() as group:

        async def watch() -> None:
            nonlocal disconnected
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    disconnected = True
                    group.cancel_scope.cancel()
                    return

        group.start_soon(watch)
        await anyio.sleep(delay_s)
        group.cancel_scope.cancel()
    return not disconnected


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message: dict[str, Any] = dict(await receive())
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
