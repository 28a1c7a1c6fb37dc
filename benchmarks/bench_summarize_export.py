"""Benchmark: summarize_export against `json.load` + the same summary in plain Python, and against pydantic.

One run generates synthetic current-format Ango exports with history (tests/support/export_fixtures.py: 1-15
objects of every kind, polygons of 4-30 points, nested questions, Start → Label → Review with rework) at each
requested size, as a JSON array and as NDJSON, plain and zipped, under a temporary directory (never the
repository), and measures on each file, every approach in a fresh subprocess (peak RSS = its ru_maxrss,
and the helper process's own VmHWM read just before it stops):

  * baseline          `json.load` (or one `json.loads` per NDJSON line, or the ZIP member read whole)
                      + the reference summary (tests/support/export_reference.py), the straightforward way;
  * stdlib stream     NDJSON only: one `json.loads` per line fed to the same summary as it is read
                      (what a stdlib-only fallback could do; JSON arrays would need a splitter too);
  * pydantic          `TypeAdapter(list[Asset]).validate_json` on typed models without geometry
                      (per line for NDJSON) — decoding only, no summary: an upper bound for pydantic;
  * msgspec decode only  tasklens' unpacking, splitting and msgspec decoding with the records thrown
                      away: the like-for-like comparison with pydantic, and the pipeline's ceiling;
  * summarize_export  tasklens' own pipeline (source → unpack → split → msgspec → accumulate →
                      summary) driven by the tool's async loop, one chunk at a time on the event loop,
                      sharing regions with a helper process from a pool (tools/export/helpers.py) as
                      the tool does from 32 MiB; its peak RSS is shown as main + helper;
  * … helper kept     the same, timing a second read: the server keeps its helper between calls, so
                      only its first shared read pays for starting the helper;
  * … one process     the same without a helper pool (TASKLENS_EXPORT_HELPER=0);
  * … in a thread     the same, but each chunk handed to a worker thread (anyio.to_thread), to show
                      why the tool does not do that;
  * 16 concurrent summaries  16 summaries of the file at once in one process sharing one pool (one
                      helper), taking turns as 16 calls to the server would (a few read at once, the
                      rest wait): MiB/s counts all 16 reads, the RSS is the main process's and the helper's.

It prints MiB/s (of the uncompressed export), peak RSS, and the speed ratios to the baseline and to
one process measured in the same run. Not a pass/fail test: the figures depend on the machine and on
what else runs on it.

    python benchmarks/bench_summarize_export.py                      # 100 MiB and 1024 MiB, everything
    python benchmarks/bench_summarize_export.py --mib 100            # one size
    python benchmarks/bench_summarize_export.py --mib 2 --quick      # smoke-sized
    python benchmarks/bench_summarize_export.py --baseline-max-mib 200   # skip json.load above 200 MiB
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
APPROACHES = (
    "baseline",
    "stdlib stream",
    "pydantic",
    "msgspec decode only",
    "summarize_export",
    "summarize_export, helper kept",
    "summarize_export, one process",
    "summarize_export in a thread",
    "16 concurrent summaries",
)
CONCURRENT = 16
FAST_APPROACHES = ("baseline", "summarize_export", "summarize_export, helper kept", "summarize_export, one process")


# ---- data -----------------------------------------------------------------------------------------------
def generate(directory: Path, mib: int, fmt: str, zipped: bool, seed: int = 11) -> Path:
    """A current-format export of about `mib` MiB (reused when already generated with these parameters)."""
    sys.path.insert(0, str(HERE.parent / "tests"))
    from support.export_fixtures import ExportGenerator

    name = f"ango-export-{mib}MiB-s{seed}.{fmt}"
    plain = directory / name
    target = directory / (name + ".zip") if zipped else plain
    if target.exists():
        return target
    directory.mkdir(parents=True, exist_ok=True)
    if not plain.exists():
        generator = ExportGenerator(seed, classes=12, labelers=20, reviewers=5, max_tools=15, polygon_points=(4, 30))
        pool = []
        for asset in generator.assets(min(2000, max(40, (mib << 20) // 14_000))):
            asset["externalId"] = "@@ID@@"
            pool.append(json.dumps(asset, separators=(",", ":")).encode())
        budget = mib << 20
        partial = plain.with_suffix(plain.suffix + ".partial")
        with partial.open("wb") as out:
            out.write(b"[" if fmt == "json" else b"")
            written, index = 0, 0
            while written < budget:
                record = pool[index % len(pool)].replace(b"@@ID@@", b"asset_%09d.jpg" % index)
                if fmt == "json":
                    out.write(b"," + record if index else record)
                else:
                    out.write(record + b"\n")
                written += len(record) + 1
                index += 1
            out.write(b"]" if fmt == "json" else b"")
        partial.rename(plain)
    if zipped:
        partial = target.with_suffix(".partial")
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.write(plain, arcname=plain.name)
        partial.rename(target)
    return target


def uncompressed_size(path: Path) -> int:
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as archive:
            return sum(info.file_size for info in archive.infolist())
    return path.stat().st_size


# ---- the approaches, each run inside a fresh worker process --------------------------------------------
def _open_member(path: Path) -> Any:
    if path.suffix == ".zip":
        archive = zipfile.ZipFile(path)
        return archive.open(archive.namelist()[0])
    return path.open("rb")


def run_baseline(path: Path) -> Any:
    from support.export_reference import summarize

    with _open_member(path) as stream:
        if ".ndjson" in path.name:
            assets = [json.loads(line) for line in stream if line.strip()]
        else:
            assets = json.load(stream)
    return summarize(assets)["assets"]


def run_stdlib_stream(path: Path) -> Any:
    from support.export_reference import summarize

    with _open_member(path) as stream:
        return summarize(json.loads(line) for line in stream if line.strip())["assets"]


def run_pydantic(path: Path) -> Any:
    from typing import Any as AnyType

    from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

    class Model(BaseModel):
        model_config = ConfigDict(extra="ignore", populate_by_name=True)

    class Question(Model):
        title: AnyType = None
        tool: AnyType = None
        answer: AnyType = None
        classifications: list[Question] | None = None

    class Tool(Model):
        title: AnyType = None
        schemaId: AnyType = None
        objectId: AnyType = None
        classifications: list[Question] | None = None

    class History(Model):
        stage: AnyType = None
        duration: AnyType = None
        reviewStatus: AnyType = None
        completedBy: AnyType = None
        completedAt: AnyType = None

    class Task(Model):
        stage: AnyType = None
        totalDuration: AnyType = None
        tools: list[Tool] | None = None
        classifications: list[Question] | None = None
        stageHistory: list[History] | None = None
        consensusAverage: AnyType = None

    class Asset(Model):
        externalId: AnyType = None
        batches: AnyType = None
        task: Task | None = None
        tasks: list[dict[str, AnyType]] | None = Field(default=None)

    with _open_member(path) as stream:
        if ".ndjson" in path.name:
            one = TypeAdapter(Asset)
            return sum(1 for line in stream if line.strip() and one.validate_json(line))
        return len(TypeAdapter(list[Asset]).validate_json(stream.read()))


def run_decode_only(path: Path) -> Any:
    import gc

    from tasklens.tools.export.scan import Decoders, DocumentScanner, Unreadable
    from tasklens.tools.export.unpack import Limits, Unpacker

    count = 0
    documents: list[DocumentScanner] = []

    def sink(assets: list[Any]) -> None:
        nonlocal count
        count += len(assets)

    decoders = Decoders(Unreadable())
    unpacker = Unpacker(
        lambda name: documents.append(DocumentScanner(sink, decoders)),
        lambda data: documents[-1].feed(data),
        lambda: documents[-1].finish(),
        Limits(),
    )
    with path.open("rb", buffering=0) as file:
        while data := file.read(1 << 20):
            gc.disable()  # as ExportReader.feed does
            unpacker.feed(data)
            gc.enable()
    unpacker.finish()
    return count


def run_tasklens(path: Path, threaded: bool = False, shared: bool = True, concurrent: int = 1, pool: Any = None) -> Any:
    """`concurrent` summaries of `path` at once; with a helper pool of their own, closed at the end,
    unless `pool` (kept) is given."""
    import anyio

    from tasklens.tools.export import pipeline
    from tasklens.tools.export.helpers import HelperPool
    from tasklens.tools.export.pipeline import ExportReader, ExportSettings
    from tasklens.tools.export.summary import build_summary

    helpers = pool or (HelperPool(start=measured_helper) if shared else None)
    settings = ExportSettings(roots=(str(path.parent),), helpers=helpers)

    async def summarize(assets: list[int]) -> None:
        reader = ExportReader()
        if threaded:
            with path.open("rb", buffering=0) as file:
                while data := file.read(pipeline.CHUNK):
                    await anyio.to_thread.run_sync(reader.feed, data)
            reader.finish()
        else:
            async with settings.running.slot():  # turns, as the tool takes them (a few reads at once)
                await pipeline.read_local(reader, str(path), settings, None)
        build_summary(reader.accumulator, source=path.name, top_k=10, detailed=False)
        assets.append(reader.accumulator.assets)

    async def main() -> int:
        assets: list[int] = []
        try:
            async with anyio.create_task_group() as group:
                for _ in range(concurrent):
                    group.start_soon(summarize, assets)
        finally:
            if pool is None:
                settings.close()  # the helper records its peak RSS as it stops
        assert len(assets) == concurrent and len(set(assets)) == 1, assets
        return assets[0]

    return anyio.run(main)


KEPT: dict[str, Any] = {}  # "helper kept": the pool whose helper an earlier read started
HELPER_PEAKS_KIB: list[int] = []  # each helper's own peak RSS, read as it stops


def _own_peak_kib(pid: int) -> int | None:
    """A process's own peak RSS (VmHWM), where /proc has it."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def measured_helper() -> Any:
    """A helper that records its own peak RSS just before it stops. A child's ru_maxrss is no measure of
    it: the helper is spawned with vfork + exec, and exec records the parent's peak as the child's."""
    from tasklens.tools.export.helpers import Helper

    class Measured(Helper):
        def close(self) -> None:
            peak = _own_peak_kib(self.pid) if self.exit_code is None else None
            if peak is not None:
                HELPER_PEAKS_KIB.append(peak)
            super().close()

    return Measured()


def _prepare(approach: str, path: Path) -> None:
    """Import what an approach needs before the clock starts: start-up is not throughput."""
    import support.export_reference as export_reference  # noqa: F401

    if approach == "pydantic":
        import pydantic  # noqa: F401
    if approach.startswith("summarize_export") or approach.startswith("msgspec"):
        import anyio  # noqa: F401

        import tasklens.tools.export.pipeline  # noqa: F401
        import tasklens.tools.export.summary  # noqa: F401
    if approach == "summarize_export, helper kept":
        from tasklens.tools.export.helpers import HelperPool

        KEPT["pool"] = HelperPool(start=measured_helper)
        run_tasklens(path, pool=KEPT["pool"])  # the server's earlier call, which started the helper


def worker(approach: str, path: Path) -> None:
    """Run one approach on one file in this (fresh) process and print its figures as JSON."""
    import resource

    sys.path.insert(0, str(HERE.parent / "tests"))
    runner = {
        "baseline": run_baseline,
        "stdlib stream": run_stdlib_stream,
        "pydantic": run_pydantic,
        "msgspec decode only": run_decode_only,
        "summarize_export": run_tasklens,
        "summarize_export, helper kept": lambda p: run_tasklens(p, pool=KEPT["pool"]),
        "summarize_export, one process": lambda p: run_tasklens(p, shared=False),
        "summarize_export in a thread": lambda p: run_tasklens(p, threaded=True),
        "16 concurrent summaries": lambda p: run_tasklens(p, concurrent=CONCURRENT),
    }[approach]
    _prepare(approach, path)
    started = time.perf_counter()
    assets = runner(path)
    seconds = time.perf_counter() - started
    if KEPT:
        KEPT.pop("pool").close()  # the helper records its peak RSS as it stops
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # The helper's own peak; where /proc is missing, ru_maxrss of the children (the helper, if one ran),
    # which is at least the main process's size when it started the helper.
    helper_kib = max(HELPER_PEAKS_KIB, default=0) or resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(
        json.dumps(
            {"seconds": seconds, "peak_mib": peak_kib / 1024, "helper_peak_mib": helper_kib / 1024, "assets": assets}
        )
    )


# ---- orchestration ----------------------------------------------------------------------------------------
@dataclass
class Cell:
    approach: str
    file: str
    mib: float
    seconds: float
    peak_mib: float
    assets: int
    helper_peak_mib: float = 0.0

    @property
    def mib_s(self) -> float:
        return self.mib / self.seconds


def measure(approach: str, path: Path) -> Cell:
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", approach, str(path)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{approach} on {path.name} failed:\n{out.stderr[-2000:]}")
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    return Cell(
        approach,
        path.name,
        uncompressed_size(path) / 2**20 * (CONCURRENT if approach == "16 concurrent summaries" else 1),
        figures["seconds"],
        figures["peak_mib"],
        figures["assets"],
        figures.get("helper_peak_mib", 0.0),
    )


def applies(approach: str, path: Path, mib: int, baseline_max_mib: int, pydantic_max_mib: int) -> bool:
    if approach == "stdlib stream":
        return ".ndjson" in path.name
    if approach == "baseline":
        return mib <= baseline_max_mib
    if approach == "pydantic":
        return mib <= pydantic_max_mib
    return True


def run(
    sizes: list[int],
    directory: Path,
    *,
    quick: bool = False,
    baseline_max_mib: int = 1 << 20,
    pydantic_max_mib: int = 128,
    formats: tuple[str, ...] = ("json", "ndjson"),
    containers: tuple[bool, ...] = (False, True),
) -> list[Cell]:
    cells: list[Cell] = []
    approaches = FAST_APPROACHES if quick else APPROACHES
    for mib in sizes:
        for fmt in formats:
            for zipped in containers:
                path = generate(directory, mib, fmt, zipped)
                for approach in approaches:
                    if applies(approach, path, mib, baseline_max_mib, pydantic_max_mib):
                        cells.append(measure(approach, path))
                        print(f"  measured {approach} on {path.name}", file=sys.stderr, flush=True)
    return cells


def report(cells: list[Cell]) -> str:
    lines = [
        f"{'file':34} {'approach':30} {'MiB':>6} {'MiB/s':>7} {'peak RSS (main + helper)':>24} "
        f"{'x baseline':>10} {'x one process':>13}",
        "-" * 130,
    ]
    baselines = {cell.file: cell for cell in cells if cell.approach == "baseline"}
    alone = {cell.file: cell for cell in cells if cell.approach == "summarize_export, one process"}
    for cell in cells:
        ratios = [
            f"{cell.mib_s / other.mib_s:.2f}x" if other else "-"
            for other in (baselines.get(cell.file), alone.get(cell.file))
        ]
        rss = (
            f"{cell.peak_mib:.0f} + {cell.helper_peak_mib:.0f} = {cell.peak_mib + cell.helper_peak_mib:.0f} MiB"
            if cell.helper_peak_mib
            else f"{cell.peak_mib:.0f} MiB"
        )
        lines.append(
            f"{cell.file:34} {cell.approach:30} {cell.mib:6.0f} {cell.mib_s:7.1f} {rss:>24} "
            f"{ratios[0]:>10} {ratios[1]:>13}"
        )
    assets = {(c.file, c.assets) for c in cells}
    lines.append(f"(assets per file agree across approaches: {len({f for f, _ in assets}) == len(assets)})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mib", type=int, nargs="+", default=[100, 1024], help="export sizes in MiB")
    parser.add_argument(
        "--dir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "tasklens-bench",
        help="where generated exports are written and reused (default: a temp folder)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="only the baseline and summarize_export (shared, helper kept, one process)"
    )
    parser.add_argument("--baseline-max-mib", type=int, default=1 << 20, help="skip json.load above this size")
    parser.add_argument("--pydantic-max-mib", type=int, default=128, help="skip pydantic above this size")
    parser.add_argument("--worker", nargs=2, metavar=("APPROACH", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker[0], Path(args.worker[1]))
        return 0
    if args.dir.resolve().is_relative_to(HERE.parent):
        parser.error("write generated exports outside the repository (--dir)")
    cells = run(
        args.mib,
        args.dir,
        quick=args.quick,
        baseline_max_mib=args.baseline_max_mib,
        pydantic_max_mib=args.pydantic_max_mib,
    )
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; load average at the end: "
        f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    print(report(cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
