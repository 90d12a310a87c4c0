"""The loop in split roles: two scoring processes, one store process owning the embedded chDB, one watch
process. The watch process tests input drift on the vectors the scorers sent with their rows, and
judges the challenger's shadow verdicts (read off ``scored``) against the human labels on their topic
and promotes it — without reading ClickHouse, which it could not open, and without an encoder pass."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.airline import as_posts, split_rows
from tests.support.net import free_port
from tests.support.stack import Stack, Worker, make_stack


@dataclass
class SplitLoop:
    stack: Stack
    scorers: list[Worker]
    watch: Worker
    rows: list[dict]
    champion: str
    challenger: str


@pytest.fixture(scope="module")
def loop(tmp_path_factory: pytest.TempPathFactory, kafka_bootstrap: str, trained_model: Path,
         airline_model: Path) -> Iterator[SplitLoop]:
    """Four role processes with a champion and a shadow challenger; 400 airline posts scored, stored and watched."""
    from models.registry import log_and_register
    from streams.core.configs import registry_config

    stack = make_stack(tmp_path_factory.mktemp("split-loop"), kafka_bootstrap, trained_model)
    registry = registry_config(stack.settings)
    champion = log_and_register(trained_model, registry=registry, params={"test": "general"}, metrics={}, alias="champion")
    challenger = log_and_register(airline_model, registry=registry, params={"test": "airline"}, metrics={}, alias="challenger")
    lean = {"BRANDPULSE_THREADS": "1", "BRANDPULSE_BATCH_MAX": "32", "BRANDPULSE_BATCH_WITHIN_S": "0.2",
            "BRANDPULSE_WATCH_COMMIT_S": "1", "BRANDPULSE_MODEL_REF": "champion", "BRANDPULSE_CHALLENGER_REF": "challenger",
            "BRANDPULSE_FLYBACK_RATE": "1.0", "BRANDPULSE_PROMOTION_MIN_LABELS": "300",
            "BRANDPULSE_HEALTH_WINDOW": "200"}  # model-health checks within the 400 posts

    def role(name: str) -> Worker:
        return stack.worker(BRANDPULSE_ROLES=name, BRANDPULSE_WEB_PORT=str(free_port()), **lean)

    store, watch = role("store"), role("watch")
    scorers = [role("score") for _ in range(2)]
    try:
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda w: w.start(), [store, watch, *scorers]))
        _, stream = split_rows()
        rows = stream[:400]
        stack.produce(as_posts(rows, "split"))
        # Every post's two verdicts (champion and shadow) stored by the store process, read by the watch process.
        store.wait_for(lambda w: w.get("/stats")["rows_stored"] >= 2 * len(rows), timeout_s=400, what="both verdicts stored")
        watch.wait_for(lambda w: sum(w.get("/stats")["watch_seen"]["per_brand"].values()) >= len(rows), timeout_s=60,
                       what="every post watched")
        yield SplitLoop(stack, scorers, watch, rows, champion, challenger)
    finally:
        for w in stack.workers:
            w.stop()


def test_the_watch_process_tests_input_drift_on_the_vectors_the_scorers_sent(loop: SplitLoop) -> None:
    health = loop.watch.wait_for(lambda w: (h := w.get("/stats")["health"])["checks"] >= 1 and h, timeout_s=60,
                                 what="a model-health check")
    assert (health["vectors_from_scoring"] > 0, health["vectors_embedded_at_check"]) == (True, 0), health


def test_the_watch_process_promotes_the_challenger_from_the_labels_topic(loop: SplitLoop) -> None:
    from streams.core.schemas import HumanLabel

    assert loop.watch.get("/stats")["champion"] == loop.champion  # nothing is promoted without labels
    labels = [HumanLabel(post_id=f"split-{i}", label=r["airline_sentiment"], annotator="test (gold)", text=r["text"])
              for i, r in enumerate(loop.rows)]
    loop.stack.produce([h.model_dump_json().encode() for h in labels], topic="labels")
    loop.watch.wait_for(lambda w: w.get("/stats")["champion"] == loop.challenger, timeout_s=120, what="the challenger promoted")
    for scorer in loop.scorers:  # the promotion reached every process through model-events
        scorer.wait_for(lambda w: w.get("/stats")["champion"] == loop.challenger, timeout_s=60, what="the scorer swapped")
    promoted = [a for a in (json.loads(v) for v in loop.stack.consume_all("alerts", 1, timeout_s=10)) if a["kind"] == "promotion"]
    assert (len(promoted), promoted[0]["model_version"] if promoted else None) == (1, loop.challenger), promoted
    assert promoted[0]["window"] >= 300 and "macro-F1" in promoted[0]["message"]  # judged on the labels' sample
