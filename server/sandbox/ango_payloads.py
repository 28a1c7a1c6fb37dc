"""Ango Hub payloads derived from the seeded visits at a given sandbox time.

Everything a client can see about a task - the task object, its REST history, one history
entry, its export asset - is computed here from the same :class:`~.ango_seed.Visit` list, so the
views can never disagree with each other (a task in Review always has a Review history entry
and an export ``stageHistory`` that stops just before it).
"""

from __future__ import annotations

import copy
import random
from datetime import timedelta
from typing import Any

from .ango_answers import Answer, WorkWindow, apply_edits, empty_answer, strip_metadata
from .ango_schema import BATCHES, STAGE_BY_ID
from .ango_seed import IMPORTER, AngoTask, Visit, seed_tasks
from .catalog import ANGO_ORGANIZATION, ANGO_PROJECT
from .clock import Clock, format_iso_ms

__all__ = ["AngoWorld"]


class AngoWorld:
    """The seeded Ango project and its tasks, with cached answer snapshots."""

    def __init__(self, clock: Clock, seed: int) -> None:
        self.clock = clock
        self.seed = seed
        self.tasks: dict[str, AngoTask] = {t.id: t for t in seed_tasks(clock, seed)}
        self._snapshots: dict[str, list[Answer]] = {}
        self._history_index: dict[str, tuple[str, int]] = {
            task.history_id(i): (task.id, i) for task in self.tasks.values() for i in range(len(task.visits))
        }

    # ---- helpers --------------------------------------------------------------------------------
    def iso(self, t: float) -> str:
        return format_iso_ms(self.clock.epoch + timedelta(seconds=t))

    def snapshots(self, task: AngoTask) -> list[Answer]:
        """The answer as each visit left it (the current visit: as saved so far)."""
        cached = self._snapshots.get(task.id)
        if cached is not None:
            return cached
        result: list[Answer] = []
        answer = empty_answer()
        fixed_from = 1 if len(task.visits) > 1 else 0
        for index, visit in enumerate(task.visits):
            if task.fixed_answer is not None:
                answer = copy.deepcopy(task.fixed_answer) if index >= fixed_from else empty_answer()
            else:
                stage = STAGE_BY_ID[visit.stage]
                window = WorkWindow(
                    visit.entered + 2.0,
                    visit.entered + 2.0 + max(visit.duration_ms / 1000, 1.0),
                    visit.assignee or IMPORTER,
                    stage.name,
                )
                rng = random.Random(f"ango-answer:{self.seed}:{task.id}:{index}")
                answer = apply_edits(self.clock, answer, visit.edits, rng, window)
            result.append(answer)
        self._snapshots[task.id] = result
        return result

    def _duration(self, visits: list[Visit], index: int, now: float) -> int:
        visit = visits[index]
        if index < len(visits) - 1:
            return visit.duration_ms
        return min(visit.duration_ms, int(max(0.0, now - visit.entered) * 1000))

    def _actor(self, visits: list[Visit], index: int) -> str:
        for visit in reversed(visits[: index + 1]):
            if visit.assignee:
                return visit.assignee
        return IMPORTER

    # ---- task -----------------------------------------------------------------------------------
    def task_payload(self, task: AngoTask, now: float, include_answer: bool) -> dict[str, Any] | None:
        """``data.task`` at sandbox time ``now``; ``None`` if the task does not exist yet."""
        visits = task.visible_visits(now)
        if not visits:
            return None
        index = len(visits) - 1
        current = visits[index]
        duration = self._duration(visits, index, now)
        total = sum(v.duration_ms for v in visits[:-1]) + duration
        payload: dict[str, Any] = {
            "_id": task.id,
            "project": ANGO_PROJECT,
            "organization": ANGO_ORGANIZATION,
            "asset": task.asset,
            "externalId": task.external_id,
            "stage": current.stage,
            "status": current.status,
            "reviewStatus": current.review_status,
            "type": task.type,
            "assignee": current.assignee,
            "priority": task.priority,
            "batches": list(task.batches),
            "duration": duration,
            "totalDuration": total,
            "isDraft": task.is_draft and STAGE_BY_ID[current.stage].type == "Label",
            "isSkipped": current.skipped,
            "isBenchmark": task.is_benchmark,
            "openIssuesCount": task.open_issues,
            "brushDataUrl": None,
            "medicalBrushDataUrl": None,
            "createdAt": self.iso(task.created),
            "createdBy": IMPORTER,
            "updatedAt": self.iso(current.entered + duration / 1000),
            "updatedBy": self._actor(visits, index),
        }
        payload.update(task.overrides)
        if include_answer:
            payload["answer"] = copy.deepcopy(self.snapshots(task)[index])
        return payload

    # ---- history --------------------------------------------------------------------------------
    def history_entry(self, task: AngoTask, index: int, now: float) -> dict[str, Any]:
        """One REST history entry: created when the task entered the stage, updated when it left."""
        if index == 0 and task.verbatim_history is not None:
            return copy.deepcopy(task.verbatim_history)
        visits = task.visible_visits(now)
        visit = visits[index]
        ended = index < len(visits) - 1
        duration = self._duration(visits, index, now)
        left = visits[index + 1].entered if ended else visit.entered + duration / 1000
        entry: dict[str, Any] = {
            "answer": copy.deepcopy(self.snapshots(task)[index]),
            "deleted": False,
            "rework": visit.rework,
            "batches": list(task.batches),
            "isSkipped": visit.skipped,
            "_id": task.history_id(index),
            "labelTaskId": task.id,
            "createdAt": self.iso(visit.entered),
            "project": ANGO_PROJECT,
            "organization": ANGO_ORGANIZATION,
            "asset": task.asset,
            "stage": visit.stage,
            "duration": duration,
            "updatedAt": self.iso(left),
            "updatedBy": self._actor(visits, index),
            "assignee": visit.assignee,
            "brushDataUrl": None,
            "__v": 0,
        }
        if STAGE_BY_ID[visit.stage].type == "Review":
            # Inferred: the REST docs sample shows no Review entry; the export's stageHistory
            # carries reviewStatus on Review stages, so the sandbox mirrors it here.
            entry["reviewStatus"] = visit.entry_review if ended and visit.entry_review else "Todo"
        return entry

    def history(self, task: AngoTask, now: float) -> list[dict[str, Any]] | dict[str, Any]:
        """``data.taskHistory`` of ``/task/{id}/history``: a list, except for the docs sample task
        whose single entry is returned as one object, exactly like the published sample."""
        entries = [self.history_entry(task, i, now) for i in range(len(task.visible_visits(now)))]
        if task.verbatim_history is not None and len(entries) == 1:
            return entries[0]
        return entries

    def find_history(self, history_id: str, now: float) -> dict[str, Any] | None:
        located = self._history_index.get(history_id)
        if located is None:
            return None
        task = self.tasks[located[0]]
        if located[1] >= len(task.visible_visits(now)):
            return None
        return self.history_entry(task, located[1], now)

    # ---- export ---------------------------------------------------------------------------------
    def export_asset(
        self, task: AngoTask, now: float, *, include_history: bool, include_metadata: bool
    ) -> dict[str, Any]:
        """One asset of the current ("v3") Ango Export Format, as iMerit's docs describe it."""
        visits = task.visible_visits(now)
        index = len(visits) - 1
        if task.verbatim_export is not None:
            export_task = copy.deepcopy(task.verbatim_export)
            if not include_history:
                export_task.pop("stageHistory", None)
        else:
            current = visits[index]
            answer = self.snapshots(task)[index]
            export_task = {
                "taskId": task.id,
                "stage": STAGE_BY_ID[current.stage].name,
                "stageId": current.stage,
                "updatedAt": self.iso(current.entered + self._duration(visits, index, now) / 1000),
                "updatedBy": self._actor(visits, index),
                "totalDuration": sum(v.duration_ms for v in visits[:-1]) + self._duration(visits, index, now),
                "tools": copy.deepcopy(answer["tools"]),
                "classifications": copy.deepcopy(answer["classifications"]),
                "relations": copy.deepcopy(answer["relations"]),
                "brushDataUrl": None,
                "medicalBrushDataUrl": None,
            }
            if include_history:
                export_task["stageHistory"] = [self._stage_snapshot(task, visits, i) for i in range(index)]
        batch_names: list[str | None] = [BATCHES.get(b) for b in task.batches]
        asset: dict[str, Any] = {
            "asset": task.asset_url,
            "assetId": task.asset,
            "externalId": task.external_id,
            "batches": batch_names,
        }
        if include_metadata:
            asset["metadata"] = dict(task.metadata)
        asset["task"] = export_task
        return asset

    def _stage_snapshot(self, task: AngoTask, visits: list[Visit], index: int) -> dict[str, Any]:
        visit = visits[index]
        stage = STAGE_BY_ID[visit.stage]
        answer = strip_metadata(self.snapshots(task)[index])
        snapshot: dict[str, Any] = {"stage": stage.name, "stageId": stage.id, "duration": visit.duration_ms}
        if stage.type == "Review" and visit.entry_review:
            snapshot["reviewStatus"] = visit.entry_review
        snapshot["completedAt"] = self.iso(visits[index + 1].entered)
        if stage.type != "Start" and visit.assignee:
            snapshot["completedBy"] = visit.assignee
        snapshot.update(answer)
        return snapshot
