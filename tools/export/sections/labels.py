"""The final labels: instances and objects per class, kinds, objects per asset, relations, masks, assets
without labels.

instances = tool entries; objects = distinct (class, `objectId`) per asset (video and multi-page
entries share one; an entry without a usable id is its own object). Past `MAX_KEYS` classes the
rarest fold into "(other)" (checked at 1.5x the bound, so a fold runs rarely).
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from operator import sub
from typing import TYPE_CHECKING

from ..records import raw_present
from .columns import Columns
from .common import FIRST, MAX_KEYS, OTHER, SECOND, Examples, add_counts, count_into, text
from .render import Rendering, name, top

if TYPE_CHECKING:
    from .parts import Labels, Spread

_ID_TYPES = frozenset({str, int})


class LabelsSection:
    def __init__(self) -> None:
        # per class key, in three counters (counted in C by Counter.update)
        self.class_instances: Counter[str] = Counter()
        self.class_objects: Counter[str] = Counter()
        self.class_assets: Counter[str] = Counter()
        self.kinds: Counter[str] = Counter()
        self.objects_per_asset: Counter[int] = Counter()  # objects → assets with that many
        self.instances = 0
        self.objects = 0
        self.relations: dict[str, int] = {}
        self.masked_assets = 0
        self.unlabeled = Examples()

    def count(self, columns: Columns) -> None:
        self._entries(columns)
        if columns.relations:
            count_into(
                self.relations,
                [
                    "group" if raw_present(relation.group) else (text(relation.direction) or "single")
                    for relation in columns.relations
                ],
            )
        self.masked_assets += sum(columns.masked)
        empty = columns.empty
        self.unlabeled.add([columns.order(i) for i in empty], lambda j: columns.name(empty[j]))
        self._bound()

    def _entries(self, columns: Columns) -> None:
        """Column-wise over the batch's tool entries: the distinct (asset, class, object id) tuples and
        `Counter.update`, which count in C, instead of a Python loop per entry."""
        keys = columns.tool_keys
        if not keys:
            self.objects_per_asset[0] += len(columns)
            return
        ids = [tool.objectId for tool in columns.flat_tools]
        if not set(map(type, ids)) <= _ID_TYPES:  # an entry without a usable id is its own object
            ids = [value if type(value) in _ID_TYPES else (None, n) for n, value in enumerate(ids)]
        owners = columns.tool_asset
        objects = dict.fromkeys(zip(owners, keys, ids, strict=True))  # ordered as the entries: by asset
        instances = Counter(keys)
        self.class_instances.update(instances)
        self.class_assets.update(map(SECOND, set(zip(owners, keys, strict=True))))
        self.kinds.update(columns.tool_kinds)
        self.instances += len(keys)
        self.objects += len(objects)
        if len(objects) == len(keys):  # every entry is an object of its own
            self.class_objects.update(instances)
            self.objects_per_asset.update(map(len, columns.tools))
            return
        self.class_objects.update(map(SECOND, objects))
        # each asset's objects are a run of the ordered owners: its length is the asset's count
        owned = list(map(FIRST, objects))
        edges = [bisect_left(owned, asset) for asset in range(len(columns) + 1)]
        self.objects_per_asset.update(map(sub, edges[1:], edges[:-1]))

    def merge(self, other: LabelsSection) -> None:
        for table, theirs in (
            (self.class_instances, other.class_instances),
            (self.class_objects, other.class_objects),
            (self.class_assets, other.class_assets),
            (self.kinds, other.kinds),
        ):
            table.update(theirs)
        self.objects_per_asset.update(other.objects_per_asset)
        self.instances += other.instances
        self.objects += other.objects
        add_counts(self.relations, other.relations.items())
        self.masked_assets += other.masked_assets
        self.unlabeled.merge(other.unlabeled)
        self._bound()

    def _bound(self) -> None:
        """Keep the `MAX_KEYS - 1` most frequent classes; fold the rest into "(other)"."""
        instances = self.class_instances
        if len(instances) <= MAX_KEYS * 3 // 2:
            return
        keep = {key for key, _ in instances.most_common(MAX_KEYS - 1)} | {OTHER}
        for table in (instances, self.class_objects, self.class_assets):
            for key in [key for key in table if key not in keep]:
                table[OTHER] += table.pop(key)

    def render(self, out: Rendering) -> Labels | None:
        from .parts import ClassCount, Labels  # only where a summary is rendered (see parts)

        classes = top(self.class_instances, out.k)
        out.cut("classes", len(classes), len(self.class_instances))
        if not self.objects_per_asset:
            return None
        return Labels(
            instances=self.instances,
            objects=self.objects,
            classes={
                name(key): ClassCount(instances=n, objects=self.class_objects[key], assets=self.class_assets[key])
                for key, n in classes
            },
            kinds=dict(top(self.kinds, 20)),
            objects_per_asset=_spread(self.objects_per_asset),
            relations=dict(top(self.relations, out.k)),
            masked_assets=self.masked_assets or None,
            unlabeled=out.listed(self.unlabeled, out.nested),
        )


def _spread(histogram: Counter[int]) -> Spread | None:
    """min/median/p90/max (nearest rank) of a value → count histogram: exact, and small."""
    from .parts import Spread

    total = sum(histogram.values())
    if not total:
        return None
    ordered = sorted(histogram.items())

    def rank(q: float) -> int:
        target = max(1, -(-q * total // 1))
        seen = 0
        for value, n in ordered:
            seen += n
            if seen >= target:
                return value
        return ordered[-1][0]

    return Spread(min=ordered[0][0], median=rank(0.5), p90=rank(0.9), max=ordered[-1][0])
