"""The summary result: what a project lead asks about first, in a few hundred tokens (concise) or more.

Lists are top-k (by count, then name) and every cut is said in `truncated`; figures that came from the
bounded sketch instead of exact values are named in `approximate`.

The sections are typed models (validated when the result is built), but are published in the tool's
output schema as plain objects (`OBJECT`): their full schema cost ~800 tokens of `tools/list` on
every request, against a budget of ~440 for the whole tool, and their field names say what they hold.
The nested models have no docstrings for the same reason.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import WithJsonSchema

from ..errors import clean_upstream_text
from ..results.compact import Compact, compact_json
from ..timestamps import parse_time
from .accumulate import SLOW_FACTOR, Accumulator, Examples, PersonStat
from .sketch import Sketch

NAME_CHARS = 60  # class names, question paths, people, answers are cut to this
CONCISE_NESTED = 3  # answers per question and examples per anomaly in concise results
TOKEN_BUDGET = {"concise": 1900, "detailed": 7600}  # under the 2,000 / 8,000 tokens promised, with margin
CONSENSUS_BINS = ("0-20", "20-40", "40-60", "60-80", "80-100")


class Spread(Compact):
    min: int
    median: int
    p90: int
    max: int


class ClassCount(Compact):
    instances: int
    objects: int
    assets: int


class Listed(Compact):
    count: int
    examples: list[str] | None = None


class Labels(Compact):
    instances: int
    objects: int
    classes: dict[str, ClassCount] | None = None
    kinds: dict[str, int] | None = None
    objects_per_asset: Spread | None = None
    relations: dict[str, int] | None = None
    masked_assets: int | None = None
    unlabeled: Listed | None = None


class Answers(Compact):
    answered: int
    answers: dict[str, int] | None = None
    avg_chars: float | None = None


class StageTime(Compact):
    visits: int
    total_s: float | None = None
    median_s: float | None = None
    p90_s: float | None = None


class Workflow(Compact):
    stages: dict[str, StageTime] | None = None
    reviews: dict[str, dict[str, int]] | None = None
    acceptance_rate: float | None = None
    first_pass_rate: float | None = None
    rework_assets: int | None = None
    skipped: int | None = None


class Person(Compact):
    tasks: int
    median_s: float | None = None
    rejection_rate: float | None = None


class People(Compact):
    labelers: dict[str, Person] | None = None
    reviewers: dict[str, Person] | None = None


class Consensus(Compact):
    scored: int
    average: float
    median: float
    histogram: dict[str, int]
    lowest_classes: dict[str, float] | None = None


class Slow(Compact):
    asset: str
    s: float


class Anomalies(Compact):
    slow: list[Slow] | None = None
    slow_count: int | None = None
    empty_complete: Listed | None = None
    rejected_unchanged: Listed | None = None
    negative_boxes: int | None = None
    short_polygons: int | None = None


OBJECT = WithJsonSchema({"type": "object"})


class ExportSummary(Compact):
    # An Ango export, summarized in one streaming pass; empty sections are omitted. `records` (records
    # read) appears only when filters dropped some; `resource` is the export-summary:// URI the server
    # keeps it under. No docstring: it would be published in the schema.
    source: str
    resource: str | None = None
    sandbox: bool | None = None
    assets: int
    records: int | None = None
    generation: str
    first: str | None = None
    last: str | None = None
    stages: dict[str, int] | None = None
    batches: dict[str, int] | None = None
    sections: list[str] | None = None
    labels: Annotated[Labels | None, OBJECT] = None
    questions: Annotated[dict[str, Answers] | None, OBJECT] = None
    workflow: Annotated[Workflow | None, OBJECT] = None
    people: Annotated[People | None, OBJECT] = None
    consensus: Annotated[Consensus | None, OBJECT] = None
    anomalies: Annotated[Anomalies | None, OBJECT] = None
    unreadable: str | None = None
    approximate: list[str] | None = None
    truncated: str | None = None


def _name(value: str) -> str:
    return clean_upstream_text(value, limit=NAME_CHARS)


def _seconds(ms: float | None) -> float | None:
    return None if ms is None else round(ms / 1000, 1)


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 3) if whole else None


def _top(table: dict[str, Any], k: int, weight: Any = None) -> list[tuple[str, Any]]:
    """The k largest entries by weight (default: the value), ties by name."""
    weight = weight or (lambda item: item)
    return sorted(table.items(), key=lambda kv: (-weight(kv[1]), kv[0]))[:k]


class _Cuts:
    """Records what was left out, for the one `truncated` sentence."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def note(self, what: str, shown: int, total: int) -> None:
        if total > shown:
            self.parts.append(f"{what} {shown} of {total}")


def build_summary(
    acc: Accumulator,
    *,
    source: str,
    top_k: int,
    detailed: bool,
    sandbox: bool = False,
    unreadable: tuple[int, int | None] = (0, None),
) -> ExportSummary:
    """The result model, within the token budget of its format (lists shrink before anything else)."""
    acc.flush()
    budget = TOKEN_BUDGET["detailed" if detailed else "concise"]
    k = top_k
    while True:
        summary = _render(
            acc, source=source, k=k, top_k=top_k, detailed=detailed, sandbox=sandbox, unreadable=unreadable
        )
        if k <= 1 or token_estimate(compact_json(summary)) + RESOURCE_FIELD_TOKENS <= budget:
            return summary
        k = max(1, k * 2 // 3)


def token_estimate(text: str) -> float:
    """An upper estimate of a JSON text's tokens, without a tokenizer at run time: compact JSON runs at
    3-4 ASCII characters per token (2.5 assumed, for ids and e-mail addresses), and any other character
    is counted as 2 tokens (CJK is about 1, emoji up to 3)."""
    other = len(text) - len(text.encode("ascii", "ignore"))
    return (len(text) - other) / 2.5 + 2 * other


# The server adds `"resource":"export-summary://<12 hex>"` after building the summary (the id is a hash
# of the summary), so the budget leaves room for it.
RESOURCE_FIELD_TOKENS = token_estimate('"resource":"export-summary://0123456789ab",')


def _render(
    acc: Accumulator,
    *,
    source: str,
    k: int,
    top_k: int,
    detailed: bool,
    sandbox: bool,
    unreadable: tuple[int, int | None],
) -> ExportSummary:
    cuts = _Cuts()
    nested = k if detailed else min(k, CONCISE_NESTED)
    approximate: list[str] = []
    first, last = _span(acc)
    generations = {name: n for name, n in acc.generations.items() if n}
    if len(generations) == 1:
        generation = next(iter(generations))
    elif generations:
        generation = "mixed (" + ", ".join(f"{n} {name}" for name, n in generations.items()) + ")"
    else:
        generation = "none"

    stages = _top(acc.stages, k)
    batches = _top(acc.batches, k)
    cuts.note("stages", len(stages), len(acc.stages))
    cuts.note("batches", len(batches), len(acc.batches))

    classes = _top(acc.class_instances, k)
    cuts.note("classes", len(classes), len(acc.class_instances))
    labels = None
    if acc.assets:
        labels = Labels(
            instances=acc.instances,
            objects=acc.objects,
            classes={
                _name(key): ClassCount(instances=n, objects=acc.class_objects[key], assets=acc.class_assets[key])
                for key, n in classes
            },
            kinds=dict(_top(acc.kinds, 20)),
            objects_per_asset=_histogram_spread(acc.objects_per_asset),
            relations=dict(_top(acc.relations, k)),
            masked_assets=acc.masked_assets or None,
            unlabeled=_listed(acc, acc.unlabeled, nested),
        )

    questions_shown = _top(acc.answered, k)
    cuts.note("questions", len(questions_shown), len(acc.answered))
    options: dict[str, dict[str, int]] = {}
    shown_paths = {path for path, _ in questions_shown}
    for (path, option), n in acc.answers.items():
        if path in shown_paths:
            options.setdefault(path, {})[option] = n
    questions: dict[str, Answers] = {}
    cut_answers = False
    for path, answered in questions_shown:
        values = options.get(path, {})
        if path in acc.text_chars and not values:
            questions[_name(path)] = Answers(answered=answered, avg_chars=round(acc.text_chars[path] / answered, 1))
            continue
        answers = _top(values, nested)
        cut_answers = cut_answers or len(values) > len(answers)
        if detailed:
            cuts.note(f"answers of '{_name(path)}'", len(answers), len(values))
        questions[_name(path)] = Answers(answered=answered, answers={_name(a): n for a, n in answers})
    if cut_answers and not detailed:
        cuts.parts.append(f"answers {nested} per question")

    workflow = _workflow(acc, k, cuts, approximate)
    people = _people(acc, k, cuts, approximate)
    consensus = _consensus(acc, k, approximate)
    anomalies = _anomalies(acc, nested, approximate)

    more = "; a larger top_k shows more" if detailed else "; response_format=detailed or a larger top_k shows more"
    truncated = ("showing " + ", ".join(cuts.parts) + more) if cuts.parts else None
    if k < top_k:
        truncated = (truncated + "; " if truncated else "") + f"lists cut to {k} to fit the response budget"
    count, offset = unreadable
    return ExportSummary(
        source=source,
        sandbox=sandbox or None,
        assets=acc.assets,
        records=acc.records if acc.records != acc.assets else None,
        generation=generation,
        first=first,
        last=last,
        stages=dict((_name(s), n) for s, n in stages),
        batches=dict((_name(b), n) for b, n in batches),
        sections=sorted(acc.sections),
        labels=labels,
        questions=questions,
        workflow=workflow,
        people=people,
        consensus=consensus,
        anomalies=anomalies,
        unreadable=(
            f"{count} records were valid JSON but not assets (first at byte {offset}); they are not counted"
            if count
            else None
        ),
        approximate=approximate,
        truncated=truncated,
    )


def _span(acc: Accumulator) -> tuple[str | None, str | None]:
    lows: list[float] = []
    highs: list[float] = []
    for value, bucket in ((acc.iso_min, lows), (acc.iso_max, highs)):
        parsed = parse_time(value) if value else None
        if parsed is not None:
            bucket.append(parsed.timestamp())
    if acc.time_min is not None and acc.time_max is not None:
        lows.append(acc.time_min)
        highs.append(acc.time_max)
    if not lows or not highs:
        return None, None
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    return (datetime.fromtimestamp(min(lows), UTC).strftime(fmt), datetime.fromtimestamp(max(highs), UTC).strftime(fmt))


def _histogram_spread(histogram: dict[int, int]) -> Spread | None:
    """min/median/p90/max (nearest rank) of a value → count histogram: exact, and small."""
    total = sum(histogram.values())
    if not total:
        return None
    ordered = sorted(histogram.items())

    def rank(q: float) -> float:
        target = max(1, -(-q * total // 1))
        seen = 0
        for value, n in ordered:
            seen += n
            if seen >= target:
                return value
        return ordered[-1][0]

    return Spread(min=ordered[0][0], median=rank(0.5), p90=rank(0.9), max=ordered[-1][0])


def _listed(acc: Accumulator, examples: Examples, k: int) -> Listed | None:
    """A count with its first k examples (in file order); the count says how many there are in all."""
    if not examples.count:
        return None
    return Listed(count=examples.count, examples=[_name(acc.name_of(n)) for n in examples.names[:k]])


def _quantile_s(sketch: Sketch, q: float, approximate: list[str], label: str) -> float | None:
    value = sketch.quantile(q)
    if value is not None and sketch.approximate and label not in approximate:
        approximate.append(label)
    return _seconds(value)


def _workflow(acc: Accumulator, k: int, cuts: _Cuts, approximate: list[str]) -> Workflow | None:
    if not acc.visits and not acc.reviews and not acc.skipped:
        return None
    shown = _top(acc.visits, k, weight=lambda stat: stat.visits)
    cuts.note("workflow stages", len(shown), len(acc.visits))
    stages = {
        _name(name): StageTime(
            visits=stat.visits,
            total_s=_seconds(stat.total_ms) if stat.sketch.count else None,
            median_s=_quantile_s(stat.sketch, 0.5, approximate, "workflow median_s/p90_s"),
            p90_s=_quantile_s(stat.sketch, 0.9, approximate, "workflow median_s/p90_s"),
        )
        for name, stat in shown
    }
    reviews = {
        _name(stage): dict(_top(counts, 10)) for stage, counts in _top(acc.reviews, k, weight=lambda c: sum(c.values()))
    }
    accepted = sum(c.get("Accepted", 0) for c in acc.reviews.values())
    rejected = sum(c.get("Rejected", 0) for c in acc.reviews.values())
    return Workflow(
        stages=stages,
        reviews=reviews,
        acceptance_rate=_rate(accepted, accepted + rejected),
        first_pass_rate=_rate(acc.first_pass_accepted, acc.reviewed_assets),
        rework_assets=acc.rework_assets or None,
        skipped=acc.skipped or None,
    )


def _person(stat: PersonStat, approximate: list[str]) -> Person:
    return Person(
        tasks=stat.visits,
        median_s=_quantile_s(stat.sketch, 0.5, approximate, "people median_s"),
        rejection_rate=_rate(stat.rejected, stat.reviewed),
    )


def _people(acc: Accumulator, k: int, cuts: _Cuts, approximate: list[str]) -> People | None:
    if not acc.labelers and not acc.reviewers:
        return None
    labelers = _top(acc.labelers, k, weight=lambda stat: stat.visits)
    reviewers = _top(acc.reviewers, k, weight=lambda stat: stat.visits)
    cuts.note("labelers", len(labelers), len(acc.labelers))
    cuts.note("reviewers", len(reviewers), len(acc.reviewers))
    return People(
        labelers={_name(who): _person(stat, approximate) for who, stat in labelers},
        reviewers={_name(who): _person(stat, approximate) for who, stat in reviewers},
    )


def _consensus(acc: Accumulator, k: int, approximate: list[str]) -> Consensus | None:
    sketch = acc.consensus
    if not sketch.count:
        return None
    median = sketch.quantile(0.5)
    if sketch.approximate:
        approximate.append("consensus median")
    averages = {key: total / n for key, (n, total) in acc.consensus_classes.items() if n}
    lowest = sorted(averages.items(), key=lambda kv: (kv[1], kv[0]))[:k]
    return Consensus(
        scored=sketch.count,
        average=round(sketch.total / sketch.count, 1),
        median=round(median or 0.0, 1),
        histogram=dict(zip(CONSENSUS_BINS, acc.consensus_bins, strict=True)),
        lowest_classes={_name(key): round(value, 1) for key, value in lowest},
    )


def _anomalies(acc: Accumulator, k: int, approximate: list[str]) -> Anomalies | None:
    slow: list[Slow] = []
    slow_count = None
    median = acc.durations.quantile(0.5)
    if median:
        threshold = SLOW_FACTOR * median
        slow_count = acc.durations.count_above(threshold) or None
        if acc.durations.approximate and slow_count:
            approximate.append("anomalies slow_count")
        ranked = sorted(acc.longest, reverse=True)
        slow = [
            Slow(asset=_name(acc.name_of(name)), s=_seconds(ms) or 0.0) for ms, _, name in ranked if ms > threshold
        ][:k]
    anomalies = Anomalies(
        slow=slow,
        slow_count=slow_count,
        empty_complete=_listed(acc, acc.empty_complete, k),
        rejected_unchanged=_listed(acc, acc.rejected_unchanged, k),
        negative_boxes=acc.negative_boxes or None,
        short_polygons=acc.short_polygons or None,
    )
    return anomalies if json.loads(compact_json(anomalies)) else None
