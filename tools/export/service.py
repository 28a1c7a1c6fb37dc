"""summarize_export's work, source by source: a local path, an https URL, or `ango:<project_id>`."""

from __future__ import annotations

import httpx

from ..errors import clean_upstream_text
from ..providers import ProviderRegistry
from ..providers.ango.client import AngoClient
from .accumulate import Accumulator, Filters
from .pipeline import ExportReader, ExportSettings, Progress, read_local, read_url, run_with_time_cap
from .sources import refuse
from .summary import ExportSummary, build_summary

ANGO_PREFIX = "ango:"


def describe(source: str) -> str:
    """The source as shown back: a URL without its query (signed links carry credentials)."""
    if "://" in source:
        try:
            url = httpx.URL(source)
            return clean_upstream_text(f"{url.scheme}://{url.host}{url.path}", limit=200)
        except (httpx.InvalidURL, TypeError):
            return "(unparsable URL)"
    return clean_upstream_text(source, limit=200)


async def summarize(
    source: str,
    *,
    settings: ExportSettings,
    registry: ProviderRegistry,
    filters: Filters,
    top_k: int,
    detailed: bool,
    progress: Progress | None = None,
) -> ExportSummary:
    """Read the whole export once and summarize it; any failure raises a ProviderError (never a partial result)."""
    source = source.strip()
    reader = ExportReader(filters, settings.limits)
    async with settings.running.slot():
        shown, sandbox = await _read(source, reader, settings, registry, progress)
    _check_is_an_export(reader.accumulator, shown)
    return build_summary(
        reader.accumulator,
        source=shown,
        top_k=top_k,
        detailed=detailed,
        sandbox=sandbox,
        unreadable=(reader.unreadable.count, reader.unreadable.first_offset),
    )


async def _read(
    source: str, reader: ExportReader, settings: ExportSettings, registry: ProviderRegistry, progress: Progress | None
) -> tuple[str, bool]:
    """Read `source` whole into `reader`; returns the source as shown back, and whether the sandbox served it."""
    sandbox = settings.sandbox
    if source.lower().startswith(ANGO_PREFIX):
        project_id = source[len(ANGO_PREFIX) :].strip()
        client = registry.client("ango")
        if not isinstance(client, AngoClient):
            raise refuse(
                "The ango provider is not available on this server; pass an export file or URL instead.",
                "not_configured",
            )
        sandbox = sandbox or client.settings.sandbox
        client.segment(project_id, "project_id")  # a malformed id is refused before any lock or request
        async with client.export_lock(project_id):
            if progress is not None:
                await progress(0, None, f"requesting the export of project {project_id} from Ango")
            url = await client.request_export(project_id)
            await run_with_time_cap(lambda: read_url(reader, url, settings, progress), settings.limits)
        shown = f"{ANGO_PREFIX}{project_id}"
    elif "://" in source:
        await run_with_time_cap(lambda: read_url(reader, source, settings, progress), settings.limits)
        shown = describe(source)
    else:
        await run_with_time_cap(lambda: read_local(reader, source, settings, progress), settings.limits)
        shown = describe(source)
    return shown, sandbox


def _check_is_an_export(accumulator: Accumulator, shown: str) -> None:
    """Refuse what read cleanly but is no Ango export: an empty file, or JSON records of another kind
    (a summary of those would report zero labels as if it meant something)."""
    accumulator.flush()
    if accumulator.records == 0:
        raise refuse(
            f"{shown} holds no records (an empty file, or an empty list); request a new export from Ango Hub "
            "and pass it, or pass ango:<project_id>.",
            "bad_response",
        )
    unknown = accumulator.overview.generations["unknown"]
    if not accumulator.filters.active and unknown == accumulator.records:
        raise refuse(
            f"{shown} is JSON but not an Ango export: none of its {unknown} records has `task` (the current "
            "format) or `tasks` (the legacy one); pass a file exported from Ango Hub, or ango:<project_id>.",
            "bad_response",
        )
