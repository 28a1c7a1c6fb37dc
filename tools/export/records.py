"""The typed shape of one export record (an asset), for msgspec to decode without building dicts.

Why typed Structs: a summary never needs coordinates, and allocating tens of millions of floats is what
makes `json.load` crawl (24 MiB/s on the reference machine). Geometry and history snapshots are declared
as `msgspec.Raw`, so they are validated as JSON but never materialized; a geometry key's presence alone
tells the tool kind. Both export generations are declared side by side (current `task`, legacy `tasks[]`)
and detected per record. Every scalar is `Any` because exports are loosely typed (`"consensus": ""`,
scores as strings, `review.completedBy: []`); containers are typed, and a record whose containers have an
unexpected type is repaired field by field in `scan` rather than rejected.

`gc=False`: these Structs never form reference cycles, and leaving them out of the cyclic GC's
bookkeeping is measurably faster when millions are created.
"""

from __future__ import annotations

from typing import Any

import msgspec

NO_RAW = msgspec.Raw(b"")
NULL_RAW = msgspec.Raw(b"null")


def raw_field(name: str) -> Any:
    return msgspec.field(default=NO_RAW, name=name)


class Question(msgspec.Struct, gc=False):
    # A classification (question) with its answer; nested questions recurse to any depth.
    title: Any = None
    schemaId: Any = None
    tool: Any = None
    answer: Any = None
    classifications: list[Question] | None = None


# Questions arrive raw (`list[msgspec.Raw]` on tools and tasks): the same answer to the same question
# repeats thousands of times, so the accumulator counts raw questions and decodes each distinct one once.
# msgspec decodes a recursive Struct type several times slower than a non-recursive one (measured: tools
# with nested questions at 297 MiB/s recursive, 741 MiB/s unrolled), so the levels real projects use are
# unrolled, and only a deeper nesting is kept raw and decoded on demand with the recursive `Question`.
class QuestionL4(msgspec.Struct, gc=False):
    title: Any = None
    schemaId: Any = None
    tool: Any = None
    answer: Any = None
    classifications: msgspec.Raw = NO_RAW


class QuestionL3(msgspec.Struct, gc=False):
    title: Any = None
    schemaId: Any = None
    tool: Any = None
    answer: Any = None
    classifications: list[QuestionL4] | None = None


class QuestionL2(msgspec.Struct, gc=False):
    title: Any = None
    schemaId: Any = None
    tool: Any = None
    answer: Any = None
    classifications: list[QuestionL3] | None = None


class QuestionL1(msgspec.Struct, gc=False):
    title: Any = None
    schemaId: Any = None
    tool: Any = None
    answer: Any = None
    classifications: list[QuestionL2] | None = None


AnyQuestion = Question | QuestionL1 | QuestionL2 | QuestionL3 | QuestionL4
DEEP_QUESTIONS = msgspec.json.Decoder(list[Question])
QUESTION = msgspec.json.Decoder(QuestionL1)


class Tool(msgspec.Struct, gc=False):
    # One object entry (one per frame or page for video and multi-page assets).
    title: Any = None
    schemaId: Any = None
    objectId: Any = None
    classifications: list[msgspec.Raw] | None = None
    bounding_box: msgspec.Raw = raw_field("bounding-box")
    rotated_bounding_box: msgspec.Raw = raw_field("rotated-bounding-box")
    polygon: msgspec.Raw = NO_RAW
    polyline: msgspec.Raw = NO_RAW
    point: msgspec.Raw = NO_RAW
    segmentation: msgspec.Raw = NO_RAW
    pdf: msgspec.Raw = NO_RAW
    ner: msgspec.Raw = NO_RAW


class Relation(msgspec.Struct, gc=False):
    title: Any = None
    direction: Any = None
    group: msgspec.Raw = NO_RAW


class HistoryEntry(msgspec.Struct, gc=False):
    # One stage visit, snapshotted as the task left the stage. Its copies of the labels stay raw: they
    # are only ever compared byte for byte (rejected-then-unchanged), never counted.
    stage: Any = None
    stageId: Any = None
    duration: Any = None
    reviewStatus: Any = None
    completedBy: Any = None
    completedAt: Any = None
    tools: msgspec.Raw = NO_RAW
    classifications: msgspec.Raw = NO_RAW


class ConsensusScore(msgspec.Struct, gc=False):
    title: Any = None
    schemaId: Any = None
    score: Any = None


class Task(msgspec.Struct, gc=False):
    # The current ("v3") generation's task.
    taskId: Any = None
    stage: Any = None
    stageId: Any = None
    updatedAt: Any = None
    totalDuration: Any = None
    tools: list[Tool] | None = None
    classifications: list[msgspec.Raw] | None = None
    relations: list[Relation] | None = None
    brushDataUrl: Any = None
    medicalBrushDataUrl: Any = None
    stageHistory: list[HistoryEntry] | None = None
    consensusAverage: Any = None
    consensusDetailed: list[ConsensusScore] | None = None


class LegacyReview(msgspec.Struct, gc=False):
    status: Any = None
    completedBy: Any = None
    completedAt: Any = None
    duration_ms: Any = msgspec.field(default=None, name="duration(ms)")
    duration: Any = None


class LegacyTask(msgspec.Struct, gc=False):
    # One entry of the legacy generation's `tasks[]`.
    taskId: Any = None
    completedBy: Any = None
    completedAt: Any = None
    updatedAt: Any = None
    duration_ms: Any = msgspec.field(default=None, name="duration(ms)")
    duration: Any = None
    isSkipped: Any = None
    review: LegacyReview | None = None
    objects: list[Tool] | None = None
    classifications: list[msgspec.Raw] | None = None
    relations: list[Relation] | None = None
    masks: Any = None
    brushDataUrl: Any = None
    medicalBrushDataUrl: Any = None


class Asset(msgspec.Struct, gc=False):
    # One export record. `task` marks the current generation, `tasks` the legacy one.
    externalId: Any = None
    batches: Any = None
    metadata: msgspec.Raw = NO_RAW
    task: Task | None = None
    tasks: list[LegacyTask] | None = None
    status: Any = None
    labeledAt: Any = None
    reviewedAt: Any = None
    labelDuration_ms: Any = msgspec.field(default=None, name="labelDuration(ms)")
    labelDuration: Any = None
    consensus: Any = None


GEOMETRY_KINDS: tuple[tuple[str, str], ...] = (
    ("bounding_box", "bounding-box"),
    ("rotated_bounding_box", "rotated-bounding-box"),
    ("polygon", "polygon"),
    ("polyline", "polyline"),
    ("point", "point"),
    ("segmentation", "segmentation"),
    ("pdf", "pdf"),
    ("ner", "ner"),
)


def children(question: AnyQuestion) -> list[Any]:
    """A question's nested questions, decoding the raw deepest level when there is one."""
    nested = question.classifications
    if nested is None:
        return []
    if isinstance(nested, msgspec.Raw):
        if len(nested) <= 2 or not raw_present(nested):  # absent, or "[]"
            return []
        try:
            return DEEP_QUESTIONS.decode(nested)
        except msgspec.DecodeError:  # includes ValidationError: a malformed deep level is skipped
            return []
    return nested


def raw_present(raw: msgspec.Raw) -> bool:
    """True when a Raw field held a value other than JSON null."""
    size = len(raw)
    return size > 0 and not (size == 4 and bytes(raw) == b"null")
