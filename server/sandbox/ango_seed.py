"""Seeded Ango Hub tasks, described as the stage visits they went through.

A task is a list of :class:`Visit` (stage id, when it entered, who worked how long, what they
changed). Everything the API shows is derived from those visits at the current sandbox time:
the task's ``stage``/``status``/``reviewStatus``, the REST history (one entry per visit, the
current one included), the answer snapshots and the export's ``stageHistory``. A visit that
enters in the future simply has not happened yet, which is how tasks move with time.
"""

from __future__ import annotations

import dataclasses
import hashlib
import random
from dataclasses import dataclass, field
from typing import Any

from . import ango_schema as schema
from .ango_answers import Answer, Edits
from .ango_samples import DOC_EXPORT_TASK, DOC_HISTORY_ENTRY
from .catalog import (
    ANGO_ARCHIVED_TASK,
    ANGO_BENCHMARK_TASK,
    ANGO_CONSENSUS_REQUEUE_TASK,
    ANGO_CONSENSUS_SUBMIT_TASK,
    ANGO_DOC_EXPORT_TASK,
    ANGO_DOC_HISTORY_TASK,
    ANGO_HOLD_TASK,
    ANGO_LABEL_DRAFT_TASK,
    ANGO_LABEL_REJECTED_TASK,
    ANGO_LABEL_TODO_TASK,
    ANGO_LOGIC_TASK,
    ANGO_MOVING_TASK,
    ANGO_PING_PONG_TASK,
    ANGO_PLUGIN_TASK,
    ANGO_REVIEW_FIXED_TASK,
    ANGO_REVIEW_TODO_TASK,
    ANGO_REWORKED_TASK,
    ANGO_SKIPPED_TASK,
    ANGO_START_TASK,
    ANGO_WEBHOOK_TASK,
)
from .clock import Clock, parse_iso

__all__ = ["AngoTask", "Visit", "seed_tasks"]

LABELERS = (
    "maria.kovacs@fieldlabel.io",
    "tomasz.nowak@fieldlabel.io",
    "aylin.demir@fieldlabel.io",
    "joao.silva@fieldlabel.io",
)
REVIEWERS = ("qa.lead@fieldlabel.io", "sofia.romano@fieldlabel.io")
IMPORTER = "data.ops@fieldlabel.io"
_BATCH_IDS = list(schema.BATCHES)
#: A batch deleted from the project: exports show its name as null (iMerit's own export plugins skip such entries).
_DELETED_BATCH = "64f0c1a2b3d4e5f601234a9f"
MINUTE, HOUR, DAY = 60.0, 3_600.0, 86_400.0


@dataclass(frozen=True)
class Visit:
    """One stay of a task in one stage.

    ``status``/``review_status`` are the task's fields while it sits here. ``entry_review`` is the
    outcome recorded on the history entry once the visit ends (Review stages; inferred field).
    """

    stage: str
    entered: float
    duration_ms: int = 0
    assignee: str | None = None
    status: str = "TODO"
    review_status: str = "Todo"
    entry_review: str | None = None
    rework: bool = False
    skipped: bool = False
    edits: Edits = Edits()


@dataclass
class AngoTask:
    """A seeded task. ``fixed_answer`` (docs samples) replaces generated answers from visit 1 on;
    ``verbatim_history``/``verbatim_export`` are served unchanged; ``overrides`` patch the task."""

    id: str
    asset: str
    external_id: str
    asset_url: str
    visits: list[Visit]
    type: str = "default"
    priority: int = 0
    batches: list[str] = field(default_factory=list)
    is_draft: bool = False
    is_benchmark: bool = False
    open_issues: int = 0
    metadata: dict[str, Any] = field(default_factory=lambda: {"width": 1920, "height": 1080})
    fixed_answer: Answer | None = None
    verbatim_history: dict[str, Any] | None = None
    verbatim_export: dict[str, Any] | None = None
    overrides: dict[str, Any] = field(default_factory=dict)

    @property
    def created(self) -> float:
        return self.visits[0].entered

    def history_id(self, index: int) -> str:
        """Stable per (task, visit) so ids survive re-seeding and can be put in the catalog."""
        if self.verbatim_history is not None and index == 0:
            return str(self.verbatim_history["_id"])
        return hashlib.sha1(f"ango-history:{self.id}:{index}".encode()).hexdigest()[:24]

    def visible_visits(self, now: float) -> list[Visit]:
        return [v for v in self.visits if v.entered <= now]


def _asset_id(task_id: str) -> str:
    return hashlib.sha1(f"ango-asset:{task_id}".encode()).hexdigest()[:24]


def _frame(rng: random.Random) -> tuple[str, str]:
    city, day = rng.choice(
        [("munich", "2023-08-14"), ("munich", "2023-08-16"), ("a9", "2023-08-21"), ("nuremberg", "2023-08-29")]
    )
    cam, frame = rng.randint(1, 4), rng.randint(1, 9000)
    name = f"{city}_{day}_cam{cam}_frame_{frame:06d}.jpg"
    return name, f"https://storage.googleapis.com/fieldlabel-dashcam-eu/{city}/{day}/cam{cam}/frame_{frame:06d}.jpg"


def _task(task_id: str, visits: list[Visit], rng: random.Random, **extra: Any) -> AngoTask:
    name, url = _frame(rng)
    extra.setdefault("batches", [rng.choice(_BATCH_IDS)])
    return AngoTask(id=task_id, asset=_asset_id(task_id), external_id=name, asset_url=url, visits=visits, **extra)


def _label(at: float, who: str | None, n: int = 0, minutes: float = 6.0, **kw: Any) -> Visit:
    return Visit(schema.LABEL.id, at, int(minutes * 60_000), who, edits=Edits(create=n) if n else Edits(), **kw)


def _review(at: float, who: str, outcome: str | None, seconds: float = 70.0, **kw: Any) -> Visit:
    return Visit(schema.REVIEW.id, at, int(seconds * 1000), who, entry_review=outcome, **kw)


def _start(at: float) -> Visit:
    return Visit(schema.START.id, at, 0, None, status="TODO")


def _complete(at: float, review: str = "Accepted") -> Visit:
    return Visit(schema.COMPLETE.id, at, 0, None, status="Completed", review_status=review)


def _doc_history_task() -> AngoTask:
    """The docs' history sample: one entry, in stage 77dc1c42-... (a second Label-type stage)."""
    entry = DOC_HISTORY_ENTRY
    return AngoTask(
        id=ANGO_DOC_HISTORY_TASK,
        asset=entry["asset"],
        external_id="receipt_2023-05-04_0017.jpg",
        asset_url="https://angohub-public-assets.s3.eu-central-1.amazonaws.com/receipt_2023-05-04_0017.jpg",
        visits=[Visit(entry["stage"], 0.0, entry["duration"], entry["assignee"])],
        batches=[],
        metadata={"width": 1654, "height": 2339},
        fixed_answer=entry["answer"],
        verbatim_history=entry,
        overrides={
            "createdAt": entry["createdAt"],
            "updatedAt": entry["updatedAt"],
            "updatedBy": entry["updatedBy"],
            "createdBy": entry["assignee"],
        },
    )


def _doc_export_task() -> AngoTask:
    """The docs' export sample: Start -> Label -> Review (Accepted) -> Complete."""
    sample = DOC_EXPORT_TASK
    history = sample["stageHistory"]
    answer: Answer = {
        "tools": sample["tools"],
        "classifications": sample["classifications"],
        "relations": sample["relations"],
    }
    return AngoTask(
        id=ANGO_DOC_EXPORT_TASK,
        asset="64e5e5b985eb730015b4ebd8",
        external_id="traffic_cam_clip_0042.mp4",
        asset_url="https://angohub-public-assets.s3.eu-central-1.amazonaws.com/traffic_cam_clip_0042.mp4",
        visits=[
            Visit("Start", 0.0, history[0]["duration"], None),
            Visit("Label", 0.0, history[1]["duration"], history[1]["completedBy"]),
            Visit(
                history[2]["stageId"],
                0.0,
                history[2]["duration"],
                history[2]["completedBy"],
                entry_review=history[2]["reviewStatus"],
            ),
            Visit("Complete", 0.0, 0, None, status="Completed", review_status="Accepted"),
        ],
        batches=[_BATCH_IDS[0]],
        metadata={"width": 1920, "height": 1080, "frameTotal": 900, "frameRate": 30},
        fixed_answer=answer,
        verbatim_export=sample,
        overrides={
            "updatedAt": sample["updatedAt"],
            "updatedBy": sample["updatedBy"],
            "createdAt": "2023-08-23T10:55:53.221Z",
            "createdBy": "lorenzo@imerit.net",
        },
    )


def _absolute(clock: Clock, task: AngoTask, times: list[str]) -> AngoTask:
    """Place a docs task's visits at the absolute instants the docs give."""
    epoch = clock.epoch
    task.visits = [
        dataclasses.replace(v, entered=(parse_iso(at) - epoch).total_seconds())
        for v, at in zip(task.visits, times, strict=True)
    ]
    return task


def seed_tasks(clock: Clock, seed: int) -> list[AngoTask]:
    """Catalog scenarios (fixed ids and stories) plus ~150 seed-dependent filler tasks."""
    fixed = random.Random("ango:fixed")
    maria, tomasz, aylin, joao = LABELERS
    lead, sofia = REVIEWERS
    s = schema
    tasks: list[AngoTask] = [
        _absolute(clock, _doc_history_task(), [DOC_HISTORY_ENTRY["createdAt"]]),
        _absolute(
            clock,
            _doc_export_task(),
            [
                "2023-08-23T10:55:53.221Z",
                "2023-08-23T10:55:53.495Z",
                DOC_EXPORT_TASK["stageHistory"][1]["completedAt"],
                DOC_EXPORT_TASK["stageHistory"][2]["completedAt"],
            ],
        ),
    ]
    t0 = -2 * DAY
    tasks.append(
        _task(
            ANGO_REWORKED_TASK,
            [
                _start(t0),
                _label(t0 + 4, maria, n=24, minutes=6.9),
                _review(t0 + 1.5 * HOUR, lead, "Rejected", seconds=95, edits=Edits()),
                Visit(
                    s.LABEL.id,
                    t0 + 5 * HOUR,
                    188_000,
                    maria,
                    review_status="Rejected",
                    rework=True,
                    edits=Edits(add=3, delete=2, move=2, reclassify=1),
                ),
                _review(t0 + 7 * HOUR, lead, "Accepted", seconds=61, review_status="Fixed"),
                _complete(t0 + 9 * HOUR),
            ],
            fixed,
            priority=2,
            batches=[_BATCH_IDS[0], _BATCH_IDS[2]],
        )
    )
    t0 = -6 * DAY
    ping_pong = [_start(t0), _label(t0 + 4, aylin, n=20, minutes=8.0)]
    for loop in range(10):  # each rejection sends it back; each rework changes a little
        at = t0 + (loop + 1) * 6 * HOUR
        ping_pong += [
            _review(at, sofia, "Rejected", seconds=80 + 7 * loop, edits=Edits()),
            Visit(
                s.LABEL.id,
                at + 2 * HOUR,
                90_000 + 4_000 * loop,
                aylin,
                review_status="Rejected",
                rework=True,
                edits=Edits(add=loop % 2, delete=(loop + 1) % 2, move=1, reclassify=loop % 3 == 0),
            ),
        ]
    ping_pong += [
        _review(t0 + 66 * HOUR, lead, "Accepted", seconds=45, review_status="Fixed"),
        _complete(t0 + 67 * HOUR),
    ]
    tasks.append(_task(ANGO_PING_PONG_TASK, ping_pong, fixed, batches=[_BATCH_IDS[1]]))
    tasks.append(
        _task(
            ANGO_MOVING_TASK,
            [
                _start(-10 * MINUTE),
                _label(-10 * MINUTE + 2, tomasz, n=18, minutes=4.0),
                _review(30.0, sofia, "Accepted", seconds=52, edits=Edits(move=1)),
                _complete(90.0),
            ],
            fixed,
        )
    )
    tasks.append(_task(ANGO_START_TASK, [Visit(s.START.id, -40.0, 0, None, status="READY")], fixed))
    tasks.append(
        _task(
            ANGO_PLUGIN_TASK,
            [
                _start(-3 * MINUTE),
                Visit(s.PLUGIN.id, -3 * MINUTE + 1, 0, None, status="READY"),
            ],
            fixed,
        )
    )
    tasks.append(_task(ANGO_LABEL_TODO_TASK, [_start(-5 * HOUR), _label(-5 * HOUR + 3, None, minutes=0)], fixed))
    tasks.append(
        _task(
            ANGO_LABEL_DRAFT_TASK,
            [
                _start(-6 * HOUR),
                _label(-6 * HOUR + 3, aylin, n=31, minutes=9.5),
            ],
            fixed,
            is_draft=True,
        )
    )
    tasks.append(
        _task(
            ANGO_LABEL_REJECTED_TASK,
            [
                _start(-DAY),
                _label(-DAY + 5, joao, n=15, minutes=5.2),
                _review(-DAY + 3 * HOUR, sofia, "Rejected", seconds=140),
                Visit(s.LABEL.id, -DAY + 3 * HOUR + 150, 0, joao, review_status="Rejected", rework=True),
            ],
            fixed,
        )
    )
    tasks.append(
        _task(
            ANGO_LOGIC_TASK,
            [
                _start(-2 * MINUTE),
                _label(-2 * MINUTE + 2, maria, n=12, minutes=1.5),
                Visit(s.LOGIC.id, -5.0, 0, None, status="READY"),
            ],
            fixed,
        )
    )
    tasks.append(
        _task(
            ANGO_CONSENSUS_SUBMIT_TASK,
            [
                _start(-3 * HOUR),
                Visit(
                    s.CONSENSUS.id, -3 * HOUR + 2, 254_000, tomasz, status="PCT_SUBMIT_WAITING", edits=Edits(create=22)
                ),
            ],
            fixed,
        )
    )
    tasks.append(
        _task(
            ANGO_CONSENSUS_REQUEUE_TASK,
            [
                _start(-4 * HOUR),
                Visit(
                    s.CONSENSUS.id, -4 * HOUR + 2, 198_000, aylin, status="PCT_REQUEUE_WAITING", edits=Edits(create=19)
                ),
            ],
            fixed,
        )
    )
    tasks.append(
        _task(
            ANGO_REVIEW_TODO_TASK,
            [
                _start(-8 * HOUR),
                _label(-8 * HOUR + 4, maria, n=43, minutes=14.0),
                _review(-7 * HOUR, lead, None, seconds=0),
            ],
            fixed,
        )
    )
    tasks.append(
        _task(
            ANGO_REVIEW_FIXED_TASK,
            [
                _start(-30 * HOUR),
                _label(-30 * HOUR + 4, joao, n=27, minutes=8.0),
                _review(-28 * HOUR, sofia, "Rejected", seconds=120),
                Visit(
                    s.LABEL.id,
                    -26 * HOUR,
                    141_000,
                    joao,
                    review_status="Rejected",
                    rework=True,
                    edits=Edits(add=2, delete=1, move=3),
                ),
                _review(-25 * HOUR, sofia, None, seconds=0, review_status="Fixed"),
            ],
            fixed,
        )
    )
    tasks.append(
        _task(
            ANGO_HOLD_TASK,
            [
                _start(-3 * DAY),
                _label(-3 * DAY + 3, tomasz, n=36, minutes=11.0),
                Visit(s.HOLD.id, -3 * DAY + HOUR, 0, None, status="TODO"),
            ],
            fixed,
            open_issues=2,
            priority=1,
        )
    )
    tasks.append(
        _task(
            ANGO_WEBHOOK_TASK,
            [
                _start(-HOUR),
                _label(-HOUR + 2, aylin, n=14, minutes=4.4),
                _review(-20 * MINUTE, lead, "Accepted", seconds=44),
                Visit(s.WEBHOOK.id, -3.0, 0, None, status="READY", review_status="Accepted"),
            ],
            fixed,
        )
    )
    tasks.append(
        _task(
            ANGO_BENCHMARK_TASK,
            [
                _start(-5 * DAY),
                _label(-5 * DAY + 3, lead, n=16, minutes=3.0),
                _complete(-5 * DAY + HOUR, review="Todo"),
            ],
            fixed,
            type="benchmark",
            is_benchmark=True,
        )
    )
    tasks.append(
        _task(
            ANGO_ARCHIVED_TASK,
            [
                _start(-4 * DAY),
                _label(-4 * DAY + 3, joao, n=13, minutes=2.5),
                _review(-4 * DAY + 2 * HOUR, lead, "Rejected", seconds=35),
                Visit(s.ARCHIVE.id, -4 * DAY + 2 * HOUR + 40, 0, None, status="Completed", review_status="Rejected"),
            ],
            fixed,
            batches=[_BATCH_IDS[1], _DELETED_BATCH],
        )
    )
    tasks.append(
        _task(
            ANGO_SKIPPED_TASK,
            [
                _start(-7 * HOUR),
                Visit(s.LABEL.id, -7 * HOUR + 3, 22_000, maria, skipped=True),
            ],
            fixed,
        )
    )
    tasks.extend(_filler(seed))
    return tasks


def _filler(seed: int) -> list[AngoTask]:
    """Ordinary production traffic around the scenarios, so lists and exports have volume."""
    rng = random.Random(f"ango:{seed}")
    out: list[AngoTask] = []
    for _ in range(150):
        task_id = f"65f3{rng.getrandbits(80):020x}"
        t = -rng.uniform(2 * HOUR, 10 * DAY)
        who, reviewer = rng.choice(LABELERS), rng.choice(REVIEWERS)
        n = rng.randint(10, 60)
        roll = rng.random()
        visits = [_start(t)]
        if roll < 0.25:
            assigned = rng.random() < 0.6
            visits.append(
                _label(
                    t + 3,
                    who if assigned else None,
                    n=n if assigned else 0,
                    minutes=rng.uniform(2, 18) if assigned else 0,
                )
            )
        elif roll < 0.45:
            visits += [
                _label(t + 3, who, n=n, minutes=rng.uniform(2, 18)),
                _review(t + rng.uniform(0.5, 1) * HOUR, reviewer, None, seconds=0),
            ]
        else:
            visits.append(_label(t + 3, who, n=n, minutes=rng.uniform(2, 18)))
            at = t + HOUR
            if rng.random() < 0.2:
                visits += [
                    _review(at, reviewer, "Rejected", seconds=rng.uniform(30, 150)),
                    Visit(
                        schema.LABEL.id,
                        at + HOUR,
                        int(rng.uniform(40, 300) * 1000),
                        who,
                        review_status="Rejected",
                        rework=True,
                        edits=Edits(
                            add=rng.randint(0, 3),
                            delete=rng.randint(0, 2),
                            move=rng.randint(1, 4),
                            reclassify=rng.randint(0, 1),
                        ),
                    ),
                ]
                at += 2 * HOUR
            if roll < 0.5:
                visits += [
                    _review(at, reviewer, "Rejected", seconds=rng.uniform(20, 90)),
                    Visit(schema.ARCHIVE.id, at + 60, 0, None, status="Completed", review_status="Rejected"),
                ]
            else:
                visits += [
                    _review(at, reviewer, "Accepted", seconds=rng.uniform(20, 120)),
                    _complete(at + rng.uniform(5, 60)),
                ]
        # keep every visit in the past (filler never moves)
        if visits[-1].entered > -60:
            continue
        batches = [rng.choice(_BATCH_IDS)] if rng.random() < 0.9 else []
        out.append(_task(task_id, visits, rng, batches=batches, priority=rng.choice([0, 0, 0, 1, 2])))
    return out
