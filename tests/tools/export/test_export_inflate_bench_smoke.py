"""A smoke-sized run of the inflate benchmark, so it cannot silently rot. Its figures are printed, not judged;
every row's output is checked against the input (length and CRC-32) by the benchmark itself."""

from __future__ import annotations

import pytest


def test_inflate_benchmark_smoke() -> None:
    pytest.importorskip("isal")
    from bench_inflate import report, run

    rows = run(mib=1, repeat=1)
    assert len(rows) == 5
    assert all(set(row.seconds) == {"zlib", "isal"} and min(row.seconds.values()) > 0 for row in rows)
    print(report(rows))
