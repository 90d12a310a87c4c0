"""Alert episodes (drift.episodes): one alert opens an episode, repeats are suppressed, quiet data time
resolves it once, a cool-down follows, a replaced champion resolves its version's episodes."""

from __future__ import annotations

import datetime as dt

from drift.episodes import AlertEpisodes, EpisodeConfig, episode_length
from drift.records import Alert

T0 = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.timezone.utc)


def alert(minute: float, kind: str = "confidence_drift", version: str = "m/1", brand: str | None = None, n: int = 0) -> Alert:
    return Alert(alert_id=f"a{n}", kind=kind, detector="adwin", statistic=-0.1, threshold=0.05, brand=brand,  # type: ignore[arg-type]
                 model_version=version, detected_at=T0 + dt.timedelta(minutes=minute))


def at(minute: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minute)


def tracker() -> AlertEpisodes:
    return AlertEpisodes(EpisodeConfig(resolve_after_min=60, cooldown_min=30))


def test_the_first_alert_opens_and_repeats_of_its_key_are_suppressed_and_counted() -> None:
    episodes = tracker()
    admitted = [episodes.admit(alert(m, n=i)) for i, m in enumerate([0, 5, 10, 20])]
    assert (admitted, episodes.suppressed, [ep.repeats for ep in episodes.open]) == ([True, False, False, False], 3, [3])


def test_kinds_versions_and_brands_are_separate_episodes() -> None:
    episodes = tracker()
    keys = [alert(0), alert(1, kind="input_drift"), alert(2, version="m/2"), alert(3, brand="acme"), alert(4)]
    assert [episodes.admit(a) for a in keys] == [True, True, True, True, False]


def test_an_episode_resolves_once_after_the_quiet_period_saying_how_long_and_how_many_repeats() -> None:
    episodes = tracker()
    for i, m in enumerate([0, 10, 25]):
        episodes.admit(alert(m, n=i))
    early, resolved, again = episodes.resolve(at(84)), episodes.resolve(at(85)), episodes.resolve(at(100))
    assert (early, len(resolved), again) == ([], 1, [])
    end = resolved[0]
    assert (end.kind, end.resolution, end.resolves, end.detected_at, end.since, end.model_version) == (
        "confidence_drift", "quiet", "a0", at(85), at(0), "m/1")
    assert end.message == ("Resolved: confidence_drift of m/1 on all brands (no confidence_drift alert for 1 h 00 min "
                           "of data time). The episode lasted 25 min from its first alert to its last; 2 repeats suppressed.")


def test_an_episode_of_one_alert_says_so_and_how_long_ago_it_was_raised() -> None:
    episodes = tracker()
    episodes.follow_champion("m/1", at(0))
    episodes.admit(alert(0))
    ended = episodes.follow_champion("m/2", at(12))
    assert ended[0].message == ("Resolved: confidence_drift of m/1 on all brands (m/1 is no longer the champion (m/2 is)). "
                                "The episode was a single alert, raised 12 min earlier in data time.")


def test_the_cool_down_suppresses_the_key_then_it_may_open_again() -> None:
    episodes = tracker()
    episodes.admit(alert(0))
    episodes.resolve(at(60))
    during, after = episodes.admit(alert(89, n=1)), episodes.admit(alert(90, n=2))
    assert (during, after, episodes.suppressed) == (False, True, 1)


def test_an_alert_that_opens_a_retrain_is_raised_inside_an_open_episode_and_during_its_cool_down() -> None:
    episodes = tracker()
    episodes.admit(alert(0))
    inside = episodes.admit(alert(10, n=1), news=True)
    episodes.resolve(at(70))
    cooling = episodes.admit(alert(75, n=2), news=True)
    assert (inside, cooling, episodes.suppressed) == (True, True, 0)


def test_a_replaced_champion_resolves_its_episodes_at_once_and_only_those() -> None:
    episodes = tracker()
    assert episodes.follow_champion("m/1", at(0)) == []
    episodes.admit(alert(0, version="m/1"))
    episodes.admit(alert(1, version="m/1", kind="input_drift", n=1))
    episodes.admit(alert(2, version="m/2", n=2))
    unchanged = episodes.follow_champion("m/1", at(3))
    ended = episodes.follow_champion("m/2", at(4))
    assert unchanged == []
    assert [(a.kind, a.model_version, a.resolution) for a in ended] == [
        ("confidence_drift", "m/1", "replaced"), ("input_drift", "m/1", "replaced")]
    assert "m/1 is no longer the champion (m/2 is)" in ended[0].message
    assert [ep.model_version for ep in episodes.open] == ["m/2"]


def test_no_champion_loaded_changes_nothing() -> None:
    episodes = tracker()
    episodes.follow_champion("m/1", at(0))
    episodes.admit(alert(0))
    assert (episodes.follow_champion(None, at(1)), episodes.follow_champion("m/1", at(2)), len(episodes.open)) == ([], [], 1)


def test_the_state_round_trips_with_todays_config() -> None:
    episodes = tracker()
    episodes.follow_champion("m/1", at(0))
    for i, m in enumerate([0, 10]):
        episodes.admit(alert(m, n=i))
    episodes.admit(alert(20, brand="acme", n=2))
    episodes.resolve(at(75))  # the all-brands episode resolves, the brand's stays open
    restored = AlertEpisodes.from_state(episodes.to_state(), EpisodeConfig(resolve_after_min=30, cooldown_min=0))
    assert restored.to_state() == episodes.to_state()
    assert (restored.config.resolve_after_min, restored.admit(alert(80, n=3)), [a.brand for a in restored.resolve(at(80))]) == (
        30, True, ["acme"])


def test_the_resolved_alert_id_is_the_same_on_a_replay() -> None:
    ids = []
    for _ in range(2):
        episodes = tracker()
        episodes.admit(alert(0))
        ids.append(episodes.resolve(at(60))[0].alert_id)
    assert ids[0] == ids[1] and ids[0] != "a0"


def test_durations_read_to_the_minute() -> None:
    assert [episode_length(dt.timedelta(minutes=m)) for m in (0, 40, 125, 60 * 50 + 3)] == ["0 min", "40 min", "2 h 05 min", "2 d 2 h"]
