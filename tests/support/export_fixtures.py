"""Synthetic Ango exports of both generations, with every known gotcha, for tests and the benchmark.

The shapes follow the Ango Export Format in iMerit's docs: current assets (`task` with `tools`,
`classifications`, `relations`, `stageHistory`, consensus fields) and legacy ones (`tasks[]` with
`objects`, `review`, `isSkipped`, `duration(ms)`). Deliberately included: negative box sizes, polygons
with fewer than 3 points, string consensus scores and `"consensus": ""`, ISO and epoch-ms times,
per-frame repeated `objectId`s with `interpolationStopped`, null batches, nested classification answers
(tree-dropdown paths, checkboxes, text), rework loops with rejected-then-unchanged resubmissions,
empty assets (some in Complete), `review.completedBy: []`, duplicate `externalId`s, missing sections.

Everything is drawn from a seeded `random.Random`, so a seed always gives the same export.
"""

from __future__ import annotations

import gzip
import io
import json
import random
import zipfile
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from support.paths import DATA

BASE_CLASSES = ["Vehicle", "Pedestrian", "Cyclist", "Traffic sign", "Traffic light", "Lane marking", "Pole", "Animal"]
KINDS = ["bounding-box", "polygon", "polyline", "point", "rotated-bounding-box", "segmentation", "pdf", "ner"]
STAGES = [
    ("Start", "Start"),
    ("Label", "Label"),
    ("Review", "5e8f78a7-ef6a-473d-b02f-f4024c9ee486"),
    ("Complete", "Complete"),
    ("Amount extraction", "77dc1c42-6fef-4745-b783-d6c4d99204e1"),
]
BATCHES = ["Munich urban - Aug 2023", "A9 highway - night", "Priority re-labels"]
EPOCH_MS = 1_692_000_000_000  # August 2023


def people(count: int, prefix: str) -> list[str]:
    return [f"{prefix}{i:03d}@labels.example" for i in range(count)]


class ExportGenerator:
    """Assets of one synthetic project. `classes` and `labelers` set the cardinality of the summary."""

    def __init__(
        self,
        seed: int = 7,
        *,
        classes: int = 8,
        labelers: int = 4,
        reviewers: int = 2,
        legacy_share: float = 0.0,
        questions: int = 0,
        max_tools: int = 12,
        polygon_points: tuple[int, int] = (2, 12),
    ) -> None:
        self.rng = random.Random(seed)
        self.classes = (BASE_CLASSES + [f"Class {i:04d}" for i in range(classes)])[:classes]
        self.labelers = people(labelers, "labeler")
        self.reviewers = people(reviewers, "reviewer")
        self.legacy_share = legacy_share
        self.extra_questions = [f"Question {i:04d}" for i in range(questions)]
        self.max_tools = max_tools
        self.polygon_points = polygon_points

    # ---- pieces -------------------------------------------------------------------------------
    def when(self, offset_ms: int) -> Any:
        value = EPOCH_MS + offset_ms
        if self.rng.random() < 0.2:
            return value  # epoch milliseconds, as the tools page documents
        seconds, millis = divmod(value, 1000)
        stamp = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        return f"{stamp}.{millis:03d}Z"

    def geometry(self, kind: str) -> Any:
        rng = self.rng
        if kind == "bounding-box":
            width = rng.uniform(5, 300) * (-1 if rng.random() < 0.1 else 1)
            height = rng.uniform(5, 300) * (-1 if rng.random() < 0.05 else 1)
            return {"x": rng.uniform(0, 1900), "y": rng.uniform(0, 1000), "height": height, "width": width}
        if kind in ("polygon", "polyline"):
            low, high = self.polygon_points
            return [[rng.uniform(0, 1900), rng.uniform(0, 1000)] for _ in range(rng.randint(low, high))]
        if kind == "point":
            return [rng.uniform(0, 1900), rng.uniform(0, 1000)]
        if kind == "rotated-bounding-box":
            return {
                "x": 10.5,
                "y": 20.5,
                "width": 30.0,
                "height": 40.0,
                "rotation": rng.uniform(-180, 180),
                "corners": [[1, 2], [3, 4], [5, 6], [7, 8]],
            }
        if kind == "segmentation":
            return {"zones": [{"region": [[1, 2], [3, 4], [5, 6]], "holes": []}]}
        if kind == "pdf":
            return {
                "position": {
                    "boundingRect": {"x1": 1, "y1": 2, "x2": 3, "y2": 4, "width": 2, "height": 2},
                    "rects": [],
                    "pageNumber": 1,
                },
                "content": {"text": "Total 12.40"},
            }
        return {"start": rng.randint(0, 100), "end": rng.randint(101, 200)}

    def tool_questions(self, title: str) -> list[dict[str, Any]]:
        rng = self.rng
        if rng.random() < 0.3:
            return []
        occluded = {
            "schemaId": "q-occ",
            "tool": "radio",
            "title": "Occluded",
            "answer": rng.choice(["No", "Partly", "Mostly"]),
            "classifications": [],
        }
        if occluded["answer"] != "No" and rng.random() < 0.5:
            occluded["classifications"] = [
                {
                    "schemaId": "q-occ-by",
                    "tool": "checkbox",
                    "title": "By",
                    "answer": rng.sample(["Vehicle", "Foliage", "Sign"], rng.randint(1, 2)),
                    "classifications": [],
                }
            ]
        return [occluded]

    def tools(self, asset_index: int, video: bool) -> list[dict[str, Any]]:
        rng = self.rng
        out: list[dict[str, Any]] = []
        for n in range(rng.randint(0, self.max_tools)):
            title = rng.choice(self.classes)
            kind = rng.choice(KINDS[:4]) if rng.random() < 0.85 else rng.choice(KINDS)
            base = {
                "objectId": f"o{asset_index}-{n}",
                "schemaId": f"s-{title}",
                "title": title,
                "classifications": self.tool_questions(title),
            }
            if rng.random() < 0.15:
                del base["title"]  # objects without a title count under their schemaId
            frames = rng.randint(2, 4) if video and rng.random() < 0.5 else 1
            for frame in range(frames):
                entry = dict(base, **{kind: self.geometry(kind)})
                if frames > 1:
                    entry["page"] = frame
                    if frame == frames - 1:
                        entry["interpolationStopped"] = True
                if rng.random() < 0.5:
                    entry["metadata"] = {
                        "createdAt": self.when(rng.randint(0, 10**8)),
                        "createdBy": rng.choice(self.labelers),
                        "createdIn": "Label",
                    }
                out.append(entry)
        return out

    def questions(self) -> list[dict[str, Any]]:
        rng = self.rng
        found: list[dict[str, Any]] = []
        if rng.random() < 0.8:
            found.append(
                {
                    "schemaId": "q-time",
                    "tool": "radio",
                    "title": "Time of day",
                    "answer": rng.choice(["Day", "Dusk", "Night"]),
                    "classifications": [],
                }
            )
        if rng.random() < 0.7:
            found.append(
                {
                    "schemaId": "q-tags",
                    "tool": "checkbox",
                    "title": "Scene tags",
                    "answer": rng.sample(["Urban", "Highway", "Tunnel", "Parking"], rng.randint(1, 3)),
                    "classifications": [],
                }
            )
        if rng.random() < 0.6:
            leaf = rng.choice(["Urban", "Rural"])
            road = {
                "schemaId": "q-road",
                "tool": "tree-dropdown",
                "title": "Road type",
                "answer": ["Public road", f"Public road / {leaf}"],
                "classifications": [],
            }
            if rng.random() < 0.5:
                road["classifications"] = [
                    {
                        "schemaId": "q-lanes",
                        "tool": "single-dropdown",
                        "title": "Lanes",
                        "answer": rng.choice(["1", "2", "3+"]),
                        "classifications": [],
                    }
                ]
            found.append(road)
        if rng.random() < 0.4:
            found.append(
                {
                    "schemaId": "q-note",
                    "tool": "text",
                    "title": "Notes",
                    "answer": "x" * rng.randint(1, 40),
                    "classifications": [],
                }
            )
        if rng.random() < 0.2:
            found.append(
                {
                    "schemaId": "q-flag",
                    "tool": "boolean",
                    "title": "Reviewed twice",
                    "answer": rng.random() < 0.5,
                    "classifications": [],
                }
            )
        for title in self.extra_questions:
            if rng.random() < 0.5:
                found.append(
                    {
                        "schemaId": f"q-{title}",
                        "tool": "multi-dropdown",
                        "title": title,
                        "answer": rng.sample(["A", "B", "C", "D", "E", "F"], 2),
                        "classifications": [],
                    }
                )
        return found

    @staticmethod
    def snapshot(
        tools: list[dict[str, Any]], questions: list[dict[str, Any]], relations: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """A stageHistory copy of the labels: per-object metadata dropped, as in the docs sample. Nested
        values are shared, not copied: the export is only ever serialized."""
        stripped = [{k: v for k, v in tool.items() if k != "metadata"} for tool in tools]
        return {"tools": stripped, "classifications": list(questions), "relations": list(relations)}

    def history(
        self,
        tools: list[dict[str, Any]],
        questions: list[dict[str, Any]],
        relations: list[dict[str, Any]],
        end_stage: str,
    ) -> list[dict[str, Any]]:
        rng = self.rng
        clock = rng.randint(0, 10**9)
        labeler = rng.choice(self.labelers)
        entries = [
            {
                "stage": "Start",
                "stageId": "Start",
                "duration": 0,
                "completedAt": self.when(clock),
                **self.snapshot([], [], []),
            }
        ]
        if end_stage in ("Start",):
            return []
        if end_stage == "Label":
            return entries
        rejections = rng.choices([0, 1, 2], weights=[80, 15, 5])[0]
        previous_tools = tools
        for loop in range(rejections + 1):
            clock += rng.randint(60_000, 3_600_000)
            # a draft that is sometimes changed after a rejection, sometimes resubmitted unchanged
            draft_tools = tools if loop == rejections else tools[: max(0, len(tools) - 1)]
            if loop > 0 and rng.random() < 0.4:
                draft_tools = previous_tools  # resubmitted unchanged after the rejection
            previous_tools = draft_tools
            duration = rng.choice([rng.randint(5_000, 900_000), rng.randint(5_000, 900_000), 0])
            if rng.random() < 0.02:
                duration = rng.randint(20_000_000, 40_000_000)  # an outlier
            entries.append(
                {
                    "stage": "Label",
                    "stageId": "Label",
                    "duration": duration,
                    "completedAt": self.when(clock),
                    "completedBy": labeler,
                    **self.snapshot(draft_tools, questions, relations),
                }
            )
            if end_stage == "Review" and loop == rejections:
                break
            clock += rng.randint(60_000, 600_000)
            status = "Rejected" if loop < rejections else "Accepted"
            entries.append(
                {
                    "stage": "Review",
                    "stageId": STAGES[2][1],
                    "duration": rng.randint(2_000, 200_000),
                    "reviewStatus": status,
                    "completedAt": self.when(clock),
                    "completedBy": rng.choice(self.reviewers),
                    **self.snapshot(draft_tools, questions, relations),
                }
            )
        if rng.random() < 0.1 and end_stage == "Complete":
            entries.insert(
                1,
                {
                    "stage": "Amount extraction",
                    "stageId": STAGES[4][1],
                    "duration": rng.randint(1000, 50_000),
                    "completedAt": self.when(clock - 1000),
                    "completedBy": rng.choice(self.labelers),
                    **self.snapshot(tools, [], []),
                },
            )
        return entries

    def current_asset(self, index: int) -> dict[str, Any]:
        rng = self.rng
        video = rng.random() < 0.15
        empty = rng.random() < 0.06
        tools = [] if empty else self.tools(index, video)
        questions = [] if empty else self.questions()
        relations: list[dict[str, Any]] = []
        if len(tools) >= 2 and rng.random() < 0.3:
            relations.append(
                {
                    "objectId": f"r{index}",
                    "schemaId": "rel",
                    "title": "follows",
                    "from": tools[0]["objectId"],
                    "to": tools[1]["objectId"],
                    "direction": rng.choice(["straight", "bidirectional"]),
                }
            )
        if len(tools) >= 3 and rng.random() < 0.15:
            relations.append(
                {
                    "objectId": f"g{index}",
                    "schemaId": "grp",
                    "title": "group",
                    "group": [t["objectId"] for t in tools[:3]],
                }
            )
        end_stage = rng.choices(["Complete", "Review", "Label", "Amount extraction"], weights=[70, 12, 15, 3])[0]
        stage_id = dict(STAGES)[end_stage]
        task: dict[str, Any] = {
            "taskId": f"t{index:08d}",
            "stage": end_stage,
            "stageId": stage_id,
            "updatedAt": self.when(rng.randint(0, 2 * 10**9)),
            "updatedBy": rng.choice(self.labelers),
            "tools": tools,
            "classifications": questions,
            "relations": relations,
            "brushDataUrl": "https://storage.example/brush.png" if rng.random() < 0.05 else None,
            "medicalBrushDataUrl": "https://storage.example/m.seg.nrrd" if rng.random() < 0.02 else None,
        }
        if rng.random() < 0.9:
            task["stageHistory"] = self.history(tools, questions, relations, end_stage)
            task["totalDuration"] = sum(int(e["duration"]) for e in task["stageHistory"])
        if rng.random() < 0.2:
            task["consensusAverage"] = rng.randint(30, 100)
            task["consensusDetailed"] = [
                {"score": str(rng.randint(20, 100)), "schemaId": f"s-{c}", "title": c}
                for c in rng.sample(self.classes, min(2, len(self.classes)))
            ]
        asset: dict[str, Any] = {
            "asset": f"https://storage.example/{index}.jpg",
            "assetId": f"a{index:08d}",
            "externalId": f"frame_{index % 997 if rng.random() < 0.02 else index:06d}.jpg",
            "batches": rng.choice([[], [rng.choice(BATCHES)], [rng.choice(BATCHES), None], [None]]),
        }
        if rng.random() < 0.8:
            asset["metadata"] = {
                "width": 1920,
                "height": 1080,
                **({"frameTotal": 900, "frameRate": 30} if video else {}),
            }
        asset["task"] = task
        return asset

    def legacy_asset(self, index: int) -> dict[str, Any]:
        rng = self.rng
        objects = self.tools(index, False)
        questions = self.questions()
        task_count = rng.choice([1, 1, 1, 2])
        tasks = []
        for _ in range(task_count):
            status = rng.choice(["Accepted", "Rejected", "Fixed", "Todo"])
            review: dict[str, Any] = {
                "status": status,
                "completedBy": rng.choice(self.reviewers),
                "completedAt": self.when(rng.randint(0, 10**9)),
            }
            if status == "Todo":
                review.update({"completedBy": [], "completedAt": None})
            duration_key = "duration(ms)" if rng.random() < 0.7 else "duration"
            review[duration_key] = rng.randint(1000, 100_000)
            task = {
                "completedBy": rng.choice(self.labelers),
                "completedAt": self.when(rng.randint(0, 10**9)),
                duration_key: rng.randint(1000, 900_000),
                "isSkipped": rng.random() < 0.1,
                "review": review,
                "status": "Completed",
                "updatedAt": self.when(rng.randint(0, 10**9)),
                "taskId": f"lt{index:08d}",
                "objects": objects,
                "classifications": questions,
                "relations": [],
                "issues": [],
            }
            if rng.random() < 0.05:
                task["masks"] = ["https://storage.example/mask.png"]
            tasks.append(task)
        asset: dict[str, Any] = {
            "asset": f"https://storage.example/{index}.jpg",
            "externalId": f"legacy_{index:06d}.jpg",
            "labeledAt": self.when(rng.randint(0, 10**9)),
            "status": rng.choice(["Labeled", "Reviewed"]),
            "consensus": rng.choice(["", 90, "75", None]),
            "metadata": {"width": 100, "height": 100},
            "tasks": tasks,
        }
        if rng.random() < 0.5:
            asset["labelDuration(ms)"] = sum(t.get("duration(ms)", t.get("duration", 0)) for t in tasks)
        if rng.random() < 0.5:
            asset["batches"] = [rng.choice(BATCHES), None]
        return asset

    def assets(self, count: int, start: int = 0) -> Iterator[dict[str, Any]]:
        for index in range(start, start + count):
            if self.legacy_share and self.rng.random() < self.legacy_share:
                yield self.legacy_asset(index)
            else:
                yield self.current_asset(index)


def encode(assets: Iterable[dict[str, Any]], fmt: str = "json") -> bytes:
    """`json` (compact array, as Ango writes it), `pretty` (indented array) or `ndjson`."""
    items = list(assets)
    if fmt == "ndjson":
        return "".join(json.dumps(a, separators=(",", ":")) + "\n" for a in items).encode()
    if fmt == "pretty":
        return json.dumps(items, indent=2).encode()
    return json.dumps(items, separators=(",", ":")).encode()


def wrap(data: bytes, container: str | None, member: str = "export.json") -> bytes:
    """Put an export in the container Ango would hand out: `zip` (one deflated member), `gz`, or none."""
    if container == "zip":
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(member, data)
        return buffer.getvalue()
    if container == "gz":
        return gzip.compress(data, compresslevel=6)
    return data


def write(path: Path, assets: Iterable[dict[str, Any]], fmt: str = "json", container: str | None = None) -> Path:
    member = "export.ndjson" if fmt == "ndjson" else "export.json"
    path.write_bytes(wrap(encode(assets, fmt), container, member))
    return path


def docs_sample_export() -> list[dict[str, Any]]:
    """The seed's sample task (docs "Sample Task"), wrapped as a one-asset export as its README says."""
    sample = DATA / "ango_v3_task_sample.json"
    return [{"externalId": "docs-sample.jpg", "task": json.loads(sample.read_text())}]
