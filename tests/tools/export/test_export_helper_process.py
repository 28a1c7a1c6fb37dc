"""A large local export is read by the main process and a helper process together (helpers.py).

The shared read must be indistinguishable from a single pass: the same summary byte for byte, the same
error sentence on a malformed file, no helper left running after a cancelled or failed read. These
tests force sharing on small files (a pool with `share_from_bytes=0`) and cut them into small regions
(a 64 KiB read size) so that dozens of regions go back and forth.
"""

from __future__ import annotations

import gzip
import os
import signal
import time
from pathlib import Path
from typing import Any

import anyio
import pytest

from support.export_fixtures import ExportGenerator, encode, wrap
from tasklens.server.config import ConfigError, load_config
from tasklens.tools.errors import ProviderError
from tasklens.tools.export import pipeline
from tasklens.tools.export.accumulate import Filters
from tasklens.tools.export.helpers import Helper, HelperPool
from tasklens.tools.export.pipeline import ExportReader, ExportSettings, read_local, unpacked_size
from tasklens.tools.export.summary import build_summary
from tasklens.tools.results.compact import compact_json

pytestmark = pytest.mark.anyio


class CountingHelper(Helper):
    """The real helper, remembered so a test can see how many regions it took and that it stopped.

    On these small files the main process would finish before the helper has even started, so regions
    are dealt out deterministically instead: every other one to each process (waiting for a free slot)."""

    started: list[CountingHelper] = []

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0
        self.offered = 0
        CountingHelper.started.append(self)

    def offer(self, region: memoryview, offset: int, segment: int, lines: bool) -> bool:
        self.calls += 1
        if self.calls % 2:
            return False
        deadline = time.monotonic() + 20
        while not super().offer(region, offset, segment, lines):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.001)
        self.offered += 1
        return True


@pytest.fixture(autouse=True)
def small_regions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "CHUNK", 64 << 10)
    monkeypatch.setattr(pipeline, "COMPRESSED_FEED", 8 << 10)  # compressed: ~64 KiB inflated per step
    CountingHelper.started = []


async def _summary(path: Path, *, share: bool, filters: Filters | None = None) -> str:
    """The summary of a read in one process, or shared with a helper from a pool of its own."""
    pool = HelperPool(share_from_bytes=0, start=CountingHelper) if share else None
    try:
        return await _read(path, ExportSettings(roots=(str(path.parent),), helpers=pool), filters)
    finally:
        if pool is not None:
            pool.close()


async def _read(path: Path, settings: ExportSettings, filters: Filters | None = None) -> str:
    reader = ExportReader(filters)
    await read_local(reader, str(path), settings, None)
    summary = build_summary(
        reader.accumulator,
        source="x",
        top_k=50,
        detailed=True,
        unreadable=(reader.unreadable.count, reader.unreadable.first_offset),
    )
    return compact_json(summary)


def _assets(count: int = 300, legacy_share: float = 0.2) -> list[Any]:
    assets = list(ExportGenerator(21, legacy_share=legacy_share, labelers=5, reviewers=2).assets(count))
    for i, asset in enumerate(assets):
        if i % 17 == 0:  # nameless records: their "record N" names depend on every region before them
            asset.pop("externalId", None)
            (asset.get("task") or {}).pop("taskId", None)
    for i in range(len(assets) - 1, 0, -60):  # records that need the careful path: not assets, odd types
        assets[i:i] = [7, {"externalId": f"odd-{i}", "task": {"tools": "not a list", "stage": "Label"}}]
    return assets


READ_AGAIN = "export read again in one process"


def _read_again(caplog: pytest.LogCaptureFixture) -> bool:
    return any(READ_AGAIN in record.getMessage() for record in caplog.records)


@pytest.mark.parametrize(
    "fmt, container", [("json", None), ("pretty", None), ("ndjson", None), ("json", "zip"), ("ndjson", "gz")]
)
async def test_a_shared_read_gives_the_single_pass_summary(
    tmp_path: Path, fmt: str, container: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="tasklens.tools.export.pipeline")
    member = "export.ndjson" if fmt == "ndjson" else "export.json"
    path = tmp_path / (member + (f".{container}" if container else ""))
    path.write_bytes(wrap(encode(_assets(), fmt), container, member))
    alone = await _summary(path, share=False)
    shared = await _summary(path, share=True)
    helper = CountingHelper.started[-1]
    assert helper.offered >= 5, "the helper took too few regions for this test to mean anything"
    assert helper.exit_code is not None
    assert shared == alone
    assert "record " in alone  # nameless records were shown, numbered across both processes
    assert "5 records were valid JSON but not assets" in alone
    assert not _read_again(caplog)


async def test_filters_apply_in_both_processes(tmp_path: Path) -> None:
    path = tmp_path / "export.json"
    path.write_bytes(encode(_assets()))
    for filters in (Filters(stage="Complete"), Filters(annotator="labeler-2@example.com")):
        assert await _summary(path, share=True, filters=filters) == await _summary(path, share=False, filters=filters)


async def test_false_boundaries_at_region_cuts_are_read_again_alone(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="tasklens.tools.export.pipeline")
    # Every asset carries nested objects whose first key is the asset's own first key, so region cuts
    # often land inside an asset: the helper cannot read such a region alone, and the file is read again.
    assets = [asset for asset in _assets(200, 0.0) if isinstance(asset, dict)]
    for asset in assets:
        asset["metadata"] = {"frames": [{"externalId": n, "x": 1} for n in range(40)]}
    assets = [{"externalId": a.pop("externalId", "nameless"), **a} for a in assets]
    path = tmp_path / "export.json"
    path.write_bytes(encode(assets))
    assert await _summary(path, share=True) == await _summary(path, share=False)
    assert _read_again(caplog)
    assert all(helper.exit_code is not None for helper in CountingHelper.started)


@pytest.mark.parametrize("damage", ["missing comma", "truncated"])
async def test_a_malformed_file_gives_the_single_pass_error(
    tmp_path: Path, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="tasklens.tools.export.pipeline")
    data = encode(_assets())
    if damage == "missing comma":
        cut = data.index(b'},{"', len(data) * 2 // 3)
        data = data[: cut + 1] + data[cut + 2 :]
    else:
        data = data[: len(data) * 3 // 4]
    path = tmp_path / "export.json"
    path.write_bytes(data)
    errors = []
    for share in (False, True):
        with pytest.raises(ProviderError) as caught:
            await _summary(path, share=share)
        errors.append(caught.value.for_model())
    assert errors[0] == errors[1] and "not valid JSON at byte" in errors[0]
    assert _read_again(caplog)
    assert all(helper.exit_code is not None for helper in CountingHelper.started)


async def test_a_helper_that_dies_costs_time_not_correctness(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="tasklens.tools.export.pipeline")
    path = tmp_path / "export.ndjson"
    path.write_bytes(encode(_assets(), "ndjson"))
    alone = await _summary(path, share=False)

    original = CountingHelper.offer

    def offer_then_die(self: CountingHelper, *args: Any) -> bool:
        taken = original(self, *args)
        if self.offered == 3 and self.exit_code is None:
            os.kill(self.pid, signal.SIGKILL)
        return taken

    monkeypatch.setattr(CountingHelper, "offer", offer_then_die)
    assert await _summary(path, share=True) == alone
    assert _read_again(caplog)
    assert CountingHelper.started[-1].exit_code is not None


async def test_a_cancelled_read_stops_the_helper(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "PROGRESS_EVERY_S", 0.0)  # the first progress report comes after one read
    path = tmp_path / "export.json"
    path.write_bytes(encode(_assets(600)))

    async def progress(done: float, total: float | None, message: str | None) -> None:
        scope.cancel()

    pool = HelperPool(share_from_bytes=0, start=CountingHelper)
    with anyio.CancelScope() as scope:
        settings = ExportSettings(roots=(str(tmp_path),), helpers=pool)
        await read_local(ExportReader(), str(path), settings, progress)
    assert scope.cancelled_caught
    assert CountingHelper.started[-1].exit_code is not None, "the cancelled read's helper still runs"
    pool.close()
    assert CountingHelper.started[-1].offered < 5, "the read was not cancelled early"
    assert CountingHelper.started and all(helper.exit_code is not None for helper in CountingHelper.started)


class StartedHelper(Helper):
    """The real helper, left to take what it can, remembered so that a test can count the starts."""

    started: list[StartedHelper] = []

    def __init__(self) -> None:
        super().__init__()
        self.taken = 0
        StartedHelper.started.append(self)

    def offer(self, region: memoryview, offset: int, segment: int, lines: bool) -> bool:
        taken = super().offer(region, offset, segment, lines)
        self.taken += taken
        return taken


def _children() -> set[int]:
    """This process's live child processes (helpers are its only ones in these tests)."""
    pids: set[int] = set()
    for task in Path("/proc/self/task").iterdir():
        pids.update(int(pid) for pid in (task / "children").read_text().split())
    return pids


needs_proc = pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="counts child processes in /proc")


@needs_proc
async def test_concurrent_summaries_share_one_pool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "PROGRESS_EVERY_S", 0.0)  # watch the child processes after every chunk
    path = tmp_path / "export.json"
    path.write_bytes(encode(_assets(600)))
    alone = await _summary(path, share=False)
    before = _children()
    most = 0
    StartedHelper.started = []
    pool = HelperPool(share_from_bytes=0, start=StartedHelper)
    settings = ExportSettings(roots=(str(tmp_path),), helpers=pool)

    async def progress(done: float, total: float | None, message: str | None) -> None:
        nonlocal most
        most = max(most, len(_children() - before))

    async def summarize(results: list[str]) -> None:
        reader = ExportReader()
        await read_local(reader, str(path), settings, progress)
        unreadable = (reader.unreadable.count, reader.unreadable.first_offset)
        results.append(
            compact_json(build_summary(reader.accumulator, source="x", top_k=50, detailed=True, unreadable=unreadable))
        )

    results: list[str] = []
    try:
        async with anyio.create_task_group() as group:
            for _ in range(16):
                group.start_soon(summarize, results)
        assert len(StartedHelper.started) == 1 and most == 1, "one helper for the pool, however many reads"
        assert results == [alone] * 16
        helper = StartedHelper.started[0]
        assert helper.taken >= 3, "the read that had the helper shared nothing"
        assert helper.exit_code is None, "the helper is kept for the next read"
    finally:
        pool.close()
    assert helper.exit_code is not None and _children() == before


async def test_a_helper_serves_read_after_read_and_is_replaced_after_a_failure(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="tasklens.tools.export.pipeline")
    good = tmp_path / "good.ndjson"
    good.write_bytes(encode(_assets(), "ndjson"))
    tricky = tmp_path / "tricky.json"  # cut at false boundaries: the helper fails, the read is redone alone
    assets = [asset for asset in _assets(200, 0.0) if isinstance(asset, dict)]
    for asset in assets:
        asset["metadata"] = {"frames": [{"externalId": n, "x": 1} for n in range(40)]}
    tricky.write_bytes(encode([{"externalId": a.pop("externalId", "nameless"), **a} for a in assets]))
    expected = {path: await _summary(path, share=False) for path in (good, tricky)}
    pool = HelperPool(share_from_bytes=0, start=CountingHelper)
    settings = ExportSettings(roots=(str(tmp_path),), helpers=pool)
    try:
        for path in (good, good, tricky, good):
            assert await _read(path, settings) == expected[path], path.name
        first, second = CountingHelper.started
        assert first.offered >= 10, "the first helper read regions of both reads of good.ndjson"
        assert first.exit_code is not None, "the helper that failed was stopped"
        assert second.offered >= 5 and second.exit_code is None
        assert _read_again(caplog)
    finally:
        pool.close()
    assert second.exit_code is not None


@needs_proc
async def test_the_server_stops_its_helper_when_it_stops(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mcp import Client

    from tasklens.server import app
    from tasklens.server.config import Config

    path = tmp_path / "export.json"
    path.write_bytes(encode(_assets()))
    StartedHelper.started = []
    monkeypatch.setattr(app, "HelperPool", lambda: HelperPool(share_from_bytes=0, start=StartedHelper))
    before = _children()
    server = app.build_server(Config(providers={}, export_roots=(str(tmp_path),)))
    async with Client(server) as client:
        for _ in range(2):
            result = await client.call_tool("summarize_export", {"source": str(path)})
            assert not result.is_error
        assert len(StartedHelper.started) == 1 and _children() - before == {StartedHelper.started[0].pid}
    assert StartedHelper.started[0].exit_code is not None and _children() == before


@needs_proc
async def test_the_helper_counts_without_loading_pydantic(tmp_path: Path) -> None:
    """The result models need pydantic (~14 MiB of memory); only the main process renders a summary."""
    path = tmp_path / "export.ndjson"
    path.write_bytes(encode(_assets(), "ndjson"))
    pool = HelperPool(share_from_bytes=0, start=CountingHelper)
    try:
        await _read(path, ExportSettings(roots=(str(tmp_path),), helpers=pool))
        helper = CountingHelper.started[-1]
        assert helper.offered >= 5, "the helper read regions, so it has imported all it counts with"
        libraries = Path(f"/proc/{helper.pid}/maps").read_text()
        assert "msgspec" in libraries
        assert "pydantic" not in libraries
    finally:
        pool.close()


def test_the_work_is_judged_by_the_unpacked_size(tmp_path: Path) -> None:
    data = encode(_assets(50))
    for name, content in (("a.json", data), ("a.json.zip", wrap(data, "zip")), ("a.json.gz", gzip.compress(data))):
        path = tmp_path / name
        path.write_bytes(content)
        with path.open("rb") as file:
            assert unpacked_size(file, os.path.getsize(path)) == len(data), name
            assert file.tell() == 0


def test_the_helper_can_be_turned_off() -> None:
    from tasklens.server.app import export_settings

    assert load_config({}).export_helper is True
    assert load_config({"TASKLENS_EXPORT_HELPER": "0"}).export_helper is False
    with pytest.raises(ConfigError, match="TASKLENS_EXPORT_HELPER"):
        load_config({"TASKLENS_EXPORT_HELPER": "maybe"})
    pool = export_settings(load_config({}), None).helpers
    assert pool is not None and pool.size == 1 and pool.share_from_bytes == 32 << 20
    assert export_settings(load_config({"TASKLENS_EXPORT_HELPER": "0"}), None).helpers is None
