"""Segment-wise route matching for the provider APIs.

Routes are matched against already-decoded path segments, never against a re-joined string, so
``/task/a%2Fb`` can only ever mean "the task called ``a/b``" and ``..`` is just an odd id.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .asgi import Request, Response

__all__ = ["Handler", "Match", "Route", "find_route", "path_exists"]

#: A route handler: the request and its path parameters in, a buffered response out.
Handler = Callable[[Request, dict[str, str]], Response]


@dataclass(frozen=True)
class Route:
    """``pattern`` is slash-separated; ``{name}`` matches one non-empty segment."""

    method: str
    pattern: str
    handler: Handler

    @property
    def parts(self) -> tuple[str, ...]:
        return tuple(self.pattern.split("/"))

    def match(self, segments: Sequence[str]) -> dict[str, str] | None:
        parts = self.parts
        if len(parts) != len(segments):
            return None
        params: dict[str, str] = {}
        for part, segment in zip(parts, segments, strict=True):
            if part.startswith("{") and part.endswith("}"):
                if not segment:
                    return None
                params[part[1:-1]] = segment
            elif part != segment:
                return None
        return params


@dataclass(frozen=True)
class Match:
    route: Route | None
    params: dict[str, str]
    method_allowed: bool


def find_route(routes: Sequence[Route], method: str, segments: Sequence[str]) -> Match | None:
    """The route for ``method`` at ``segments``; ``method_allowed=False`` means answer 405."""
    path_matches = [(r, p) for r in routes if (p := r.match(segments)) is not None]
    if not path_matches:
        return None
    for route, params in path_matches:
        if route.method == method:
            return Match(route, params, True)
    return Match(None, {}, False)


def path_exists(routes: Sequence[Route], segments: Sequence[str]) -> bool:
    return any(r.match(segments) is not None for r in routes)
