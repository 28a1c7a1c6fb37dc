"""The seeded Ango Hub project: workflow stages, batches and the label schema.

One project exercises every stage type of SDK ``StageType`` (Start, Label, Review, Logic, Plugin,
Webhook, Complete, Archive, Consensus, Hold), so clients must map stage ids to types through
``GET /v2/project/{id}`` the way iMerit's own plugins do. The auto-created stages keep their
literal ids ``Start``/``Label``/``Complete``; every other stage has a UUID, including the two taken
from the docs samples (``77dc1c42-...`` from the history sample, ``5e8f78a7-...`` the Review stage
of the export sample). The schema includes the docs samples' classes so their ``schemaId`` values
resolve, next to the realistic dash-cam classes used for generated answers.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from .catalog import ANGO_ORGANIZATION, ANGO_PROJECT

__all__ = [
    "BATCHES",
    "CLASSIFICATION_SCHEMA",
    "PROJECT_NAME",
    "RELATION_SCHEMA",
    "STAGES",
    "STAGE_BY_ID",
    "Stage",
    "TOOL_SCHEMA",
    "project_payload",
]

PROJECT_NAME = "Dash-cam object detection - EU Q3"


@dataclass(frozen=True)
class Stage:
    id: str
    name: str
    type: str
    x: int
    y: int

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "type": self.type, "position": {"x": self.x, "y": self.y}}


START = Stage("Start", "Start", "Start", 0, 300)
PLUGIN = Stage("b0a4f0c2-9d8e-4c1f-a6b3-2e7d5f9c8a14", "Pre-label (YOLOv8)", "Plugin", 250, 120)
LABEL = Stage("Label", "Label", "Label", 500, 300)
LOGIC = Stage("c7e2a9d4-3b6f-4e8a-9d1c-5f0b7a3e2c68", "Route by difficulty", "Logic", 750, 300)
CONSENSUS = Stage("e4b8d2f6-7a1c-4d9e-b3f5-8c2a6e0d4b97", "Consensus (3 annotators)", "Consensus", 1000, 120)
AMOUNT = Stage("77dc1c42-6fef-4745-b783-d6c4d99204e1", "Amount extraction", "Label", 1000, 480)
REVIEW = Stage("5e8f78a7-ef6a-473d-b02f-f4024c9ee486", "Review", "Review", 1250, 300)
HOLD = Stage("a1d5c9e3-6f2b-4a7d-8e4c-0b9f3d7a5e21", "Client query hold", "Hold", 1500, 480)
WEBHOOK = Stage("f3c7e1a5-2d9b-4f6e-a8c0-7e5d3b1f9a46", "Notify QA dashboard", "Webhook", 1500, 120)
COMPLETE = Stage("Complete", "Complete", "Complete", 1750, 300)
ARCHIVE = Stage("9d2f6b8e-4a1c-4e7b-b5d3-1c8e0a6f2d73", "Archive", "Archive", 1750, 560)

STAGES: tuple[Stage, ...] = (
    START,
    PLUGIN,
    LABEL,
    LOGIC,
    CONSENSUS,
    AMOUNT,
    REVIEW,
    HOLD,
    WEBHOOK,
    COMPLETE,
    ARCHIVE,
)
STAGE_BY_ID: dict[str, Stage] = {s.id: s for s in STAGES}

#: ``_id`` -> name. Export files carry batch *names*, task objects carry batch ids (inferred).
BATCHES: dict[str, str] = {
    "64f0c1a2b3d4e5f601234a01": "Munich urban - Aug 2023",
    "64f0c1a2b3d4e5f601234a02": "A9 highway - night",
    "64f0c1a2b3d4e5f601234a03": "Priority re-labels",
}


def _options(*values: str, prefix: str) -> list[dict[str, str]]:
    return [{"value": v, "schemaId": f"{prefix}{i:02d}"} for i, v in enumerate(values, start=1)]


def _question(
    schema_id: str, tool: str, title: str, options: list[dict[str, str]] | None = None, required: bool = False
) -> dict[str, Any]:
    question: dict[str, Any] = {
        "schemaId": schema_id,
        "tool": tool,
        "title": title,
        "required": required,
        "classifications": [],
    }
    if options is not None:
        question["options"] = options
    return question


_OCCLUDED = _question(
    "4c1e8a2f6b9d3e7a5c0f1b2", "radio", "Occluded", _options("No", "Partly", "Mostly", prefix="4c1e8a2f6b9d3e7a5c0f1")
)
_VEHICLE_TYPE = _question(
    "9e2b6d0a4f8c1e5b3a7d9c4",
    "single-dropdown",
    "Vehicle type",
    _options("Car", "Van", "Truck", "Bus", "Motorcycle", prefix="9e2b6d0a4f8c1e5b3a7d9"),
)
_LIGHT_STATE = _question(
    "2a6e0c4b8f1d5a9e3c7b0d6",
    "radio",
    "State",
    _options("Red", "Amber", "Green", "Off", prefix="2a6e0c4b8f1d5a9e3c7b0"),
)
_SIGN_CLASS = _question(
    "6d0a4e8c2b6f0a4d8e2c6b1",
    "single-dropdown",
    "Sign class",
    _options("Speed limit", "Stop", "Yield", "No entry", "Pedestrian crossing", prefix="6d0a4e8c2b6f0a4d8e2c6"),
)
_LINE_TYPE = _question(
    "0f4b8d2a6e0c4f8b2d6a0e3",
    "radio",
    "Line type",
    _options("Solid", "Dashed", "Double", prefix="0f4b8d2a6e0c4f8b2d6a0"),
)


def _tool(
    schema_id: str, tool: str, title: str, color: str, shortcut: str, nested: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    return {
        "schemaId": schema_id,
        "tool": tool,
        "title": title,
        "required": False,
        "color": color,
        "shortcutKey": shortcut,
        "classifications": copy.deepcopy(nested or []),
    }


TOOL_SCHEMA: list[dict[str, Any]] = [
    _tool("7f3a9c1e5b2d4f6a8c0e1b3", "bounding-box", "Vehicle", "#F5A623", "1", [_OCCLUDED, _VEHICLE_TYPE]),
    _tool("1b5d9f3a7c1e5b9d3f7a1c5", "bounding-box", "Pedestrian", "#D0021B", "2", [_OCCLUDED]),
    _tool("5e9c3a7f1d5b9e3c7a1f5d9", "bounding-box", "Cyclist", "#9013FE", "3", [_OCCLUDED]),
    _tool("3c7e1a5d9b3f7c1e5a9d3b7", "bounding-box", "Traffic light", "#7ED321", "4", [_LIGHT_STATE]),
    _tool("8a2c6e0b4d8f2a6c0e4b8d2", "polygon", "Traffic sign", "#4A90E2", "5", [_SIGN_CLASS]),
    _tool("d4f8b2e6a0c4f8d2b6e0a4c", "polyline", "Lane marking", "#F8E71C", "6", [_LINE_TYPE]),
    _tool("e6a0c4f8b2d6e0a4c8f2b6d", "point", "Pole", "#50E3C2", "7"),
    # Classes of the docs samples, so their schemaIds resolve.
    _tool("b1c6805d054f0e44ae11500", "bounding-box", "bb", "#B8E986", "8"),
    _tool("a966c7799383465850cd803", "polygon", "gon", "#BD10E0", "9"),
    _tool("a3f7ff90ae260c29132f063", "bounding-box", "Amount", "#417505", "0"),
]

CLASSIFICATION_SCHEMA: list[dict[str, Any]] = [
    _question(
        "c1e5a9d3f7b1c5e9a3d7f1b",
        "radio",
        "Weather",
        _options("Clear", "Rain", "Fog", "Snow", prefix="c1e5a9d3f7b1c5e9a3d7f"),
        required=True,
    ),
    _question(
        "f7b1d5a9e3c7f1b5d9a3e7c",
        "single-dropdown",
        "Time of day",
        _options("Day", "Dusk", "Night", prefix="f7b1d5a9e3c7f1b5d9a3e"),
    ),
    _question(
        "a9d3f7c1e5b9a3d7f1c5e9b",
        "checkbox",
        "Scene tags",
        _options("Urban", "Highway", "Construction zone", "Tunnel", "Parking", prefix="a9d3f7c1e5b9a3d7f1c5e"),
    ),
    _question(
        "b3f7d1a5c9e3b7f1d5a9c3e",
        "tree-dropdown",
        "Road type",
        _options(
            "Public road", "Public road / Urban", "Public road / Rural", "Private road", prefix="b3f7d1a5c9e3b7f1d5a9c"
        ),
    ),
    _question("e9c3a7f1b5d9e3c7a1f5b9d", "text", "Annotator notes"),
    # Classes of the docs samples.
    _question("6421df1fa34ac13204ea157", "radio", "rdo", _options("1", "2", prefix="6421df1fa34ac13204ea1")),
    _question("1ea7a275ce5c9cf30a6f148", "checkbox", "chk", _options("1", "2", prefix="1ea7a275ce5c9cf30a6f1")),
    _question("a2b4a50bb90eb6523b88376", "single-dropdown", "sdr", _options("1", "2", prefix="a2b4a50bb90eb6523b883")),
    _question("11f6ed8e4ac4852d3422341", "multi-dropdown", "mdr", _options("1", "2", prefix="11f6ed8e4ac4852d34223")),
    _question(
        "c2b5eb27e55b186f84f3898", "tree-dropdown", "tre", _options("1", "1 / 2", prefix="c2b5eb27e55b186f84f38")
    ),
    _question("6590a72d09f1760a4578032", "text", "txt"),
]

RELATION_SCHEMA: list[dict[str, Any]] = [
    {"schemaId": "0d4f8b2e6c0a4d8f2b6e0c4", "tool": "one-to-one", "title": "Towing"},
    {"schemaId": "2f6b0d4a8e2c6f0b4d8a2e6", "tool": "group", "title": "Group"},
    {"schemaId": "8f8e617174718e80bbea268", "tool": "one-to-one", "title": "sng"},
]


def project_payload() -> dict[str, Any]:
    """``data.project`` of ``GET /v2/project/{id}``, in the shape iMerit's plugins read."""
    return {
        "_id": ANGO_PROJECT,
        "name": PROJECT_NAME,
        "description": "Vehicles, vulnerable road users and road furniture on EU dash-cam footage.",
        "organization": ANGO_ORGANIZATION,
        "stages": [s.to_json() for s in STAGES],
        "batches": [{"_id": k, "name": v} for k, v in BATCHES.items()],
        "categorySchema": {
            "tools": copy.deepcopy(TOOL_SCHEMA),
            "classifications": copy.deepcopy(CLASSIFICATION_SCHEMA),
            "relations": copy.deepcopy(RELATION_SCHEMA),
        },
        "createdAt": "2023-05-03T11:09:01.318Z",
        "updatedAt": "2023-09-12T08:41:57.902Z",
    }
