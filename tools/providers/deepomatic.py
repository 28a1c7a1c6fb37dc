"""Deepomatic API v0.7: asynchronous inference tasks (`pending` → `success` | `error`).

Quirks kept here: `X-API-KEY` auth; every path ends in `/` (the API is Django REST Framework and
answers a slash-less GET with a 301 that httpx rightly does not follow); ids are strings of digits
although the SDK passes ints; `pending` covers queued and running alike; errors are DRF's
`{"detail": …}` or field-keyed lists; `data` holds the creating endpoint's response, typically
`outputs[].labels.{predicted,discarded}[]` with optional `roi.bbox` for detection.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, BeforeValidator, ConfigDict

from ..errors import ProviderError, clean_upstream_text
from ..models import ProviderName, Prediction, State, TaskResults, TaskView, is_terminal
from ..timestamps import iso_time
from .base import CheckResult, ProviderClient, Text, as_text, first_text

CONCISE_PREDICTIONS = 3
DETAILED_PREDICTIONS = 10

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
    id_example: ClassVar[str] = "269999729"

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

    async def read_task(
        self, task_id: str, *, team_id: str | None, project_id: str | None, detailed: bool
    ) -> TaskView:
        path = f"/v0.7/tasks/{self.segment(task_id)}/"
        try:
            payload = await self.http.get_json(path)
        except ProviderError as error:
            raise self._explain(error, task_id) from None
        try:
            task = DeepomaticTask.model_validate(payload)
        except ValueError:
            raise self.fail("bad_response", "Deepomatic answered with something that is not a task object.") from None
        return normalize(task, detailed=detailed)

    def _explain(self, error: ProviderError, task_id: str) -> ProviderError:
        if error.kind == "not_found":
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


def normalize(task: DeepomaticTask, *, detailed: bool) -> TaskView:
    """A Deepomatic task as a TaskView: state, error text, and the best predictions."""
    state, detail = _STATES.get(task.status, ("unknown", None))
    if state == "unknown":
        detail = f"Deepomatic status '{clean_upstream_text(task.status, limit=40)}' is not one of pending, success, error."
    if task.status == "error":
        detail = clean_upstream_text(task.error or "Deepomatic reported an error without a message.")
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
            f"{left_out} lower-scoring predictions" + ("" if detailed else "; response_format=detailed shows 10 with boxes")
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
