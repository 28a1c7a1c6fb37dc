"""Moody's Maxsight API v5 (formerly PassFort): KYC/onboarding workflow tasks done by people.

Quirks kept here: `apikey` auth; a regional host (`api.{us,eu,ae}.maxsight.com`) where the wrong region
answers 401, not 404, so a 401 names key, region and IP allow-list together; the task is a bare object;
only `INCOMPLETE` is documented for v5, so v4's `COMPLETED_PASS` / `COMPLETED_FAIL` and any value starting
with `COMPLETE` are read too, and anything else is `unknown` with the raw value kept; `COMPLETED_FAIL` is a
business outcome (the check failed), not a processing error; v4 could put `{"errors": […]}` in a 200 body.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, BeforeValidator, ConfigDict

from ..errors import ErrorKind, ProviderError, clean_upstream_text
from ..results.budget import cut_note
from ..results.find import UNASSIGNED, FindQuery, Matches, count_rows
from ..results.provider_name import ProviderName
from ..results.task import State, TaskView, is_terminal, user_metadata
from ..timestamps import iso_time, parse_time
from .base import CheckResult, Object, PollCadence, ProviderClient, Text, as_text, first_text
from .spec import ProviderSpec, Regions

REGIONS = ("us", "eu", "ae")
NOTE_LIMIT = 600  # characters of a person's assignment comment; a longer one is cut at a clause boundary
HISTORY_NOTE = "Maxsight v5 keeps no task history; these are the task's own created_at, locked_at and updated_at."
FIND_PAGE_SIZE = 100  # tasks per search page (more is not documented)
FIND_PAGES = 5  # search pages one find_tasks call reads: a block of up to 500 tasks


class Assignment(BaseModel):
    model_config = ConfigDict(extra="ignore")

    assigned_by_id: Text = None
    assigned_to_id: Text = None
    assigned_to_type: Text = None
    assignment_comment: Text = None


def _assignment(value: Any) -> Any:
    return value if isinstance(value, dict) else None


class MaxsightTask(BaseModel):
    """The documented v5 task object; unknown fields are ignored."""

    model_config = ConfigDict(extra="ignore")

    id: Annotated[str, BeforeValidator(as_text)]
    status: str
    name: Text = None
    c_name: Text = None
    step_name: Text = None
    created_at: Any = None
    updated_at: Any = None
    locked_at: Any = None
    assignment: Annotated[Assignment | None, BeforeValidator(_assignment)] = None
    entity_id: Text = None
    assessment_id: Text = None
    workflow_instance_id: Text = None
    custom_metadata: Object = None


class MaxsightClient(ProviderClient):
    # KYC steps are human work that lasts hours to days: re-read rarely.
    poll_cadence: ClassVar[PollCadence] = PollCadence(first_s=5.0, max_s=30.0, human_s=300.0)
    name: ClassVar[ProviderName] = "maxsight"
    label: ClassVar[str] = "Maxsight"
    history_note: ClassVar[str] = HISTORY_NOTE
    id_example: ClassVar[str] = "497f6eca-6276-4993-bfeb-53cbbbba6f08"

    @staticmethod
    def auth_headers(api_key: str) -> dict[str, str]:
        return {"apikey": api_key}

    @staticmethod
    def parse_error(payload: Any) -> tuple[str | None, str | None]:
        if isinstance(payload, dict):
            errors = payload.get("errors")
            if isinstance(errors, dict):
                errors = [errors]
            if isinstance(errors, list) and errors and isinstance(errors[0], dict):
                code = errors[0].get("code")
                return (str(code) if code is not None else None), first_text(errors[0], "message", "detail")
            return None, first_text(payload, "message", "detail", "error")
        return None, None

    async def check(self) -> CheckResult:
        """The documented task search for one item: `POST /v5/tasks/search {"max_page_size": 1}`.

        The search only reads (safe to retry). A 200 with an `items` list proves key, region and IP
        allow-list at once; a 401 names all three, because a key sent to another region's host is
        refused the same way as a wrong key. v4 could answer 200 with `{"errors": […]}`, code 204
        meaning an invalid key, so that shape counts as a refusal too.
        """
        request = 'POST /v5/tasks/search {"max_page_size": 1}'
        try:
            payload = await self.http.request_json(
                "POST",
                "/v5/tasks/search",
                json_body={"max_page_size": 1},
                idempotent=True,
                deadline=self.check_deadline(),
            )
        except ProviderError as error:
            if error.kind == "not_found":
                raise self.fail("not_found", self._not_the_api(), error) from None
            if error.kind == "unauthorized":
                raise self.fail("unauthorized", self._unauthorized_hint("HTTP 401"), error) from None
            raise
        if isinstance(payload, dict) and "errors" in payload and "items" not in payload:
            if self.parse_error(payload)[0] == "204":
                raise self._error_in_success(
                    payload, "unauthorized", self._unauthorized_hint("HTTP 200 with error code 204, invalid key")
                )
            raise self._error_in_success(
                payload, "bad_request", "Maxsight answered the task search with an error inside a successful response."
            )
        if not isinstance(payload, dict) or not isinstance(payload.get("items"), list):
            raise self.fail("bad_response", self._not_the_api())
        return CheckResult(request, "200 with a task list: key accepted (so region and IP allow-list are right too)")

    def _error_in_success(self, payload: Any, kind: ErrorKind, hint: str) -> ProviderError:
        """A 200 whose body is an error (v4 put `{"errors": […]}` in successful answers) or not the
        expected shape, with the provider's own code and message when it gave them."""
        code, message = self.parse_error(payload)
        return ProviderError(
            "maxsight",
            kind,
            http_status=200,
            code=code,
            message=clean_upstream_text(message or "", secrets=self.http.secrets),
            hint=hint,
        )

    def _unauthorized_hint(self, answer: str) -> str:
        return (
            f"Maxsight rejected the call ({answer}); check MAXSIGHT_API_KEY, that the base URL "
            f"({self.settings.base_url}) is your account's region (MAXSIGHT_REGION us, eu or ae), and that "
            "this machine's IP is on the allow-list if one is enabled."
        )

    def _not_the_api(self) -> str:
        return (
            f"{self.settings.base_url} does not serve Maxsight's v5 task search; set MAXSIGHT_REGION (us, eu or ae) "
            "or MAXSIGHT_API_URL to your account's API host."
        )

    async def read_task(self, task_id: str, *, team_id: str | None, project_id: str | None, detailed: bool) -> TaskView:
        return normalize(await self.fetch_task(task_id), detailed=detailed)

    async def read_events(
        self, task_id: str, *, team_id: str | None, project_id: str | None
    ) -> tuple[TaskView, list[tuple[str | None, str]]]:
        task = await self.fetch_task(task_id)
        return normalize(task, detailed=False), events(task)

    async def read_for_poll(
        self, task_id: str, *, team_id: str | None, project_id: str | None, deadline: float
    ) -> TaskView:
        return normalize(await self.fetch_task(task_id, deadline=deadline), detailed=False)

    async def fetch_task(self, task_id: str, *, deadline: float | None = None) -> MaxsightTask:
        try:
            payload = await self.http.get_json(f"/v5/tasks/{self.segment(task_id)}", deadline=deadline)
        except ProviderError as error:
            raise self._explain(error, task_id) from None
        if isinstance(payload, dict) and "errors" in payload and "id" not in payload:
            raise self._error_in_success(
                payload,
                "bad_request",
                "Maxsight answered with an error inside a successful response; check the task id.",
            )
        try:
            return MaxsightTask.model_validate(payload)
        except ValueError:
            raise self.fail("bad_response", "Maxsight answered with something that is not a task object.") from None

    async def read_matches(self, query: FindQuery) -> Matches:
        """A block of `POST /v5/tasks/search` pages (up to `FIND_PAGES`), filtered by Maxsight through an
        AG-Grid `filter_model`. Maxsight sorts by creation time, not by update time, so a block is read in
        creation order and sorted by update time here; when the block holds every match, total, counts
        and order are exact, else they cover the block and the cursor goes on to the next one."""
        if query.batch:
            raise self.fail(
                "invalid_argument",
                "Maxsight tasks have no batches; filter by state, stage (the step name) or assignee.",
            )
        if query.state and query.state not in _STATUS_FILTERS:
            raise self.fail(
                "invalid_argument",
                f"No Maxsight status means {query.state}: its tasks are steps people do. A state on Maxsight is one "
                f"of {', '.join(_STATUS_FILTERS)}.",
            )
        token, offset = query.start or (None, 0)
        if token is not None and not isinstance(token, str):
            raise self.fail("invalid_argument", "That cursor is not one find_tasks returned; call again without it.")
        tasks, next_token, unreadable = await self._search_block(_filter_model(query), token, query.oldest_first)
        # The upstream time filter is whole seconds and a little wide; the exact bounds are applied here.
        views = [normalize(task, detailed=query.detailed) for task in tasks if query.in_time_bounds(task.updated_at)]
        oldest = datetime.min.replace(tzinfo=UTC)
        views.sort(key=lambda v: (parse_time(v.updated_at) or oldest, v.id), reverse=not query.oldest_first)
        rows = views[offset : offset + query.limit]
        after: tuple[str | None, int] | None = None
        if offset + query.limit < len(views):
            after = (token, offset + query.limit)
        elif next_token:
            after = (next_token, 0)
        whole = token is None and next_token is None
        created = "oldest" if query.oldest_first else "newest"
        notes = [
            "Sorted by update time here: Maxsight sorts by creation time only."
            if whole
            else f"Maxsight sorts by creation time only: each block of up to {FIND_PAGES * FIND_PAGE_SIZE} tasks is "
            f"read {created}-created first and sorted by update time here; total and counts cover this block. "
            "Narrow with state, stage, assignee or updated_after for an exact answer."
        ]
        if unreadable:
            notes.append(f"{unreadable} tasks Maxsight sent without an id or status are left out.")
        matches = Matches(
            rows=rows, position=(token, offset), after=after, total=len(views), total_exact=whole, notes=notes
        )
        if query.first_page:
            matches.by_state, matches.by_stage = count_rows(views)
        return matches

    async def _search_block(
        self, filter_model: dict[str, Any], token: str | None, oldest_first: bool
    ) -> tuple[list[MaxsightTask], str | None, int]:
        """Up to `FIND_PAGES` search pages from `token` on: their tasks, the token after them, and how many
        items were unreadable."""
        deadline = self.http.deadline()
        tasks: list[MaxsightTask] = []
        unreadable = 0
        for _ in range(FIND_PAGES):
            body: dict[str, Any] = {
                "max_page_size": FIND_PAGE_SIZE,
                "sorting_field": "CREATED_AT",
                "sorting_type": "ASC" if oldest_first else "DESC",
            }
            if filter_model:
                body["filter_model"] = filter_model
            if token:
                body["page_token"] = token
            try:
                payload = await self.http.request_json(
                    "POST", "/v5/tasks/search", json_body=body, idempotent=True, deadline=deadline
                )
            except ProviderError as error:
                if error.kind == "unauthorized":
                    raise self.fail("unauthorized", self._unauthorized_hint("HTTP 401"), error) from None
                raise
            items = payload.get("items") if isinstance(payload, dict) else None
            if not isinstance(items, list):
                raise self._error_in_success(
                    payload, "bad_response", "Maxsight answered the task search without an items list."
                )
            for item in items:
                try:
                    tasks.append(MaxsightTask.model_validate(item))
                except ValueError:
                    unreadable += 1
            following = payload.get("next_page_token")
            token = following if isinstance(following, str) and following else None
            if token is None:
                break
        return tasks, token, unreadable

    def _explain(self, error: ProviderError, task_id: str) -> ProviderError:
        if error.kind == "unauthorized":
            return self.fail("unauthorized", self._unauthorized_hint("HTTP 401"), error)
        if error.kind == "not_found":
            return self.fail(
                "not_found",
                f"Maxsight has no task {task_id} (HTTP 404); task ids are UUIDs like {self.id_example}.",
                error,
            )
        return error


def _state(status: str) -> tuple[State, str | None]:
    value = status.upper()
    if value == "INCOMPLETE":
        return "waiting_on_human", None
    if value == "COMPLETED_FAIL":
        return "failed", "Completed with outcome FAIL: a business decision by the reviewer, not a processing error."
    if value.startswith("COMPLETE"):
        return "succeeded", None
    if value in ("CANCELLED", "CANCELED"):
        return "cancelled", None
    return "unknown", f"Maxsight status '{clean_upstream_text(status, limit=40)}' is not one this version knows."


# The reverse of `_state`: the AG-Grid filter on `status` that selects each state's raw statuses.
_STATUS_FILTERS: dict[str, dict[str, Any]] = {
    "waiting_on_human": {"filterType": "text", "type": "equals", "filter": "INCOMPLETE"},
    "succeeded": {
        "filterType": "text",
        "operator": "AND",
        "conditions": [{"type": "startsWith", "filter": "COMPLETE"}, {"type": "notEqual", "filter": "COMPLETED_FAIL"}],
    },
    "failed": {"filterType": "text", "type": "equals", "filter": "COMPLETED_FAIL"},
    "cancelled": {
        "filterType": "text",
        "operator": "OR",
        "conditions": [{"type": "equals", "filter": "CANCELLED"}, {"type": "equals", "filter": "CANCELED"}],
    },
}


def _filter_model(query: FindQuery) -> dict[str, Any]:
    """The search's AG-Grid `filter_model`: state as statuses, stage as the step name, assignee as
    `assigned_to_id` (`none`: blank), and the update-time bounds widened to whole seconds."""
    model: dict[str, Any] = {}
    if query.state:
        model["status"] = _STATUS_FILTERS[query.state]
    if query.stage:
        model["step_name"] = {"filterType": "text", "type": "equals", "filter": query.stage}
    if query.assignee:
        if query.assignee.lower() == UNASSIGNED:
            model["assigned_to_id"] = {"filterType": "text", "type": "blank"}
        else:
            kind, _, rest = query.assignee.partition(":")  # the `user:<id>` form get_task shows
            assignee = rest if rest and kind.lower() in ("user", "team") else query.assignee
            model["assigned_to_id"] = {"filterType": "text", "type": "equals", "filter": assignee}
    dates = []
    if query.updated_after is not None:
        floor = query.updated_after.replace(microsecond=0) - timedelta(seconds=1)
        dates.append({"type": "greaterThan", "dateFrom": _grid_time(floor)})
    if query.updated_before is not None:
        ceiling = query.updated_before.replace(microsecond=0) + timedelta(
            seconds=math.ceil(query.updated_before.microsecond / 1e6)
        )
        dates.append({"type": "lessThan", "dateFrom": _grid_time(ceiling)})
    if len(dates) == 1:
        model["updated_at"] = {"filterType": "date", **dates[0]}
    elif dates:
        model["updated_at"] = {"filterType": "date", "operator": "AND", "conditions": dates}
    return model


def _grid_time(moment: datetime) -> str:
    """An instant in AG-Grid's date filter format (UTC)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def events(task: MaxsightTask) -> list[tuple[str | None, str]]:
    """The moments a Maxsight task records; `updated_at` is the latest change only."""
    status = clean_upstream_text(task.status, limit=40)
    return [
        (iso_time(task.created_at), "created"),
        (iso_time(task.locked_at), "locked for editing"),
        (iso_time(task.updated_at), f"last update (status {status})"),
    ]


def normalize(task: MaxsightTask, *, detailed: bool) -> TaskView:
    """A Maxsight task as a TaskView: state, step, and who it is assigned to."""
    state, detail = _state(task.status)
    assignment = task.assignment or Assignment()
    if state == "waiting_on_human":
        # state, stage and assignee already say "this person must act at step X"; detail adds their note,
        # or that nobody is assigned yet.
        detail = None if assignment.assigned_to_id else "Unassigned."
        if assignment.assignment_comment:
            note = cut_note(clean_upstream_text(assignment.assignment_comment, limit=4 * NOTE_LIMIT), NOTE_LIMIT)
            detail = " ".join(filter(None, [detail, f'Note: "{note}"']))
    extra: dict[str, Any] = {}
    if detailed:
        for key in ("entity_id", "assessment_id", "workflow_instance_id"):
            if getattr(task, key):
                extra[key] = getattr(task, key)
        if assignment.assigned_by_id:
            extra["assigned_by_id"] = assignment.assigned_by_id
    metadata, metadata_note = user_metadata((task.custom_metadata or {}).items(), detailed=detailed)
    assignee = None
    if assignment.assigned_to_id:
        assignee = f"{(assignment.assigned_to_type or 'USER').lower()}:{assignment.assigned_to_id}"
    title = task.c_name or task.name
    return TaskView(
        provider="maxsight",
        id=task.id,
        state=state,
        terminal=is_terminal(state),
        raw_status=task.status,
        name=clean_upstream_text(title, limit=120) if title else None,
        stage=task.step_name,
        assignee=assignee,
        locked_at=iso_time(task.locked_at),
        detail=detail,
        metadata=metadata or None,
        metadata_truncated=metadata_note,
        created_at=iso_time(task.created_at) if detailed else None,
        updated_at=iso_time(task.updated_at),
        extra=extra or None,
    )


SPEC = ProviderSpec(
    name="maxsight",
    label="Moody's Maxsight",
    client=MaxsightClient,
    env_prefix="MAXSIGHT",
    key_description="Moody's Maxsight v5 API key",
    requests_per_minute=120,  # none published
    regions=Regions(
        {region: f"https://api.{region}.maxsight.com" for region in REGIONS},
        "us, eu or ae: https://api.{region}.maxsight.com",
    ),
    # No default host: a key sent to another region's host is refused like a wrong key.
    unlocated="set MAXSIGHT_REGION (us, eu or ae) or MAXSIGHT_API_URL; a wrong region answers 401",
)
