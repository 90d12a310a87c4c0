"""Expected counts for a window: a seasonal profile when history exists, a trailing window when not.

The tested windows (the last ``max(windows)`` minutes) are kept apart from the baseline, so a
spike is never compared with itself. Minutes leave the window into

- the **trailing** window (default 12 h, Meltwater compares the last hour with the previous 12):
  always available after ``min_history_min``; its counts in window-sized slices also give the
  overdispersion of the series (variance above Poisson), which the negative-binomial test uses;
- the **recent level** (the ``local_min`` = 2 h just before the window): a morning ramp is normal
  against it even before there is a profile, while a crisis is not;
- the **profile**: mean count per minute for each hour-of-week (used once a cell has
  ``profile_weeks`` hours of history) or, before that, for each hour-of-day (``profile_days``).
  Cells forget slowly (their sums halve once they hold ``profile_memory_weeks`` of history), so a
  brand that grows over months is judged against its recent weeks.

A spike is confirmed against all of them: a detector fires only when the window is unusual for the
last 12 hours, for the last 2 hours *and* for this time of day / week — a morning ramp-up is normal for the hour even though
it beats the night before it, and a brand whose level rose hours ago is normal for the last 12 h.

Minutes inside an open spike are kept out of the baseline (``include=False``) for the episode's
first ``absorb_after_min`` minutes, so a long crisis does not raise its own bar; after that they
count, and a level that stays up becomes the new normal.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Literal

from drift.brand.base import Bucket
from drift.brand.config import BaselineConfig

BaselineKind = Literal["trailing", "recent", "hour_of_day", "hour_of_week"]


def hour_of_week(minute: int) -> int:
    hours = minute // 60
    weekday = (hours // 24 + 3) % 7  # 1970-01-01 was a Thursday; 0 = Monday
    return weekday * 24 + hours % 24


class Baseline:
    def __init__(self, cfg: BaselineConfig, fields: tuple[str, ...], windows: tuple[int, ...]) -> None:
        self.cfg = cfg
        self.fields = fields
        self.windows = windows
        self.recent: deque[tuple[Bucket, bool]] = deque(maxlen=max(windows))
        self._win = {(f, w): 0 for f in fields for w in windows}  # running sums of the open windows
        self.trailing: deque[Bucket | None] = deque(maxlen=cfg.trailing_min)
        self._sums = dict.fromkeys(fields, 0)
        self._minutes = 0
        self._hours: dict[int, int] = {}  # hour -> posts in the trailing window, for readiness
        self._local = dict.fromkeys(fields, 0)  # sums over the last local_min trailing minutes
        self._local_minutes = 0
        # cell -> [observed minutes, sum of each field]
        self.week: dict[int, list[float]] = {}
        self.day: dict[int, list[float]] = {}

    # ---- feeding -------------------------------------------------------------------------
    # Most minutes of most brands are empty, so every step has a fast path for an empty bucket
    # (``raw == 0`` means every count is zero).
    def push(self, bucket: Bucket, include: bool) -> None:
        n = len(self.recent)
        # Window sums index minutes by position: a repeated or earlier minute would corrupt every window.
        if n and bucket.minute <= self.recent[-1][0].minute:
            raise ValueError(f"minute {bucket.minute} is not after the last one pushed ({self.recent[-1][0].minute})")
        if bucket.raw or n:
            recent = self.recent
            for key in self._win:
                f, w = key
                out = getattr(recent[n - w][0], f) if n >= w and recent[n - w][0].raw else 0
                if bucket.raw or out:
                    self._win[key] += getattr(bucket, f) - out
        if n == self.recent.maxlen:
            old, old_included = self.recent[0]
            self._to_trailing(old if old_included else None)
        self.recent.append((bucket, include))

    def exclude_last(self, n: int) -> None:
        """Keep the last ``n`` window minutes out of the baseline (they turned out to be a spike)."""
        for i in range(max(0, len(self.recent) - n), len(self.recent)):
            self.recent[i] = (self.recent[i][0], False)

    def skip(self) -> None:
        """The feed was down: the open window is unusable; the baseline keeps what it had."""
        for old, included in self.recent:
            self._to_trailing(old if included else None)
        self.recent.clear()
        self._win = dict.fromkeys(self._win, 0)

    def _to_trailing(self, bucket: Bucket | None) -> None:
        trailing, fields = self.trailing, self.fields
        if len(trailing) == trailing.maxlen:
            gone = trailing[0]
            if gone is not None:
                self._minutes -= 1
                if gone.raw:
                    for f in fields:
                        self._sums[f] -= getattr(gone, f)
                    self._count_hour(gone, -1)
        trailing.append(bucket)
        if len(trailing) > self.cfg.local_min:
            leaving = trailing[-self.cfg.local_min - 1]
            if leaving is not None:
                self._local_minutes -= 1
                if leaving.raw:
                    for f in fields:
                        self._local[f] -= getattr(leaving, f)
        if bucket is None:
            return
        self._local_minutes += 1
        self._minutes += 1
        if bucket.raw:
            for f in fields:
                v = getattr(bucket, f)
                self._local[f] += v
                self._sums[f] += v
            self._count_hour(bucket, 1)
        memory = self.cfg.profile_memory_weeks * 60
        self._profile_add(self.week, hour_of_week(bucket.minute), bucket, memory)
        self._profile_add(self.day, (bucket.minute // 60) % 24, bucket, memory)

    def _count_hour(self, bucket: Bucket, sign: int) -> None:
        n = getattr(bucket, self.fields[0])
        if n:
            hour = bucket.minute // 60
            left = self._hours.get(hour, 0) + sign * n
            if left:
                self._hours[hour] = left
            else:
                del self._hours[hour]

    def _profile_add(self, cells: dict[int, list[float]], key: int, bucket: Bucket, memory: int) -> None:
        cell = cells.get(key)
        if cell is None:
            cell = cells[key] = [0.0] * (1 + len(self.fields))
        cell[0] += 1
        if bucket.raw:
            for i, f in enumerate(self.fields, 1):
                cell[i] += getattr(bucket, f)
        if cell[0] >= memory:
            cells[key] = [v / 2 for v in cell]

    # ---- reading -------------------------------------------------------------------------
    def window_sum(self, field: str, window_min: int) -> int:
        return self._win[field, window_min]

    @property
    def window_minutes(self) -> int:
        return len(self.recent)

    @property
    def ready(self) -> bool:
        """Enough history to judge: minutes, posts, and posts spread over enough hours."""
        total = self._sums[self.fields[0]]
        # History is the time covered (minutes kept out during a spike still count as history).
        if len(self.trailing) < self.cfg.min_history_min or total < self.cfg.min_baseline_count:
            return False
        return len(self._hours) >= self.cfg.min_active_hours

    def trailing_rate(self, field: str) -> float:
        return self._sums[field] / self._minutes if self._minutes else 0.0

    def local_rate(self, field: str) -> float | None:
        """Mean per minute just before the window: the level a morning ramp has already reached."""
        if self._local_minutes < self.cfg.local_min // 2:
            return None
        return self._local[field] / self._local_minutes

    def profile_rate(self, field: str, minute: int) -> tuple[float, BaselineKind] | None:
        """Mean count per minute of ``field`` at this time of week (or day), if enough history."""
        i = 1 + self.fields.index(field)
        cell = self.week.get(hour_of_week(minute))
        if cell is not None and cell[0] >= self.cfg.profile_weeks * 60:
            return cell[i] / cell[0], "hour_of_week"
        cell = self.day.get((minute // 60) % 24)
        if cell is not None and cell[0] >= self.cfg.profile_days * 60:
            return cell[i] / cell[0], "hour_of_day"
        return None

    def profile_share(self, field: str, total: str, minute: int) -> tuple[float, BaselineKind] | None:
        num, den = self.profile_rate(field, minute), self.profile_rate(total, minute)
        if num is None or den is None or den[0] <= 0:
            return None
        return num[0] / den[0], num[1]

    def dispersion(self, field: str, window_min: int) -> float:
        """Negative-binomial φ (variance = μ + φμ²) of window-sized slices of the trailing window.

        The variance is the mean squared successive difference / 2 (von Neumann), which ignores a
        slow trend: the 12 h before a morning hold the night's ramp-up, and a plain variance would
        read that trend as burstiness and blunt every test after it.
        """
        sums: list[int] = []
        acc, n = 0, 0
        for b in self.trailing:
            if b is None:
                acc, n = 0, 0
                continue
            acc += b.get(field)
            n += 1
            if n == window_min:
                sums.append(acc)
                acc, n = 0, 0
        if len(sums) < 3:
            return 0.0
        m = sum(sums) / len(sums)
        v = sum((b - a) ** 2 for a, b in zip(sums, sums[1:])) / (2 * (len(sums) - 1))
        return max(0.0, (v - m) / (m * m)) if m > 0 else 0.0

    # ---- state ---------------------------------------------------------------------------
    def to_state(self) -> dict[str, Any]:
        return {
            "recent": [[b.to_list(), inc] for b, inc in self.recent],
            "trailing": [None if b is None else b.to_list() for b in self.trailing],
            "week": {str(k): v for k, v in self.week.items()},
            "day": {str(k): v for k, v in self.day.items()},
        }

    def load_state(self, state: dict[str, Any]) -> None:
        for raw in state["trailing"]:
            self._to_trailing(None if raw is None else Bucket.from_list(raw))
        self.week = {int(k): v for k, v in state["week"].items()}
        self.day = {int(k): v for k, v in state["day"].items()}
        for raw, inc in state["recent"]:
            self.push(Bucket.from_list(raw), inc)
