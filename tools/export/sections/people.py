"""Labelers and reviewers: tasks (visits), median active time, rejection rate.

A labeler's visit is a Label-like visit; every one since the previous review is judged by the next
review of the same asset (legacy: a task by its own review), which gives the labeler's rejection
rate. A reviewer's tasks are the reviews given, their rate the share rejected.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..sketch import Sketch
from .columns import Columns
from .common import entry
from .render import Rendering, name, rate, top

if TYPE_CHECKING:
    from .parts import People, Person

PERSON_EXACT = 256  # per-person durations kept exactly before the sketch switches to buckets


class PersonStat:
    __slots__ = ("visits", "sketch", "reviewed", "rejected", "accepted")

    def __init__(self) -> None:
        self.visits = 0
        self.sketch = Sketch(PERSON_EXACT)
        self.reviewed = 0  # labelers: visits a review judged; reviewers: reviews given
        self.rejected = 0
        self.accepted = 0

    def add(self, durations: list[float | None], statuses: list[str] | None = None) -> None:
        """Visits with their durations; a reviewer's come with the status each review gave."""
        self.visits += len(durations)
        self.sketch.add_all([ms for ms in durations if ms is not None])
        if statuses is not None:
            self.judged(statuses)
            self.accepted += statuses.count("Accepted")

    def judged(self, statuses: list[str]) -> None:
        self.reviewed += len(statuses)
        self.rejected += statuses.count("Rejected")

    def merge(self, other: PersonStat) -> None:
        self.visits += other.visits
        self.sketch.merge(other.sketch)
        self.reviewed += other.reviewed
        self.rejected += other.rejected
        self.accepted += other.accepted


class PeopleSection:
    def __init__(self) -> None:
        self.labelers: dict[str, PersonStat] = {}
        self.reviewers: dict[str, PersonStat] = {}

    def count(self, columns: Columns) -> None:
        """One pass over the batch's visits, grouping durations and verdicts by person; then each
        person's figures are added once."""
        visits = columns.visits
        if not visits.stage:
            return
        labeled: dict[str, list[float | None]] = {}
        reviewed: dict[str, tuple[list[float | None], list[str]]] = {}
        judged: dict[str, list[str]] = {}  # the statuses of the reviews that judged a labeler's visits
        awaiting: list[str] = []  # labelers whose visits the next review in the scope judges
        scope = -1
        rows = zip(visits.scope, visits.who, visits.ms, visits.status, visits.labeling, strict=True)
        for where, who, ms, status, labeling in rows:
            if where != scope:
                scope, awaiting = where, []
            if status is not None:
                if who is not None:
                    given = reviewed.get(who)
                    if given is None:
                        given = reviewed[who] = ([], [])
                    given[0].append(ms)
                    given[1].append(status)
                for labeler in awaiting:
                    verdicts = judged.get(labeler)
                    if verdicts is None:
                        verdicts = judged[labeler] = []
                    verdicts.append(status)
                awaiting = []
            elif labeling and who is not None:
                durations = labeled.get(who)
                if durations is None:
                    durations = labeled[who] = []
                durations.append(ms)
                awaiting.append(who)
        for who, durations in labeled.items():
            entry(self.labelers, who, PersonStat).add(durations)
        for who, (durations, statuses) in reviewed.items():
            entry(self.reviewers, who, PersonStat).add(durations, statuses)
        for who, statuses in judged.items():
            entry(self.labelers, who, PersonStat).judged(statuses)

    def merge(self, other: PeopleSection) -> None:
        for mine, theirs in ((self.labelers, other.labelers), (self.reviewers, other.reviewers)):
            for who, person in theirs.items():
                entry(mine, who, PersonStat).merge(person)

    def render(self, out: Rendering) -> People | None:
        from .parts import People  # only where a summary is rendered (see parts)

        if not self.labelers and not self.reviewers:
            return None
        labelers = top(self.labelers, out.k, weight=lambda stat: stat.visits)
        reviewers = top(self.reviewers, out.k, weight=lambda stat: stat.visits)
        out.cut("labelers", len(labelers), len(self.labelers))
        out.cut("reviewers", len(reviewers), len(self.reviewers))
        return People(
            labelers={name(who): _person(stat, out) for who, stat in labelers},
            reviewers={name(who): _person(stat, out) for who, stat in reviewers},
        )


def _person(stat: PersonStat, out: Rendering) -> Person:
    from .parts import Person

    return Person(
        tasks=stat.visits,
        median_s=out.quantile_s(stat.sketch, 0.5, "people median_s"),
        rejection_rate=rate(stat.rejected, stat.reviewed),
    )
