"""Shadow deployment and promotion in a running worker: the live model changes, no post is lost or doubled."""

from __future__ import annotations

import threading

import pytest

from tests.support.data import airline_sample
from tests.support.stack import Stack, stored_total


@pytest.mark.timeout(900)  # two models score 1,500 posts
def test_promotion_swaps_the_live_model_without_loss_or_duplicates(stack: Stack, trained_model) -> None:  # type: ignore[no-untyped-def]
    from streams.kafka.announcer import promote_and_announce
    from models.registry import log_and_register
    from streams.core.configs import registry_config

    settings = stack.settings
    v1 = log_and_register(trained_model, registry=registry_config(settings), params={"test": "champion"}, metrics={}, alias="champion")
    v2 = log_and_register(trained_model, registry=registry_config(settings), params={"test": "challenger"}, metrics={}, alias="challenger")
    worker = stack.worker(
        BRANDPULSE_MODEL_REF="champion", BRANDPULSE_CHALLENGER_REF="challenger", BRANDPULSE_AUTO_PROMOTE="false"
    ).start()
    stats = worker.get("/stats")
    assert (stats["champion"], stats["challenger"]) == (v1, v2)

    df = airline_sample(1500)
    producer = threading.Thread(target=stack.replay, args=(df, 100.0))
    producer.start()
    worker.wait_for(lambda w: w.get("/stats")["posts_scored"] >= 400, what="posts scored by v1 with v2 in shadow")
    promote_and_announce(settings, "challenger", reason="test")
    worker.wait_for(lambda w: (s := w.get("/stats"))["champion"] == v2 and s["challenger"] is None, what="the swap")
    producer.join()
    worker.wait_for(lambda w: stored_total(w) >= 1500, what="all posts stored")
    worker.stop()

    store = stack.store()
    assert store.scalar("SELECT count() FROM brandpulse.posts") == 1500
    assert store.scalar("SELECT uniqExact(post_id) FROM brandpulse.posts") == 1500
    by_version = {r["model_version"]: r["n"] for r in store.query(
        "SELECT model_version, count() n FROM brandpulse.posts GROUP BY model_version")}
    assert set(by_version) == {v1, v2} and sum(by_version.values()) == 1500
    shadow = store.scalar("SELECT count() FROM brandpulse.scored_posts FINAL WHERE model_role = 'shadow'")
    assert shadow >= 400  # v2 shadowed every batch v1 scored before the swap
    assert store.scalar(
        "SELECT count() FROM brandpulse.scored_posts FINAL WHERE model_role = 'shadow' AND model_version != {v:String}", {"v": v2}
    ) == 0


def test_retrain_outcomes_and_promotions_reach_slack_once_each(stack: Stack, trained_model) -> None:  # type: ignore[no-untyped-def]
    """The trainer's outcomes and a promotion, published as they are in production, reach the worker's
    webhook; the worker's own alerts and stale outcomes on the same topic are not sent (again)."""
    import datetime as dt

    from drift.retraining.job import RetrainOutcome
    from models.registry import log_and_register
    from streams.core.configs import registry_config
    from streams.core.schemas import Alert
    from streams.kafka.announcer import announce, promote_and_announce
    from tests.support.slack import Receiver

    settings = stack.settings
    v1 = log_and_register(trained_model, registry=registry_config(settings), params={"test": "champion"}, metrics={}, alias="champion")
    v2 = log_and_register(trained_model, registry=registry_config(settings), params={"test": "challenger"}, metrics={}, alias="challenger")
    outcomes = [RetrainOutcome(request_id=f"r{i}", requested_for=v1, status=s, message=f"<!channel> {s} run")
                for i, s in enumerate(["registered", "rejected", "skipped", "failed"])]
    stale = outcomes[0].alert().model_copy(update={"detected_at": dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)})
    model_alert = Alert(alert_id="own", kind="label_drift", detector="d", statistic=1, threshold=0, model_version=v1)
    with Receiver() as slack:
        worker = stack.worker(BRANDPULSE_MODEL_REF="champion", BRANDPULSE_CHALLENGER_REF="challenger",
                              BRANDPULSE_AUTO_PROMOTE="false", BRANDPULSE_SLACK_WEBHOOK_URL=slack.url).start()
        announce(settings, alerts=[stale, model_alert] + [o.alert() for o in outcomes])
        promote_and_announce(settings, "challenger", reason="test")
        worker.wait_for(lambda w: len(slack.delivered) >= 5 and w.get("/stats")["champion"] == v2, timeout_s=60,
                        what="four outcomes and the promotion in Slack")
        titles = [m["blocks"][0]["text"]["text"] for m in slack.delivered]
        assert titles == ["🧪 Challenger registered", "🚫 Retrained model rejected", "⏭️ Retrain skipped",
                          "💥 Retrain failed", "🚀 Model promoted"]
        assert all("&lt;!channel&gt;" in m["text"] for m in slack.delivered[:4])
        assert v2 in str(slack.delivered[4]["blocks"])
