"""Which posts the detectors have already seen, so a redelivered post is never counted twice.

Kafka delivers at least once: after a crash, a rebalance or a scoring process killed mid-batch, a
post can come back (to the watch role: a scored record published twice). Redeliveries only reach
back to the last committed offset, so remembering the most recent ``capacity`` post ids is enough
and keeps memory bounded. The ids are saved next to the detector state, each time that state is
saved, so after a restart the posts replayed since the last commit are recognised too. Per-brand
counts of what the detectors were given are kept with them (``/stats`` → ``watch_seen``).
"""

from __future__ import annotations

import json
import logging
from collections import Counter, OrderedDict
from collections.abc import Sequence
from pathlib import Path

from streams.core.schemas import ScoredPost

log = logging.getLogger(__name__)


class SeenPosts:
    def __init__(self, capacity: int, path: Path) -> None:
        self.capacity = capacity
        self.path = path
        self._ids: OrderedDict[str, None] = OrderedDict()
        self.per_brand: Counter[str] = Counter()
        self.duplicates = 0
        self._load()

    def fresh(self, rows: Sequence[ScoredPost]) -> list[ScoredPost]:
        """The rows whose post the detectors have not seen yet (first copy wins), now marked seen."""
        out: list[ScoredPost] = []
        for row in rows:
            if row.post_id in self._ids:
                self.duplicates += 1
                continue
            self._ids[row.post_id] = None
            self.per_brand[row.brand] += 1
            out.append(row)
        while len(self._ids) > self.capacity:
            self._ids.popitem(last=False)
        return out

    def snapshot(self) -> str:
        """The state to save, taken on the event loop (which alone updates it); written in a thread."""
        return json.dumps({"ids": list(self._ids), "per_brand": dict(self.per_brand), "duplicates": self.duplicates})

    def _load(self) -> None:
        try:
            state = json.loads(self.path.read_text())
        except FileNotFoundError:
            return
        except ValueError as exc:
            log.error("seen-posts state %s unusable (%s); redeliveries of earlier posts may count again", self.path, exc)
            return
        self._ids = OrderedDict.fromkeys(state["ids"][-self.capacity:])
        self.per_brand = Counter(state["per_brand"])
        self.duplicates = int(state.get("duplicates", 0))

    def stats(self) -> dict[str, object]:
        return {"per_brand": dict(self.per_brand), "duplicates_skipped": self.duplicates, "remembered": len(self._ids)}
