"""Send.ai API v2: document-extraction tasks.

Quirks kept here: `Authorization: Bearer` auth; a task lives under a team and a project
(`/v2/{team_id}/project/{project_id}/task/{task_id}`), so both ids are needed; answers are wrapped in
`{"payload": …}`; `REVIEWING` is a resting state that only a person leaves (complete or discard), and
`complete` sends the task back to `PROCESSING`, so the status is not monotonic; `approved`,
`exported_at` and `export_failed_at` are not states but delivery facts, reported beside the state.
The error body is undocumented, so every common shape is read.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, BeforeValidator, ConfigDict

from ..errors import ProviderError, clean_upstream_text
from ..results.find import FindQuery, Matches
from ..results.provider_name import ProviderName
from ..results.task import ExtractedField, State, TaskResults, TaskView, is_terminal, user_metadata
from ..timestamps import iso_time, parse_time
from .base import CheckResult, Flag, Items, PollCadence, ProviderClient, Text, as_text, first_text
from .spec import DefaultArgument, ProviderSpec

PROBE_TASK_ID = "task_tasklens_probe"  # well-formed, never issued: the key check's target
PROBE_TEAM_ID, PROBE_PROJECT_ID = "team_tasklens_probe", "proj_tasklens_probe"
LOW_CONFIDENCE = 0.7
HISTORY_NOTE = (
    "Send.ai keeps no task history; these are the task's own created_at, last_opened_at, exported_at "
    "and export_failed_at."
)
# How many fields a concise answer shows, by state: a reviewer needs the doubtful ones; a finished task
# gets a preview (detailed lists all); a discarded or failed one needs none.
CONCISE_FIELDS: dict[str, int] = {"waiting_on_human": 6, "succeeded": 3, "running": 3}
DETAILED_FIELDS = 100
VALUE_LIMIT = 80

_STATES: dict[str, tuple[State, str | None]] = {
    "PROCESSING": ("running", None),
    "REVIEWING": (
        "waiting_on_human",
        "A person must review it; only their complete or discard moves it on.",
    ),
    "COMPLETED": ("succeeded", None),
    "FAILED": ("failed", "Send.ai reports that processing failed."),
    "DISCARDED": ("cancelled", "Discarded by a reviewer."),
    "FILTERED": ("cancelled", "Filtered out by the project's rules."),
}


class SendaiPage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    annotations: Items = []
    checkboxes: Items = []
    segments: Items = []
    signatures: Items = []


def _pages(value: Any) -> list[Any]:
    return [page for page in value if isinstance(page, dict)] if isinstance(value, list) else []


class SendaiTask(BaseModel):
    """The documented public task object; unknown fields are ignored."""

    model_config = ConfigDict(extra="ignore")

    id: Annotated[str, BeforeValidator(as_text)]
    status: str
    name: Text = None
    created_at: Any = None
    step_type: Text = None
    upload_id: Text = None
    project_id: Text = None
    approved: Flag = None
    exported_at: Any = None
    export_failed_at: Any = None
    last_opened_at: Any = None
    meta: Items = []
    pages: Annotated[list[SendaiPage], BeforeValidator(_pages)] = []


class SendaiClient(ProviderClient):
    # PROCESSING is machine work re-read every 2-5 s; REVIEWING waits on a reviewer, so it is re-read rarely.
    poll_cadence: ClassVar[PollCadence] = PollCadence(first_s=2.0, max_s=5.0, human_s=60.0)
    name: ClassVar[ProviderName] = "sendai"
    label: ClassVar[str] = "Send.ai"
    history_note: ClassVar[str] = HISTORY_NOTE
    id_example: ClassVar[str] = "task_abcdef123456"

    @staticmethod
    def auth_headers(api_key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {api_key}"}

    @staticmethod
    def parse_error(payload: Any) -> tuple[str | None, str | None]:
        if isinstance(payload, dict):
            nested = payload.get("error")
            if isinstance(nested, dict):
                return _code(nested.get("code")), first_text(nested, "message", "detail")
            errors = payload.get("errors")
            if isinstance(errors, list) and errors and isinstance(errors[0], dict):
                return _code(errors[0].get("code")), first_text(errors[0], "message", "detail")
            return _code(payload.get("code")), first_text(payload, "message", "error", "detail")
        return None, None

    async def check(self) -> CheckResult:
        """Read a task that cannot exist (Send.ai documents no list endpoint), then the same without the key.

        The read goes to the configured team and project (SENDAI_TEAM_ID / SENDAI_PROJECT_ID) when both
        are set, which also proves the key is added to that project, else to placeholder ids. Send.ai
        checks the key first: 401 means it is wrong, 403 that it lacks task.read or is not added to the
        project, 404 that it was accepted. Send.ai's error body is undocumented, so a 404 alone cannot
        tell Send.ai from a wrong host; the control read without the key must then be refused (401/403),
        which shows the 404 came from something that checks Send.ai keys.
        """
        team = self.settings.defaults.get("team_id")
        project = self.settings.defaults.get("project_id")
        scoped = bool(team and project)
        if not scoped:
            team, project = PROBE_TEAM_ID, PROBE_PROJECT_ID
        assert team is not None and project is not None
        path = f"/v2/{self.segment(team, 'team_id')}/project/{self.segment(project, 'project_id')}/task/{PROBE_TASK_ID}"
        request = f"GET {path}, then the same without the key"
        deadline = self.check_deadline()
        try:
            body = await self.http.get_json(path, deadline=deadline)
        except ProviderError as error:
            if error.kind != "not_found":
                raise self._explain(error, PROBE_TASK_ID, team, project) from None
            found = error
        else:
            if not isinstance(body, dict) or not isinstance(body.get("payload"), dict):
                raise self.fail(
                    "bad_response",
                    f"{self.settings.base_url} answered 200 without Send.ai's task payload, so it is not the "
                    "Send.ai API; set SENDAI_API_URL to the API host (default https://api.send.ai).",
                )
            return CheckResult(request, "200 with a task payload: key accepted")
        try:
            await self.http.get_json(path, deadline=deadline, anonymous=True)
        except ProviderError as control:
            if control.kind in ("unauthorized", "forbidden"):
                said = f' (Send.ai said "{found.message}")' if found.message else ""
                where = (
                    f"in team {team}, project {project}"
                    if scoped
                    else "under placeholder ids (set SENDAI_TEAM_ID and SENDAI_PROJECT_ID to also check project access)"
                )
                refused = control.http_status or 401
                return CheckResult(
                    request, f"404{said} for a task that cannot exist {where}, {refused} without the key: key accepted"
                )
            if control.kind != "not_found":
                raise  # the control read itself failed (network, 5xx, 429): say so, not "wrong host"
        raise self.fail(
            "not_found",
            f"{self.settings.base_url} answers that path the same with or without a key, so it is not the Send.ai "
            "API; set SENDAI_API_URL to the API host (default https://api.send.ai).",
            found,
        )

    async def read_task(self, task_id: str, *, team_id: str | None, project_id: str | None, detailed: bool) -> TaskView:
        return normalize(await self.fetch_task(task_id, team_id, project_id), detailed=detailed)

    async def read_events(
        self, task_id: str, *, team_id: str | None, project_id: str | None
    ) -> tuple[TaskView, list[tuple[str | None, str]]]:
        task = await self.fetch_task(task_id, team_id, project_id)
        return normalize(task, detailed=False), events(task)

    async def read_for_poll(
        self, task_id: str, *, team_id: str | None, project_id: str | None, deadline: float
    ) -> TaskView:
        return normalize(await self.fetch_task(task_id, team_id, project_id, deadline=deadline), detailed=False)

    async def read_matches(self, query: FindQuery) -> Matches:
        raise self.fail(
            "invalid_argument",
            "Send.ai documents no task listing, only reading one task by id; use get_task or poll_task with the "
            "ids of the tasks your upload created.",
        )

    async def fetch_task(
        self, task_id: str, team_id: str | None, project_id: str | None, *, deadline: float | None = None
    ) -> SendaiTask:
        team = team_id or self.settings.defaults.get("team_id")
        project = project_id or self.settings.defaults.get("project_id")
        if not team or not project:
            missing = " and ".join(n for n, v in (("team_id", team), ("project_id", project)) if not v)
            raise self.fail(
                "invalid_argument",
                f"Send.ai tasks live under a team and a project: pass {missing} "
                "(or set SENDAI_TEAM_ID / SENDAI_PROJECT_ID).",
            )
        path = (
            f"/v2/{self.segment(team, 'team_id')}/project/{self.segment(project, 'project_id')}"
            f"/task/{self.segment(task_id)}"
        )
        try:
            body = await self.http.get_json(path, deadline=deadline)
        except ProviderError as error:
            raise self._explain(error, task_id, team, project) from None
        payload = body.get("payload") if isinstance(body, dict) else None
        try:
            return SendaiTask.model_validate(payload)
        except ValueError:
            raise self.fail("bad_response", "Send.ai answered without a task in its 'payload'.") from None

    def _explain(self, error: ProviderError, task_id: str, team: str, project: str) -> ProviderError:
        if error.kind == "not_found":
            return self.fail(
                "not_found",
                f"Send.ai has no task {task_id} in team {team}, project {project} (HTTP 404); check all three ids.",
                error,
            )
        if error.kind == "forbidden" and error.http_status != 451:  # 451 keeps its own sentence
            return self.fail(
                "forbidden",
                f"Send.ai refused access to project {project} (HTTP 403); the key needs the task.read scope "
                "and must be added to that project.",
                error,
            )
        if error.kind == "unauthorized":
            return self.fail("unauthorized", "Send.ai rejected SENDAI_API_KEY (HTTP 401); check the key.", error)
        return error


def _export_failed(task: SendaiTask) -> bool:
    """A failed export that no later successful export has superseded (compared as times, not text)."""
    if not task.export_failed_at:
        return False
    failed, exported = parse_time(task.export_failed_at), parse_time(task.exported_at)
    return not (failed and exported and exported > failed)


def _code(value: Any) -> str | None:
    return str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else None


def events(task: SendaiTask) -> list[tuple[str | None, str]]:
    """The moments a Send.ai task records; `last_opened_at` is the latest opening only."""
    return [
        (iso_time(task.created_at), "created"),
        (iso_time(task.last_opened_at), "last opened in the review UI"),
        (iso_time(task.exported_at), "exported downstream"),
        (iso_time(task.export_failed_at), "export downstream failed"),
    ]


def normalize(task: SendaiTask, *, detailed: bool) -> TaskView:
    """A Send.ai task as a TaskView: state, delivery facts, and extracted fields with confidence."""
    state, detail = _STATES.get(task.status.upper(), ("unknown", None))
    if state == "unknown":
        detail = f"Send.ai status '{clean_upstream_text(task.status, limit=40)}' is not one this version knows."
    if _export_failed(task):
        when = iso_time(task.export_failed_at)
        failed = f"Export to the downstream system failed{f' at {when}' if when else ''}."
        detail = f"{detail} {failed}" if detail else failed
    metadata, metadata_note = user_metadata(
        ((item["name"], item.get("value")) for item in task.meta if isinstance(item, dict) and "name" in item),
        detailed=detailed,
    )
    extra: dict[str, Any] = {}
    if detailed:
        for key in ("upload_id", "project_id", "approved"):
            value = getattr(task, key)
            if value is not None:
                extra[key] = value
        for key in ("exported_at", "export_failed_at", "last_opened_at"):
            stamp = iso_time(getattr(task, key))
            if stamp:
                extra[key] = stamp
    return TaskView(
        provider="sendai",
        id=task.id,
        state=state,
        terminal=is_terminal(state),
        raw_status=task.status,
        name=clean_upstream_text(task.name, limit=120) if task.name else None,
        stage=task.step_type,
        detail=detail,
        metadata=metadata or None,
        metadata_truncated=metadata_note,
        created_at=iso_time(task.created_at),
        results=_results(task, state, detailed),
        extra=extra or None,
    )


def _results(task: SendaiTask, state: State, detailed: bool) -> TaskResults | None:
    if not task.pages:
        return None
    fields: list[ExtractedField] = []
    for number, page in enumerate(task.pages, start=1):
        for annotation in (a for a in page.annotations if isinstance(a, dict)):
            confidence = annotation.get("confidence")
            content = annotation.get("content")
            fields.append(
                ExtractedField(
                    field=clean_upstream_text(
                        as_text(annotation.get("entity_id")) or as_text(annotation.get("id")) or "?", limit=60
                    ),
                    value=clean_upstream_text(as_text(content) or "", limit=VALUE_LIMIT)
                    if content is not None
                    else None,
                    confidence=round(float(confidence), 3) if isinstance(confidence, (int, float)) else None,
                    # Concise lists fields lowest first and states the threshold once, which says the same.
                    low=True
                    if detailed and isinstance(confidence, (int, float)) and confidence < LOW_CONFIDENCE
                    else None,
                    page=number if detailed and len(task.pages) > 1 else None,
                )
            )
    limit = DETAILED_FIELDS if detailed else CONCISE_FIELDS.get(state, 0)
    # The least confident fields are the ones a reviewer must look at: lowest first, unknown last.
    ordered = sorted(fields, key=lambda f: (f.confidence is None, f.confidence or 0.0))
    shown = ordered[:limit]
    checkboxes = [c for page in task.pages for c in page.checkboxes if isinstance(c, dict)]
    counts = {
        "pages": len(task.pages),
        "fields": len(fields),
        "low_confidence": sum(1 for f in fields if f.confidence is not None and f.confidence < LOW_CONFIDENCE),
        "checkboxes": len(checkboxes) if detailed else 0,
        "checked": sum(1 for c in checkboxes if c.get("checked") is True) if detailed else 0,
        "segments": sum(len(page.segments) for page in task.pages) if detailed else 0,
        "signatures": sum(len(page.signatures) for page in task.pages),
    }
    left_out = len(fields) - len(shown)
    return TaskResults(
        fields=shown,
        low_below=LOW_CONFIDENCE if fields else None,
        counts={key: value for key, value in counts.items() if value},
        truncated=(
            f"{left_out} more fields" + ("" if detailed else "; response_format=detailed lists them")
            if left_out and shown
            else None
        ),
    )


SPEC = ProviderSpec(
    name="sendai",
    label="Send.ai",
    client=SendaiClient,
    env_prefix="SENDAI",
    key_description="Send.ai API key (added to the project, task.read scope)",
    requests_per_minute=120,  # team-level limits, numbers unpublished
    default_url="https://api.send.ai",
    defaults=(
        DefaultArgument("team_id", "default Send.ai team id (tool arguments override)"),
        DefaultArgument("project_id", "default Send.ai project id (tool arguments override)"),
    ),
    sandbox_defaults={"team_id": "team_123456", "project_id": "proj_123456"},  # the sandbox's seeded project
)
