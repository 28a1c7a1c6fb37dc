"""The sections' own bookkeeping, where it is invisible in the summary only if it is right.

Answers are added to the question tables once per distinct raw question, not once per batch; before
any table could pass its bound they are added, so folds into "(other)" see the counts they would if
every batch were added at once (as a cache of one question forces).
"""

from __future__ import annotations

import json

import msgspec
import pytest

from support.export_fixtures import ExportGenerator, encode
from tasklens.tools.export.accumulate import Accumulator
from tasklens.tools.export.records import Asset
from tasklens.tools.export.sections import questions
from tasklens.tools.export.summary import build_summary
from tasklens.tools.results.compact import compact_json


def _summary(records: list[Asset], batch: int) -> dict:
    acc = Accumulator()
    for start in range(0, len(records), batch):
        acc.add_all(records[start : start + batch])
    return json.loads(compact_json(build_summary(acc, source="x", top_k=50, detailed=True)))


@pytest.mark.parametrize("batch", [1, 7, 60])
@pytest.mark.parametrize(
    "bounds",
    [{"MAX_QUESTIONS": 6}, {"MAX_VALUES": 3, "OPTIONS_FOLD_AT": 12}],
    ids=["questions fold", "options fold"],
)
def test_answers_added_late_fold_as_answers_added_every_batch(
    monkeypatch: pytest.MonkeyPatch, bounds: dict[str, int], batch: int
) -> None:
    for bound, value in bounds.items():
        monkeypatch.setattr(questions, bound, value)
    assets = ExportGenerator(8, questions=12, legacy_share=0.2).assets(400)
    records = msgspec.json.Decoder(Asset).decode_lines(encode(assets, "ndjson"))
    late = _summary(records, batch)
    monkeypatch.setattr(questions, "QUESTION_CACHE", 1)  # every batch's answers added at once
    assert _summary(records, batch) == late
    assert "(other)" in json.dumps(late["questions"])
