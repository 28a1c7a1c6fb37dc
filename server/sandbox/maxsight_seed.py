"""Seeded Moody's Maxsight (formerly PassFort) v5 tasks.

Maxsight tasks are human KYC/KYB workflow steps, so they sit in ``INCOMPLETE`` for hours or days.
Only ``INCOMPLETE`` is documented for v5; ``COMPLETED_PASS``/``COMPLETED_FAIL`` come from v4 and
``EXPIRED`` stands in for "some status the client has never seen", since v5's full status list is not public.
"""

from __future__ import annotations

import copy
import random
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from .catalog import (
    MAXSIGHT_CLOSES_AT,
    MAXSIGHT_CLOSES_LATER_TASK,
    MAXSIGHT_COMMENTED_TASK,
    MAXSIGHT_DOC_TASK,
    MAXSIGHT_EXPIRED_TASK,
    MAXSIGHT_FAIL_TASK,
    MAXSIGHT_PASS_TASK,
    MAXSIGHT_UNASSIGNED_TASK,
)
from .clock import Clock, format_iso_s

__all__ = ["MaxsightRecord", "seed_tasks"]


@dataclass
class MaxsightRecord:
    """A task as a list of ``(sandbox time, full task object)`` versions, oldest first."""

    id: str
    versions: list[tuple[float, dict[str, Any]]]


# Verbatim from Maxsight's API docs ("Retrieve a task from its ID", docs.maxsight.com).
_DOC_TASK: dict[str, Any] = {
    "assessment_id": "9f60a03f-b3de-4b19-9361-0380d9aa1e9e",
    "assessment_template_id": "af8498c1-32bd-4453-b407-761eb6440e9b",
    "assignment": {
        "assigned_by_id": "22930149-1fab-4145-94b5-af2031b8de65",
        "assigned_to_id": "73c0fde6-eb34-47d5-8ccc-1b1d0aa325b6",
        "assigned_to_type": "USER",
        "assignment_comment": None,
    },
    "c_name": "Review documentation",
    "created_at": "2019-08-24T14:15:22Z",
    "custom_metadata": None,
    "data_version": 0,
    "entity_id": "8161163a-f227-466f-bc01-090a01e80165",
    "id": "497f6eca-6276-4993-bfeb-53cbbbba6f08",
    "institution_id": "c75f2c73-5ae4-4f1c-99c0-fc726cd41798",
    "locked_at": "2019-08-24T14:15:22Z",
    "microfrontend_id": "f1ea2a19-6836-4b1f-824d-8a04dfae4cc7",
    "name": None,
    "status": "INCOMPLETE",
    "step_name": "Review",
    "updated_at": "2019-08-24T14:15:22Z",
    "workflow_instance_id": "46ff49d0-5f69-46b0-9de7-5703639a02ce",
}

_INSTITUTION = "c75f2c73-5ae4-4f1c-99c0-fc726cd41798"
_ANALYSTS = (
    "73c0fde6-eb34-47d5-8ccc-1b1d0aa325b6",
    "1d9e4b2a-6c3f-4e8d-a7b1-5f2c9e0d3a64",
    "a4c7e1f3-8b2d-4f6a-9c0e-3d5b7a9f1e28",
    "6e2a9d4c-1f7b-4c3e-8a5d-0b9f2e6c4a71",
)
_MANAGERS = ("22930149-1fab-4145-94b5-af2031b8de65", "9b1d3f5a-7c2e-4a8b-b6d0-4e2f8a1c3b57")
_STEPS = (
    ("Review documentation", "Review"),
    ("Review screening matches", "Screening"),
    ("Verify identity documents", "Onboarding"),
    ("Approve ownership structure", "Approval"),
    ("Review adverse media hits", "Screening"),
    ("Confirm registry data", "Onboarding"),
    ("Enhanced due diligence sign-off", "EDD"),
    ("Four-eyes approval", "Approval"),
)


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _task(
    rng: random.Random,
    clock: Clock,
    task_id: str,
    *,
    created: float,
    updated: float,
    status: str,
    c_name: str,
    step_name: str,
    assignee: str | None,
    locked: float | None = None,
    comment: str | None = None,
    metadata: dict[str, Any] | None = None,
    name: str | None = None,
    data_version: int = 1,
    assigned_to_type: str = "USER",
) -> dict[str, Any]:
    def ts(t: float) -> str:
        return format_iso_s(clock.epoch + timedelta(seconds=t))

    assignment = None
    if assignee is not None:
        assignment = {
            "assigned_by_id": rng.choice(_MANAGERS),
            "assigned_to_id": assignee,
            "assigned_to_type": assigned_to_type,
            "assignment_comment": comment,
        }
    return {
        "assessment_id": _uuid(rng),
        "assessment_template_id": "af8498c1-32bd-4453-b407-761eb6440e9b",
        "assignment": assignment,
        "c_name": c_name,
        "created_at": ts(created),
        "custom_metadata": metadata,
        "data_version": data_version,
        "entity_id": _uuid(rng),
        "id": task_id,
        "institution_id": _INSTITUTION,
        "locked_at": ts(locked) if locked is not None else None,
        "microfrontend_id": "f1ea2a19-6836-4b1f-824d-8a04dfae4cc7",
        "name": name,
        "status": status,
        "step_name": step_name,
        "updated_at": ts(updated),
        "workflow_instance_id": _uuid(rng),
    }


def seed_tasks(clock: Clock, seed: int) -> list[MaxsightRecord]:
    """Catalog scenarios with fixed ids, plus ~55 filler tasks so search pages realistically."""
    hour, day = 3_600.0, 86_400.0
    fixed = random.Random("maxsight:fixed")  # catalog payloads do not depend on the seed
    records = [MaxsightRecord(MAXSIGHT_DOC_TASK, [(-day * 3650, copy.deepcopy(_DOC_TASK))])]

    def add(task: dict[str, Any]) -> None:
        records.append(MaxsightRecord(task["id"], [(-day * 3650, task)]))

    add(
        _task(
            fixed,
            clock,
            MAXSIGHT_UNASSIGNED_TASK,
            created=-5 * hour,
            updated=-5 * hour,
            status="INCOMPLETE",
            c_name="Review screening matches",
            step_name="Screening",
            assignee=None,
            data_version=0,
            metadata={
                "onboarding_channel": "partner-api",
                "risk_rating": "MEDIUM",
                "case_reference": "KYB-2025-004217",
            },
        )
    )
    add(
        _task(
            fixed,
            clock,
            MAXSIGHT_COMMENTED_TASK,
            created=-2 * day - 3 * hour,
            updated=-40 * 60,
            locked=-40 * 60,
            status="INCOMPLETE",
            c_name="Enhanced due diligence sign-off",
            step_name="EDD",
            assignee=_ANALYSTS[1],
            data_version=4,
            name="EDD - Mueller Logistik GmbH",
            comment=(
                "Director passport expired in January - request a certified copy before "
                "approving. UBO chart from the registry does not match the declared one."
            ),
            metadata={
                "jira_ticket": "COMP-3381",
                "sla_hours": 48,
                "escalated": True,
                "tags": ["EDD", "high-risk-jurisdiction"],
                "relationship_manager": "j.okafor",
            },
        )
    )
    add(
        _task(
            fixed,
            clock,
            MAXSIGHT_PASS_TASK,
            created=-3 * day,
            updated=-1 * day - 2 * hour,
            status="COMPLETED_PASS",
            c_name="Verify identity documents",
            step_name="Onboarding",
            assignee=_ANALYSTS[2],
            data_version=6,
        )
    )
    add(
        _task(
            fixed,
            clock,
            MAXSIGHT_FAIL_TASK,
            created=-4 * day,
            updated=-2 * day,
            status="COMPLETED_FAIL",
            c_name="Approve ownership structure",
            step_name="Approval",
            assignee=_ANALYSTS[0],
            data_version=5,
            comment="Ultimate beneficial owner could not be verified",
            metadata={"decline_reason": "UBO_NOT_VERIFIED", "case_reference": "KYB-2025-003954"},
        )
    )
    add(
        _task(
            fixed,
            clock,
            MAXSIGHT_EXPIRED_TASK,
            created=-40 * day,
            updated=-10 * day,
            status="EXPIRED",
            c_name="Review adverse media hits",
            step_name="Screening",
            assignee=_ANALYSTS[3],
            data_version=2,
        )
    )
    opening = _task(
        fixed,
        clock,
        MAXSIGHT_CLOSES_LATER_TASK,
        created=-6 * hour,
        updated=-25 * 60,
        locked=-25 * 60,
        status="INCOMPLETE",
        c_name="Four-eyes approval",
        step_name="Approval",
        assignee=_ANALYSTS[2],
        data_version=2,
    )
    closed = copy.deepcopy(opening)
    closed.update(
        {
            "status": "COMPLETED_PASS",
            "updated_at": format_iso_s(clock.epoch + timedelta(seconds=MAXSIGHT_CLOSES_AT)),
            "locked_at": None,
            "data_version": 3,
        }
    )
    records.append(MaxsightRecord(MAXSIGHT_CLOSES_LATER_TASK, [(-day * 3650, opening), (MAXSIGHT_CLOSES_AT, closed)]))

    rng = random.Random(f"maxsight:{seed}")
    for _ in range(55):
        c_name, step = rng.choice(_STEPS)
        created = -rng.uniform(2 * hour, 30 * day)
        updated = created + rng.uniform(0, -created)
        roll = rng.random()
        status = "INCOMPLETE" if roll < 0.55 else "COMPLETED_PASS" if roll < 0.9 else "COMPLETED_FAIL"
        assigned = status != "INCOMPLETE" or rng.random() < 0.7
        add(
            _task(
                rng,
                clock,
                _uuid(rng),
                created=created,
                updated=updated,
                status=status,
                c_name=c_name,
                step_name=step,
                assignee=rng.choice(_ANALYSTS) if assigned else None,
                assigned_to_type="TEAM" if assigned and rng.random() < 0.08 else "USER",
                locked=updated if status == "INCOMPLETE" and assigned and rng.random() < 0.4 else None,
                data_version=rng.randint(0, 7),
            )
        )
    return records
