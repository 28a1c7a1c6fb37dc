"""An independent reference summary of an Ango export: `json.load`, then plain loops over dicts.

Written separately from tasklens.tools.export (it imports nothing from it) to check every figure of
summarize_export, and used by the benchmark as the baseline ("json.load + the same summary in plain
Python"). It keeps everything in memory — all durations in lists, exact sorts — which is the point:
simple enough to trust, and the memory profile streaming avoids. The definitions it implements are
the ones documented in tools/export/sections/.
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from datetime import UTC, datetime
from typing import Any


def load(data: bytes) -> list[dict[str, Any]]:
    """Assets of a JSON array, one object, or NDJSON bytes (what the vendors' own scripts accept)."""
    text = data.decode("utf-8-sig")
    stripped = text.lstrip()
    if stripped.startswith("["):
        return json.loads(text)
    try:
        return [json.loads(text)]
    except json.JSONDecodeError:
        return [json.loads(line) for line in text.splitlines() if line.strip()]


def name_of(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        return value if value != "" else None
    if isinstance(value, (int, float)):
        return str(value)
    return None


def as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            parsed = float(value)
        except ValueError:
            return None
        return None if math.isnan(parsed) or math.isinf(parsed) else parsed
    return None


def epoch_seconds(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return value / 1000 if value > 10_000_000_000 else float(value)
    if isinstance(value, str) and value.strip():
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.timestamp()
    return None


def nearest_rank(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q * len(ordered))) - 1]


def geometry_kind(tool: dict[str, Any]) -> str:
    for kind in ("bounding-box", "rotated-bounding-box", "polygon", "polyline", "point", "segmentation", "pdf", "ner"):
        if tool.get(kind) is not None:
            return kind
    return "other"


def option_text(value: Any) -> str | None:
    if value is None:
        return None
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return str(value)
    return "(object)"


def summarize(
    assets: list[Any], stage: str | None = None, batch: str | None = None, annotator: str | None = None
) -> dict[str, Any]:
    """Every figure summarize_export reports, computed the obvious way."""
    out: dict[str, Any] = {
        "records": 0,
        "assets": 0,
        "current": 0,
        "legacy": 0,
        "unknown": 0,
        "times": [],
        "stages": Counter(),
        "batches": Counter(),
        "sections": set(),
        "classes": {},
        "kinds": Counter(),
        "objects_per_asset": [],
        "instances": 0,
        "objects": 0,
        "relations": Counter(),
        "masked": 0,
        "unlabeled": [],
        "negative_boxes": 0,
        "short_polygons": 0,
        "answers": defaultdict(Counter),
        "answered": Counter(),
        "text_chars": Counter(),
        "text_questions": set(),
        "visits": Counter(),
        "visit_ms": defaultdict(list),
        "reviews": defaultdict(Counter),
        "reviewed_assets": 0,
        "first_pass": 0,
        "rework": 0,
        "skipped": 0,
        "labelers": defaultdict(lambda: {"tasks": 0, "ms": [], "reviewed": 0, "rejected": 0}),
        "reviewers": defaultdict(lambda: {"tasks": 0, "ms": [], "reviewed": 0, "rejected": 0}),
        "consensus": [],
        "consensus_classes": defaultdict(list),
        "totals": [],
        "empty_complete": [],
        "rejected_unchanged": [],
    }
    for record_number, asset in enumerate(assets, start=1):
        out["records"] += 1
        if not isinstance(asset, dict):
            continue
        task = asset.get("task")
        tasks = asset.get("tasks") if task is None else None
        if not keep(asset, task, tasks, stage, batch, annotator):
            continue
        out["assets"] += 1
        label = (
            name_of(asset.get("externalId"))
            or (name_of(task.get("taskId")) if task else None)
            or f"record {record_number}"
        )
        for item in asset.get("batches") or []:
            if item is None:
                out["batches"]["(unnamed)"] += 1
            elif name_of(item):
                out["batches"][name_of(item)] += 1
        if asset.get("metadata") is not None:
            out["sections"].add("metadata")
        if task is not None:
            out["current"] += 1
            current(out, asset, task, label)
        elif tasks is not None:
            out["legacy"] += 1
            legacy(out, asset, tasks, label)
        else:
            out["unknown"] += 1
            out["stages"]["(none)"] += 1
            final_labels(out, [], [], [], False, label)
    return out


def keep(
    asset: dict[str, Any], task: Any, tasks: Any, stage: str | None, batch: str | None, annotator: str | None
) -> bool:
    def same(a: Any, b: str) -> bool:
        return isinstance(a, str) and a.lower() == b.lower()

    if stage:
        candidates = [task.get("stage"), task.get("stageId")] if task is not None else [asset.get("status")]
        if not any(same(c, stage) for c in candidates):
            return False
    if batch and not any(same(b, batch) for b in asset.get("batches") or []):
        return False
    if annotator:
        names = []
        if task is not None:
            names += [entry.get("completedBy") for entry in task.get("stageHistory") or []]
        for item in tasks or []:
            names.append(item.get("completedBy"))
            names.append((item.get("review") or {}).get("completedBy"))
        if not any(same(n, annotator) for n in names):
            return False
    return True


def walk_question(out: dict[str, Any], question: dict[str, Any], prefix: str | None) -> None:
    title = name_of(question.get("title")) or name_of(question.get("schemaId")) or "(untitled)"
    path = title if not prefix else prefix + " > " + title
    answer = question.get("answer")
    if answer not in (None, "", []):
        out["answered"][path] += 1
        if question.get("tool") == "text":
            out["text_questions"].add(path)
            out["text_chars"][path] += len(answer) if isinstance(answer, str) else 0
        elif isinstance(answer, list):
            chosen = answer
            if question.get("tool") == "tree-dropdown":
                texts = [a for a in answer if isinstance(a, str)]
                chosen = [a for a in answer if not (isinstance(a, str) and any(t.startswith(a + " / ") for t in texts))]
            for item in chosen:
                if option_text(item) is not None:
                    out["answers"][path][option_text(item)] += 1
        elif option_text(answer) is not None:
            out["answers"][path][option_text(answer)] += 1
    for child in question.get("classifications") or []:
        walk_question(out, child, path)


def final_labels(
    out: dict[str, Any], tools: list[Any], questions: list[Any], relations: list[Any], masked: bool, label: str
) -> bool:
    object_keys = set()
    classes_here = set()
    for tool in tools:
        key = name_of(tool.get("title")) or name_of(tool.get("schemaId")) or "(untitled)"
        counts = out["classes"].setdefault(key, {"instances": 0, "objects": 0, "assets": 0})
        counts["instances"] += 1
        object_id = tool.get("objectId")
        if isinstance(object_id, (str, int)) and not isinstance(object_id, bool):
            if (key, object_id) not in object_keys:
                object_keys.add((key, object_id))
                counts["objects"] += 1
        else:
            object_keys.add((key, ("anonymous", len(object_keys))))
            counts["objects"] += 1
        if key not in classes_here:
            classes_here.add(key)
            counts["assets"] += 1
        kind = geometry_kind(tool)
        out["kinds"][kind] += 1
        if kind == "bounding-box":
            box = tool["bounding-box"]
            if box.get("width", 0) < 0 or box.get("height", 0) < 0:
                out["negative_boxes"] += 1
        if kind == "polygon" and len(tool["polygon"]) < 3:
            out["short_polygons"] += 1
        for question in tool.get("classifications") or []:
            walk_question(out, question, key)
    for question in questions:
        walk_question(out, question, None)
    for relation in relations:
        if relation.get("group") is not None:
            out["relations"]["group"] += 1
        else:
            out["relations"][name_of(relation.get("direction")) or "single"] += 1
    if relations:
        out["sections"].add("relations")
    out["instances"] += len(tools)
    out["objects"] += len(object_keys)
    out["objects_per_asset"].append(len(object_keys))
    if masked:
        out["masked"] += 1
    empty = not tools and not questions and not masked
    if empty:
        out["unlabeled"].append(label)
    return empty


def current(out: dict[str, Any], asset: dict[str, Any], task: dict[str, Any], label: str) -> None:
    out["stages"][name_of(task.get("stage")) or name_of(task.get("stageId")) or "(none)"] += 1
    out["times"].append(epoch_seconds(task.get("updatedAt")))
    brush = isinstance(task.get("brushDataUrl"), str) and task["brushDataUrl"] != ""
    medical = isinstance(task.get("medicalBrushDataUrl"), str) and task["medicalBrushDataUrl"] != ""
    if brush:
        out["sections"].add("brush")
    if medical:
        out["sections"].add("medical_brush")
    empty = final_labels(
        out,
        task.get("tools") or [],
        task.get("classifications") or [],
        task.get("relations") or [],
        brush or medical,
        label,
    )
    if empty and (task.get("stageId") == "Complete" or task.get("stage") == "Complete"):
        out["empty_complete"].append(label)
    history = task.get("stageHistory")
    if history is not None:
        out["sections"].add("history")
        walk_history(out, history, label)
    total = as_number(task.get("totalDuration"))
    if total is not None and total >= 0:
        out["totals"].append((total, label))
    add_consensus(out, task.get("consensusAverage"))
    for detail in task.get("consensusDetailed") or []:
        score = as_number(detail.get("score"))
        if score is not None:
            title = name_of(detail.get("title")) or name_of(detail.get("schemaId")) or "(untitled)"
            out["consensus_classes"][title].append(score)


def add_consensus(out: dict[str, Any], value: Any) -> None:
    score = as_number(value)
    if score is not None:
        out["sections"].add("consensus")
        out["consensus"].append(score)


def walk_history(out: dict[str, Any], history: list[dict[str, Any]], label: str) -> None:
    label_indexes: list[int] = []
    pending_labelers: list[str] = []
    seen_review = False
    per_stage = Counter()
    unchanged = False
    for index, entry in enumerate(history):
        stage = name_of(entry.get("stage")) or name_of(entry.get("stageId")) or "(unknown)"
        ms = as_number(entry.get("duration"))
        out["visits"][stage] += 1
        if ms is not None:
            out["visit_ms"][stage].append(ms)
        out["times"].append(epoch_seconds(entry.get("completedAt")))
        who = (
            entry.get("completedBy") if isinstance(entry.get("completedBy"), str) and entry.get("completedBy") else None
        )
        status = name_of(entry.get("reviewStatus"))
        if status:
            out["reviews"][stage][status] += 1
            if not seen_review:
                seen_review = True
                out["reviewed_assets"] += 1
                if status == "Accepted":
                    out["first_pass"] += 1
            if who:
                person = out["reviewers"][who]
                person["tasks"] += 1
                person["reviewed"] += 1
                person["rejected"] += status == "Rejected"
                if ms is not None:
                    person["ms"].append(ms)
            for labeler in pending_labelers:
                out["labelers"][labeler]["reviewed"] += 1
                out["labelers"][labeler]["rejected"] += status == "Rejected"
            pending_labelers = []
            if status == "Rejected" and label_indexes:
                before = history[label_indexes[-1]]
                after = next((h for h in history[index + 1 :] if is_label_like(h)), None)
                if after is not None:
                    before_stage = name_of(before.get("stage")) or name_of(before.get("stageId")) or "(unknown)"
                    after_stage = name_of(after.get("stage")) or name_of(after.get("stageId")) or "(unknown)"
                    if (
                        before_stage == after_stage
                        and before.get("tools") == after.get("tools")
                        and before.get("classifications") == after.get("classifications")
                    ):
                        unchanged = True
        elif is_label_like(entry):
            label_indexes.append(index)
            per_stage[stage] += 1
            person = out["labelers"][who]
            person["tasks"] += 1
            if ms is not None:
                person["ms"].append(ms)
            pending_labelers.append(who)
    if any(n > 1 for n in per_stage.values()):
        out["rework"] += 1
    if unchanged:
        out["rejected_unchanged"].append(label)


def is_label_like(entry: dict[str, Any]) -> bool:
    who = entry.get("completedBy")
    stage = name_of(entry.get("stage")) or name_of(entry.get("stageId")) or "(unknown)"
    return (
        not name_of(entry.get("reviewStatus"))
        and isinstance(who, str)
        and who != ""
        and entry.get("stageId") != "Start"
        and stage != "Start"
    )


def legacy(out: dict[str, Any], asset: dict[str, Any], tasks: list[dict[str, Any]], label: str) -> None:
    out["stages"][name_of(asset.get("status")) or "(none)"] += 1
    out["times"] += [epoch_seconds(asset.get("labeledAt")), epoch_seconds(asset.get("reviewedAt"))]
    if tasks:
        first = tasks[0]
        masked = isinstance(first.get("masks"), list) and len(first["masks"]) > 0
        for key, section in (("brushDataUrl", "brush"), ("medicalBrushDataUrl", "medical_brush")):
            if isinstance(first.get(key), str) and first[key]:
                masked = True
                out["sections"].add(section)
        final_labels(
            out,
            first.get("objects") or [],
            first.get("classifications") or [],
            first.get("relations") or [],
            masked,
            label,
        )
    else:
        final_labels(out, [], [], [], False, label)
    durations = []
    first_review_counted = False
    for item in tasks:
        out["times"] += [epoch_seconds(item.get("completedAt")), epoch_seconds(item.get("updatedAt"))]
        if item.get("isSkipped") is True:
            out["skipped"] += 1
        ms = as_number(item.get("duration(ms)"))
        if ms is None:
            ms = as_number(item.get("duration"))
        if ms is not None:
            durations.append(ms)
            out["visit_ms"]["Label"].append(ms)
        out["visits"]["Label"] += 1
        who = item.get("completedBy") if isinstance(item.get("completedBy"), str) and item.get("completedBy") else None
        if who:
            out["labelers"][who]["tasks"] += 1
            if ms is not None:
                out["labelers"][who]["ms"].append(ms)
        review = item.get("review")
        status = name_of(review.get("status")) if isinstance(review, dict) else None
        if not status or status == "Todo":
            continue
        out["sections"].add("legacy_review")
        out["times"].append(epoch_seconds(review.get("completedAt")))
        review_ms = as_number(review.get("duration(ms)"))
        if review_ms is None:
            review_ms = as_number(review.get("duration"))
        out["visits"]["Review"] += 1
        if review_ms is not None:
            out["visit_ms"]["Review"].append(review_ms)
        out["reviews"]["Review"][status] += 1
        if not first_review_counted:
            first_review_counted = True
            out["reviewed_assets"] += 1
            out["first_pass"] += status == "Accepted"
        if who:
            out["labelers"][who]["reviewed"] += 1
            out["labelers"][who]["rejected"] += status == "Rejected"
        reviewer = review.get("completedBy")
        if isinstance(reviewer, str) and reviewer:
            out["reviewers"][reviewer]["tasks"] += 1
            out["reviewers"][reviewer]["reviewed"] += 1
            out["reviewers"][reviewer]["rejected"] += status == "Rejected"
            if review_ms is not None:
                out["reviewers"][reviewer]["ms"].append(review_ms)
    declared = as_number(asset.get("labelDuration(ms)"))
    if declared is None:
        declared = as_number(asset.get("labelDuration"))
    total = declared if declared is not None else (sum(durations) if durations else None)
    if total is not None and total >= 0:
        out["totals"].append((total, label))
    add_consensus(out, asset.get("consensus"))


def time_span(out: dict[str, Any]) -> tuple[str | None, str | None]:
    times = [t for t in out["times"] if t is not None]
    if not times:
        return None, None
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    return (
        datetime.fromtimestamp(min(times), UTC).strftime(fmt),
        datetime.fromtimestamp(max(times), UTC).strftime(fmt),
    )
