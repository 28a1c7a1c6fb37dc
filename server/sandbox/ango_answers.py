"""Realistic Ango annotation answers, and how a stage visit changes them.

A task's ``answer`` is ``{tools, classifications, relations}`` in the export shapes
(the Ango Export Format in iMerit's docs). The sandbox needs answers that change between history entries
the way real work changes them: a labeler creates objects, a reviewer's rejection sends the task
back and the rework adds, deletes and moves objects and changes classification answers. Those
changes are described by :class:`Edits` and applied deterministically from a per-visit RNG.
"""

from __future__ import annotations

import copy
import math
import random
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from .ango_schema import CLASSIFICATION_SCHEMA, RELATION_SCHEMA, TOOL_SCHEMA
from .clock import Clock, format_iso_ms

__all__ = ["Answer", "Edits", "WorkWindow", "apply_edits", "empty_answer", "strip_metadata"]

Answer = dict[str, list[dict[str, Any]]]

IMAGE_WIDTH, IMAGE_HEIGHT = 1920, 1080

_CLASS_WEIGHTS = {
    "Vehicle": 40,
    "Pedestrian": 15,
    "Cyclist": 5,
    "Traffic light": 10,
    "Traffic sign": 12,
    "Lane marking": 12,
    "Pole": 6,
}
_TOOLS_BY_TITLE = {t["title"]: t for t in TOOL_SCHEMA}
_QUESTIONS_BY_TITLE = {q["title"]: q for q in CLASSIFICATION_SCHEMA}
_RELATIONS_BY_TITLE = {r["title"]: r for r in RELATION_SCHEMA}


@dataclass(frozen=True)
class Edits:
    """What one stage visit does to the answer it received."""

    create: int = 0  # a fresh labeling pass: this many objects plus scene classifications
    add: int = 0  # objects added on top of the received answer
    delete: int = 0  # objects removed
    move: int = 0  # objects whose geometry changed
    reclassify: int = 0  # scene classification answers changed

    @property
    def any(self) -> bool:
        return bool(self.create or self.add or self.delete or self.move or self.reclassify)


@dataclass(frozen=True)
class WorkWindow:
    """Who worked on the answer, in which stage, between which sandbox times."""

    start: float
    end: float
    who: str
    stage_name: str


def empty_answer() -> Answer:
    return {"tools": [], "classifications": [], "relations": []}


def strip_metadata(value: Any) -> Any:
    """Drop per-object ``metadata`` recursively, as export ``stageHistory`` snapshots do."""
    if isinstance(value, dict):
        return {k: strip_metadata(v) for k, v in value.items() if k != "metadata"}
    if isinstance(value, list):
        return [strip_metadata(v) for v in value]
    return value


def _object_id(rng: random.Random) -> str:
    return f"{rng.getrandbits(92):023x}"


class _Writer:
    """Helper bound to one visit: its RNG, clock and work window."""

    def __init__(self, clock: Clock, rng: random.Random, window: WorkWindow) -> None:
        self.clock = clock
        self.rng = rng
        self.window = window

    def when(self, fraction: float) -> str:
        t = self.window.start + (self.window.end - self.window.start) * fraction
        return format_iso_ms(self.clock.epoch + timedelta(seconds=t))

    def metadata(self, fraction: float) -> dict[str, str]:
        return {"createdAt": self.when(fraction), "createdBy": self.window.who, "createdIn": self.window.stage_name}

    def touch(self, obj: dict[str, Any], fraction: float) -> None:
        meta = obj.setdefault("metadata", {})
        meta.update(
            {"updatedAt": self.when(fraction), "updatedBy": self.window.who, "updatedIn": self.window.stage_name}
        )

    def answer_for(self, question: dict[str, Any], fraction: float, avoid: Any = None) -> dict[str, Any]:
        rng = self.rng
        values = [o["value"] for o in question.get("options", [])]
        tool = question["tool"]
        choices = [v for v in values if v != avoid] or values
        answer: Any
        if tool in ("radio", "single-dropdown"):
            answer = rng.choice(choices)
        elif tool in ("checkbox", "multi-dropdown"):
            answer = sorted(rng.sample(values, k=rng.randint(1, min(2, len(values)))), key=values.index)
        elif tool == "tree-dropdown":
            leaf = rng.choice([v for v in values if " / " in v] or values)
            answer = [leaf.split(" / ")[0], leaf] if " / " in leaf else [leaf]
        else:
            answer = rng.choice(
                ["", "glare from low sun", "partially blurred frame", "rear camera", "windscreen wipers visible"]
            )
        return {
            "objectId": _object_id(rng),
            "schemaId": question["schemaId"],
            "tool": tool,
            "title": question["title"],
            "answer": answer,
            "metadata": self.metadata(fraction),
            "classifications": [],
        }

    def geometry(self, tool: str, title: str) -> Any:
        rng = self.rng
        if tool == "bounding-box":
            if title == "Vehicle":
                w = rng.uniform(90, 520)
                h = w * rng.uniform(0.55, 0.9)
            elif title == "Traffic light":
                w = rng.uniform(14, 40)
                h = w * rng.uniform(2.2, 2.6)
            else:
                w = rng.uniform(18, 140)
                h = w * rng.uniform(1.6, 2.8)
            x, y = rng.uniform(0, IMAGE_WIDTH - w), rng.uniform(IMAGE_HEIGHT * 0.25, IMAGE_HEIGHT - min(h, 700))
            if rng.random() < 0.03:  # drawn from the bottom-right corner: negative size (documented)
                return {"x": x + w, "y": y + h, "height": -h, "width": -w}
            return {"x": x, "y": y, "height": h, "width": w}
        if tool == "polygon":
            cx, cy, r = rng.uniform(100, IMAGE_WIDTH - 100), rng.uniform(80, 600), rng.uniform(14, 60)
            n = rng.randint(4, 8)
            return [[cx + r * _cos(i / n), cy + r * _sin(i / n)] for i in range(n)]
        if tool == "polyline":
            x0 = rng.uniform(200, IMAGE_WIDTH - 200)
            return [
                [x0 + i * rng.uniform(-60, 60), IMAGE_HEIGHT - i * rng.uniform(60, 110)]
                for i in range(rng.randint(3, 6))
            ]
        return [rng.uniform(0, IMAGE_WIDTH), rng.uniform(200, 800)]  # point

    def new_tool(self, fraction: float) -> dict[str, Any]:
        rng = self.rng
        title = rng.choices(list(_CLASS_WEIGHTS), weights=list(_CLASS_WEIGHTS.values()))[0]
        schema = _TOOLS_BY_TITLE[title]
        nested = [self.answer_for(q, fraction) for q in schema["classifications"]]
        return {
            schema["tool"]: self.geometry(schema["tool"], title),
            "objectId": _object_id(rng),
            "classifications": nested,
            "schemaId": schema["schemaId"],
            "metadata": self.metadata(fraction),
            "title": title,
        }


def _cos(turn: float) -> float:
    return math.cos(2 * math.pi * turn)


def _sin(turn: float) -> float:
    return math.sin(2 * math.pi * turn)


def _geometry_key(tool: dict[str, Any]) -> str | None:
    return next((k for k in ("bounding-box", "polygon", "polyline", "point") if k in tool), None)


def _relations(writer: _Writer, tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rng = writer.rng
    relations: list[dict[str, Any]] = []
    vehicles = [t["objectId"] for t in tools if t["title"] == "Vehicle"]
    people = [t["objectId"] for t in tools if t["title"] == "Pedestrian"]
    if len(vehicles) >= 2 and rng.random() < 0.5:
        towing = _RELATIONS_BY_TITLE["Towing"]
        a, b = rng.sample(vehicles, 2)
        relations.append(
            {
                "from": a,
                "to": b,
                "objectId": _object_id(rng),
                "schemaId": towing["schemaId"],
                "direction": "straight",
                "title": towing["title"],
            }
        )
    if len(people) >= 2:
        group = _RELATIONS_BY_TITLE["Group"]
        relations.append(
            {
                "objectId": _object_id(rng),
                "schemaId": group["schemaId"],
                "title": group["title"],
                "group": rng.sample(people, k=min(len(people), rng.randint(2, 4))),
            }
        )
    return relations


_SCENE_QUESTIONS = ("Weather", "Time of day", "Scene tags", "Road type", "Annotator notes")


def apply_edits(clock: Clock, answer: Answer, edits: Edits, rng: random.Random, window: WorkWindow) -> Answer:
    """The answer after one visit made ``edits`` to it (``answer`` itself is not modified)."""
    result = copy.deepcopy(answer)
    if not edits.any:
        return result
    writer = _Writer(clock, rng, window)
    steps = edits.create + edits.add + edits.delete + edits.move + edits.reclassify + 6
    step = 0

    def fraction() -> float:
        nonlocal step
        step += 1
        return step / steps

    tools = result["tools"]
    if edits.create:
        tools.extend(writer.new_tool(fraction()) for _ in range(edits.create))
        result["classifications"] = [writer.answer_for(_QUESTIONS_BY_TITLE[t], fraction()) for t in _SCENE_QUESTIONS]
        result["relations"] = _relations(writer, tools)
    for _ in range(edits.delete):
        if not tools:
            break
        gone = tools.pop(rng.randrange(len(tools)))["objectId"]
        result["relations"] = [
            r
            for r in result["relations"]
            if gone not in (r.get("from"), r.get("to")) and gone not in r.get("group", [])
        ]
    movable = [t for t in tools if _geometry_key(t)]
    for tool in rng.sample(movable, k=min(edits.move, len(movable))):
        key = _geometry_key(tool)
        dx, dy = rng.uniform(-40, 40), rng.uniform(-25, 25)
        if key == "bounding-box":
            box = tool[key]
            box["x"] += dx
            box["y"] += dy
            box["width"] *= rng.uniform(0.9, 1.12)
        elif key == "point":
            tool[key] = [tool[key][0] + dx, tool[key][1] + dy]
        elif key is not None:
            tool[key] = [[px + dx, py + dy] for px, py in tool[key]]
        writer.touch(tool, fraction())
    tools.extend(writer.new_tool(fraction()) for _ in range(edits.add))
    changeable = [c for c in result["classifications"] if c["tool"] in ("radio", "single-dropdown")]
    for entry in rng.sample(changeable, k=min(edits.reclassify, len(changeable))):
        question = _QUESTIONS_BY_TITLE[entry["title"]]
        entry["answer"] = writer.answer_for(question, 0.0, avoid=entry["answer"])["answer"]
        writer.touch(entry, fraction())
    return result
