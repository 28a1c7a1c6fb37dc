"""Seeded Deepomatic v0.7 tasks: the docs samples verbatim plus realistic inference results.

Deepomatic tasks are asynchronous inference jobs: ``pending`` until a worker finishes, then
``success`` with the network's JSON in ``data`` or ``error`` with a message. The outputs here
mimic a field-operations QA customer (telecom cabinets and fibre installs), with classification
outputs (``labels.predicted`` / ``labels.discarded`` around a threshold) and detection outputs
(the same plus an ``roi`` with a normalised bounding box).
"""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass
from typing import Any

from .catalog import (
    DEEPOMATIC_CLASSIFICATION_TASK,
    DEEPOMATIC_DETECTION_TASK,
    DEEPOMATIC_DOC_TASK,
    DEEPOMATIC_DOC_TASK_2,
    DEEPOMATIC_ERROR_TASK,
    DEEPOMATIC_FAILS_AT,
    DEEPOMATIC_FAILS_LATER_TASK,
    DEEPOMATIC_PENDING_FOREVER_TASK,
    DEEPOMATIC_SUCCEEDS_AT,
    DEEPOMATIC_SUCCEEDS_LATER_TASK,
)

__all__ = ["DeepomaticRecord", "classification_output", "detection_output", "seed_tasks"]


@dataclass
class DeepomaticRecord:
    """One task. Times are sandbox seconds; ``finish_at=None`` means it never leaves pending.

    ``verbatim`` holds a docs sample that is served unchanged (its dates are absolute).
    """

    id: str
    created_at: float
    finish_at: float | None
    data: dict[str, Any] | None = None
    error: str | None = None
    verbatim: dict[str, Any] | None = None


# Verbatim from Deepomatic's API docs (docs.deepomatic.com/deepomatic-api-v0.7/tasks).
_DOC_TASK: dict[str, Any] = {
    "id": "269999729",
    "status": "success",
    "error": None,
    "date_created": "2018-03-10T20:38:12.818792Z",
    "date_updated": "2018-03-10T20:38:13.032942Z",
    "data": {
        "outputs": [
            {
                "labels": {
                    "discarded": [],
                    "predicted": [
                        {
                            "threshold": 0.025,
                            "label_id": 207,
                            "score": 0.952849746,
                            "label_name": "golden retriever",
                        }
                    ],
                }
            }
        ]
    },
    "subtasks": None,
}

_DOC_TASK_2: dict[str, Any] = {
    "id": "269999730",
    "status": "success",
    "error": None,
    "date_created": "2018-03-10T20:39:47.346716Z",
    "date_updated": "2018-03-10T20:39:47.553246Z",
    "data": {
        "outputs": [
            {
                "labels": {
                    "predicted": [
                        {
                            "threshold": 0.025,
                            "label_id": 207,
                            "score": 0.952849746,
                            "label_name": "golden retriever",
                        }
                    ],
                    "discarded": [],
                }
            }
        ]
    },
    "subtasks": None,
}

_CLASSIFICATION_LABELS: tuple[tuple[int, str], ...] = (
    (3101, "cabinet_door_closed"),
    (3102, "cabinet_door_open"),
    (3103, "cable_management_ok"),
    (3104, "cable_management_messy"),
    (3105, "fiber_bend_radius_ok"),
    (3106, "fiber_bend_radius_violation"),
    (3107, "dust_cap_present"),
    (3108, "dust_cap_missing"),
    (3109, "label_readable"),
    (3110, "label_unreadable"),
    (3111, "photo_blurry"),
    (3112, "photo_too_dark"),
)

_DETECTION_LABELS: tuple[tuple[int, str], ...] = (
    (4201, "optical_network_terminal"),
    (4202, "splitter_module"),
    (4203, "patch_cord"),
    (4204, "pigtail_connector"),
    (4205, "cable_tie"),
    (4206, "port_label"),
    (4207, "ground_cable"),
)


def classification_output(rng: random.Random, threshold: float = 0.5) -> dict[str, Any]:
    """One classifier output: labels above the threshold are predicted, the rest discarded."""
    labels = rng.sample(_CLASSIFICATION_LABELS, k=rng.randint(5, 9))
    n_predicted = rng.randint(1, 3)
    predicted: list[dict[str, Any]] = []
    discarded: list[dict[str, Any]] = []
    for index, (label_id, name) in enumerate(labels):
        score = rng.uniform(threshold, 0.999) if index < n_predicted else rng.uniform(0.001, threshold * 0.98)
        entry = {"threshold": threshold, "label_id": label_id, "score": round(score, 9), "label_name": name}
        (predicted if score >= threshold else discarded).append(entry)
    predicted.sort(key=lambda e: -e["score"])
    discarded.sort(key=lambda e: -e["score"])
    return {"labels": {"discarded": discarded, "predicted": predicted}}


def _roi(rng: random.Random, region_id: int) -> dict[str, Any]:
    width, height = rng.uniform(0.04, 0.35), rng.uniform(0.04, 0.35)
    xmin, ymin = rng.uniform(0.0, 1.0 - width), rng.uniform(0.0, 1.0 - height)
    return {
        "region_id": region_id,
        "bbox": {
            "xmin": round(xmin, 6),
            "ymin": round(ymin, 6),
            "xmax": round(xmin + width, 6),
            "ymax": round(ymin + height, 6),
        },
    }


def detection_output(rng: random.Random, threshold: float = 0.35) -> dict[str, Any]:
    """One detector output: several boxes kept, a few low-score boxes discarded."""
    predicted: list[dict[str, Any]] = []
    discarded: list[dict[str, Any]] = []
    region = 0
    for _ in range(rng.randint(6, 14)):
        label_id, name = rng.choice(_DETECTION_LABELS)
        region += 1
        keep = rng.random() < 0.7
        score = rng.uniform(threshold, 0.995) if keep else rng.uniform(0.05, threshold)
        entry = {
            "threshold": threshold,
            "label_id": label_id,
            "score": round(score, 9),
            "label_name": name,
            "roi": _roi(rng, region),
        }
        (predicted if keep else discarded).append(entry)
    predicted.sort(key=lambda e: -e["score"])
    discarded.sort(key=lambda e: -e["score"])
    return {"labels": {"discarded": discarded, "predicted": predicted}}


def seed_tasks(seed: int) -> list[DeepomaticRecord]:
    """All seeded tasks: catalog scenarios (fixed ids) plus seed-dependent filler."""
    rng = random.Random(f"deepomatic:{seed}")
    day = 86_400.0
    records = [
        DeepomaticRecord(DEEPOMATIC_DOC_TASK, -day * 400, -day * 400, verbatim=copy.deepcopy(_DOC_TASK)),
        DeepomaticRecord(DEEPOMATIC_DOC_TASK_2, -day * 400, -day * 400, verbatim=copy.deepcopy(_DOC_TASK_2)),
        DeepomaticRecord(
            DEEPOMATIC_CLASSIFICATION_TASK,
            -3_612.48,
            -3_611.21,
            data={"outputs": [classification_output(random.Random(f"{seed}:cls"))]},
        ),
        DeepomaticRecord(
            DEEPOMATIC_DETECTION_TASK,
            -3_540.02,
            -3_537.66,
            data={
                "outputs": [
                    detection_output(random.Random(f"{seed}:det")),
                    classification_output(random.Random(f"{seed}:det-cls")),
                ]
            },
        ),
        DeepomaticRecord(
            DEEPOMATIC_ERROR_TASK,
            -3_300.75,
            -3_270.31,
            error=(
                "Could not fetch input image 'https://storage.googleapis.com/fieldops-uploads/"
                "site-4471/IMG_20240311_101522.jpg': HTTP 403 Forbidden"
            ),
        ),
        DeepomaticRecord(DEEPOMATIC_PENDING_FOREVER_TASK, -120.4, None),
        DeepomaticRecord(
            DEEPOMATIC_SUCCEEDS_LATER_TASK,
            -2.3,
            DEEPOMATIC_SUCCEEDS_AT,
            data={"outputs": [detection_output(random.Random(f"{seed}:later"))]},
        ),
        DeepomaticRecord(
            DEEPOMATIC_FAILS_LATER_TASK,
            -1.7,
            DEEPOMATIC_FAILS_AT,
            error="Inference failed: the image could not be decoded (unsupported format image/heic)",
        ),
    ]
    # Filler: a day of finished jobs, so the list endpoint has realistic volume.
    for index in range(24):
        created = -day + index * 3_500.0 + rng.uniform(0, 600)
        finished = created + rng.uniform(0.15, 4.0)
        task_id = str(270_113_000 + index * 37 + rng.randint(0, 30))
        if rng.random() < 0.12:
            records.append(
                DeepomaticRecord(task_id, created, finished, error="Request timed out while fetching the input image")
            )
        elif rng.random() < 0.5:
            records.append(DeepomaticRecord(task_id, created, finished, data={"outputs": [detection_output(rng)]}))
        else:
            records.append(DeepomaticRecord(task_id, created, finished, data={"outputs": [classification_output(rng)]}))
    return records
