"""Where the suite's files are, for tests at any depth under tests/."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the repository
TESTS = ROOT / "tests"
DATA = TESTS / "data"  # the vendor's published export samples
SNAPSHOTS = TESTS / "snapshots"
SCHEMAS = TESTS / "schemas"
BENCHMARKS = ROOT / "benchmarks"
