"""What every provider client is: its settings, its HTTP policy, and `get_task` returning a `TaskView`.

Provider quirks (paths, envelopes, error shapes, status vocabularies) live in each provider's module
and nowhere else; this module only fixes the shape they all share so tools can treat them alike.
"""

from __future__ import annotations

import random
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar

import anyio
import httpx
from pydantic import BeforeValidator

from ..errors import ErrorKind, ProviderError
from ..http.policy import HttpPolicy, RetryPolicy
from ..http.rate_limit import Clock, RateBudget, Sleep, SlidingWindowLimiter
from ..http.shared_window import SharedWindowLimiter, budget_key
from ..polling.pace import LocalPace, PaceMemory, SharedPace
from ..results.find import FindQuery, Matches, TaskList, task_list
from ..results.history import MAX_LIMIT, TaskHistory, derived_history
from ..results.provider_name import ProviderName
from ..results.task import TaskView
from ..shared.link import SharedLink
from ..task_ids import path_segment

CHECK_DEADLINE_S = 10.0  # a key check is a quick diagnosis, not a tool call with a 30 s budget


@dataclass(frozen=True)
class CheckResult:
    """What a passed `ProviderClient.check` proved: the request it sent and the answer that shows it."""

    request: str  # e.g. "GET /v0.7/tasks/?task_ids=0&limit=1"
    evidence: str  # e.g. "200 with an empty task page: the key was accepted"


@dataclass(frozen=True)
class ProviderSettings:
    """Everything a provider client needs, read from the environment by `tasklens.server.config`."""

    name: ProviderName
    api_key: str | None = field(repr=False)
    base_url: str | None
    requests_per_minute: int | None = None
    defaults: Mapping[str, str] = field(default_factory=dict)  # e.g. Send.ai team_id / project_id
    missing: str = ""  # why the provider is not configured, naming the variable(s) to set
    sandbox: bool = False

    @property
    def configured(self) -> bool:
        return bool(self.api_key and self.base_url and not self.missing)


@dataclass(frozen=True)
class PollCadence:
    """How often `poll_task` re-reads a provider's tasks.

    Machine work is re-read after `first_s`, backing off by `growth` up to `max_s` while nothing
    changes; tasks waiting on a person are re-read only every `human_s`, because polling cannot
    make a person act and a human step lasts minutes to days."""

    first_s: float
    max_s: float
    human_s: float
    growth: float = 1.5


POLL_CONCURRENCY = 4  # concurrent per-task reads of one poll, on providers without a batch endpoint


@dataclass(frozen=True)
class Runtime:
    """Injectable time and transport, so tests drive the clients without the network or real waiting."""

    transport: httpx.AsyncBaseTransport | None = None
    clock: Clock = time.monotonic
    sleep: Sleep = anyio.sleep
    rng: random.Random = field(default_factory=random.Random)
    retry: RetryPolicy = field(default_factory=RetryPolicy)


class ProviderClient(ABC):
    """One provider's task API. Subclasses set the class constants and implement `read_task`."""

    name: ClassVar[ProviderName]
    label: ClassVar[str]  # the provider's name for people, e.g. "Send.ai"
    history_note: ClassVar[str] = ""  # where a derived timeline's events come from (no history API)
    id_example: ClassVar[str]
    poll_cadence: ClassVar[PollCadence] = PollCadence(first_s=2.0, max_s=10.0, human_s=60.0)

    def __init__(
        self, settings: ProviderSettings, runtime: Runtime | None = None, *, shared: SharedLink | None = None
    ) -> None:
        runtime = runtime or Runtime()
        self.settings = settings
        if not settings.configured:
            raise ValueError(f"{settings.name} is not configured: {settings.missing}")
        assert settings.api_key is not None and settings.base_url is not None
        # The rate budget and poll cadence belong to the provider key: with `shared`, every replica of
        # the deployment uses the same ones, kept in Redis.
        rate = settings.requests_per_minute
        local_pace = LocalPace(runtime.clock)
        self.pace: PaceMemory = local_pace
        limiter: RateBudget | None = None
        if shared is None:
            if rate:
                limiter = SlidingWindowLimiter(rate, 60.0, clock=runtime.clock, sleep=runtime.sleep)
        else:
            name = budget_key(settings.name, settings.api_key)
            self.pace = SharedPace(shared, name, local_pace)
            if rate:
                limiter = SharedWindowLimiter(shared, name, rate, 60.0, clock=runtime.clock, sleep=runtime.sleep)
        self.http = HttpPolicy(
            provider=self.name,
            base_url=settings.base_url,
            headers=self.auth_headers(settings.api_key),
            secrets=(settings.api_key,),
            parse_error=self.parse_error,
            retry=runtime.retry,
            limiter=limiter,
            transport=runtime.transport,
            clock=runtime.clock,
            sleep=runtime.sleep,
            rng=runtime.rng,
        )

    @staticmethod
    @abstractmethod
    def auth_headers(api_key: str) -> dict[str, str]:
        """The provider's documented authentication header(s)."""

    @staticmethod
    @abstractmethod
    def parse_error(payload: Any) -> tuple[str | None, str | None]:
        """(code, message) from the provider's error body."""

    async def get_task(
        self, task_id: str, *, team_id: str | None = None, project_id: str | None = None, detailed: bool = False
    ) -> TaskView:
        """Fetch one task and normalize it; answers served by the sandbox say so."""
        view = await self.read_task(task_id, team_id=team_id, project_id=project_id, detailed=detailed)
        if self.settings.sandbox:
            view.sandbox = True
        return view

    @abstractmethod
    async def check(self) -> CheckResult:
        """One cheap authenticated call that proves the key (and base URL) work, for `tasklens doctor`.

        Raises `ProviderError` with a hint naming what to change when they do not. Each provider picks
        its documented cheapest read and says in its docstring why the answer proves the key.
        """

    def check_deadline(self) -> float:
        """The absolute deadline of a key check (shorter than a tool call's)."""
        return self.http.clock() + min(CHECK_DEADLINE_S, self.http.retry.deadline_s)

    @abstractmethod
    async def read_task(self, task_id: str, *, team_id: str | None, project_id: str | None, detailed: bool) -> TaskView:
        """The provider's own fetch and normalization of one task."""

    async def read_many(
        self,
        task_ids: Sequence[str],
        *,
        team_id: str | None,
        project_id: str | None,
        deadline: float,
    ) -> dict[str, TaskView | ProviderError]:
        """The current state of several tasks, concise, each one's failure kept apart from the others.

        Without a batch endpoint that is one read per task, at most `POLL_CONCURRENCY` at a time, all
        through this client's HTTP policy so the provider's shared rate limiter paces them. Providers
        with a batch endpoint override this."""
        results: dict[str, TaskView | ProviderError] = {}
        slots = anyio.Semaphore(POLL_CONCURRENCY)

        async def read(task_id: str) -> None:
            async with slots:
                try:
                    results[task_id] = await self.read_for_poll(
                        task_id, team_id=team_id, project_id=project_id, deadline=deadline
                    )
                except ProviderError as error:
                    results[task_id] = error

        async with anyio.create_task_group() as group:
            for task_id in task_ids:
                group.start_soon(read, task_id)
        return results

    async def read_for_poll(
        self, task_id: str, *, team_id: str | None, project_id: str | None, deadline: float
    ) -> TaskView:
        """One task as a poll needs it (concise), within the poll's `deadline`."""
        return await self.read_task(task_id, team_id=team_id, project_id=project_id, detailed=False)

    async def get_history(
        self,
        task_id: str | None,
        *,
        history_id: str | None = None,
        team_id: str | None = None,
        project_id: str | None = None,
        cursor: str | None = None,
        limit: int = 20,
        detailed: bool = False,
        about: str | None = None,
    ) -> TaskHistory:
        """One page of a task's timeline; answers served by the sandbox say so."""
        if not task_id and not history_id:
            raise self.fail("invalid_argument", "Pass task_id (or, for Ango, a history_id) to read a history.")
        history = await self.read_history(
            task_id,
            history_id=history_id,
            team_id=team_id,
            project_id=project_id,
            cursor=cursor,
            limit=max(1, min(limit, MAX_LIMIT)),
            detailed=detailed,
            about=about.strip().lower() if about and about.strip() else None,
        )
        if self.settings.sandbox:
            history.sandbox = True
        return history

    async def read_history(
        self,
        task_id: str | None,
        *,
        history_id: str | None,
        team_id: str | None,
        project_id: str | None,
        cursor: str | None,
        limit: int,
        detailed: bool,
        about: str | None,
    ) -> TaskHistory:
        """The provider's history. This default serves providers without a history API: a timeline
        derived from the task's own timestamps (`read_events`); Ango overrides it with its real one."""
        if about:
            raise self.fail(
                "invalid_argument",
                f"{self.label} keeps no answer history, so there are no changes to filter by `about`; call "
                "without it for the timeline derived from the task's timestamps.",
            )
        if history_id:
            raise self.fail(
                "invalid_argument",
                f"{self.label} keeps no history entries, so there is no history_id to read; call without it "
                "for the timeline derived from the task's timestamps.",
            )
        assert task_id is not None  # get_history checked that one of the two was given
        view, events = await self.read_events(task_id, team_id=team_id, project_id=project_id)
        return derived_history(view, events, self.history_note, cursor, limit)

    async def read_events(
        self, task_id: str, *, team_id: str | None, project_id: str | None
    ) -> tuple[TaskView, list[tuple[str | None, str]]]:
        """The task (concise) and its timestamped events, for the default `read_history`; a provider
        that keeps no history implements this, one with a history API overrides `read_history`."""
        raise NotImplementedError(f"{type(self).__name__} has neither read_history nor read_events")

    async def find_tasks(self, query: FindQuery) -> TaskList:
        """One page of the tasks matching `query`, fitted to its budget; answers served by the sandbox say so."""
        result = task_list(query, await self.read_matches(query), datetime.now(UTC))
        if self.settings.sandbox:
            result.sandbox = True
        return result

    async def read_matches(self, query: FindQuery) -> Matches:
        """The provider's listing of the tasks matching `query`. This default serves providers whose API
        documents none; a provider with one overrides it, filtering upstream wherever its API can."""
        raise self.fail(
            "invalid_argument",
            f"{self.label} documents no way to list tasks; use get_task or poll_task with the ids you have.",
        )

    async def aclose(self) -> None:
        await self.http.aclose()

    def segment(self, value: str, what: str = "task_id") -> str:
        """`value` checked and encoded as one URL path segment (see `tasklens.tools.task_ids`)."""
        return path_segment(self.name, what, value, self.id_example)

    def fail(self, kind: ErrorKind, hint: str, error: ProviderError | None = None) -> ProviderError:
        """A ProviderError carrying a provider-specific hint, keeping the HTTP facts of `error` if given."""
        if error is None:
            return ProviderError(self.name, kind, hint=hint)
        return ProviderError(
            self.name,
            kind,
            http_status=error.http_status,
            code=error.code,
            message=error.message,
            retry_after=error.retry_after,
            hint=hint,
        )


def first_text(payload: Any, *keys: str) -> str | None:
    """The first of `keys` in `payload` whose value is a non-empty string (error bodies vary by endpoint)."""
    if not isinstance(payload, dict):
        return None
    for key in keys:
        value = payload.get(key)
        if isinstance(value, str) and value.strip():
            return value
    return None


# Lenient field types for provider payload models. Provider schemas are loosely documented and loosely
# kept (Ango's task schema is unknown, Maxsight v5's enum is unknown, samples show "" where numbers are
# documented); a stray null or odd type in a field we only display must not reject the whole task.


def as_text(value: Any) -> str | None:
    """A scalar as text (ids arrive as ints too); None for anything else."""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _as_dict(value: Any) -> dict[str, Any] | None:
    return value if isinstance(value, dict) else None


def _as_flag(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _as_number(value: Any) -> float | None:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


Text = Annotated[str | None, BeforeValidator(as_text)]
Items = Annotated[list[Any], BeforeValidator(_as_list)]
Object = Annotated[dict[str, Any] | None, BeforeValidator(_as_dict)]
Flag = Annotated[bool | None, BeforeValidator(_as_flag)]
Number = Annotated[float | None, BeforeValidator(_as_number)]
