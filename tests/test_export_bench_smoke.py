"""A smoke-sized run of the summarize_export benchmark, so it cannot silently rot. Figures are printed,
not judged (they depend on the machine)."""

from __future__ import annotations

from pathlib import Path

from bench_summarize_export import APPROACHES, report, run


def test_summarize_export_benchmark_smoke(tmp_path: Path) -> None:
    cells = run([2], tmp_path, quick=True, formats=("json",), containers=(False,))
    cells += run([2], tmp_path, formats=("ndjson",), containers=(True,))
    assert {cell.approach for cell in cells} == set(APPROACHES)
    assert len({cell.assets for cell in cells}) == 1  # every approach read every asset
    assert all(cell.seconds > 0 and cell.peak_mib > 0 for cell in cells)
    print(report(cells))
