"""The summary's parts as result models: what each section's `render` returns.

They live apart from the sections' counting, and each `render` imports its model when it runs, because
the helper process (`helpers.py`) counts and never renders: the models need pydantic, which would add
~14 MiB to the helper's memory and ~0.07 s to its start.
"""

from __future__ import annotations

from ...results.compact import Compact


class Listed(Compact):
    count: int
    examples: list[str] | None = None


class Spread(Compact):
    min: int
    median: int
    p90: int
    max: int


class ClassCount(Compact):
    instances: int
    objects: int
    assets: int


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
