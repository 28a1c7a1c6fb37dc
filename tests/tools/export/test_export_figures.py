"""Every figure of summarize_export against an independent reference (json.load + plain loops).

The exports are generated (tests/support/export_fixtures.py) in both generations with the documented gotchas,
plus the vendor's own samples; each is read through every container and format, in odd chunk sizes
so that the splitter meets records cut at every possible place.
"""

from __future__ import annotations

import json

import pytest

from support.export_expected import expected_summary
from support.export_fixtures import DATA, ExportGenerator, docs_sample_export, encode, wrap
from support.export_harness import read_bytes, summary_of
from support.export_reference import load
from support.export_reference import summarize as reference
from tasklens.tools.export.accumulate import Filters
from tasklens.tools.export.sketch import Sketch


def _export(seed: int, count: int, legacy_share: float) -> list[dict]:
    return list(ExportGenerator(seed, legacy_share=legacy_share, labelers=6, reviewers=3).assets(count))


@pytest.mark.parametrize("legacy_share", [0.0, 1.0, 0.3], ids=["current", "legacy", "mixed"])
def test_every_figure_matches_the_reference(legacy_share: float) -> None:
    assets = _export(5, 220, legacy_share)
    data = encode(assets)
    got = summary_of(data)
    assert got == expected_summary(reference(load(data)), "x")
    assert "approximate" not in got and "truncated" not in got


def test_the_generated_export_exercises_every_gotcha() -> None:
    """Guard against a generator change that would make the comparisons above vacuous."""
    got = summary_of(encode(_export(5, 220, 0.3)))
    labels, anomalies, workflow = got["labels"], got["anomalies"], got["workflow"]
    assert got["generation"].startswith("mixed")
    assert labels["instances"] > labels["objects"]  # per-frame entries share objectIds
    assert "(unnamed)" in got["batches"]
    assert {"history", "metadata", "consensus", "relations", "legacy_review"} <= set(got["sections"])
    assert anomalies["negative_boxes"] and anomalies["short_polygons"]
    assert anomalies["rejected_unchanged"]["count"] and anomalies["empty_complete"]["count"]
    assert anomalies["slow"] and labels["unlabeled"]["count"]
    assert workflow["rework_assets"] and workflow["skipped"] and 0 < workflow["acceptance_rate"] < 1
    assert got["consensus"]["lowest_classes"]
    assert "Road type" in got["questions"] and "Road type > Lanes" in got["questions"]
    assert set(got["questions"]["Road type"]["answers"]) <= {"Public road / Urban", "Public road / Rural"}
    assert "avg_chars" in got["questions"]["Notes"]


@pytest.mark.parametrize(
    "fmt, container",
    [
        ("json", None),
        ("pretty", None),
        ("ndjson", None),
        ("json", "zip"),
        ("ndjson", "zip"),
        ("json", "gz"),
        ("ndjson", "gz"),
    ],
)
def test_formats_and_containers_give_the_same_summary(fmt: str, container: str | None) -> None:
    assets = _export(9, 80, 0.2)
    expected = expected_summary(reference(assets), "x")
    data = wrap(encode(assets, fmt), container, "export.ndjson" if fmt == "ndjson" else "export.json")
    assert summary_of(data, chunk=4093) == expected


@pytest.mark.parametrize("chunk", [1, 7, 251, 1 << 20])
def test_chunk_boundaries_do_not_matter(chunk: int) -> None:
    assets = _export(11, 3 if chunk == 1 else 12, 0.5)
    expected = expected_summary(reference(assets), "x")
    for fmt in ("json", "pretty", "ndjson"):
        assert summary_of(encode(assets, fmt), chunk=chunk) == expected, fmt


def test_records_whose_first_key_varies_and_nested_objects_that_look_like_assets() -> None:
    """A missed boundary (another first key) and false ones (nested objects starting with the same key)."""
    assets = _export(13, 30, 0.0)
    for i, asset in enumerate(assets):
        if i % 3 == 0:
            assets[i] = {"externalId": asset["externalId"], **{k: v for k, v in asset.items() if k != "externalId"}}
        if i % 4 == 0:
            asset["metadata"] = {"asset": "nested", "frames": [{"asset": 1}, {"asset": 2}]}
    expected = expected_summary(reference(assets), "x")
    assert summary_of(encode(assets), chunk=997) == expected


def test_the_seeds_sample_task() -> None:
    data = encode(docs_sample_export())
    got = summary_of(data)
    assert got == expected_summary(reference(load(data)), "x")
    # what the docs say about it, checked by hand
    assert got["labels"]["classes"]["bb"] == {"instances": 2, "objects": 1, "assets": 1}
    assert got["labels"]["objects_per_asset"]["max"] == 2
    assert got["workflow"]["stages"]["Label"] == {"visits": 1, "total_s": 46.8, "median_s": 46.8, "p90_s": 46.8}
    assert got["workflow"]["reviews"] == {"Review": {"Accepted": 1}}
    assert got["questions"]["tre"]["answers"] == {"1 / 2": 1}
    assert got["people"]["labelers"]["lorenzo@imerit.net"]["tasks"] == 1


@pytest.mark.parametrize("name", ["ango_legacy_asset_sample.json", "ango_legacy_nrrd_export_sample.json"])
def test_the_vendors_legacy_samples(name: str) -> None:
    data = (DATA / name).read_bytes()
    got = summary_of(data, chunk=64)
    assert got == expected_summary(reference(load(data)), "x")
    assert got["generation"] == "legacy"


def test_legacy_sample_loose_typing_is_read() -> None:
    got = summary_of((DATA / "ango_legacy_nrrd_export_sample.json").read_bytes())
    assert "consensus" not in got  # "consensus": "" is no score
    assert got["labels"]["masked_assets"] == 1  # a medical brush URL counts as a mask
    assert "reviewers" not in got.get("people", {})  # review.completedBy: [] names nobody


@pytest.mark.parametrize(
    "filters",
    [
        Filters(stage="complete"),
        Filters(batch="A9 highway - night"),
        Filters(annotator="LABELER001@labels.example"),
        Filters(stage="Labeled", batch="Priority re-labels"),
    ],
    ids=["stage", "batch", "annotator", "stage+batch"],
)
def test_filters_narrow_the_pass(filters: Filters) -> None:
    assets = _export(17, 200, 0.3)
    data = encode(assets)
    ref = reference(load(data), stage=filters.stage, batch=filters.batch, annotator=filters.annotator)
    got = summary_of(data, filters=filters)
    assert 0 < got["assets"] < len(assets) and got["records"] == len(assets)
    assert got == expected_summary(ref, "x")


def test_top_k_is_honoured_and_the_cut_is_said() -> None:
    assets = list(ExportGenerator(3, classes=30, labelers=12, questions=8).assets(150))
    got = summary_of(encode(assets), top_k=4, detailed=True)
    assert len(got["labels"]["classes"]) == 4
    assert len(got["people"]["labelers"]) == 4
    assert len(got["questions"]) == 4
    assert all(len(q.get("answers", {})) <= 4 for q in got["questions"].values())
    ref = reference(assets)
    assert f"classes 4 of {len(ref['classes'])}," in got["truncated"] and "labelers 4 of 12" in got["truncated"]
    top = sorted(ref["classes"].items(), key=lambda kv: (-kv[1]["instances"], kv[0]))[:4]
    assert got["labels"]["classes"] == dict(top)
    concise = summary_of(encode(assets), top_k=4, detailed=False)
    assert all(len(q.get("answers", {})) <= 3 for q in concise["questions"].values())
    assert "answers 3 per question" in concise["truncated"]


def test_unreadable_records_are_counted_not_hidden() -> None:
    assets = _export(19, 10, 0.0)
    broken = [*assets[:3], 42, {"task": {"tools": {"not": "a list"}}, "externalId": "odd"}, "text", *assets[3:]]
    got = summary_of(json.dumps(broken).encode())
    assert got["assets"] == 11  # the odd record is read, its impossible field dropped
    assert got["unreadable"].startswith("2 records were valid JSON but not assets")


def test_percentiles_switch_to_the_sketch_beyond_its_exact_size_and_say_so() -> None:
    # one labeler with ~700 visits: past the exact per-person limit
    assets = list(ExportGenerator(23, labelers=1, reviewers=1, max_tools=3).assets(450))
    data = encode(assets)
    got = summary_of(data)
    ref = reference(load(data))
    assert "people median_s" in got["approximate"]
    labeler, stats = next(iter(ref["labelers"].items()))
    exact = sorted(stats["ms"])[max(1, -(-len(stats["ms"]) // 2)) - 1] / 1000
    assert got["people"]["labelers"][labeler]["median_s"] == pytest.approx(exact, rel=0.011, abs=0.1)


def test_sketch_error_bound_and_memory_bound() -> None:
    import random

    rng = random.Random(1)
    values = [rng.lognormvariate(10, 2) for _ in range(50_000)]
    sketch = Sketch(exact_limit=100)
    for value in values:
        sketch.add(value)
    ordered = sorted(values)
    assert sketch.approximate
    for q in (0.5, 0.9, 0.99):
        exact = ordered[max(1, -(-int(q * len(ordered) * 1000) // 1000)) - 1]
        assert sketch.quantile(q) == pytest.approx(exact, rel=0.006)
    assert len(sketch._buckets) < 3000  # bounded by the values' range, not their number


def test_memory_does_not_grow_with_the_number_of_assets() -> None:
    """O(classes + people + top_k): state after 400 assets is the state after 4,000, give or take."""
    import sys

    assets = list(ExportGenerator(29, labelers=5, max_tools=4).assets(300))

    def state_size(repeats: int) -> int:
        reader = read_bytes(encode(assets * repeats), chunk=1 << 20)
        acc = reader.accumulator
        tables = [
            acc.labels.class_instances,
            acc.questions.answers,
            acc.questions.answered,
            acc.workflow.visits,
            acc.people.labelers,
            acc.people.reviewers,
            acc.overview.stages,
            acc.overview.batches,
            acc.labels.objects_per_asset,
            acc.labels.kinds,
        ]
        return sum(sys.getsizeof(t) + sum(sys.getsizeof(k) for k in t) for t in tables)

    assert state_size(10) < 1.5 * state_size(1)


def test_token_budgets_hold_for_names_in_any_script() -> None:
    """The budget guard has no tokenizer at run time; check it against o200k with non-Latin names."""
    from support.mcp_harness import tokens

    assets = list(ExportGenerator(41, classes=120, labelers=60, questions=30, max_tools=6).assets(300))
    names = ["交通标志", "行人", "自転車に乗る人", "🚗 vehicle", "Straßenschild", "علامة مرور"]
    for index, asset in enumerate(assets):
        for tool in asset["task"]["tools"] if "task" in asset else []:
            if "title" in tool:
                tool["title"] = f"{names[index % len(names)]} {tool['title'][-4:]}"
    data = encode(assets)
    for detailed, budget in ((False, 2000), (True, 8000)):
        got = summary_of(data, top_k=50, detailed=detailed)
        assert tokens(json.dumps(got, separators=(",", ":"), ensure_ascii=False)) <= budget
        assert "truncated" in got


@pytest.mark.parametrize("fmt", ["json", "ndjson"])
def test_an_asset_spanning_many_chunks(fmt: str) -> None:
    """A long video asset (one entry per frame) can be hundreds of MiB: it is set aside chunk by chunk
    and decoded once, not re-copied per chunk."""
    video = {
        "externalId": "video.mp4",
        "task": {
            "stage": "Complete",
            "tools": [
                {
                    "title": "car",
                    "objectId": f"o{i // 50}",
                    "page": i,
                    "bounding-box": {"x": i, "y": 1, "width": 2, "height": 3},
                }
                for i in range(40_000)
            ],
        },
    }
    assets = [{"externalId": "a"}, video, {"externalId": "b"}]
    got = summary_of(encode(assets, fmt), chunk=64 << 10)
    assert got == expected_summary(reference(assets), "x")
    assert got["labels"]["classes"]["car"] == {"instances": 40_000, "objects": 800, "assets": 1}
