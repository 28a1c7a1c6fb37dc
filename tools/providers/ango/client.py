"""Ango Hub (iMerit): annotation tasks moving through workflow stages.

Quirks kept here: `apikey` auth; answers wrapped in `{"status": "success", "data": {…}}` and errors in
`{"status": "fail"|"error", "message": …}`; 451 means the organization geofences by IP or country; the
task's `stage` is a stage **id** — the auto-created stages have the literal ids `Start`, `Label` and
`Complete`, every other stage is a UUID whose type (Label, Review, Hold, …) is only in the project
definition (`GET /v2/project/{id}`, cached here); `includeAnswer` is sent lowercase; the documented
limit is 100 requests/minute, enforced by the shared limiter.
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import Annotated, Any, ClassVar

import anyio
from pydantic import BaseModel, BeforeValidator, ConfigDict

from ...bounded_cache import BoundedCache
from ...errors import ProviderError, clean_upstream_text
from ...http.policy import TOO_LARGE
from ...results.budget import token_estimate
from ...results.compact import compact_json
from ...results.find import UNASSIGNED, FindQuery, Matches, count_rows
from ...results.history import TaskHistory, page_of
from ...results.provider_name import ProviderName
from ...results.task import State, TaskResults, TaskView, is_terminal
from ...timestamps import iso_time
from ..base import CheckResult, Flag, Items, Number, Object, PollCadence, ProviderClient, Text, as_text, first_text
from ..spec import ProviderSpec, Regions
from .history import NOTE_TOKENS, HistoryRecord, fit_page, history_records, make_concise, page_budget, timeline

logger = logging.getLogger("tasklens.ango")

HOSTS = {"eu": "https://imeritapi.ango.ai", "us": "https://us-api.ango.ai", "in": "https://in-api.ango.ai"}
PROBE_TASK_ID = "0" * 24  # shaped like an Ango ObjectId, never issued: the key check's target
PROJECT_TTL_S = 600.0
EXPORT_TIMEOUT_S = 600.0  # Ango builds the export while the request is open, with no status endpoint to poll
UNREADABLE_PROJECT_TTL_S = 60.0  # don't re-read a project the key may not see on every call
PROJECT_CACHE_SIZE = 256  # project definitions kept at once, least recently used dropped first
CONCISE_CLASSES = 8
FIND_COUNT_REQUESTS = 12  # per-stage counts one find_tasks call may add (100 requests/minute in all)
COUNT_CONCURRENCY = 4
_ROW_FIELDS = "externalId,stage,status,reviewStatus,assignee,createdAt,updatedAt"
_OBJECT_ID = re.compile(r"[0-9a-f]{24}")

_LITERAL_STAGES = frozenset({"Start", "Label", "Complete"})  # auto-created stages: id == name == type
_STAGE_STATES: dict[str, State] = {
    "Start": "queued",
    "Label": "waiting_on_human",
    "Review": "waiting_on_human",
    "Consensus": "waiting_on_human",
    "Hold": "waiting_on_human",
    "Logic": "running",
    "Plugin": "running",
    "Webhook": "running",
    "Complete": "succeeded",
    "Archive": "cancelled",
}


def stage_types_for(state: State) -> list[str]:
    """The reverse of `_STAGE_STATES`: the stage types whose tasks are in `state` (none for `failed`)."""
    return [stage_type for stage_type, mapped in _STAGE_STATES.items() if mapped == state]


class AngoStage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: Annotated[str, BeforeValidator(as_text)]
    name: Text = None
    type: Text = None


class AngoTask(BaseModel):
    """The task object; its full schema is undocumented, so every field is optional but the id."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    id: Annotated[str, BeforeValidator(as_text)]
    project: Text = None
    asset: Text = None
    stage: Text = None
    stageId: Text = None
    status: Text = None
    reviewStatus: Text = None
    type: Text = None
    assignee: Text = None
    externalId: Text = None
    createdAt: Any = None
    updatedAt: Any = None
    priority: Number = None
    duration: Number = None
    totalDuration: Number = None
    isDraft: Flag = None
    isSkipped: Flag = None
    isBenchmark: Flag = None
    openIssuesCount: Number = None
    batches: Items = []
    answer: Object = None

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> AngoTask:
        data = dict(payload)
        data["id"] = data.get("_id") or data.get("taskId") or data.get("id")
        return cls.model_validate(data)


class AngoClient(ProviderClient):
    # Automated stages (Start, Logic, Plugin, Webhook) pass in seconds; Label/Review/Hold wait on
    # people. One read per task against 100 requests/minute: the shared limiter paces the rounds.
    poll_cadence: ClassVar[PollCadence] = PollCadence(first_s=2.0, max_s=10.0, human_s=60.0)
    name: ClassVar[ProviderName] = "ango"
    label: ClassVar[str] = "Ango"
    id_example: ClassVar[str] = "6453677fc47af30015be5a58"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._projects: BoundedCache[str, dict[str, AngoStage]] = BoundedCache(PROJECT_CACHE_SIZE)
        # project id → batch id → name, read with the stages and bounded the same way
        self._batches: BoundedCache[str, dict[str, str]] = BoundedCache(PROJECT_CACHE_SIZE)
        self._export_locks: dict[str, anyio.Lock] = {}

    @staticmethod
    def auth_headers(api_key: str) -> dict[str, str]:
        return {"apikey": api_key}

    @staticmethod
    def parse_error(payload: Any) -> tuple[str | None, str | None]:
        if isinstance(payload, dict):
            status = payload.get("status")
            return (status if isinstance(status, str) else None), first_text(payload, "message", "error", "detail")
        return None, None

    async def get_json(
        self,
        path: str,
        *,
        deadline: float,
        params: Any = None,
        what: str,
        ident: str,
        read_timeout_s: float | None = None,
    ) -> dict[str, Any]:
        """GET an Ango endpoint and unwrap `data`, explaining failures in Ango's terms."""
        try:
            body = await self.http.get_json(path, params=params, deadline=deadline, read_timeout_s=read_timeout_s)
        except ProviderError as error:
            raise self._explain(error, what, ident) from None
        if not isinstance(body, dict) or body.get("status") != "success" or not isinstance(body.get("data"), dict):
            message = clean_upstream_text(first_text(body, "message") or "", secrets=self.http.secrets)
            raise ProviderError(
                "ango",
                "bad_response",
                http_status=200,
                message=message,
                hint=f"Ango answered without a successful 'data' envelope for {what} {ident}.",
            )
        return body["data"]

    async def check(self) -> CheckResult:
        """Read a task that cannot exist (24 zeros): Ango documents no list endpoint without a project id.

        Ango checks the key before looking the task up (inferred; the docs do not say), so a 404 in
        Ango's own error envelope (`{"status": "fail", …}`) proves the key was accepted; 401 says it was
        not, 451 that the organization's IP or country allow-list leaves this machine out. A 404 in any
        other shape comes from something that is not the Ango API, so the base URL is wrong.
        """
        request = f"GET /v2/task/{PROBE_TASK_ID}"
        try:
            data = await self.get_json(
                f"/v2/task/{PROBE_TASK_ID}",
                params={"includeAnswer": "false"},
                deadline=self.check_deadline(),
                what="task",
                ident=PROBE_TASK_ID,
            )
        except ProviderError as error:
            if error.kind != "not_found":
                raise
            if error.code not in ("fail", "error"):
                raise self.fail(
                    "not_found",
                    f"{self.settings.base_url} answered 404 without Ango's error envelope, so it is not the Ango "
                    "API; set ANGO_REGION (eu, us or in) or ANGO_API_URL to your organization's API host.",
                    error,
                ) from None
            return CheckResult(request, "404 in Ango's error envelope for a task id that cannot exist: key accepted")
        if not isinstance(data.get("task"), dict):  # Ango's envelope around something that is not a task
            raise self.fail(
                "bad_response",
                f"{self.settings.base_url} answered 200 without a task in Ango's envelope, so it is not the Ango "
                "API; set ANGO_REGION (eu, us or in) or ANGO_API_URL to your organization's API host.",
            )
        return CheckResult(request, "200 with a task object: key accepted")

    async def read_task(self, task_id: str, *, team_id: str | None, project_id: str | None, detailed: bool) -> TaskView:
        return await self._read_view(task_id, project_id, self.http.deadline(), detailed=detailed, answers=True)

    async def read_for_poll(
        self, task_id: str, *, team_id: str | None, project_id: str | None, deadline: float
    ) -> TaskView:
        # No answers: a poll wants the stage, and answers carry full geometry.
        return await self._read_view(task_id, project_id, deadline, detailed=False, answers=False)

    async def _read_view(
        self,
        task_id: str,
        project_id: str | None,
        deadline: float,
        *,
        detailed: bool,
        answers: bool,
        read_project: bool = True,
    ) -> TaskView:
        """The task, normalized, within `deadline` (one deadline covers the task and project reads).

        `read_project=False` when this call already failed to read the project: one call retries a
        failing path once under the policy, not once per use."""
        path = f"/v2/task/{self.segment(task_id)}"
        answers_too_large = False
        try:
            # Answers are what objects-per-class is counted from; they carry full geometry, so a huge
            # task falls back to the task alone rather than failing.
            data = await self.get_json(
                path,
                params={"includeAnswer": "true" if answers else "false"},
                deadline=deadline,
                what="task",
                ident=task_id,
            )
        except ProviderError as error:
            if error.code != TOO_LARGE or not answers:
                raise
            answers_too_large = True
            data = await self.get_json(
                path, params={"includeAnswer": "false"}, deadline=deadline, what="task", ident=task_id
            )
        payload = data.get("task")
        if not isinstance(payload, dict):
            raise self.fail("bad_response", f"Ango answered without a task object for task {task_id}.")
        try:
            task = AngoTask.from_payload(payload)
        except ValueError:
            raise self.fail("bad_response", f"Ango's task object for {task_id} has no usable id.") from None
        stage = await self.resolve_stage(
            task.stageId or task.stage, (task.project or project_id) if read_project else None, deadline
        )
        view = normalize(task, stage, detailed=detailed)
        if answers_too_large:
            view.results = TaskResults(truncated="answers too large to summarize; only the task's state is shown")
        return view

    async def read_history(
        self,
        task_id: str | None,
        *,
        history_id: str | None,
        team_id: str | None,
        project_id: str | None,
        cursor: str | None,
        limit: int,
        detailed: bool,
        about: str | None,
    ) -> TaskHistory:
        deadline = self.http.deadline()
        if task_id:
            self.segment(task_id)  # refuse a malformed id before it is quoted in any message
        focus: HistoryRecord | None = None
        if history_id:
            focus = await self._history_entry(history_id, deadline)
            owner = focus.labelTaskId
            if task_id and owner and owner != task_id:
                raise self.fail(
                    "invalid_argument",
                    f"Ango history entry {history_id} belongs to task {owner}, not {task_id}; "
                    "pass only one of the two ids.",
                )
            task_id = task_id or owner
        records = [focus] if focus and not task_id else []
        if task_id:
            data = await self.get_json(
                f"/v2/task/{self.segment(task_id)}/history", deadline=deadline, what="task", ident=task_id
            )
            records = history_records(data.get("taskHistory"))
            if focus and all(r.id != focus.id for r in records):
                records = [focus]  # an entry the list does not show: no neighbour to compare with
        project = project_id or next((r.project for r in records if r.project), None)
        stages = await self.stage_names({r.stage for r in records if r.stage}, project, deadline)
        gaps = []  # what a faulted side read left out: said, never silently dropped
        project_unreadable = any(stage_type is None for _, stage_type in stages.values())
        if project_unreadable:
            gaps.append("Some stage names could not be resolved (project definition unreadable); they show as ids.")
        shown = [focus.id] if focus and focus.id else []
        entries, summary = timeline(records, stages, detailed=detailed, with_answer=shown, about=about)
        if task_id:
            try:
                view = await self._read_view(
                    task_id, project, deadline, detailed=False, answers=False, read_project=not project_unreadable
                )
                summary.state, summary.current_stage = view.state, view.stage
            except ProviderError as error:
                logger.info("ango history of %s: the task itself could not be read (%s)", task_id, error.kind)
                gaps.append(f"The task itself could not be read ({error.kind}), so its current state is missing.")
        if focus:
            page, next_cursor, held = [e for e in entries if e.history_id == focus.id], None, "one entry, by history_id"
        else:
            if about:
                changed = [e for e in entries if e.changes is not None]
                gaps.append(f"Only the {len(changed)} of {len(entries)} entries that changed {about!r} are listed.")
                entries = changed
            page, next_cursor, held = page_of("ango", entries, cursor, limit)
            if not detailed:
                make_concise(page)
        result = TaskHistory(
            provider="ango",
            task_id=task_id or "?",
            summary=summary,
            page=held,
            entries=page,
            note=" ".join(gaps) or None,
            truncated=True if next_cursor else None,
            next_cursor=next_cursor,
        )
        if focus:
            return result
        around = token_estimate(compact_json(result.model_copy(update={"entries": []}))) + NOTE_TOKENS
        left_out = fit_page(page, page_budget(len(page), detailed=detailed) - around)
        if left_out:
            gaps.append(
                f"{left_out} changes did not fit this page; an entry's `truncated` says what it does not list, "
                "get_task_history with that entry's history_id lists all of them, and `about` lists one class's or "
                "question's changes in every entry."
            )
            result.note = " ".join(gaps)
        return result

    async def _history_entry(self, history_id: str, deadline: float) -> HistoryRecord:
        try:
            data = await self.get_json(
                f"/v2/taskHistory/{self.segment(history_id, 'history_id')}",
                deadline=deadline,
                what="history entry",
                ident=history_id,
            )
        except ProviderError as error:
            if error.kind != "not_found":
                raise
            raise self.fail(
                "not_found",
                f"Ango has no history entry {history_id} (HTTP 404); call get_task_history with the task_id "
                "alone to list the entries and their history_id values.",
                error,
            ) from None
        records = history_records(data.get("taskHistory"))
        if not records:
            raise self.fail("bad_response", f"Ango answered without a history entry for {history_id}.")
        return records[0]

    async def stage_names(
        self, stage_ids: set[str], project_id: str | None, deadline: float
    ) -> dict[str, tuple[str, str | None]]:
        """Stage id → (name, type) for the stages a history visits (literal ids need no project read)."""
        names: dict[str, tuple[str, str | None]] = {}
        for stage_id in stage_ids:
            stage = await self.resolve_stage(stage_id, project_id, deadline)
            if stage is not None:
                names[stage_id] = (stage.name or stage.id, stage.type)
        return names

    async def resolve_stage(self, stage_ref: str | None, project_id: str | None, deadline: float) -> AngoStage | None:
        """The stage a task is in, with its type: literal ids directly, others from the project (cached)."""
        if not stage_ref:
            return None
        if stage_ref in _LITERAL_STAGES or not project_id:
            return stage_in(stage_ref, {})
        return stage_in(stage_ref, await self.project_stages(project_id, deadline))

    async def project_stages(self, project_id: str, deadline: float) -> dict[str, AngoStage]:
        """Stage id → stage for a project. A project that cannot be read yields no stages (the task's
        state is then `unknown` with the reason), never a failed call: the task itself was read. Only a
        well-formed id is read or remembered: the cache is keyed by what the id check let through."""
        try:
            segment = self.segment(project_id, "project_id")
        except ProviderError:
            return {}
        now = self.http.clock()
        cached = self._projects.get(project_id, now)
        if cached is not None:
            return cached
        try:
            data = await self.get_json(
                f"/v2/project/{segment}",
                deadline=deadline,
                what="project",
                ident=project_id,
            )
        except ProviderError as error:
            # Remember only what will not change on a retry: no access, no such project, a definition
            # over the size cap. A glitch (an HTML page, a malformed body, a 5xx, a timeout) degrades
            # this answer only; caching it would make every task of the project `unknown`.
            if error.kind in ("forbidden", "not_found") or error.code == TOO_LARGE:
                self._projects.put(project_id, {}, now + UNREADABLE_PROJECT_TTL_S)
            return {}
        project = value if isinstance(value := data.get("project"), dict) else {}
        stages: dict[str, AngoStage] = {}
        for raw in project.get("stages") or []:
            try:
                stage = AngoStage.model_validate(raw)
            except ValueError:
                continue
            stages[stage.id] = stage
        self._projects.put(project_id, stages, now + PROJECT_TTL_S)
        batches = {
            batch_id: as_text(raw.get("name")) or batch_id
            for raw in project.get("batches") or []
            if isinstance(raw, dict) and (batch_id := as_text(raw.get("_id")))
        }
        self._batches.put(project_id, batches, now + PROJECT_TTL_S)
        return stages

    async def read_matches(self, query: FindQuery) -> Matches:
        """A page of `GET /v2/project/{id}/tasks`, every filter applied by Ango: stage names and states
        become stage ids (through the cached project definition), time bounds an `updatedAt` range.

        On the first page, counts by stage come from the page itself when it holds the whole match, else
        from one `limit=1` read per stage (its `total`), at most `FIND_COUNT_REQUESTS` of them."""
        if not query.project_id:
            raise self.fail(
                "invalid_argument",
                "Ango lists tasks per project: pass project_id (the 24-hex id in the project's URL).",
            )
        project = query.project_id
        path = f"/v2/project/{self.segment(project, 'project_id')}/tasks"
        deadline = self.http.deadline()
        stages = await self.project_stages(project, deadline)
        notes = (
            [] if stages else ["Stage names could not be resolved (project definition unreadable); they show as ids."]
        )
        stage_ids = self._stage_ids(query, stages)
        page, skip = query.start or (1, 0)
        if not isinstance(page, int):
            raise self.fail("invalid_argument", "That cursor is not one find_tasks returned; call again without it.")
        if stage_ids == []:
            named = f" and named {clean_upstream_text(query.stage, limit=40)!r}" if query.stage else ""
            said = f"No stage of project {project} is {query.state}{named}."
            return Matches(rows=[], position=(page, skip), after=None, total=0, notes=[*notes, said])
        conditions = self._conditions(query, stage_ids)
        data = await self._task_page(path, conditions, page, query.limit, query.oldest_first, deadline, project)
        raw, total = data.get("tasks"), data.get("total")
        if not isinstance(raw, list) or not isinstance(total, int) or isinstance(total, bool):
            raise self.fail("bad_response", f"Ango's task list of project {project} came without tasks and total.")
        views: list[TaskView] = []
        for payload in raw[skip:]:
            try:
                task = AngoTask.from_payload(payload) if isinstance(payload, dict) else None
            except ValueError:
                task = None
            if task is not None:
                stage_ref = task.stageId or task.stage
                stage = stage_in(stage_ref, stages) if stage_ref else None
                views.append(normalize(task, stage, detailed=query.detailed))
        if unreadable := len(raw[skip:]) - len(views):
            notes.append(f"{unreadable} tasks Ango listed without a usable id are left out.")
        after = (page + 1, 0) if page * query.limit < total else None
        matches = Matches(rows=views, position=(page, skip), after=after, total=total, notes=notes)
        if query.first_page:
            if total <= len(raw):  # the whole match is on this page
                matches.by_state, matches.by_stage = count_rows(views)
            else:
                await self._count_stages(matches, path, conditions, stage_ids, stages, deadline, project)
        return matches

    def _stage_ids(self, query: FindQuery, stages: dict[str, AngoStage]) -> list[str] | None:
        """The stage ids the stage and state filters allow (None: any stage), case-insensitively by name."""
        if not query.stage and not query.state:
            return None
        if not stages:
            raise self.fail(
                "unavailable",
                f"Ango's definition of project {query.project_id} could not be read, and stage and state filters "
                "are resolved through it; check project_id and retry, or call without stage and state.",
            )
        ids = list(stages)
        if query.stage:
            wanted = query.stage.lower()
            ids = [sid for sid, stage in stages.items() if wanted in (sid.lower(), (stage.name or "").lower())]
            if not ids:
                names = _listed(stage.name or sid for sid, stage in stages.items())
                asked = clean_upstream_text(query.stage, limit=40)
                raise self.fail(
                    "invalid_argument",
                    f"Ango project {query.project_id} has no stage {asked!r}; its stages are {names}.",
                )
        if query.state:
            types = stage_types_for(query.state)
            if not types:
                states = ", ".join(dict.fromkeys(_STAGE_STATES.values()))
                raise self.fail(
                    "invalid_argument",
                    f"No Ango stage means {query.state}: Ango tasks do not fail, they are reviewed or archived. "
                    f"A state on Ango is one of {states}.",
                )
            ids = [sid for sid in ids if stages[sid].type in types]
        return ids

    def _conditions(self, query: FindQuery, stage_ids: list[str] | None) -> dict[str, Any]:
        """The Mongo-style `filter` Ango's task list takes."""
        conditions: dict[str, Any] = {}
        if stage_ids is not None:
            conditions["stage"] = {"$in": stage_ids}
        if query.assignee:
            unassigned = query.assignee.lower() == UNASSIGNED
            conditions["assignee"] = {"$in": [None, ""]} if unassigned else query.assignee
        if query.batch:
            conditions["batches"] = {"$in": self._batch_ids(query.project_id or "", query.batch)}
        bounds = {}
        if query.updated_after is not None:
            bounds["$gte"] = _ango_time(query.updated_after)
        if query.updated_before is not None:
            bounds["$lt"] = _ango_time(query.updated_before)
        if bounds:
            conditions["updatedAt"] = bounds
        return conditions

    def _batch_ids(self, project: str, batch: str) -> list[str]:
        """Batch ids for a batch name or id (task objects carry ids; people know names)."""
        batches = self._batches.get(project, self.http.clock()) or {}
        wanted = batch.lower()
        ids = [bid for bid, name in batches.items() if wanted in (bid.lower(), name.lower())]
        if ids:
            return ids
        if not batches and _OBJECT_ID.fullmatch(batch):
            return [batch]  # the project definition was not readable: an id still filters
        listed = f"its batches are {_listed(batches.values())}" if batches else "it lists no batches"
        raise self.fail(
            "invalid_argument",
            f"Ango project {project} has no batch {clean_upstream_text(batch, limit=40)!r}; {listed}.",
        )

    async def _task_page(
        self,
        path: str,
        conditions: dict[str, Any],
        page: int,
        limit: int,
        oldest_first: bool,
        deadline: float,
        project: str,
        fields: str = _ROW_FIELDS,
    ) -> dict[str, Any]:
        params = {
            "page": str(page),
            "limit": str(limit),
            "sort": "updatedAt" if oldest_first else "-updatedAt",
            "includeAnswer": "false",
            "fields": fields,
            "filter": json.dumps(conditions, separators=(",", ":")),
        }
        return await self.get_json(path, params=params, deadline=deadline, what="project", ident=project)

    async def _count_stages(
        self,
        matches: Matches,
        path: str,
        conditions: dict[str, Any],
        stage_ids: list[str] | None,
        stages: dict[str, AngoStage],
        deadline: float,
        project: str,
    ) -> None:
        """Counts by stage (and so by state) of the whole match, one `limit=1` read per stage."""
        candidates = stage_ids if stage_ids is not None else list(stages)
        if not candidates:
            matches.counts_partial = "Counts could not be read: they need the project definition, which is unreadable."
            return
        totals: dict[str, int] = {}
        failed: dict[str, str] = {}
        if len(candidates) == 1:
            totals[candidates[0]] = matches.total
        else:
            slots = anyio.Semaphore(COUNT_CONCURRENCY)

            async def count(stage_id: str) -> None:
                async with slots:
                    try:
                        data = await self._task_page(
                            path, {**conditions, "stage": stage_id}, 1, 1, True, deadline, project, fields="_id"
                        )
                    except ProviderError as error:
                        failed[stage_id] = error.kind
                        return
                    total = data.get("total")
                    if isinstance(total, int) and not isinstance(total, bool):
                        totals[stage_id] = total
                    else:
                        failed[stage_id] = "bad_response"

            async with anyio.create_task_group() as group:
                for stage_id in candidates[:FIND_COUNT_REQUESTS]:
                    group.start_soon(count, stage_id)
        by_state: dict[str, int] = {}
        by_stage: dict[str, int] = {}
        for stage_id in candidates:
            if totals.get(stage_id):
                stage = stage_in(stage_id, stages)
                state = _STAGE_STATES.get(stage.type or "", "unknown")
                by_stage[stage.name or stage_id] = by_stage.get(stage.name or stage_id, 0) + totals[stage_id]
                by_state[state] = by_state.get(state, 0) + totals[stage_id]
        if failed:
            kinds = ", ".join(sorted(set(failed.values())))
            names = _listed(stage_in(sid, stages).name or sid for sid in failed)
            matches.notes.append(f"Counts of these stages could not be read ({kinds}): {names}; call again.")
        unread = [stage_in(sid, stages).name or sid for sid in candidates if sid not in totals and sid not in failed]
        if unread:
            matches.counts_partial = (
                f"Not counted (at most {FIND_COUNT_REQUESTS} stages a call): {_listed(unread)}; "
                "find_tasks with stage=<name> gives one stage's total."
            )
        elif not failed and (other := matches.total - sum(by_stage.values())) > 0:
            by_stage["other"] = other  # stages the project definition does not list
            by_state["unknown"] = by_state.get("unknown", 0) + other
        matches.by_state, matches.by_stage = by_state, by_stage

    def export_lock(self, project_id: str) -> anyio.Lock:
        """The lock that serializes exports of one project: Ango keeps one export file per project, so
        a second export requested while the first is still being downloaded could overwrite it."""
        lock = self._export_locks.get(project_id)
        if lock is None:
            lock = self._export_locks[project_id] = anyio.Lock()
        return lock

    async def request_export(self, project_id: str) -> str:
        """Ask Ango for an export of every stage of a project; the signed URL of its ZIP (`data.exportPath`).

        NDJSON (one asset per line) is the fastest format to read; history and metadata are included
        because the summary's workflow and people figures come from them. Stages are listed from the
        project definition, since the API exports only `Complete` by default; if the project cannot
        be read, that default applies.
        """
        segment = self.segment(project_id, "project_id")
        deadline = self.http.clock() + EXPORT_TIMEOUT_S
        stages = await self.project_stages(project_id, self.http.deadline())
        params = {
            "project": segment,
            "format": "ndjson",
            "type": "task",
            "includeHistory": "true",
            "includeMetadata": "true",
            "sendEmail": "false",
            "doNotNotify": "true",
        }
        if stages:
            params["stage"] = json.dumps(list(stages), separators=(",", ":"))
        data = await self.get_json(
            "/v2/export",
            params=params,
            deadline=deadline,
            what="project",
            ident=project_id,
            read_timeout_s=EXPORT_TIMEOUT_S,
        )
        path = data.get("exportPath")
        if not isinstance(path, str) or not path.strip():
            raise self.fail("bad_response", f"Ango's export answer for project {project_id} has no exportPath link.")
        return path.strip()

    def _explain(self, error: ProviderError, what: str, ident: str) -> ProviderError:
        if error.kind == "not_found":
            return self.fail(
                "not_found",
                f"Ango has no {what} {ident} (HTTP 404); Ango ids are 24 hex characters like {self.id_example}.",
                error,
            )
        if error.kind == "unauthorized":
            return self.fail(
                "unauthorized",
                "Ango rejected ANGO_API_KEY (HTTP 401); check the key (Hub → Account → API) and that "
                "ANGO_REGION / ANGO_API_URL points at your organization's host.",
                error,
            )
        if error.kind == "forbidden" and error.http_status == 451:
            return self.fail(
                "forbidden",
                "Ango refused the call (HTTP 451): the organization restricts API access by IP or country, "
                "and this machine is outside the allow-list.",
                error,
            )
        if error.kind == "forbidden":
            return self.fail(
                "forbidden",
                f"Ango refused access to {what} {ident} (HTTP 403); the key's user lacks permission.",
                error,
            )
        return error


def stage_in(stage_ref: str, stages: dict[str, AngoStage]) -> AngoStage:
    """The stage a task's `stage` field names: a literal id, one of `stages` (by id, else by name), or
    a bare id whose type is unknown."""
    if stage_ref in _LITERAL_STAGES:
        return AngoStage(id=stage_ref, name=stage_ref, type=stage_ref)
    return stages.get(stage_ref) or next((s for s in stages.values() if s.name == stage_ref), AngoStage(id=stage_ref))


def stage_state(stage: AngoStage | None, status: str | None) -> tuple[State, str | None]:
    """The normalized state of a task from its stage type, falling back on the task status."""
    if stage is not None and stage.type in _STAGE_STATES:
        return _STAGE_STATES[stage.type], None
    if status and status.lower() == "completed":
        return "succeeded", None
    if stage is not None:
        return "unknown", (
            f"Stage {stage.id} could not be resolved to a stage type: the project definition was not readable. "
            "Retry, or check that the key's user may read the project."
        )
    return "unknown", None


def normalize(task: AngoTask, stage: AngoStage | None, *, detailed: bool) -> TaskView:
    """An Ango task as a TaskView: stage and its type, review status, assignee, objects per class."""
    state, detail = stage_state(stage, task.status)
    stage_name = (stage.name or stage.id) if stage else None
    if state == "waiting_on_human" and stage is not None:
        who = f"assigned to {task.assignee}" if task.assignee else "unassigned"
        detail = f"In {stage.type} stage '{stage_name}', {who}."
    elif state == "running" and stage is not None:
        detail = f"Being routed by {stage.type} stage '{stage_name}'."
    extra: dict[str, Any] = {}
    if detailed:
        for key in (
            "asset",
            "project",
            "type",
            "status",
            "priority",
            "duration",
            "totalDuration",
            "isDraft",
            "isSkipped",
            "isBenchmark",
            "openIssuesCount",
        ):
            value = getattr(task, key)
            if value is not None and value != "":
                extra[key] = value
        if stage is not None and stage.type:
            extra["stage_type"] = stage.type
        batches = [b for b in task.batches if isinstance(b, str)]
        if batches:
            extra["batches"] = ", ".join(batches[:10])
    raw_status = task.status or (stage.type if stage and stage.type else "") or "unknown"
    return TaskView(
        provider="ango",
        id=task.id,
        state=state,
        terminal=is_terminal(state),
        raw_status=raw_status,
        name=clean_upstream_text(task.externalId, limit=120) if task.externalId else None,
        stage=stage_name,
        review_status=task.reviewStatus,
        assignee=task.assignee,
        detail=detail,
        created_at=iso_time(task.createdAt) if detailed else None,
        updated_at=iso_time(task.updatedAt),
        results=_results(task.answer, detailed),
        extra=extra or None,
    )


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _results(answer: dict[str, Any] | None, detailed: bool) -> TaskResults | None:
    if not isinstance(answer, dict):
        return None
    tools = _dicts(answer.get("tools"))
    classifications = _dicts(answer.get("classifications"))
    relations = _dicts(answer.get("relations"))
    per_class: Counter[str] = Counter()
    seen: set[tuple[str, str]] = set()
    for tool in tools:
        title = as_text(tool.get("title")) or as_text(tool.get("schemaId")) or "?"
        object_id = as_text(tool.get("objectId")) or str(id(tool))
        if (title, object_id) not in seen:  # video frames and pages repeat one object's id
            seen.add((title, object_id))
            per_class[title] += 1
    ranked = per_class.most_common(None if detailed else CONCISE_CLASSES)
    counts = {"objects": len(seen), "classifications": len(classifications), "relations": len(relations)}
    if len(tools) != len(seen):
        counts["instances"] = len(tools)
    left_out = len(per_class) - len(ranked)
    return TaskResults(
        objects_by_class={clean_upstream_text(k, limit=60): v for k, v in ranked},
        counts={k: v for k, v in counts.items() if v},
        truncated=f"{left_out} smaller classes; response_format=detailed lists all" if left_out else None,
    )


def _listed(names: Iterable[str], limit: int = 300) -> str:
    """Names as one comma-separated line within `limit` characters, saying how many more there are."""
    items = [clean_upstream_text(name, limit=60) for name in names]
    shown: list[str] = []
    for item in items:
        if sum(len(s) + 2 for s in shown) + len(item) > limit:
            return f"{', '.join(shown)} and {len(items) - len(shown)} more"
        shown.append(item)
    return ", ".join(shown)


def _ango_time(moment: datetime) -> str:
    """An instant the way Ango writes `updatedAt` (milliseconds, `Z`), so a range compares like for like."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def api_root(url: str) -> str:
    """The configured URL without the `/v2` that the REST docs' server URL includes: paths here carry it."""
    return url[: -len("/v2")] if url.endswith("/v2") else url


SPEC = ProviderSpec(
    name="ango",
    label="Ango Hub",
    client=AngoClient,
    env_prefix="ANGO",
    key_description="Ango Hub API key (Hub → Account → API)",
    requests_per_minute=100,  # documented Standard-plan limit
    default_url=HOSTS["eu"],
    regions=Regions(HOSTS, "eu, us or in: picks the documented Ango host"),
    api_root=api_root,
)
