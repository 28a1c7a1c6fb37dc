"""Deepomatic API v0.7: asynchronous inference tasks (`pending` → `success` | `error`).

Quirks kept here: `X-API-KEY` auth; every path ends in `/` (the API is Django REST Framework and
answers a slash-less GET with a 301 that httpx rightly does not follow); ids are strings of digits
although the SDK passes ints; `pending` covers queued and running alike; errors are DRF's
`{"detail": …}` or field-keyed lists; `data` holds the creating endpoint's response, typically
`outputs[].labels.{predicted,discarded}[]` with optional `roi.bbox` for detection.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, ClassVar
from urllib.parse import parse_qs, urlsplit

from pydantic import BaseModel, BeforeValidator, ConfigDict

from ..errors import ProviderError, clean_upstream_text
from ..results.budget import cut_message
from ..results.find import FindQuery, Matches
from ..results.provider_name import ProviderName
from ..results.task import Prediction, State, TaskResults, TaskView, is_terminal
from ..timestamps import iso_time
from ..untrusted import whole_number
from .base import CheckResult, PollCadence, ProviderClient, Text, as_text, first_text
from .spec import ProviderSpec

ERROR_TEXT = 400  # characters of a failed task's error message
CONCISE_PREDICTIONS = 3
HISTORY_NOTE = "Deepomatic keeps no task history; these are the task's own date_created and date_updated."
DETAILED_PREDICTIONS = 10
BATCH_SIZE = 100  # ids per list request: the SDK's page size, and a URL (~2 KB) any proxy accepts

_STATES: dict[str, tuple[State, str | None]] = {
    "pending": ("running", "Queued or running; Deepomatic does not tell the two apart."),
    "success": ("succeeded", None),
    "error": ("failed", None),
}


class DeepomaticTask(BaseModel):
    """The documented task object; unknown fields are ignored."""

    model_config = ConfigDict(extra="ignore")

    id: Annotated[str, BeforeValidator(as_text)]  # a string of digits, though the SDK passes ints
    status: str
    error: Text = None
    date_created: Any = None
    date_updated: Any = None
    data: Any = None


class DeepomaticClient(ProviderClient):
    name: ClassVar[ProviderName] = "deepomatic"
    label: ClassVar[str] = "Deepomatic"
    history_note: ClassVar[str] = HISTORY_NOTE
    id_example: ClassVar[str] = "269999729"
    # Inference is machine work measured in seconds: re-read after about a second, backing off to 5 s.
    poll_cadence: ClassVar[PollCadence] = PollCadence(first_s=1.0, max_s=5.0, human_s=60.0)

    @staticmethod
    def auth_headers(api_key: str) -> dict[str, str]:
        return {"X-API-KEY": api_key}

    @staticmethod
    def parse_error(payload: Any) -> tuple[str | None, str | None]:
        text = first_text(payload, "detail", "message", "error")
        if text:
            return None, text
        if isinstance(payload, dict):  # DRF validation errors: {"field": ["message", ...]}
            for key, value in payload.items():
                if isinstance(value, list) and value and isinstance(value[0], str):
                    return None, f"{key}: {value[0]}"
        return None, None

    async def check(self) -> CheckResult:
        """The documented batch read for an id no task has, one item at most.

        `GET /v0.7/tasks/?task_ids=0&limit=1` answers a DRF page (`{"count", "results", …}`) without
        reading any real task; a 200 page proves the key. DRF authenticates before anything else, so a
        wrong key is a 401, and a 404 or a body that is not a page means the base URL is not v0.7.
        """
        request = "GET /v0.7/tasks/?task_ids=0&limit=1"
        try:
            payload = await self.http.get_json(
                "/v0.7/tasks/", params={"task_ids": "0", "limit": "1"}, deadline=self.check_deadline()
            )
        except ProviderError as error:
            if error.kind == "not_found":
                raise self.fail("not_found", self._not_the_api(), error) from None
            raise self._explain(error, "0") from None
        if not isinstance(payload, dict) or not isinstance(payload.get("results"), list):
            raise self.fail("bad_response", self._not_the_api())
        return CheckResult(request, "200 with an empty task page: key accepted")

    def _not_the_api(self) -> str:
        return (
            f"{self.settings.base_url} does not serve Deepomatic's v0.7 task list; set DEEPOMATIC_API_URL to the "
            "v0.7 API host (default https://api.deepomatic.com)."
        )

    async def read_task(self, task_id: str, *, team_id: str | None, project_id: str | None, detailed: bool) -> TaskView:
        return normalize(await self.fetch_task(task_id), detailed=detailed)

    async def read_events(
        self, task_id: str, *, team_id: str | None, project_id: str | None
    ) -> tuple[TaskView, list[tuple[str | None, str]]]:
        task = await self.fetch_task(task_id)
        return normalize(task, detailed=False), events(task)

    async def read_many(
        self,
        task_ids: Sequence[str],
        *,
        team_id: str | None,
        project_id: str | None,
        deadline: float,
    ) -> dict[str, TaskView | ProviderError]:
        """Many tasks through the list endpoint, `BATCH_SIZE` ids per request instead of one each."""
        results: dict[str, TaskView | ProviderError] = {}
        valid: list[str] = []
        for task_id in task_ids:
            try:
                self.segment(task_id)
                valid.append(task_id)
            except ProviderError as error:
                results[task_id] = error
        for start in range(0, len(valid), BATCH_SIZE):
            chunk = valid[start : start + BATCH_SIZE]
            try:
                found = await self.list_tasks(chunk, deadline)
            except ProviderError as error:
                results.update(dict.fromkeys(chunk, error))
                continue
            for task_id in chunk:
                task = found.get(task_id)
                results[task_id] = (
                    normalize(task, detailed=False)
                    if task is not None
                    else self.fail("not_found", f"Deepomatic's task list has no task {task_id}; check the id.")
                )
        return results

    async def list_tasks(self, task_ids: Sequence[str], deadline: float) -> dict[str, DeepomaticTask]:
        """`GET /v0.7/tasks/?task_ids=..` (repeated keys, as the SDK sends them), every page of it.

        Pages are requested by offset on our own URL rather than by following `next`: `next` is an
        absolute URL from upstream, and following it would send the API key wherever it points."""
        found: dict[str, DeepomaticTask] = {}
        offset = 0
        for _ in range(len(task_ids) // BATCH_SIZE + 2):  # bounded, whatever `next` says
            params: list[tuple[str, str]] = [("task_ids", task_id) for task_id in task_ids]
            params.append(("limit", str(BATCH_SIZE)))
            if offset:
                params.append(("offset", str(offset)))
            try:
                page = await self.http.get_json("/v0.7/tasks/", params=params, deadline=deadline)
            except ProviderError as error:
                raise self._explain(error, None) from None
            results = page.get("results") if isinstance(page, dict) else None
            if not isinstance(results, list):
                raise self.fail("bad_response", "Deepomatic answered the task list without a 'results' list.")
            for item in results:
                try:
                    task = DeepomaticTask.model_validate(item)
                except ValueError:
                    continue  # one unreadable task must not hide the others; it shows as not listed
                found[task.id] = task
            next_offset = _next_offset(page.get("next"))
            if next_offset is None or next_offset <= offset:
                break
            offset = next_offset
        return found

    async def read_matches(self, query: FindQuery) -> Matches:
        raise self.fail(
            "invalid_argument",
            "Deepomatic documents no task listing: its tasks endpoint reads tasks by id (task_ids) only; use "
            "get_task or poll_task with the task_id each inference request returned.",
        )

    async def fetch_task(self, task_id: str) -> DeepomaticTask:
        path = f"/v0.7/tasks/{self.segment(task_id)}/"
        try:
            payload = await self.http.get_json(path)
        except ProviderError as error:
            raise self._explain(error, task_id) from None
        try:
            return DeepomaticTask.model_validate(payload)
        except ValueError:
            raise self.fail("bad_response", "Deepomatic answered with something that is not a task object.") from None

    def _explain(self, error: ProviderError, task_id: str | None) -> ProviderError:
        if error.kind == "not_found" and task_id is not None:
            return self.fail(
                "not_found",
                f"Deepomatic has no task {task_id} (HTTP 404); use the task_id an inference call returned, "
                f"for example {self.id_example}.",
                error,
            )
        if error.kind == "unauthorized":
            return self.fail(
                "unauthorized",
                "Deepomatic rejected DEEPOMATIC_API_KEY (HTTP 401); check it is a v0.7 API key, not an Engage token.",
                error,
            )
        return error


def _next_offset(link: Any) -> int | None:
    """The `offset` of DRF's `next` page link, or None when there is no further page."""
    if not isinstance(link, str) or not link:
        return None
    values = parse_qs(urlsplit(link).query).get("offset")
    return whole_number(values[0], max_digits=9) if values else None


def events(task: DeepomaticTask) -> list[tuple[str | None, str]]:
    """The only two moments a Deepomatic task records: its creation and its last status change."""
    status = clean_upstream_text(task.status, limit=40)
    last = "finished: success" if status == "success" else "failed" if status == "error" else f"last update ({status})"
    return [(iso_time(task.date_created), "created"), (iso_time(task.date_updated), last)]


def normalize(task: DeepomaticTask, *, detailed: bool) -> TaskView:
    """A Deepomatic task as a TaskView: state, error text, and the best predictions."""
    state, detail = _STATES.get(task.status, ("unknown", None))
    if state == "unknown":
        detail = (
            f"Deepomatic status '{clean_upstream_text(task.status, limit=40)}' is not one of pending, success, error."
        )
    if task.status == "error":
        # A machine message: where it must be cut, its middle goes (often a long URL), never its
        # end, which carries the status code.
        detail = cut_message(
            clean_upstream_text(task.error or "Deepomatic reported an error without a message.", limit=ERROR_TEXT * 8),
            ERROR_TEXT,
        )
    return TaskView(
        provider="deepomatic",
        id=task.id,
        state=state,
        terminal=is_terminal(state),
        raw_status=task.status,
        detail=detail,
        created_at=iso_time(task.date_created),
        updated_at=iso_time(task.date_updated),
        results=_results(task.data, detailed) if task.status == "success" else None,
    )


def _results(data: Any, detailed: bool) -> TaskResults | None:
    outputs = data.get("outputs") if isinstance(data, dict) else None
    if not isinstance(outputs, list):
        return None
    predicted: list[dict[str, Any]] = []
    discarded = 0
    for output in outputs:
        labels = output.get("labels") if isinstance(output, dict) else None
        if not isinstance(labels, dict):
            continue
        if isinstance(labels.get("predicted"), list):
            predicted.extend(p for p in labels["predicted"] if isinstance(p, dict))
        if isinstance(labels.get("discarded"), list):
            discarded += len(labels["discarded"])
    predicted.sort(key=lambda p: _score(p), reverse=True)
    shown = predicted[: DETAILED_PREDICTIONS if detailed else CONCISE_PREDICTIONS]
    counts = {"predicted": len(predicted), "discarded": discarded}
    if len(outputs) > 1:
        counts["outputs"] = len(outputs)
    left_out = len(predicted) - len(shown)
    return TaskResults(
        predictions=[_prediction(p, detailed) for p in shown],
        counts=counts,
        truncated=(
            f"{left_out} lower-scoring predictions"
            + ("" if detailed else "; response_format=detailed shows 10 with boxes")
            if left_out
            else None
        ),
    )


def _score(prediction: dict[str, Any]) -> float:
    score = prediction.get("score")
    return float(score) if isinstance(score, (int, float)) else 0.0


def _prediction(prediction: dict[str, Any], detailed: bool) -> Prediction:
    label = as_text(prediction.get("label_name")) or as_text(prediction.get("label_id")) or "?"
    box = None
    if detailed:
        bbox = (prediction.get("roi") or {}).get("bbox") if isinstance(prediction.get("roi"), dict) else None
        if isinstance(bbox, dict):
            corners = [bbox.get(k) for k in ("xmin", "ymin", "xmax", "ymax")]
            if all(isinstance(c, (int, float)) for c in corners):
                box = [round(float(c), 4) for c in corners]  # type: ignore[arg-type]
    return Prediction(label=clean_upstream_text(label, limit=80), score=round(_score(prediction), 3), box=box)


SPEC = ProviderSpec(
    name="deepomatic",
    label="Deepomatic",
    client=DeepomaticClient,
    env_prefix="DEEPOMATIC",
    key_description="Deepomatic v0.7 API key",
    # None published; 10/s, far below what the batch poller needs, far above one agent.
    requests_per_minute=600,
    default_url="https://api.deepomatic.com",
)
