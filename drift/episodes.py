"""One episode, one alert: the model watch's alerts grouped into episodes per kind, model version and brand.

A detector that still sees its drift fires again (ADWIN after each new change point, the label-mix
test every window, labelled performance after each re-arm), and each firing was a Slack message. Here
the first alert of a key — (kind, model version, brand or None for all brands) — **opens** an episode
and is raised; later alerts of that key while it is open are **suppressed** and counted. The episode
**resolves** after ``resolve_after_min`` minutes without an alert of its key, or at once when its model
version stops being the champion; either way one alert of the same kind with ``resolution`` set says
so, how long the episode lasted and how many repeats it held back. After it, a **cool-down** of
``cooldown_min`` minutes keeps a drift hovering at its threshold from opening episode after episode.
The words are those of the brand detectors' spikes (:class:`drift.brand.base.Episode`: start,
resolve after calm minutes, cool-down), which already page this way.

Time is the data's time (the posts' ``created_at``, as the worker's ``data_time``), never the wall
clock, so a replayed corpus opens and resolves the same episodes as the live stream did. An alert
that opens a retrain is news even inside an episode (``news=True``): it is raised, not counted as a
repeat, so a model that stays bad after a rejected retrain can ask again and say so.
Pure: no I/O, JSON state.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from pydantic import BaseModel, Field

from drift.records import Alert, AlertKind, Resolution

STATE_VERSION = 1
EpisodeKey = tuple[str, str, str | None]  # (kind, model_version, brand)


class EpisodeConfig(BaseModel):
    resolve_after_min: float = Field(
        default=120.0, gt=0, description="data-time minutes without an alert of its key before an episode resolves"
    )
    cooldown_min: float = Field(
        default=60.0, ge=0, description="data-time minutes after an episode resolved before its key may open another"
    )


class AlertEpisode(BaseModel):
    """One open (or just resolved, cooling down) episode: what opened it and what it held back."""

    kind: AlertKind
    model_version: str
    brand: str | None = None
    alert_id: str = Field(description="the alert that opened the episode")
    detector: str
    statistic: float
    threshold: float
    opened_at: dt.datetime
    last_at: dt.datetime = Field(description="data time of the key's latest alert, raised or suppressed")
    repeats: int = Field(default=0, description="alerts of the key suppressed while the episode was open")
    resolved_at: dt.datetime | None = None

    @property
    def key(self) -> EpisodeKey:
        return (self.kind, self.model_version, self.brand)


def key_of(alert: Alert) -> EpisodeKey:
    return (alert.kind, alert.model_version, alert.brand)


def episode_length(span: dt.timedelta) -> str:
    """'2 h 05 min', '40 min', '0 min': how long an episode lasted, to the minute."""
    minutes = max(0, int(span.total_seconds() // 60))
    hours, minutes = divmod(minutes, 60)
    if hours >= 48:
        return f"{hours // 24} d {hours % 24} h"
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"


class AlertEpisodes:
    """Per (kind, model version, brand): open on the first alert, suppress repeats, resolve, cool down."""

    def __init__(self, config: EpisodeConfig | None = None) -> None:
        self.config = config or EpisodeConfig()
        self.champion: str | None = None  # the champion the last :meth:`follow_champion` saw
        self.suppressed = 0  # alerts held back since the state began (open repeats and cool-down)
        self._episodes: dict[EpisodeKey, AlertEpisode] = {}

    @property
    def open(self) -> list[AlertEpisode]:
        return [ep for ep in self._episodes.values() if ep.resolved_at is None]

    def admit(self, alert: Alert, *, news: bool = False) -> bool:
        """Whether to raise ``alert``: True when it opens an episode (or is ``news``), False when suppressed."""
        at = alert.detected_at
        episode = self._episodes.get(key_of(alert))
        if episode is not None and episode.resolved_at is None:
            episode.last_at = max(episode.last_at, at)
            if news:
                return True
            episode.repeats += 1
            self.suppressed += 1
            return False
        cooling = episode is not None and at < episode.resolved_at + dt.timedelta(minutes=self.config.cooldown_min)  # type: ignore[operator]
        if cooling and not news:
            self.suppressed += 1
            return False
        self._episodes[key_of(alert)] = AlertEpisode(
            kind=alert.kind, model_version=alert.model_version, brand=alert.brand, alert_id=alert.alert_id,
            detector=alert.detector, statistic=alert.statistic, threshold=alert.threshold, opened_at=at, last_at=at,
        )
        return True

    def resolve(self, now: dt.datetime) -> list[Alert]:
        """The 'resolved' alerts of episodes quiet for ``resolve_after_min`` at data time ``now``; forgets
        resolved episodes whose cool-down is over."""
        quiet = dt.timedelta(minutes=self.config.resolve_after_min)
        cooldown = dt.timedelta(minutes=self.config.cooldown_min)
        self._episodes = {k: ep for k, ep in self._episodes.items() if ep.resolved_at is None or now < ep.resolved_at + cooldown}
        return [self._resolve(ep, now, "quiet") for ep in self.open if now - ep.last_at >= quiet]

    def follow_champion(self, champion: str | None, now: dt.datetime) -> list[Alert]:
        """Resolve every open episode of another version once the champion changed (a promotion or a
        rollback): the alerts were about a model that no longer serves. ``None`` (no model loaded yet) changes nothing."""
        if champion is None:
            return []
        before, self.champion = self.champion, champion
        if before is None or champion == before:
            return []
        return [self._resolve(ep, now, "replaced") for ep in self.open if ep.model_version != champion]

    def _resolve(self, episode: AlertEpisode, now: dt.datetime, reason: Resolution) -> Alert:
        episode.resolved_at = now
        where = f"brand '{episode.brand}'" if episode.brand else "all brands"
        why = (f"no {episode.kind} alert for {episode_length(now - episode.last_at)} of data time" if reason == "quiet"
               else f"{episode.model_version} is no longer the champion ({self.champion} is)")
        if episode.repeats:
            told = (f"The episode lasted {episode_length(episode.last_at - episode.opened_at)} from its first alert to "
                    f"its last; {episode.repeats} repeat{'s' if episode.repeats != 1 else ''} suppressed.")
        else:
            told = f"The episode was a single alert, raised {episode_length(now - episode.opened_at)} earlier in data time."
        return Alert(
            alert_id=hashlib.sha256(f"{episode.alert_id}|resolved".encode()).hexdigest()[:32],
            kind=episode.kind, detector=episode.detector, statistic=episode.statistic, threshold=episode.threshold,
            brand=episode.brand, model_version=episode.model_version,
            message=f"Resolved: {episode.kind} of {episode.model_version} on {where} ({why}). {told}",
            detected_at=now, since=episode.opened_at, resolution=reason, resolves=episode.alert_id,
        )

    # ---- persistence ---------------------------------------------------------------------
    def to_state(self) -> dict[str, Any]:
        return {
            "state_version": STATE_VERSION,
            "champion": self.champion,
            "suppressed": self.suppressed,
            "episodes": [ep.model_dump(mode="json") for ep in self._episodes.values()],
        }

    @classmethod
    def from_state(cls, state: dict[str, Any], config: EpisodeConfig | None = None) -> AlertEpisodes:
        """The saved episodes under ``config`` (today's settings, not those they were saved with)."""
        if state.get("state_version") != STATE_VERSION:
            raise ValueError(f"alert-episode state version {state.get('state_version')!r}, expected {STATE_VERSION}")
        episodes = cls(config)
        episodes.champion = state["champion"]
        episodes.suppressed = int(state["suppressed"])
        for saved in state["episodes"]:
            ep = AlertEpisode.model_validate(saved)
            episodes._episodes[ep.key] = ep
        return episodes
