"""Seeded Send.ai v2 tasks: document-extraction results on invoices and purchase orders.

Send.ai tasks are documents going through machine extraction (``PROCESSING``) and human review
(``REVIEWING``); a reviewer's "complete" sends the task back to ``PROCESSING`` (Send.ai's API docs
for task.complete) before it ends in ``COMPLETED``, which is why the moving task goes round that loop.
"""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from .catalog import (
    SENDAI_CLASSIFY_TASK,
    SENDAI_COMPLETED_TASK,
    SENDAI_DISCARDED_TASK,
    SENDAI_EXPORT_FAILED_TASK,
    SENDAI_FAILED_TASK,
    SENDAI_FILTERED_TASK,
    SENDAI_MOVING_STEPS,
    SENDAI_MOVING_TASK,
    SENDAI_PROCESSING_TASK,
    SENDAI_PROJECT,
    SENDAI_PROJECT_2,
    SENDAI_RESTRICTED_PROJECT,
    SENDAI_RESTRICTED_TASK,
    SENDAI_REVIEWING_TASK,
    SENDAI_TEAM,
)
from .clock import Clock, format_iso_s

__all__ = ["SendaiRecord", "seed_tasks", "PROJECTS"]

#: team -> projects; the sandbox key is added to every project except the restricted one.
PROJECTS: dict[str, dict[str, bool]] = {
    SENDAI_TEAM: {SENDAI_PROJECT: True, SENDAI_PROJECT_2: True, SENDAI_RESTRICTED_PROJECT: False},
}


@dataclass
class SendaiRecord:
    """A task in one project, as ``(sandbox time, full task object)`` versions, oldest first."""

    id: str
    team_id: str
    project_id: str
    versions: list[tuple[float, dict[str, Any]]]


# Verbatim from Send.ai's API docs (docs.send.ai/api/v2/tasks/task.get), the object under "payload".
_DOC_TASK: dict[str, Any] = {
    "id": "task_abcdef123456",
    "name": "Document Analysis Task",
    "created_at": "2024-01-15T10:30:00Z",
    "meta": [{"name": "category", "value": "invoice"}],
    "status": "REVIEWING",
    "step_type": "EXTRACT",
    "upload_id": "upl_123456789",
    "project_id": "proj_123456",
    "approved": False,
    "exported_at": None,
    "export_failed_at": None,
    "last_opened_at": "2024-01-15T11:45:00Z",
    "pages": [
        {
            "id": "page_1",
            "width": 2480,
            "height": 3508,
            "annotations": [
                {
                    "id": "ann_1",
                    "entity_id": "total_amount",
                    "confidence": 0.98,
                    "content": "$1,234.56",
                    "top": 120.5,
                    "left_of_line": 340.0,
                }
            ],
            "checkboxes": [
                {
                    "id": "cb_1",
                    "confidence": 0.92,
                    "checked": True,
                    "coordinates": [[100, 100], [120, 100], [120, 120], [100, 120]],
                }
            ],
            "segments": [
                {"id": "seg_1", "confidence": 0.87, "coordinates": [[50, 50], [400, 50], [400, 200], [50, 200]]}
            ],
            "signatures": [
                {"id": "sig_1", "confidence": 0.83, "coordinates": [[800, 600], [1100, 600], [1100, 750], [800, 750]]}
            ],
        }
    ],
}

_SUPPLIERS = (
    ("Van der Berg Logistiek B.V.", "Havenstraat 112, 3024 BL Rotterdam", "NL859123456B01", "NL91 ABNA 0417 1643 00"),
    (
        "Kessler Industriebedarf GmbH",
        "Gutenbergring 7, 22848 Norderstedt",
        "DE274918365",
        "DE89 3704 0044 0532 0130 00",
    ),
    ("Atelier Moreau SARL", "14 rue des Tanneurs, 69002 Lyon", "FR40303265045", "FR76 3000 6000 0112 3456 7890 189"),
)
_ITEMS = (
    ("Pallet transport Rotterdam - Venlo", 18, 142.50),
    ("Warehouse storage per pallet / week", 64, 6.75),
    ("Stretch film 23my, 500mm", 40, 12.90),
    ("Euro pallet 1200x800, used", 120, 9.40),
    ("Customs clearance T1 document", 3, 65.00),
    ("Express surcharge", 1, 95.00),
    ("Forklift hire incl. operator (hour)", 7, 58.00),
)


def _box(rng: random.Random, width: int, height: int, w: int, h: int) -> list[list[int]]:
    x = rng.randint(60, max(61, width - w - 60))
    y = rng.randint(60, max(61, height - h - 60))
    return [[x, y], [x + w, y], [x + w, y + h], [x, y + h]]


def _money(value: float) -> str:
    return f"EUR {value:,.2f}"


def extraction_pages(rng: random.Random, n_pages: int) -> list[dict[str, Any]]:
    """A realistic invoice extraction: header fields on page 1, line items across pages,
    totals and a signature on the last page, all with high confidence."""
    supplier, address, vat_no, iban = rng.choice(_SUPPLIERS)
    lines = [rng.choice(_ITEMS) for _ in range(rng.randint(3 * n_pages, 4 * n_pages))]
    subtotal = sum(q * p for _, q, p in lines)
    fields_first = [
        ("invoice_number", f"INV-{rng.randint(2024, 2025)}-{rng.randint(100, 99999):05d}"),
        ("invoice_date", f"2025-02-{rng.randint(1, 28):02d}"),
        ("due_date", f"2025-03-{rng.randint(1, 28):02d}"),
        ("supplier_name", supplier),
        ("supplier_address", address),
        ("supplier_vat_number", vat_no),
        ("supplier_iban", iban),
        ("customer_name", "Northwind Retail Europe B.V."),
        ("po_number", f"PO-{rng.randint(400000, 499999)}"),
        ("currency", "EUR"),
    ]
    fields_last = [
        ("subtotal_amount", _money(subtotal)),
        ("vat_rate", "21%"),
        ("vat_amount", _money(subtotal * 0.21)),
        ("total_amount", _money(subtotal * 1.21)),
        ("payment_terms", "30 days net"),
    ]
    per_page: list[list[tuple[str, str]]] = [[] for _ in range(n_pages)]
    per_page[0].extend(fields_first)
    for index, (desc, qty, price) in enumerate(lines):
        page = per_page[min(n_pages - 1, index * n_pages // len(lines))]
        page.append(("line_item_description", desc))
        if rng.random() < 0.6:
            page.append(("line_item_quantity", str(qty)))
        page.append(("line_item_amount", _money(qty * price)))
    per_page[-1].extend(fields_last)

    pages: list[dict[str, Any]] = []
    counter = {"ann": 0, "cb": 0, "seg": 0, "sig": 0}

    def next_id(kind: str) -> str:
        counter[kind] += 1
        return f"{kind}_{counter[kind]}"

    for number, fields in enumerate(per_page, start=1):
        width, height = 2480, 3508
        annotations = []
        top = 180.0
        for entity, content in fields:
            confidence = rng.uniform(0.81, 0.995)
            top += rng.uniform(38.0, 140.0)
            annotations.append(
                {
                    "id": next_id("ann"),
                    "entity_id": entity,
                    "confidence": round(confidence, 2),
                    "content": content,
                    "top": round(min(top, height - 80.0), 1),
                    "left_of_line": round(rng.choice([140.0, 162.5, 1210.0, 1680.0]) + rng.uniform(0, 40), 1)
                    if rng.random() < 0.9
                    else None,
                }
            )
        checkboxes = []
        if number == 1:
            for _ in range(rng.randint(1, 3)):
                checkboxes.append(
                    {
                        "id": next_id("cb"),
                        "confidence": round(rng.uniform(0.55, 0.99), 2),
                        "checked": rng.random() < 0.5,
                        "coordinates": _box(rng, width, height, 36, 36),
                    }
                )
        segments = [
            {
                "id": next_id("seg"),
                "confidence": round(rng.uniform(0.8, 0.99), 2),
                "coordinates": [[120, 240 + 40 * number], [2360, 240 + 40 * number], [2360, 1480], [120, 1480]],
            },
        ]
        if number == n_pages:
            segments.append(
                {
                    "id": next_id("seg"),
                    "confidence": round(rng.uniform(0.7, 0.97), 2),
                    "coordinates": [[1400, 2600], [2360, 2600], [2360, 3100], [1400, 3100]],
                }
            )
        signatures = []
        if number == n_pages:
            signatures.append(
                {
                    "id": next_id("sig"),
                    "confidence": round(rng.uniform(0.5, 0.95), 2),
                    "coordinates": _box(rng, width, height, 420, 160),
                }
            )
        pages.append(
            {
                "id": f"page_{number}",
                "width": width,
                "height": height,
                "annotations": annotations,
                "checkboxes": checkboxes,
                "segments": segments,
                "signatures": signatures,
            }
        )
    return pages


def seed_tasks(clock: Clock, seed: int) -> list[SendaiRecord]:
    """Catalog scenarios; page contents vary with ``seed``, ids and statuses do not."""

    def ts(t: float) -> str:
        return format_iso_s(clock.epoch + timedelta(seconds=t))

    hour, day = 3_600.0, 86_400.0
    always = -day * 3650  # visible from the start

    def task(
        task_id: str,
        project: str,
        name: str,
        status: str,
        created: float,
        *,
        pages: list[dict[str, Any]],
        step: str = "EXTRACT",
        approved: bool = False,
        exported: float | None = None,
        export_failed: float | None = None,
        opened: float | None = None,
        meta: list[dict[str, str]] | None = None,
        upload: str,
    ) -> dict[str, Any]:
        return {
            "id": task_id,
            "name": name,
            "created_at": ts(created),
            "meta": meta
            if meta is not None
            else [{"name": "category", "value": "invoice"}, {"name": "source", "value": "email-inbox"}],
            "status": status,
            "step_type": step,
            "upload_id": upload,
            "project_id": project,
            "approved": approved,
            "exported_at": ts(exported) if exported is not None else None,
            "export_failed_at": ts(export_failed) if export_failed is not None else None,
            "last_opened_at": ts(opened) if opened is not None else None,
            "pages": pages,
        }

    def rng(label: str) -> random.Random:
        return random.Random(f"sendai:{seed}:{label}")

    records: list[SendaiRecord] = []

    def add(t: dict[str, Any], team: str = SENDAI_TEAM) -> None:
        records.append(SendaiRecord(t["id"], team, t["project_id"], [(always, t)]))

    add(copy.deepcopy(_DOC_TASK))
    add(
        task(
            SENDAI_PROCESSING_TASK,
            SENDAI_PROJECT,
            "INV-2025-00417_Kessler.pdf",
            "PROCESSING",
            -8.0,
            pages=[],
            upload="upl_200417553",
        )
    )
    add(
        task(
            SENDAI_REVIEWING_TASK,
            SENDAI_PROJECT,
            "INV-2025-00318_VanDerBerg.pdf",
            "REVIEWING",
            -2 * hour,
            pages=_exactly(rng("reviewing"), 3, 27, 5),
            opened=-20 * 60,
            upload="upl_200318004",
            meta=[
                {"name": "category", "value": "invoice"},
                {"name": "source", "value": "email-inbox"},
                {"name": "supplier_id", "value": "SUP-00912"},
            ],
        )
    )
    add(
        task(
            SENDAI_COMPLETED_TASK,
            SENDAI_PROJECT,
            "INV-2025-00291_Moreau.pdf",
            "COMPLETED",
            -day,
            pages=_exactly(rng("completed"), 2, 19, 2),
            approved=True,
            opened=-20 * hour,
            exported=-19.5 * hour,
            upload="upl_200291871",
        )
    )
    add(
        task(
            SENDAI_EXPORT_FAILED_TASK,
            SENDAI_PROJECT,
            "INV-2025-00302_Kessler.pdf",
            "COMPLETED",
            -day + hour,
            pages=_exactly(rng("exportfail"), 2, 16, 1),
            opened=-18 * hour,
            export_failed=-17.9 * hour,
            upload="upl_200302118",
        )
    )
    add(
        task(
            SENDAI_FAILED_TASK, SENDAI_PROJECT, "scan_0042.tiff", "FAILED", -3 * hour, pages=[], upload="upl_200377402"
        )
    )
    add(
        task(
            SENDAI_DISCARDED_TASK,
            SENDAI_PROJECT,
            "INV-2025-00288_duplicate.pdf",
            "DISCARDED",
            -2 * day,
            pages=_exactly(rng("discarded"), 1, 12, 1),
            opened=-47 * hour,
            upload="upl_200288090",
        )
    )

    # PROCESSING -> REVIEWING -> (human completes) PROCESSING -> COMPLETED -> exported.
    to_review, back_to_processing, completed = SENDAI_MOVING_STEPS
    moving_pages = _exactly(rng("moving"), 2, 21, 3)
    base = task(
        SENDAI_MOVING_TASK,
        SENDAI_PROJECT,
        "INV-2025-00433_VanDerBerg.pdf",
        "PROCESSING",
        -4.0,
        pages=[],
        upload="upl_200433615",
    )
    reviewing = {**copy.deepcopy(base), "status": "REVIEWING", "pages": moving_pages}
    opened = {**copy.deepcopy(reviewing), "last_opened_at": ts(to_review + 25.0)}
    reprocessing = {**copy.deepcopy(opened), "status": "PROCESSING"}
    done = {**copy.deepcopy(reprocessing), "status": "COMPLETED"}
    exported = {**copy.deepcopy(done), "exported_at": ts(completed + 5.0)}
    records.append(
        SendaiRecord(
            SENDAI_MOVING_TASK,
            SENDAI_TEAM,
            SENDAI_PROJECT,
            [
                (always, base),
                (to_review, reviewing),
                (to_review + 25.0, opened),
                (back_to_processing, reprocessing),
                (completed, done),
                (completed + 5.0, exported),
            ],
        )
    )

    # Second project: a classification front door that filters out non-invoices.
    blank_page: dict[str, Any] = {
        "id": "page_1",
        "width": None,
        "height": None,
        "annotations": [],
        "checkboxes": [],
        "segments": [],
        "signatures": [],
    }
    add(
        task(
            SENDAI_FILTERED_TASK,
            SENDAI_PROJECT_2,
            "newsletter_march.pdf",
            "FILTERED",
            -5 * hour,
            step="CLASSIFY",
            pages=[blank_page],
            meta=[{"name": "document_type", "value": "other"}],
            upload="upl_200390227",
        )
    )
    add(
        task(
            SENDAI_CLASSIFY_TASK,
            SENDAI_PROJECT_2,
            "PO-448120.pdf",
            "COMPLETED",
            -6 * hour,
            step="CLASSIFY",
            pages=[{**blank_page, "width": 1654, "height": 2339}],
            approved=True,
            exported=-5.9 * hour,
            meta=[{"name": "document_type", "value": "purchase_order"}],
            upload="upl_200388760",
        )
    )
    add(
        task(
            SENDAI_RESTRICTED_TASK,
            SENDAI_RESTRICTED_PROJECT,
            "payroll_2025_02.pdf",
            "REVIEWING",
            -day,
            pages=_exactly(rng("restricted"), 1, 10, 0),
            upload="upl_200150003",
        )
    )
    return records


def _exactly(rng: random.Random, n_pages: int, n_annotations: int, low: int) -> list[dict[str, Any]]:
    """Extraction pages trimmed (or padded with line items) to exactly ``n_annotations``, of
    which exactly ``low`` have a confidence below 0.6."""
    pages = extraction_pages(rng, n_pages)
    flat = [(p, a) for p in pages for a in p["annotations"]]
    while len(flat) > n_annotations:
        # drop optional quantities/line amounts from the middle pages first
        page, ann = next(((p, a) for p, a in reversed(flat) if a["entity_id"].startswith("line_item")), flat[-1])
        page["annotations"].remove(ann)
        flat.remove((page, ann))
    if len(flat) < n_annotations:
        page = pages[-1]
        while len(flat) < n_annotations:
            ann = dict(page["annotations"][-1])
            ann["id"] = f"ann_{100 + len(flat)}"
            ann["entity_id"] = "line_item_description"
            ann["content"] = rng.choice(_ITEMS)[0]
            ann["confidence"] = round(rng.uniform(0.82, 0.99), 2)
            page["annotations"].append(ann)
            flat.append((page, ann))
    for _, ann in rng.sample(flat, k=min(low, len(flat))):
        ann["confidence"] = round(rng.uniform(0.31, 0.59), 2)
    return pages
