"""The summary summarize_export must return, built from `export_reference` figures by the documented
rules (top-k by count then name, nearest-rank percentiles, seconds to 0.1, rates to 0.001, empty
values omitted). Kept apart from the reference so the baseline benchmark does not carry it."""

from __future__ import annotations

from typing import Any

from support.export_reference import nearest_rank, time_span

BINS = ("0-20", "20-40", "40-60", "60-80", "80-100")


def _top(items: dict[str, Any], k: int, weight: Any = lambda v: v) -> list[tuple[str, Any]]:
    return sorted(items.items(), key=lambda kv: (-weight(kv[1]), kv[0]))[:k]


def _s(ms: float | None) -> float | None:
    return None if ms is None else round(ms / 1000, 1)


def _drop_empty(value: Any) -> Any:
    if isinstance(value, dict):
        cleaned = {k: _drop_empty(v) for k, v in value.items()}
        return {k: v for k, v in cleaned.items() if v is not None and v != [] and v != {}}
    if isinstance(value, list):
        return [_drop_empty(v) for v in value]
    return value


def expected_summary(ref: dict[str, Any], source: str, k: int = 50) -> dict[str, Any]:
    """The detailed summary at top_k=`k` (tables small enough that nothing is cut)."""
    generations = [(name, ref[name]) for name in ("current", "legacy", "unknown") if ref[name]]
    if len(generations) == 1:
        generation = generations[0][0]
    elif generations:
        generation = "mixed (" + ", ".join(f"{n} {name}" for name, n in generations) + ")"
    else:
        generation = "none"
    first, last = time_span(ref)
    per_asset = ref["objects_per_asset"]
    labels = None
    if ref["assets"]:
        labels = {
            "instances": ref["instances"],
            "objects": ref["objects"],
            "classes": dict(_top(ref["classes"], k, lambda c: c["instances"])),
            "kinds": dict(_top(dict(ref["kinds"]), 20)),
            "objects_per_asset": {
                "min": min(per_asset),
                "median": nearest_rank(per_asset, 0.5),
                "p90": nearest_rank(per_asset, 0.9),
                "max": max(per_asset),
            },
            "relations": dict(_top(dict(ref["relations"]), k)),
            "masked_assets": ref["masked"] or None,
            "unlabeled": {"count": len(ref["unlabeled"]), "examples": ref["unlabeled"][:k]}
            if ref["unlabeled"]
            else None,
        }
    questions = {}
    for path, answered in _top(dict(ref["answered"]), k):
        if path in ref["text_questions"] and not ref["answers"].get(path):
            questions[path] = {"answered": answered, "avg_chars": round(ref["text_chars"][path] / answered, 1)}
        else:
            questions[path] = {"answered": answered, "answers": dict(_top(dict(ref["answers"][path]), k))}
    workflow = None
    if ref["visits"] or ref["reviews"] or ref["skipped"]:
        accepted = sum(c["Accepted"] for c in ref["reviews"].values())
        rejected = sum(c["Rejected"] for c in ref["reviews"].values())
        workflow = {
            "stages": {
                stage: {
                    "visits": visits,
                    "total_s": _s(sum(ref["visit_ms"][stage])) if ref["visit_ms"][stage] else None,
                    "median_s": _s(nearest_rank(ref["visit_ms"][stage], 0.5)),
                    "p90_s": _s(nearest_rank(ref["visit_ms"][stage], 0.9)),
                }
                for stage, visits in _top(dict(ref["visits"]), k)
            },
            "reviews": {
                stage: dict(_top(dict(counts), 10))
                for stage, counts in _top(dict(ref["reviews"]), k, lambda c: sum(c.values()))
            },
            "acceptance_rate": round(accepted / (accepted + rejected), 3) if accepted + rejected else None,
            "first_pass_rate": round(ref["first_pass"] / ref["reviewed_assets"], 3) if ref["reviewed_assets"] else None,
            "rework_assets": ref["rework"] or None,
            "skipped": ref["skipped"] or None,
        }
    people = None
    if ref["labelers"] or ref["reviewers"]:

        def person(p: dict[str, Any]) -> dict[str, Any]:
            return {
                "tasks": p["tasks"],
                "median_s": _s(nearest_rank(p["ms"], 0.5)),
                "rejection_rate": round(p["rejected"] / p["reviewed"], 3) if p["reviewed"] else None,
            }

        people = {
            role: {who: person(p) for who, p in _top(dict(ref[role]), k, lambda p: p["tasks"])}
            for role in ("labelers", "reviewers")
        }
    consensus = None
    if ref["consensus"]:
        scores = ref["consensus"]
        bins = [0] * 5
        for score in scores:
            bins[min(4, max(0, int(score // 20)))] += 1
        averages = {title: sum(v) / len(v) for title, v in ref["consensus_classes"].items()}
        consensus = {
            "scored": len(scores),
            "average": round(sum(scores) / len(scores), 1),
            "median": round(nearest_rank(scores, 0.5), 1),
            "histogram": dict(zip(BINS, bins, strict=True)),
            "lowest_classes": {t: round(a, 1) for t, a in sorted(averages.items(), key=lambda kv: (kv[1], kv[0]))[:k]},
        }
    totals = ref["totals"]
    median = nearest_rank([ms for ms, _ in totals], 0.5)
    slow, slow_count = [], None
    if median:
        over = [(ms, i, name) for i, (ms, name) in enumerate(totals) if ms > 3 * median]
        slow_count = len(over) or None
        slow = [{"asset": name, "s": _s(ms)} for ms, _, name in sorted(over, key=lambda t: (-t[0], t[1]))[:k]]
    anomalies = {
        "slow": slow,
        "slow_count": slow_count,
        "empty_complete": {"count": len(ref["empty_complete"]), "examples": ref["empty_complete"][:k]}
        if ref["empty_complete"]
        else None,
        "rejected_unchanged": {"count": len(ref["rejected_unchanged"]), "examples": ref["rejected_unchanged"][:k]}
        if ref["rejected_unchanged"]
        else None,
        "negative_boxes": ref["negative_boxes"] or None,
        "short_polygons": ref["short_polygons"] or None,
    }
    return _drop_empty(
        {
            "source": source,
            "assets": ref["assets"],
            "records": ref["records"] if ref["records"] != ref["assets"] else None,
            "generation": generation,
            "first": first,
            "last": last,
            "stages": dict(_top(dict(ref["stages"]), k)),
            "batches": dict(_top(dict(ref["batches"]), k)),
            "sections": sorted(ref["sections"]),
            "labels": labels,
            "questions": questions,
            "workflow": workflow,
            "people": people,
            "consensus": consensus,
            "anomalies": anomalies,
        }
    )
