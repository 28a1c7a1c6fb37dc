"""A bounded percentile sketch: exact for small inputs, then log-bucketed with a known relative error.

Durations are unbounded floats, so keeping them all would make memory O(assets). The sketch keeps the
exact values until `exact_limit`, then folds them into logarithmic buckets of ratio `GAMMA` (the
DDSketch idea): any quantile is then returned within ±0.5% relative error, and the number of buckets is
bounded by the dynamic range (≈ 2,300 buckets from 1 ms to a year), not by the number of values.
`approximate` says which of the two modes answered, so the summary can say which figures are estimates.

Percentiles use the nearest-rank definition (the value at rank ⌈p·n⌉ of the sorted values), so exact
results are values that occurred, and independent re-computation can match them exactly.
"""

from __future__ import annotations

import math
from collections import Counter

GAMMA = 1.01
_LOG_GAMMA = math.log(GAMMA)


class Sketch:
    """Quantiles of non-negative numbers in bounded memory."""

    __slots__ = ("_values", "_exact_limit", "_buckets", "_zeros", "_folded", "count", "total", "_low", "_high")

    def __init__(self, exact_limit: int = 4096) -> None:
        self._values: list[float] = []  # exact values, or (once folded) values not yet bucketed
        self._exact_limit = exact_limit
        self._buckets: Counter[int] = Counter()
        self._zeros = 0
        self._folded = False
        self.count = 0
        self.total = 0.0
        self._low = math.inf
        self._high = -math.inf

    @property
    def approximate(self) -> bool:
        return self._folded

    def add(self, value: float) -> None:
        self.add_all([value])

    def add_all(self, values: list[float]) -> None:
        """Add `values` in order, in one pass over the list."""
        kept = [value for value in values if value >= 0]  # negative durations and NaN say nothing about time
        total = self.total
        for value in kept:  # one addition after the other, so the total does not depend on the batching
            total += value
        self.total = total
        self.count += len(kept)
        self._values += kept
        if len(self._values) > self._exact_limit:
            self._fold()

    def _fold(self) -> None:
        """Move the held values into buckets, all at once (one comprehension beats a call per value)."""
        values = self._values
        if not values:
            return
        self._folded = True
        self._low = min(self._low, min(values))
        self._high = max(self._high, max(values))
        positive = [value for value in values if value > 0]
        self._zeros += len(values) - len(positive)
        log, ceil = math.log, math.ceil
        self._buckets.update([ceil(log(value) / _LOG_GAMMA) for value in positive])
        self._values = []

    def merge(self, other: Sketch) -> None:
        """Fold `other` in: the result answers exactly as one sketch fed both inputs would (the bucket
        of a value does not depend on when it was added, and folding depends only on the count)."""
        self.count += other.count
        self.total += other.total
        self._zeros += other._zeros
        self._buckets.update(other._buckets)
        self._low = min(self._low, other._low)
        self._high = max(self._high, other._high)
        self._values.extend(other._values)
        self._folded = self._folded or other._folded
        if self._folded or len(self._values) > self._exact_limit:
            self._fold()

    def quantile(self, q: float) -> float | None:
        """The nearest-rank q-quantile (0 < q ≤ 1), or None when empty."""
        if not self.count:
            return None
        rank = max(1, math.ceil(q * self.count))
        if not self._folded:
            self._values.sort()
            return self._values[rank - 1]
        self._fold()
        if rank <= self._zeros:
            return 0.0
        seen = self._zeros
        for key in sorted(self._buckets):
            seen += self._buckets[key]
            if seen >= rank:
                # The bucket (γ^(k-1), γ^k] is represented by the point with equal relative error to both ends.
                estimate = 2 * GAMMA**key / (GAMMA + 1)
                return min(max(estimate, self._low), self._high)
        return self._high

    def count_above(self, threshold: float) -> int:
        """How many values exceed `threshold` (exact, or to the bucket containing it)."""
        if not self._folded:
            return sum(1 for value in self._values if value > threshold)
        self._fold()
        if threshold < 0:
            return self.count
        limit = math.ceil(math.log(threshold) / _LOG_GAMMA) if threshold > 0 else -math.inf
        return sum(n for key, n in self._buckets.items() if key > limit)
