"""Scale-out end to end: three scoring processes, one store and one watch process, as separate OS processes.

Real broker, real model, chDB owned by the store process. Mid-stream one scoring process is killed
with SIGKILL (no shutdown, no commit); once the survivors hold its partitions a fourth one joins.
Afterwards every post is in ``posts`` exactly once, each brand's detectors were given every post of
that brand exactly once (the watch role's per-brand counter, after its redelivery filter), and the
stream never stood still for longer than a session timeout.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.support.data import airline_sample
from tests.support.net import free_port
from tests.support.stack import Stack, Worker


N_POSTS = 1200


class Progress(threading.Thread):
    """Samples the store process's inserted-row counter; the longest flat stretch is the worst stall."""

    def __init__(self, store: Worker) -> None:
        super().__init__(daemon=True)
        self.store = store
        self.samples: list[tuple[float, int]] = []
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            try:
                self.samples.append((time.monotonic(), self.store.get("/stats")["rows_stored"]))
            except httpx.HTTPError:  # a slow answer under load: the next sample counts
                pass
            time.sleep(0.25)

    def longest_stall(self) -> float:
        """Longest time the count stood still between the first stored row and the last new one."""
        changes = [t for (t, n), (_, before) in zip(self.samples[1:], self.samples) if n > before]
        return max((b - a for a, b in zip(changes, changes[1:])), default=0.0)


@pytest.mark.timeout(900)  # six worker processes on two cores
def test_three_scorers_one_killed_a_fourth_joins(stack: Stack) -> None:
    df = airline_sample(N_POSTS)
    session_timeout = stack.settings.session_timeout_s
    # Two cores for five model-serving processes: one torch thread each and small batches.
    lean = {"BRANDPULSE_THREADS": "1", "BRANDPULSE_BATCH_MAX": "32", "BRANDPULSE_BATCH_WITHIN_S": "0.2",
            "BRANDPULSE_WATCH_COMMIT_S": "1"}

    def role(name: str) -> Worker:
        return stack.worker(BRANDPULSE_ROLES=name, BRANDPULSE_WEB_PORT=str(free_port()), **lean)

    store, watch = role("store"), role("watch")
    scorers = [role("score") for _ in range(3)]
    with ThreadPoolExecutor(5) as pool:
        list(pool.map(lambda w: w.start(), [store, watch, *scorers]))
    assert store.get("/stats")["roles"] == ["store"] and scorers[0].get("/stats")["roles"] == ["score"]

    progress = Progress(store)
    progress.start()
    producer = threading.Thread(target=stack.replay, args=(df, 40.0))
    producer.start()
    store.wait_for(lambda w: w.get("/stats")["rows_stored"] >= 300, timeout_s=120, what="some posts stored")
    scorers[0].kill9()  # no shutdown, no commit of its in-flight batch
    # The fourth starts once the survivors hold the dead scorer's partitions. Started sooner, its join
    # can land in the round that evicts the dead member, and Tansu then runs a second round (Kafka
    # takes every member that joins in time into the round under way): 8 s stood still on a loaded box.
    posts, n_partitions = stack.topic("posts"), stack.settings.topic_partitions
    scorers[1].wait_for(lambda w: sum(len(s.get("/stats")["partitions"].get(posts, [])) for s in scorers[1:]) == n_partitions,
                        timeout_s=60, what="the surviving scorers holding every partition of posts")
    role("score").start()
    producer.join()
    store.wait_for(lambda w: sum(w.get("/brands").values()) >= N_POSTS, timeout_s=120, what="every post stored")
    expected = df["airline"].value_counts().to_dict()
    watch.wait_for(lambda w: w.get("/stats")["watch_seen"]["per_brand"] == expected, timeout_s=60,
                   what="every post given to its brand's detectors")
    # Nothing left to redeliver: the scorers committed every post and the store every scored record
    # (redelivered ones included); and what the watch process raised reached the store process.
    store.wait_for(lambda w: stack.committed(stack.group("score"), "posts") >= N_POSTS, timeout_s=60,
                   what="the scorers' offsets of every post committed")
    store.wait_for(lambda w: (n := stack.count("scored")) >= N_POSTS and stack.committed(stack.group("store"), "scored") >= n,
                   timeout_s=60, what="the store's offsets of every scored record committed")
    watched = watch.get("/stats")
    raised = {"label-requests": watched["label_requests"], "alerts": watched["alerts"] + watched["brand_watch"]["brand_alerts"]}
    store.wait_for(lambda w: all(stack.committed(stack.group("store"), key) >= n for key, n in raised.items()),
                   timeout_s=60, what=f"the store's offsets of the watch's records committed ({raised})")
    progress.done.set()
    seen = watched["watch_seen"]
    stall = progress.longest_stall()
    for w in stack.workers:
        w.stop()

    assert seen["per_brand"] == expected, seen  # exactly once per brand, duplicates filtered
    print(f"redelivered posts the watch role skipped: {seen['duplicates_skipped']}; longest stall {stall:.1f}s")
    assert stall < session_timeout, f"the stream stood still for {stall:.1f}s (session timeout {session_timeout}s)"
    db = stack.store()
    assert db.scalar("SELECT count() FROM brandpulse.posts") == N_POSTS
    assert db.scalar("SELECT uniqExact(post_id) FROM brandpulse.posts") == N_POSTS
    counts = {r["brand"]: r["n"] for r in db.query("SELECT brand, count() n FROM brandpulse.posts GROUP BY brand")}
    assert counts == expected
    # What the watch process raised reached ClickHouse through its topics, written by the store process.
    assert watched["label_requests"] > 0
    assert db.scalar("SELECT count() FROM brandpulse.label_queue FINAL") == watched["label_requests"]
    assert db.scalar("SELECT count() FROM brandpulse.alerts FINAL") == watched["alerts"] + watched["brand_watch"]["brand_alerts"]
