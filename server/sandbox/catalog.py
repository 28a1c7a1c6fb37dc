"""The public list of seeded scenarios, and the ids the seeded data is built around.

The ids here are fixed strings, independent of the sandbox ``seed``, so the demo, the README and
the tests can name them. The seed only varies the filler around them (extra tasks, geometry,
confidences). Each provider's data module imports its ids from here, so there is one source of
truth for "which task shows which behaviour".
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["CATALOG", "CatalogEntry", "catalog_json"]


@dataclass(frozen=True)
class CatalogEntry:
    """One interesting seeded task: where it lives and what it demonstrates (one short line)."""

    provider: str
    task_id: str
    scenario: str
    team_id: str | None = None
    project_id: str | None = None
    history_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


# --- Ango Hub -----------------------------------------------------------------------------------
ANGO_PROJECT = "645240ed462db80015ce881f"  # project of the SDK docs' get_task_history sample
ANGO_ORGANIZATION = "64461ed038dcad0015cc2049"
ANGO_DOC_HISTORY_TASK = "6453677fc47af30015be5a58"
ANGO_DOC_HISTORY_ENTRY = "6464b15e4ea9720015801e07"
ANGO_DOC_EXPORT_TASK = "64e5e5b985eb730015b4ebd9"
ANGO_REWORKED_TASK = "65f2a9c41e7b3d0012c4a801"
ANGO_MOVING_TASK = "65f2a9c41e7b3d0012c4a802"
ANGO_START_TASK = "65f2a9c41e7b3d0012c4a803"
ANGO_PLUGIN_TASK = "65f2a9c41e7b3d0012c4a804"
ANGO_LABEL_TODO_TASK = "65f2a9c41e7b3d0012c4a805"
ANGO_LABEL_DRAFT_TASK = "65f2a9c41e7b3d0012c4a806"
ANGO_LABEL_REJECTED_TASK = "65f2a9c41e7b3d0012c4a807"
ANGO_LOGIC_TASK = "65f2a9c41e7b3d0012c4a808"
ANGO_CONSENSUS_SUBMIT_TASK = "65f2a9c41e7b3d0012c4a809"
ANGO_CONSENSUS_REQUEUE_TASK = "65f2a9c41e7b3d0012c4a80a"
ANGO_REVIEW_TODO_TASK = "65f2a9c41e7b3d0012c4a80b"
ANGO_REVIEW_FIXED_TASK = "65f2a9c41e7b3d0012c4a80c"
ANGO_HOLD_TASK = "65f2a9c41e7b3d0012c4a80d"
ANGO_WEBHOOK_TASK = "65f2a9c41e7b3d0012c4a80e"
ANGO_BENCHMARK_TASK = "65f2a9c41e7b3d0012c4a80f"
ANGO_ARCHIVED_TASK = "65f2a9c41e7b3d0012c4a810"
ANGO_SKIPPED_TASK = "65f2a9c41e7b3d0012c4a811"
ANGO_PING_PONG_TASK = "65f2a9c41e7b3d0012c4a812"

# --- Deepomatic v0.7 ----------------------------------------------------------------------------
DEEPOMATIC_DOC_TASK = "269999729"
DEEPOMATIC_DOC_TASK_2 = "269999730"
DEEPOMATIC_CLASSIFICATION_TASK = "270114583"
DEEPOMATIC_DETECTION_TASK = "270114590"
DEEPOMATIC_ERROR_TASK = "270114602"
DEEPOMATIC_PENDING_FOREVER_TASK = "270114611"
DEEPOMATIC_SUCCEEDS_LATER_TASK = "270114620"
DEEPOMATIC_FAILS_LATER_TASK = "270114627"
DEEPOMATIC_SUCCEEDS_AT = 20.0
DEEPOMATIC_FAILS_AT = 40.0

# --- Send.ai v2 ---------------------------------------------------------------------------------
SENDAI_TEAM = "team_123456"
SENDAI_PROJECT = "proj_123456"
SENDAI_PROJECT_2 = "proj_654321"
# Exists, but the sandbox key is not added to it: every read there is a 403. Deliberately left
# out of CATALOG, which lists only tasks a client can read.
SENDAI_RESTRICTED_PROJECT = "proj_990001"
SENDAI_DOC_TASK = "task_abcdef123456"
SENDAI_PROCESSING_TASK = "task_p7x2k9m4q1zd"
SENDAI_REVIEWING_TASK = "task_r3v8n1c6w0ty"
SENDAI_COMPLETED_TASK = "task_c5h2j8l4s9ub"
SENDAI_EXPORT_FAILED_TASK = "task_e1f6g3d7k2xn"
SENDAI_FAILED_TASK = "task_f9a4b2m7p5qe"
SENDAI_DISCARDED_TASK = "task_d8s3w6y1r4ho"
SENDAI_MOVING_TASK = "task_m2t5v9x3b7lk"
SENDAI_FILTERED_TASK = "task_g4k8n2q6t1ya"
SENDAI_CLASSIFY_TASK = "task_h7l3p9s5w2zc"
SENDAI_RESTRICTED_TASK = "task_q1w2e3r4t5y6"
SENDAI_MOVING_STEPS = (10.0, 60.0, 75.0)  # -> REVIEWING, -> PROCESSING, -> COMPLETED

# --- Moody's Maxsight v5 ------------------------------------------------------------------------
MAXSIGHT_DOC_TASK = "497f6eca-6276-4993-bfeb-53cbbbba6f08"
MAXSIGHT_UNASSIGNED_TASK = "0b6a8c4e-2f1d-4e7a-9c35-7d2e81f4a6b0"
MAXSIGHT_COMMENTED_TASK = "5d3f9a21-8c47-4b6e-a0d2-3e9b7c1f5a84"
MAXSIGHT_PASS_TASK = "c2e8a4f6-1b3d-4f5a-8e7c-9d0b2a4c6e81"
MAXSIGHT_FAIL_TASK = "e7a1c3b5-9d2f-4a6e-b8c0-1f3d5e7a9b24"
MAXSIGHT_EXPIRED_TASK = "3a9c7e5b-4d1f-4b2a-9e8c-6f0d2b4a8c17"
MAXSIGHT_CLOSES_LATER_TASK = "8f2b6d4a-7e9c-4a1b-b3d5-0c8e6a2f4d93"
MAXSIGHT_CLOSES_AT = 120.0

CATALOG: list[CatalogEntry] = [
    # Ango Hub
    CatalogEntry(
        "ango",
        ANGO_DOC_HISTORY_TASK,
        "Docs sample: history endpoint returns ONE object (not a list) for this task",
        project_id=ANGO_PROJECT,
        history_id=ANGO_DOC_HISTORY_ENTRY,
    ),
    CatalogEntry(
        "ango",
        ANGO_DOC_EXPORT_TASK,
        "Docs export sample: Complete after Start -> Label -> Review (Accepted)",
        project_id=ANGO_PROJECT,
    ),
    CatalogEntry(
        "ango",
        ANGO_REWORKED_TASK,
        "Rejected in Review, reworked in Label (objects added/deleted/moved), then Accepted",
        project_id=ANGO_PROJECT,
    ),
    CatalogEntry(
        "ango",
        ANGO_PING_PONG_TASK,
        "Long history: 10 Label-Review rejection loops (24 entries), then Accepted",
        project_id=ANGO_PROJECT,
    ),
    CatalogEntry(
        "ango",
        ANGO_MOVING_TASK,
        "Moves with time: Label -> Review at t=30s -> Complete at t=90s; history grows",
        project_id=ANGO_PROJECT,
    ),
    CatalogEntry("ango", ANGO_START_TASK, "Just imported, still in the Start stage (READY)", project_id=ANGO_PROJECT),
    CatalogEntry("ango", ANGO_PLUGIN_TASK, "Waiting in a Plugin stage (model pre-labelling)", project_id=ANGO_PROJECT),
    CatalogEntry("ango", ANGO_LABEL_TODO_TASK, "In Label, unassigned, status TODO", project_id=ANGO_PROJECT),
    CatalogEntry("ango", ANGO_LABEL_DRAFT_TASK, "In Label, assigned and saved as draft", project_id=ANGO_PROJECT),
    CatalogEntry(
        "ango",
        ANGO_LABEL_REJECTED_TASK,
        "Back in Label after a Review rejection (reviewStatus Rejected)",
        project_id=ANGO_PROJECT,
    ),
    CatalogEntry("ango", ANGO_LOGIC_TASK, "Passing through a Logic (routing) stage", project_id=ANGO_PROJECT),
    CatalogEntry(
        "ango",
        ANGO_CONSENSUS_SUBMIT_TASK,
        "In Consensus, waiting for the other annotators (PCT_SUBMIT_WAITING)",
        project_id=ANGO_PROJECT,
    ),
    CatalogEntry(
        "ango",
        ANGO_CONSENSUS_REQUEUE_TASK,
        "In Consensus, waiting to be requeued (PCT_REQUEUE_WAITING)",
        project_id=ANGO_PROJECT,
    ),
    CatalogEntry(
        "ango", ANGO_REVIEW_TODO_TASK, "In Review, not reviewed yet (reviewStatus Todo)", project_id=ANGO_PROJECT
    ),
    CatalogEntry(
        "ango",
        ANGO_REVIEW_FIXED_TASK,
        "Back in Review after a rejection and rework (reviewStatus Fixed)",
        project_id=ANGO_PROJECT,
    ),
    CatalogEntry("ango", ANGO_HOLD_TASK, "Parked in a Hold stage with 2 open issues", project_id=ANGO_PROJECT),
    CatalogEntry(
        "ango", ANGO_WEBHOOK_TASK, "In a Webhook stage (notifying an external system)", project_id=ANGO_PROJECT
    ),
    CatalogEntry("ango", ANGO_BENCHMARK_TASK, "Benchmark task (type benchmark), Complete", project_id=ANGO_PROJECT),
    CatalogEntry("ango", ANGO_ARCHIVED_TASK, "Archived after review", project_id=ANGO_PROJECT),
    CatalogEntry("ango", ANGO_SKIPPED_TASK, "Skipped by the labeler, still in Label", project_id=ANGO_PROJECT),
    # Deepomatic
    CatalogEntry("deepomatic", DEEPOMATIC_DOC_TASK, "Docs sample: success, one label (golden retriever)"),
    CatalogEntry("deepomatic", DEEPOMATIC_DOC_TASK_2, "Docs list sample: second success task"),
    CatalogEntry(
        "deepomatic",
        DEEPOMATIC_CLASSIFICATION_TASK,
        "Success: classification with several predicted and discarded labels",
    ),
    CatalogEntry("deepomatic", DEEPOMATIC_DETECTION_TASK, "Success: object detection with ROIs"),
    CatalogEntry("deepomatic", DEEPOMATIC_ERROR_TASK, "Error: image could not be downloaded"),
    CatalogEntry("deepomatic", DEEPOMATIC_PENDING_FOREVER_TASK, "Pending forever (never finishes)"),
    CatalogEntry("deepomatic", DEEPOMATIC_SUCCEEDS_LATER_TASK, "Pending, becomes success at t=20s"),
    CatalogEntry("deepomatic", DEEPOMATIC_FAILS_LATER_TASK, "Pending, becomes error at t=40s"),
    # Send.ai
    CatalogEntry(
        "sendai",
        SENDAI_DOC_TASK,
        "Docs sample: REVIEWING, waits on a human",
        team_id=SENDAI_TEAM,
        project_id=SENDAI_PROJECT,
    ),
    CatalogEntry(
        "sendai",
        SENDAI_PROCESSING_TASK,
        "PROCESSING: uploaded, extraction running",
        team_id=SENDAI_TEAM,
        project_id=SENDAI_PROJECT,
    ),
    CatalogEntry(
        "sendai",
        SENDAI_REVIEWING_TASK,
        "REVIEWING: 3-page invoice, 27 fields, several below 0.6 confidence",
        team_id=SENDAI_TEAM,
        project_id=SENDAI_PROJECT,
    ),
    CatalogEntry(
        "sendai",
        SENDAI_COMPLETED_TASK,
        "COMPLETED, approved and exported",
        team_id=SENDAI_TEAM,
        project_id=SENDAI_PROJECT,
    ),
    CatalogEntry(
        "sendai",
        SENDAI_EXPORT_FAILED_TASK,
        "COMPLETED but the downstream export failed",
        team_id=SENDAI_TEAM,
        project_id=SENDAI_PROJECT,
    ),
    CatalogEntry(
        "sendai",
        SENDAI_FAILED_TASK,
        "FAILED: processing failed (unreadable file)",
        team_id=SENDAI_TEAM,
        project_id=SENDAI_PROJECT,
    ),
    CatalogEntry(
        "sendai", SENDAI_DISCARDED_TASK, "DISCARDED by a reviewer", team_id=SENDAI_TEAM, project_id=SENDAI_PROJECT
    ),
    CatalogEntry(
        "sendai",
        SENDAI_MOVING_TASK,
        "PROCESSING -> REVIEWING t=10s -> PROCESSING t=60s (completed by human) -> COMPLETED t=75s",
        team_id=SENDAI_TEAM,
        project_id=SENDAI_PROJECT,
    ),
    CatalogEntry(
        "sendai",
        SENDAI_FILTERED_TASK,
        "FILTERED out by a CLASSIFY step (second project)",
        team_id=SENDAI_TEAM,
        project_id=SENDAI_PROJECT_2,
    ),
    CatalogEntry(
        "sendai",
        SENDAI_CLASSIFY_TASK,
        "COMPLETED CLASSIFY task (second project)",
        team_id=SENDAI_TEAM,
        project_id=SENDAI_PROJECT_2,
    ),
    # Maxsight
    CatalogEntry("maxsight", MAXSIGHT_DOC_TASK, "Docs sample: INCOMPLETE, assigned to a user"),
    CatalogEntry("maxsight", MAXSIGHT_UNASSIGNED_TASK, "INCOMPLETE, nobody assigned yet"),
    CatalogEntry(
        "maxsight", MAXSIGHT_COMMENTED_TASK, "INCOMPLETE, locked, with an assignment comment and custom metadata"
    ),
    CatalogEntry("maxsight", MAXSIGHT_PASS_TASK, "COMPLETED_PASS"),
    CatalogEntry("maxsight", MAXSIGHT_FAIL_TASK, "COMPLETED_FAIL (business outcome, not an error)"),
    CatalogEntry("maxsight", MAXSIGHT_EXPIRED_TASK, "Unrecognised status EXPIRED (v5 enum unknown)"),
    CatalogEntry("maxsight", MAXSIGHT_CLOSES_LATER_TASK, "INCOMPLETE, becomes COMPLETED_PASS at t=120s"),
]


def catalog_json() -> list[dict[str, Any]]:
    """The catalog as served by ``GET /_sandbox/catalog``."""
    return [entry.to_json() for entry in CATALOG]
