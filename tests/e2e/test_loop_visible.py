"""What the loop did is on the dashboard's default view: model alerts in the data's time, retrain outcomes stored.

A replayed corpus carries its own time (2015 for the airline tweets); the default view fits that
window. Model alerts are placed in it like brand alerts are, and the trainer's outcome (announced on
the alerts topic by another process) is stored by the embedded worker, with the labels the trainer
could not use (``bad_label`` dead letters, once each).
"""

from __future__ import annotations

import datetime as dt
import uuid

import httpx

from drift.retraining.job import RetrainOutcome
from streams.core.schemas import Alert
from streams.kafka.announcer import announce
from streams.worker.dead_letters import dead_letter, record_offset
from streams.worker.model_watch import in_data_time
from tests.support.data import airline_sample
from tests.support.stack import Stack, stored_total


T0 = dt.datetime(2015, 2, 20, 12, tzinfo=dt.timezone.utc)


def test_a_model_alert_is_placed_at_the_newest_post_seen_and_since_when_its_drift_began() -> None:
    wall = dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc)
    began = Alert(alert_id="a", kind="confidence_drift", detector="adwin", statistic=-0.1, threshold=0.05,
                  model_version="m/v1", detected_at=wall, since=T0)
    unknown = began.model_copy(update={"kind": "labelled_performance", "since": None})
    now = T0 + dt.timedelta(hours=1)
    assert [(a.detected_at, a.since) for a in (in_data_time(began, now), in_data_time(unknown, now))] == [
        (now, T0), (now, now)
    ]


def test_a_failed_retrain_and_its_unusable_labels_are_stored_and_on_the_default_dashboard(stack: Stack) -> None:
    df = airline_sample(300)
    worker = stack.worker().start()
    stack.replay(df)
    worker.wait_for(lambda w: stored_total(w) >= 300, what="300 posts stored")
    settings = stack.settings
    created = sorted(dt.datetime.strptime(t, "%m/%d/%Y %H:%M").replace(tzinfo=dt.timezone.utc) for t in df["tweet_created"])
    asked = created[len(created) // 2]  # the drift alert that asked for the retrain, in the data's time
    outcome = RetrainOutcome(
        request_id=uuid.uuid4().hex, requested_for="m/v1", status="failed", requested_at=asked,
        message="retrain for m/v1 failed: DataError: the base corpus is missing (report: /tmp/report)",
    )
    value = b'{"post_id": "p1", "label": "mixed", "annotator": "a", "text": "meh"}'
    bad = dead_letter(kind="bad_label", reason="unknown_label: label 'mixed' is not one of the classes",
                      topic=settings.topic("labels"), partition=-1, offset=record_offset(value + b"unknown_label"),
                      key=b"p1", value=value, post_id="p1")
    announce(settings, alerts=[outcome.alert(), outcome.alert()])  # announced again after a trainer restart
    stack.produce([bad.model_dump_json().encode()] * 2, topic="deadletter")

    def page(w) -> str:  # type: ignore[no-untyped-def]
        return httpx.get(f"{w.base_url}/dashboard?refresh=0", timeout=30).raise_for_status().text

    shown = worker.wait_for(lambda w: "the base corpus is missing" in page(w), timeout_s=120, what="the outcome on the dashboard")
    # Stopping sooner would leave the dead letters unacknowledged, for the next start to store.
    worker.wait_for(lambda w: w.get("/stats")["announced_dead_letters"] >= 1, timeout_s=60, what="the dead letter stored")
    worker.stop()
    store = stack.store()
    stored = (store.scalar("SELECT count() FROM brandpulse.alerts FINAL WHERE kind = 'retrain'"),
              store.scalar("SELECT count() FROM brandpulse.dead_letters FINAL WHERE error_kind = 'bad_label'"))
    assert (bool(shown), stored) == (True, (1, 1))
