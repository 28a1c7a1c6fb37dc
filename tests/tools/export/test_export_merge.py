"""Two accumulators that read alternate stretches of one export, merged, give the one pass's summary.

This is what lets a helper process read part of a large export (tools/export/helpers.py): the
main process and the helper each count the stretches they were given, and the helper's figures are
merged in at the end. Every figure of the detailed summary must come out identical, including the
"record N" names of nameless assets and the file order of examples.
"""

from __future__ import annotations

import json
import random

import msgspec
import pytest

from support.export_fixtures import ExportGenerator, encode
from tasklens.tools.export.accumulate import Accumulator, Filters
from tasklens.tools.export.records import Asset
from tasklens.tools.export.sections import people
from tasklens.tools.export.summary import build_summary
from tasklens.tools.results.compact import compact_json


def _records(seed: int, count: int, legacy_share: float) -> list[Asset]:
    assets = list(ExportGenerator(seed, legacy_share=legacy_share, labelers=6, reviewers=3).assets(count))
    rng = random.Random(seed)
    for asset in assets:  # some nameless records, so that "record N" names are exercised
        if rng.random() < 0.15:
            asset.pop("externalId", None)
            (asset.get("task") or {}).pop("taskId", None)
    return msgspec.json.Decoder(Asset).decode_lines(encode(assets, "ndjson"))


def _summary(acc: Accumulator) -> dict:
    return json.loads(compact_json(build_summary(acc, source="x", top_k=50, detailed=True)))


def _split(records: list[Asset], seed: int, filters: Filters | None) -> Accumulator:
    """Cut the records into segments of random length and hand them alternately to two accumulators."""
    rng = random.Random(seed)
    main, helper = Accumulator(filters), Accumulator(filters)
    start = segment = 0
    while start < len(records):
        end = start + rng.randint(1, 25)
        side = main if rng.random() < 0.5 else helper
        side.start_segment(segment)
        side.add_all(records[start:end])
        start, segment = end, segment + 1
    main.merge(helper)
    return main


@pytest.mark.parametrize("legacy_share", [0.0, 1.0, 0.3], ids=["current", "legacy", "mixed"])
@pytest.mark.parametrize("seed", [1, 2])
def test_merged_halves_give_the_single_pass_summary(legacy_share: float, seed: int) -> None:
    records = _records(seed, 400, legacy_share)
    single = Accumulator()
    single.add_all(records)
    expected = _summary(single)
    if legacy_share < 1:  # (legacy nameless records happen to be in no example list here)
        assert any(name.startswith("record ") for name in json.dumps(expected).split('"')), "no nameless record shown"
    assert _summary(_split(records, seed, None)) == expected


@pytest.mark.parametrize(
    "filters", [Filters(stage="complete"), Filters(annotator="labeler-1@example.com")], ids=["stage", "annotator"]
)
def test_merging_respects_filters(filters: Filters) -> None:
    records = _records(3, 300, 0.3)
    single = Accumulator(filters)
    single.add_all(records)
    assert _summary(_split(records, 3, filters)) == _summary(single)


def test_merging_past_the_sketch_exact_size_still_matches(monkeypatch: pytest.MonkeyPatch) -> None:
    # Durations switch to the bucketed sketch past PERSON_EXACT per person; a small bound makes the
    # merged sketches fold on one side, on both, or only once combined.
    monkeypatch.setattr(people, "PERSON_EXACT", 8)
    records = _records(4, 300, 0.0)
    single = Accumulator()
    single.add_all(records)
    expected = _summary(single)
    assert "approximate" in expected
    assert _summary(_split(records, 4, None)) == expected
