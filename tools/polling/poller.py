"""The polling engine behind `poll_task`: bounded waiting for many tasks without hammering a provider.

An agent that started inference or an extraction needs "tell me when these are done", but its MCP
client cuts a call at about 60 s, and the provider has a rate limit that every other tool call shares.
So a poll:

* reads every task once, then re-reads only what can still move: terminal tasks and ids the provider
  does not know are settled; tasks waiting on a person are re-read at the provider's human cadence
  (minutes), which inside one call means not at all — polling cannot make a person act;
* waits between rounds on an adaptive interval: short at first, growing while nothing changes, with
  ±20% jitter so many pollers do not synchronize; under `until="change"`/`"actionable"` a change
  brings it back to short (the call is about to return), and a call made right after another one
  carries on the backoff where that one left it (the client remembers it per task);
* never asks sooner than the provider's shared rate limiter can admit a round, and honours any
  Retry-After seen (the HTTP policy holds the limiter; errors carry `retry_after`);
* stops as soon as `until` holds, or when the next round could not happen before the wait is over
  (returning early then is better than sleeping to the end), and says when to call again;
* reports progress at least every `PROGRESS_EVERY_S` through a heartbeat running beside the rounds,
  all inside one task group, so a cancelled call leaves no loop and no request behind.

Time, sleep and randomness come from the provider client's HTTP policy, which tests replace with a
virtual clock shared with the sandbox: polls of minutes run in milliseconds, deterministically.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import anyio

from ..errors import ProviderError, clean_upstream_text
from ..providers.base import ProviderClient
from ..results.budget import cut_message
from ..results.poll import PollResult, TaskLine, fitted
from ..results.task import TaskView

logger = logging.getLogger("tasklens.poll")

Until = Literal["terminal", "change", "actionable"]
Progress = Callable[[float, float | None, str | None], Awaitable[None]]

MAX_TASKS = 100
MAX_WAIT_S = 50
FIRST_ROUND_S = 10.0  # even a one-shot poll (wait_s=0) gives its single round this long
GRACE_S = 5.0  # a round started within the wait may finish this much after it (slow answers)
PROGRESS_EVERY_S = 4.0  # heartbeat period: under the 5 s an agent's client may need to stay patient
JITTER = 0.2
BATCH_WINDOW_S = 1.0  # tasks due this soon after the first due one join its round
DETAIL_LIMIT = 120
ERROR_LIMIT = 160
# Failures that another read would only repeat: the task is settled as "could not be read".
PERMANENT_ERRORS = frozenset(
    {"not_found", "invalid_argument", "unauthorized", "forbidden", "bad_request", "not_configured"}
)


@dataclass
class Tracked:
    """One task across the rounds of a poll."""

    id: str
    first: TaskView | None = None  # the first successful read: what `changed` compares with
    view: TaskView | None = None  # the latest successful read
    error: ProviderError | None = None  # the latest read's failure, if it failed
    read_at: float = -math.inf
    retry_at: float = -math.inf  # not before this (a Retry-After on this task's read)

    @property
    def settled(self) -> bool:
        """Nothing more to learn in this call: terminal, or a failure another read would repeat."""
        if self.view is not None and self.view.terminal:
            return True
        return self.error is not None and self.error.kind in PERMANENT_ERRORS

    @property
    def human(self) -> bool:
        return self.view is not None and self.view.state == "waiting_on_human" and self.error is None

    @property
    def changed(self) -> bool:
        return self.first is not None and self.view is not None and _signature(self.first) != _signature(self.view)


def _signature(view: TaskView) -> tuple[str, str, str | None]:
    # A stage move is a change an agent cares about even when the normalized state stays the same.
    return view.state, view.raw_status, view.stage


class Poller:
    """One `poll_task` call: construct, then `await run()` once."""

    def __init__(
        self,
        client: ProviderClient,
        task_ids: Sequence[str],
        *,
        wait_s: float,
        until: Until,
        team_id: str | None = None,
        project_id: str | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.client = client
        self.http = client.http
        self.cadence = client.poll_cadence
        self.tasks = [Tracked(task_id) for task_id in dict.fromkeys(task_ids)]
        self.wait_s = max(0.0, min(float(wait_s), MAX_WAIT_S))
        self.until = until
        self.team_id = team_id
        self.project_id = project_id
        self.progress = progress
        self._last_progress = -1.0
        self.start = self.end = self.hard_stop = 0.0
        self.interval = self.cadence.first_s

    async def run(self) -> PollResult:
        """Poll until `until` holds or the wait is over; the result says where every task stands."""
        self.start = self.http.clock()
        self.end = self.start + self.wait_s
        self.hard_stop = self.start + max(self.wait_s, FIRST_ROUND_S) + GRACE_S
        outcome: PollResult | ProviderError | None = None
        async with anyio.create_task_group() as group:
            if self.progress is not None:
                group.start_soon(self._heartbeat)
            try:
                outcome = await self._poll()
            except ProviderError as error:  # raised below, outside the group, so it stays itself
                outcome = error
            group.cancel_scope.cancel()
        if isinstance(outcome, ProviderError):
            raise outcome
        assert outcome is not None
        return outcome

    # ---- the loop ---------------------------------------------------------------------------------

    async def _poll(self) -> PollResult:
        self.interval = await self._remembered_interval()
        await self._round(self.tasks)
        while True:
            reason = self._stop_reason()
            if reason is not None:
                return await self._result(reason)
            when, due = await self._next_round(self.interval)
            if when > self.end:
                return await self._result(None)  # returning now beats sleeping to the end of the wait
            if when + await self._limiter_wait(len(due)) > self.hard_stop:
                return await self._result("limited")  # the rate limit would not let the round finish in time
            await self._sleep_until(when)
            changed = await self._round(due)
            # A change ends a `change` or `actionable` call soon, so the next read should come quickly;
            # under `terminal` the caller learns nothing until the last task is done, so keep backing off.
            if changed and self.until != "terminal":
                self.interval = self.cadence.first_s
            else:
                self.interval = min(self.cadence.max_s, self.interval * self.cadence.growth)

    async def _remembered_interval(self) -> float:
        """Where the backoff stood when these tasks were last polled, if that was a moment ago (see
        `tasklens.tools.polling.pace`)."""
        reached = await self.client.pace.recall([task.id for task in self.tasks])
        if all(interval is not None for interval in reached):
            return min(interval for interval in reached if interval is not None)
        return self.cadence.first_s

    async def _remember(self) -> None:
        now = self.http.clock()
        await self.client.pace.remember(
            {
                task.id: (now - task.read_at, self.interval)
                if not task.settled and not task.human and task.error is None
                else None
                for task in self.tasks
            }
        )

    async def _round(self, due: Sequence[Tracked]) -> bool:
        """Read `due` once (one batch or bounded-concurrency reads); True if any of them changed."""
        now = self.http.clock()
        reads = await self.client.read_many(
            [task.id for task in due], team_id=self.team_id, project_id=self.project_id, deadline=self.hard_stop
        )
        changed = False
        for task in due:
            read = reads.get(task.id)
            if read is None:
                read = self.client.fail("bad_response", f"{self.client.label} gave no answer for task {task.id}.")
            task.read_at = now
            if isinstance(read, ProviderError):
                task.error = read
                task.retry_at = now + read.retry_after if read.retry_after else -math.inf
                continue
            changed = changed or (task.view is not None and _signature(task.view) != _signature(read))
            task.view, task.error = read, None
            task.first = task.first or read
        await self._report()
        return changed

    def _stop_reason(self) -> str | None:
        """Why the poll can return now, or None to keep polling."""
        if all(task.settled for task in self.tasks):
            return "settled"
        if self.until == "change" and any(task.changed for task in self.tasks):
            return "changed"
        if self.until == "actionable" and any(
            task.view is not None and (task.view.terminal or task.view.state == "waiting_on_human")
            for task in self.tasks
        ):
            return "actionable"
        return None

    async def _next_round(self, interval: float) -> tuple[float, list[Tracked]]:
        """When the next round should start, and which tasks it reads (those due by then)."""
        pending = [task for task in self.tasks if not task.settled]
        step = interval * self.http.rng.uniform(1 - JITTER, 1 + JITTER)
        due_at = {id(task): self._due(task, step) for task in pending}
        first = min(due_at.values())
        due = [task for task in pending if due_at[id(task)] <= first + BATCH_WINDOW_S]
        now = self.http.clock()
        return max(first, now + await self._limiter_wait(1)), due

    def _due(self, task: Tracked, step: float) -> float:
        wait = self.cadence.human_s if task.human else step
        return max(task.read_at + wait, task.retry_at)

    async def _limiter_wait(self, requests: int) -> float:
        limiter = self.http.limiter
        return await limiter.free_in(requests) if limiter is not None else 0.0

    async def _sleep_until(self, when: float) -> None:
        remaining = when - self.http.clock()
        if remaining > 0:
            await self.http.sleep(remaining)

    # ---- progress ---------------------------------------------------------------------------------

    async def _heartbeat(self) -> None:
        while True:
            await self.http.sleep(PROGRESS_EVERY_S)
            await self._report()

    async def _report(self) -> None:
        """done/total with a short message. `progress` must increase with every notification, so
        while no task settles it grows by the fraction of the wait that has passed (< 1)."""
        if self.progress is None:
            return
        total = len(self.tasks)
        done = sum(task.settled for task in self.tasks)
        elapsed = (self.http.clock() - self.start) / max(self.wait_s, 1.0)
        value = float(total) if done == total else done + min(0.99, max(0.0, elapsed))
        if value <= self._last_progress:
            return
        self._last_progress = value
        states = Counter(task.view.state for task in self.tasks if task.view is not None and not task.settled)
        waiting = "".join(f", {count} {state.replace('_', ' ')}" for state, count in sorted(states.items()))
        try:
            await self.progress(value, float(total), f"{done}/{total} done{waiting}")
        except anyio.get_cancelled_exc_class():
            raise
        except Exception as error:  # progress is a courtesy: a client that cannot take it still gets the result
            logger.info("poll_task progress not delivered (%s); continuing without it", type(error).__name__)
            self.progress = None

    # ---- the result -------------------------------------------------------------------------------

    async def _result(self, reason: str | None) -> PollResult:
        now = self.http.clock()
        read = [task for task in self.tasks if task.view is not None]
        if not read:
            raise self._nothing_polled()
        counts: Counter[str] = Counter(task.view.state for task in read if task.view is not None)
        unread = len(self.tasks) - len(read)
        if unread:
            counts["error"] = unread
        pending = [task for task in self.tasks if not task.settled]
        next_poll = await self._next_poll_s(pending, now) if pending else None
        await self._remember()
        return fitted(
            self._lines(),
            lambda groups, sentences_cut: PollResult(
                provider=self.client.name,
                sandbox=True if self.client.settings.sandbox else None,
                all_terminal=all(task.view is not None and task.view.terminal for task in self.tasks),
                counts=dict(counts),
                waited_s=round(now - self.start, 1),
                next_poll_s=next_poll,
                note=self._note(reason, pending, sentences_cut),
                tasks=groups,
            ),
        )

    async def _next_poll_s(self, pending: list[Tracked], now: float) -> int:
        """Seconds until a new call's first round is worth making and fits under the rate limit."""
        step = self.interval
        soonest = min(
            max(task.read_at + (self.cadence.human_s if task.human else step), task.retry_at) for task in pending
        )
        wait = max(soonest - now, await self._limiter_wait(len(pending)))
        return max(1, math.ceil(wait))

    def _lines(self) -> list[TaskLine]:
        lines: list[TaskLine] = []
        for task in self.tasks:
            view, error = task.view, task.error
            detail = None
            if view is not None and view.detail and (task.changed or view.state in ("failed", "unknown")):
                detail = cut_message(view.detail, DETAIL_LIMIT)  # a status code sits at the end
            lines.append(
                TaskLine(
                    id=task.id,
                    state=view.state if view is not None else None,
                    changed=task.changed,
                    raw_status=view.raw_status if view is not None and view.state == "unknown" else None,
                    detail=detail,
                    error=_row_error(error) if error is not None else None,
                    error_kind=_error_kind(error) if error is not None else None,
                )
            )
        return lines

    def _note(self, reason: str | None, pending: list[Tracked], sentences_cut: bool) -> str | None:
        people = sum(task.human for task in pending)
        if reason == "settled":
            unread = sum(task.view is None for task in self.tasks)
            note = (
                "Every task is terminal."
                if not unread
                else f"Every readable task is terminal; {unread} could not be read."
            )
        elif reason == "changed":
            note = "Stopped: a task changed."
        elif reason == "actionable":
            note = "Stopped: a task finished or needs a person."
        elif reason == "limited":
            note = f"Paced by {self.client.label}'s rate limit, shared with other calls; poll again after next_poll_s."
        elif pending and people == len(pending):
            note = f"{people} waiting on a person: report them; polling will not move them."
        else:
            lead = "Read once" if self.wait_s == 0 else "Wait over"
            note = f"{lead}; {len(pending)} not finished" + (
                f", {people} of them waiting on a person." if people else "."
            )
        if sentences_cut:
            note += " Some details and errors left out for length; get_task gives them."
        return note

    def _nothing_polled(self) -> ProviderError:
        """The call's one error when no task could be read: the first task's failure, in context."""
        error = next(task.error for task in self.tasks if task.error is not None)
        if len(self.tasks) == 1:
            return error
        return ProviderError(
            error.provider,
            error.kind,
            http_status=error.http_status,
            retry_after=error.retry_after,
            hint=f"None of the {len(self.tasks)} tasks could be read. The first: {error.for_model()}",
        )


def _row_error(error: ProviderError) -> str:
    """One short, trusted sentence for a task that could not be read."""
    if error.kind == "rate_limited":  # next_poll_s says when; no need to repeat it for every task
        return _error_kind(error)
    return clean_upstream_text(error.hint or error.for_model(), limit=ERROR_LIMIT)


def _error_kind(error: ProviderError) -> str:
    """The failure in a few words, shared by every task that failed the same way."""
    status = f" (HTTP {error.http_status})" if error.http_status else ""
    return f"not read: {error.kind.replace('_', ' ')}{status}"


async def poll(
    client: ProviderClient,
    task_ids: Sequence[str],
    *,
    wait_s: float,
    until: Until,
    team_id: str | None = None,
    project_id: str | None = None,
    progress: Progress | None = None,
) -> PollResult:
    """Poll `task_ids` on `client`'s provider; see `Poller`."""
    poller = Poller(
        client, task_ids, wait_s=wait_s, until=until, team_id=team_id, project_id=project_id, progress=progress
    )
    return await poller.run()
