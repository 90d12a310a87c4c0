"""Model health without labels: estimated performance (CBPE) and input drift against the checkpoint.

A shift in the predicted label mix is first a fact about the brands (a crisis, a launch); what says
the *model* is failing is evidence about the model itself. Two label-free signals live here:

- **Estimated performance** (confidence-based performance estimation, as NannyML's CBPE does): with
  calibrated probabilities (brandpulse's ECE is ~0.02-0.03) the expected confusion matrix of a window
  is ``E[C[i, j]] = Σ_{posts decided j} p_i``, which gives an expected accuracy and macro-F1 without a
  single label. Raw CBPE moves with the label mix, so the alarm uses the *prior-adjusted* expected
  accuracy: the mean probability of the decided class within each decided class, averaged with the
  checkpoint's reference label mix as weights. A pure label shift (more complaints, same kind of
  posts) leaves it where it was; posts the model does not understand pull it down.
- **Input drift**: simple text descriptors (length, words, @mentions, links, hashtags, upper case,
  digits, non-ASCII letters as a language/script proxy, and the share of words outside the
  reference texts' vocabulary) of the live window against the checkpoint's reference texts, and the
  model's own sentence vectors of a sample of live posts against those of the reference texts. Each
  is a domain test (:mod:`drift.domain_tests`): how well a classifier tells live posts from reference
  posts, as ROC-AUC; ≈ 0.5 means indistinguishable, ≥ ``auc_threshold`` (0.75) means the model is
  reading a different kind of text than it was validated on. The vectors see a change of topic that
  leaves length and vocabulary alone. A sentiment model's vectors carry sentiment, so the reference
  is first reweighted to the sample's decided-label mix (:func:`mix_weights`): a wave of complaints
  is not new input.

Cost. The vectors are not computed here: every scoring backend returns them from the forward pass
that scored the post (:class:`models.scoring.scorer.ScoreResult`), and the monitor keeps a bounded
reservoir sample of them per check. The domain tests are cross-fitted linear discriminants whose
reference side is prepared once, at model load (:class:`drift.domain_tests.LinearDomainTest`), and
each post is described once, when the check after it runs. :meth:`HealthMonitor.add` is cheap
(appends) and runs per scored batch; :meth:`HealthMonitor.check` runs every ``every`` posts but no
sooner than ``min_interval_s`` after the previous check (a time-and-volume schedule), costs a few
milliseconds, and is thread-safe against ``add``, so the worker runs it off the event loop without
holding up scoring.

A check on a window that cannot support the estimates — no reference, no or too few posts, every post
decided one label, or every post in one language the reference texts do not contain — returns
:class:`NotEnoughData` (with the reason) instead of a report; it never raises.

The reference comes from ``CheckpointMeta.reference_texts`` (a sample of the validation texts) scored
by the served model when it is loaded. Pure: plain inputs, no I/O.
"""

from __future__ import annotations

import logging
import math
import random
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field
from sklearn.metrics import confusion_matrix, f1_score

from drift.domain_tests import FOLDS, LinearDomainTest, domain_auc
from drift.records import ScoredPost
from models.data import normalise_tweet
from models.language import route

__all__ = [
    "DESCRIPTORS", "HealthCheck", "HealthConfig", "HealthMonitor", "HealthReference", "HealthReport",
    "HealthSignal", "HealthStatus", "NotEnoughData", "Reservoir", "adjusted_accuracy", "build_reference",
    "describe", "domain_auc", "estimated_macro_f1", "expected_confusion", "mix_weights", "shifted_descriptors",
    "vocabulary",
]

DESCRIPTORS = ("chars", "words", "mentions", "links", "hashtags", "uppercase", "digits", "non_ascii", "oov")
_WORD = re.compile(r"[^\W\d_]{2,}", re.UNICODE)
_MENTION = re.compile(r"@\w+")
_LINK = re.compile(r"https?://\S+|\bhttp\b")
_HASHTAG = re.compile(r"#\w+")

log = logging.getLogger(__name__)


# ------------------------------------------------------------------ estimated performance (pure)


def _weighted_outcomes(probs: np.ndarray, decided: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each post as k weighted (true i, predicted decided) outcomes, weight P(true = i)."""
    n, k = probs.shape
    return np.tile(np.arange(k), n), np.repeat(decided, k), probs.ravel()


def expected_confusion(probs: np.ndarray, decided: np.ndarray) -> np.ndarray:
    """E[C[true i, predicted j]] from calibrated probabilities: the CBPE confusion matrix."""
    true, pred, weight = _weighted_outcomes(probs, decided)
    return confusion_matrix(true, pred, labels=np.arange(probs.shape[1]), sample_weight=weight)


def estimated_macro_f1(probs: np.ndarray, decided: np.ndarray) -> float:
    """CBPE macro-F1 (sklearn on the expected confusion) over the classes expected to occur or predicted."""
    true, pred, weight = _weighted_outcomes(probs, decided)
    c = expected_confusion(probs, decided)
    present = np.flatnonzero(c.sum(axis=0) + c.sum(axis=1) > 1e-9)
    if not present.size:
        return 0.0
    return float(f1_score(true, pred, labels=present, average="macro", sample_weight=weight, zero_division=0))


def adjusted_accuracy(probs: np.ndarray, decided: np.ndarray, reference_mix: np.ndarray) -> float:
    """Expected accuracy as if the decided labels followed ``reference_mix`` (prior-adjusted CBPE).

    Per decided class, the mean probability of that class is its expected precision; weighting those
    by the reference mix removes the effect of a changed label mix. Classes absent from the window
    drop out and the weights of the rest are renormalised.
    """
    k = probs.shape[1]
    per_class = np.full(k, np.nan)
    for j in range(k):
        mask = decided == j
        if mask.any():
            per_class[j] = probs[mask, j].mean()
    present = ~np.isnan(per_class) & (reference_mix > 0)
    if not present.any():
        return float(probs[np.arange(len(decided)), decided].mean()) if len(decided) else 0.0
    w = reference_mix[present] / reference_mix[present].sum()
    return float((per_class[present] * w).sum())


# ------------------------------------------------------------------ input drift (pure)


def vocabulary(texts: Sequence[str]) -> frozenset[str]:
    return frozenset(w.lower() for t in texts for w in _WORD.findall(t))


def describe(texts: Sequence[str], vocab: frozenset[str]) -> np.ndarray:
    """One row of :data:`DESCRIPTORS` per text.

    Character counts go through ``map``/``filter`` with the ``str`` predicates, which run in C: a
    generator expression per character made this the largest cost of a health check.
    """
    rows = np.zeros((len(texts), len(DESCRIPTORS)))
    for i, t in enumerate(texts):
        words = _WORD.findall(t)
        letters = "".join(filter(str.isalpha, t))
        n_letters = max(len(letters), 1)
        rows[i] = (
            math.log1p(len(t)),
            len(t.split()),
            len(_MENTION.findall(t)),
            len(_LINK.findall(t)),
            len(_HASHTAG.findall(t)),
            sum(map(str.isupper, letters)) / n_letters,
            sum(map(str.isdigit, t)) / max(len(t), 1),
            (len(letters) - sum(map(str.isascii, letters))) / n_letters,
            sum(w.lower() not in vocab for w in words) / max(len(words), 1),
        )
    return rows


def mix_weights(reference_decided: np.ndarray, current_decided: np.ndarray, k: int) -> np.ndarray:
    """Weights for the reference rows that give them the current window's decided-label mix.

    A sentiment model's own embeddings carry the sentiment it decides, so a wave of complaints
    would look like new inputs; weighted to the same label mix, the reference differs from the live
    window only in what the model reads, not in how much of each label there is. Mean weight 1.
    """
    ref_share = np.bincount(reference_decided, minlength=k) / max(len(reference_decided), 1)
    cur_share = np.bincount(current_decided, minlength=k) / max(len(current_decided), 1)
    per_class = np.divide(cur_share, ref_share, out=np.zeros(k), where=ref_share > 0)
    w = per_class[reference_decided]
    total = w.sum()
    # No reference row shares a label with the window: nothing to weight by, compare as they are.
    return w * (len(w) / total) if total > 0 else np.ones(len(reference_decided))


def shifted_descriptors(reference: np.ndarray, current: np.ndarray, top: int = 3) -> list[str]:
    """The descriptors whose mean moved most (in reference standard deviations), for the alert text."""
    ref_mean, cur_mean = reference.mean(axis=0), current.mean(axis=0)
    sd = reference.std(axis=0) + 1e-9
    effect = (cur_mean - ref_mean) / sd
    order = np.argsort(-np.abs(effect))[:top]
    out = []
    for i in order:
        name = DESCRIPTORS[i]
        a, b = ref_mean[i], cur_mean[i]
        if name == "chars":
            a, b = np.expm1(a), np.expm1(b)
        out.append(f"{name} {a:.3g}→{b:.3g}")
    return out


# ------------------------------------------------------------------ the checkpoint's reference

# Descriptors that count things (words, @mentions, links, #tags) are heavy-tailed: the linear test
# reads them on a log scale, where a few very long posts do not outweigh the rest.
_COUNTS = [DESCRIPTORS.index(name) for name in ("words", "mentions", "links", "hashtags")]


def descriptor_features(rows: np.ndarray) -> np.ndarray:
    """:func:`describe` rows as the linear descriptor test reads them (counts on a log scale)."""
    out = np.array(rows, dtype=np.float64)
    out[:, _COUNTS] = np.log1p(out[:, _COUNTS])
    return out


def text_language(text: str) -> str:
    """The language the worker's router would record for ``text`` (``und`` when it cannot tell)."""
    return route(None, text).lang


@dataclass(frozen=True)
class HealthReference:
    labels: list[str]
    mix: np.ndarray  # decided-label shares on the reference texts
    accuracy: float  # prior-adjusted expected accuracy on the reference texts
    macro_f1: float  # CBPE macro-F1 on the reference texts
    descriptors: np.ndarray
    vocab: frozenset[str]
    normalise: bool = False  # the checkpoint masks @handles and links: live texts are described masked too
    embeddings: np.ndarray | None = None  # the reference texts' sentence vectors (None: not checked)
    decided: np.ndarray | None = None  # the label index decided for each reference text (weights the vectors)
    languages: frozenset[str] = frozenset()  # languages of the reference texts (empty: not known)
    descriptor_test: LinearDomainTest | None = None  # the descriptor rows, prepared for cheap checks
    embedding_test: LinearDomainTest | None = None  # the sentence vectors, prepared likewise


def build_reference(
    texts: Sequence[str], probs: np.ndarray, decided: Sequence[str], labels: Sequence[str], normalise: bool = False,
    embeddings: np.ndarray | None = None, seed: int = 0,
) -> HealthReference:
    """From the checkpoint's reference texts as the served model scores them (probabilities, decided
    labels and, when the input-drift test on vectors is on, the sentence vectors of the same pass).

    Half the texts make the vocabulary, the other half the descriptor reference, so the reference's
    own out-of-vocabulary share is measured the same way as the live one's. The domain tests' reference
    side is prepared here, once per model.
    """
    if len(texts) < 20:
        raise ValueError(f"a health reference needs at least 20 texts, got {len(texts)}")
    if embeddings is not None and len(embeddings) != len(texts):
        raise ValueError(f"{len(embeddings)} embeddings for {len(texts)} reference texts")
    index = {lab: i for i, lab in enumerate(labels)}
    d = np.array([index[x] for x in decided])
    mix = np.bincount(d, minlength=len(labels)) / len(d)
    vocab = vocabulary(texts[::2])
    descriptors = describe(texts[1::2], vocab)
    return HealthReference(
        labels=list(labels), mix=mix, accuracy=adjusted_accuracy(probs, d, mix),
        macro_f1=estimated_macro_f1(probs, d), descriptors=descriptors, vocab=vocab,
        normalise=normalise, embeddings=embeddings, decided=d,
        languages=frozenset(text_language(t) for t in texts),
        descriptor_test=LinearDomainTest.prepare(descriptor_features(descriptors), squares=True, seed=seed),
        embedding_test=None if embeddings is None else LinearDomainTest.prepare(embeddings, seed=seed),
    )


# ------------------------------------------------------------------ results


class HealthSignal(BaseModel):
    """A model-health finding; the worker turns it into an alert (same field names)."""

    kind: Literal["estimated_performance", "input_drift"]
    detector: str
    statistic: float
    threshold: float
    window: int
    model_version: str
    brand: str | None = None
    example_post_ids: list[str] = Field(default_factory=list)
    message: str


class HealthStatus(BaseModel):
    model_version: str
    brand: str | None = None
    posts: int
    estimated_accuracy: float
    reference_accuracy: float
    estimated_macro_f1: float
    domain_auc: float | None = None  # on text descriptors
    embedding_auc: float | None = None  # on the model's sentence vectors
    embedding_sample: int = 0  # sampled posts the vector test read

    @property
    def accuracy_drop(self) -> float:
        return self.reference_accuracy - self.estimated_accuracy

    def summary(self) -> str:
        where = f"on brand '{self.brand}'" if self.brand else "overall"
        auc = "" if self.domain_auc is None else f"; input drift AUC {self.domain_auc:.2f}"
        auc += "" if self.embedding_auc is None else f" (embeddings {self.embedding_auc:.2f})"
        return (
            f"estimated accuracy {where} {self.estimated_accuracy:.3f} vs {self.reference_accuracy:.3f} validated "
            f"(CBPE, last {self.posts} posts){auc}"
        )


class HealthReport(BaseModel):
    """A check that ran: the estimates, and the alerts they call for (usually none)."""

    outcome: Literal["checked"] = "checked"
    status: HealthStatus
    signals: list[HealthSignal] = Field(default_factory=list)


class NotEnoughData(BaseModel):
    """A check that could not say anything about the model: why, and how many posts it had."""

    outcome: Literal["not_enough_data"] = "not_enough_data"
    model_version: str
    reason: Literal["no_reference", "empty", "too_few_posts", "one_label", "one_language"]
    posts: int
    detail: str

    @property
    def signals(self) -> list[HealthSignal]:
        return []


HealthCheck = HealthReport | NotEnoughData


# ------------------------------------------------------------------ the monitor


class HealthConfig(BaseModel):
    window: int = Field(default=500, ge=50, description="Recent posts per model version a check looks at")
    every: int = Field(default=250, ge=10, description="Posts between two checks")
    min_interval_s: float = Field(
        default=0.0, ge=0,
        description="A check waits at least this long after the previous one, however fast posts arrive (0: volume only)",
    )
    accuracy_drop: float = Field(
        default=0.05, gt=0, lt=1, description="Fall of the prior-adjusted estimated accuracy that means model trouble"
    )
    auc_threshold: float = Field(default=0.75, gt=0.5, le=1, description="Domain-classifier AUC that means input drift")
    rearm_fraction: float = Field(
        default=0.6, gt=0, lt=1,
        description=(
            "A firing check re-arms only once its statistic is back within this fraction of the threshold "
            "(accuracy drop < 0.6 × 0.05; AUC < 0.5 + 0.6 × 0.25): an estimate hovering at the line alerts once"
        ),
    )
    embedding_sample: int = Field(
        default=256, ge=0, le=5_000,
        description="Scored posts whose sentence vectors a check reads: a uniform sample of those since the previous check (0: off)",
    )
    min_posts: int = Field(default=50, ge=10, description="Fewer posts in a window: not enough data for a check")
    min_vectors: int = Field(default=32, ge=2 * FOLDS, description="Fewer sampled vectors: the vector test is left out")
    brand_window: int = Field(default=300, ge=20, description="Recent posts per brand for the brand estimate")
    max_brands: int = Field(default=200, ge=0)
    seed: int = 0


class Reservoir:
    """A uniform sample of at most ``size`` items from a stream of unknown length (Vitter's algorithm R).

    :meth:`slot` says where the next item goes (None: not sampled), so a caller copies only the items kept.
    """

    def __init__(self, size: int, seed: int = 0) -> None:
        self.size = size
        self.items: list = []
        self.seen = 0
        self._rng = random.Random(seed)

    def slot(self) -> int | None:
        self.seen += 1
        if len(self.items) < self.size:
            self.items.append(None)
            return len(self.items) - 1
        j = self._rng.randrange(self.seen)
        return j if j < self.size else None

    def take(self) -> list:
        """The sample so far; the reservoir starts afresh."""
        items = [x for x in self.items if x is not None]
        self.items, self.seen = [], 0
        return items


Embed = Callable[[list[str]], np.ndarray]


@dataclass(eq=False)
class _BrandWindow:
    probs: deque
    decided: deque


@dataclass(eq=False)
class _Track:
    """One model version's live side: its window, the posts not yet described, the vector sample."""

    ref: HealthReference
    index: dict[str, int]
    window: int
    sample_size: int
    seed: int
    embed: Embed | None = None
    probs: deque = field(init=False)
    decided: deque = field(init=False)
    ids: deque = field(init=False)
    langs: deque = field(init=False)
    pending: deque = field(init=False)  # texts added since the last check, described by the next one
    descriptors: deque = field(init=False)  # descriptor rows of the window's posts, oldest first
    sample: Reservoir = field(init=False)
    brands: dict[str, _BrandWindow] = field(default_factory=dict)
    since_check: int = 0
    last_check: float = float("-inf")
    checking: threading.Lock = field(default_factory=threading.Lock)  # one check per version at a time

    def __post_init__(self) -> None:
        n = self.window
        self.probs, self.decided, self.ids, self.langs = deque(maxlen=n), deque(maxlen=n), deque(maxlen=n), deque(maxlen=n)
        self.pending, self.descriptors = deque(maxlen=n), deque(maxlen=n)
        self.sample = Reservoir(self.sample_size, self.seed)


def _finite(vector: np.ndarray | None) -> bool:
    # A cache hit's row is all NaN: looking at one element is enough.
    return vector is not None and len(vector) > 0 and bool(np.isfinite(vector[0]))


def _fits(vector: np.ndarray, ref: HealthReference) -> bool:
    # A vector that crossed Kafka is checked against the reference's width: a truncated one never reaches vstack.
    return ref.embeddings is None or vector.shape == ref.embeddings.shape[1:]


class HealthMonitor:
    """Per model version: a window of scored posts and a sample of their vectors, checked against the reference.

    Thread-safe: :meth:`add` (cheap, per batch) may run on the event loop while :meth:`check` runs in
    a worker thread.
    """

    def __init__(self, config: HealthConfig | None = None) -> None:
        self.config = config or HealthConfig()
        self._tracks: dict[str, _Track] = {}
        self._last: dict[str, HealthStatus] = {}
        self._outcomes: dict[str, HealthCheck] = {}
        self._lock = threading.Lock()
        self.alerted: set[tuple[str, str]] = set()  # (model version, alert kind) currently firing
        # What the checks cost and where their vectors came from, for /stats.
        self.counts = {"checks": 0, "not_enough_data": 0, "vectors_from_scoring": 0, "vectors_embedded_at_check": 0,
                       "vectors_unusable": 0}
        self.check_cpu_s = 0.0

    def set_reference(self, model_version: str, reference: HealthReference, embed: Embed | None = None) -> None:
        """``embed`` maps texts to the space of ``reference.embeddings`` (the served model's own forward
        pass); it is used only for sampled posts that arrived without a vector (a process that did not
        score them). Without ``reference.embeddings`` input drift is tested on the text descriptors alone."""
        index = {lab: i for i, lab in enumerate(reference.labels)}
        with self._lock:
            track = self._tracks.get(model_version)
            if track is None:
                self._tracks[model_version] = _Track(reference, index, self.config.window, self.config.embedding_sample,
                                                     self.config.seed, embed)
            else:
                track.ref, track.index, track.embed = reference, index, embed

    def has_reference(self, model_version: str) -> bool:
        return model_version in self._tracks

    @property
    def versions(self) -> set[str]:
        """Model versions with a reference (and a live window) here."""
        with self._lock:
            return set(self._tracks)

    def add(
        self, batch: Sequence[ScoredPost], vectors: Mapping[str, np.ndarray] | None = None, now: float | None = None
    ) -> list[str]:
        """Buffer one batch (cheap); returns the model versions due for a :meth:`check`.

        ``vectors`` (post_id → sentence vector from the forward pass that scored the post) feed the
        vector sample; a post whose vector is NaN was answered by a cache and is not sampled. Without
        ``vectors`` the sample keeps texts, which the reference's ``embed`` turns into vectors at check time.
        """
        now = time.monotonic() if now is None else now
        touched: dict[str, _Track] = {}
        with self._lock:
            for post in batch:
                track = self._tracks.get(post.model_version)
                d = None if track is None else track.index.get(post.label)
                if track is None or d is None:
                    continue
                probs = np.array([post.probs.get(lab, 0.0) for lab in track.ref.labels])
                track.probs.append(probs)
                track.decided.append(d)
                track.ids.append(post.post_id)
                track.langs.append(post.lang)
                track.pending.append(post.text)
                if post.brand in track.brands or len(track.brands) < self.config.max_brands:
                    size = self.config.brand_window
                    brand = track.brands.setdefault(post.brand, _BrandWindow(deque(maxlen=size), deque(maxlen=size)))
                    brand.probs.append(probs)
                    brand.decided.append(d)
                if vectors is None:
                    if (j := track.sample.slot()) is not None:
                        track.sample.items[j] = (None, d, post.text)
                elif (vector := vectors.get(post.post_id)) is not None:
                    if not len(vector) or not _fits(vector, track.ref):  # damaged on the way, or another model's width
                        self.counts["vectors_unusable"] += 1
                    elif _finite(vector) and (j := track.sample.slot()) is not None:
                        # A copy: a view would keep the whole batch's array alive.
                        track.sample.items[j] = (np.array(vector, dtype=np.float32), d, None)
                track.since_check += 1
                touched[post.model_version] = track
        return [v for v, t in touched.items() if self._due(t, now)]

    def _due(self, track: _Track, now: float) -> bool:
        return (
            track.since_check >= self.config.every and len(track.decided) >= self.config.window
            and now - track.last_check >= self.config.min_interval_s
        )

    def status(self, model_version: str, brand: str | None = None) -> HealthStatus | None:
        """The latest estimate (global from the last check; per brand computed now)."""
        if brand is None:
            return self._last.get(model_version)
        with self._lock:
            track = self._tracks.get(model_version)
            window = None if track is None else track.brands.get(brand)
            if track is None or window is None or len(window.decided) < 50:
                return None
            probs, decided = np.vstack(window.probs), np.array(window.decided)
        ref = track.ref
        return HealthStatus(
            model_version=model_version, brand=brand, posts=len(decided),
            estimated_accuracy=adjusted_accuracy(probs, decided, ref.mix), reference_accuracy=ref.accuracy,
            estimated_macro_f1=estimated_macro_f1(probs, decided),
        )

    def last_check(self, model_version: str) -> HealthCheck | None:
        return self._outcomes.get(model_version)

    def check(self, model_version: str, now: float | None = None) -> HealthCheck:
        """Estimate performance and test input drift on the version's window; alert once per condition.

        Never raises on what the window holds: a window that cannot support the estimates gives
        :class:`NotEnoughData`.
        """
        track = self._tracks.get(model_version)
        if track is None:
            return NotEnoughData(model_version=model_version, reason="no_reference", posts=0,
                                 detail=f"no health reference for {model_version} (it has no reference texts)")
        cpu = time.thread_time()
        with track.checking:
            with self._lock:
                ref, k = track.ref, len(track.ref.labels)
                probs = np.vstack(track.probs) if track.probs else np.empty((0, k))
                decided = np.array(track.decided, dtype=np.int64)
                ids, langs = list(track.ids), list(track.langs)
                pending = list(track.pending)
                track.pending.clear()
                sample = track.sample.take()
                track.since_check = 0
                track.last_check = time.monotonic() if now is None else now
            if pending:
                texts = [normalise_tweet(t) for t in pending] if ref.normalise else pending
                track.descriptors.extend(describe(texts, ref.vocab))
            descriptors = np.array(track.descriptors)
            outcome = self._lacking(model_version, ref, decided, langs) or self._report(
                model_version, track, probs, decided, ids, descriptors, sample)
        self._outcomes[model_version] = outcome
        with self._lock:
            self.counts["checks"] += 1
            self.counts["not_enough_data"] += isinstance(outcome, NotEnoughData)
            self.check_cpu_s += time.thread_time() - cpu
        return outcome

    def stats(self) -> dict[str, float]:
        """Checks run, how many lacked data, where their vectors came from and their CPU time (this thread's;
        BLAS threads add little at these sizes)."""
        with self._lock:
            return {**self.counts, "check_cpu_s": round(self.check_cpu_s, 3)}

    def _lacking(self, version: str, ref: HealthReference, decided: np.ndarray, langs: list[str | None]) -> NotEnoughData | None:
        n = len(decided)
        if n == 0:
            return NotEnoughData(model_version=version, reason="empty", posts=0, detail="no scored posts in the window")
        if n < self.config.min_posts:
            return NotEnoughData(model_version=version, reason="too_few_posts", posts=n,
                                 detail=f"{n} posts in the window; a check needs {self.config.min_posts}")
        if (decided == decided[0]).all():
            return NotEnoughData(
                model_version=version, reason="one_label", posts=n,
                detail=(f"every post in the window was decided {ref.labels[decided[0]]!r}: the estimate at the reference "
                        "label mix and the label-weighted vector test need at least two labels"),
            )
        tags = set(langs)
        if ref.languages and len(tags) == 1 and (lang := tags.pop()) is not None and lang not in ref.languages:
            return NotEnoughData(
                model_version=version, reason="one_language", posts=n,
                detail=(f"every post in the window is in {lang!r} and no reference text is "
                        f"(reference languages: {', '.join(sorted(ref.languages))}): nothing to compare it with"),
            )
        return None

    def _vectors(self, track: _Track, sample: list) -> tuple[np.ndarray, np.ndarray]:
        """The sampled posts' vectors and decided labels; texts sampled without a vector are embedded now."""
        rows = [(v, d) for v, d, _ in sample if v is not None]
        texts = [(t, d) for v, d, t in sample if v is None and t is not None]
        with self._lock:
            self.counts["vectors_from_scoring"] += len(rows)
            self.counts["vectors_embedded_at_check"] += len(texts) if track.embed is not None else 0
        if texts and track.embed is not None:
            try:
                embedded = track.embed([t for t, _ in texts])
            except Exception:  # noqa: BLE001 - the rest of the check stands without the vector test
                log.exception("embedding %d sampled posts for the input-drift check failed", len(texts))
            else:
                rows += [(v, d) for v, (_, d) in zip(embedded, texts) if _finite(v)]
        if not rows:
            return np.empty((0, 0), dtype=np.float32), np.empty(0, dtype=np.int64)
        return np.vstack([v for v, _ in rows]), np.array([d for _, d in rows], dtype=np.int64)

    def _report(
        self, model_version: str, track: _Track, probs: np.ndarray, decided: np.ndarray, ids: list[str],
        descriptors: np.ndarray, sample: list,
    ) -> HealthReport:
        ref, config = track.ref, self.config
        auc = None
        if ref.descriptor_test is not None and len(descriptors) >= 2 * FOLDS:
            auc = ref.descriptor_test.auc(descriptor_features(descriptors))
        emb_auc, sampled = None, 0
        if ref.embedding_test is not None and ref.decided is not None and config.embedding_sample:
            vectors, sample_decided = self._vectors(track, sample)
            if len(vectors) >= config.min_vectors and vectors.shape[1] == ref.embedding_test.rows.shape[1]:
                sampled = len(vectors)
                weights = mix_weights(ref.decided, sample_decided, len(ref.labels))
                emb_auc = ref.embedding_test.auc(vectors, reference_weights=weights)
        status = HealthStatus(
            model_version=model_version, posts=len(decided),
            estimated_accuracy=adjusted_accuracy(probs, decided, ref.mix), reference_accuracy=ref.accuracy,
            estimated_macro_f1=estimated_macro_f1(probs, decided), domain_auc=auc, embedding_auc=emb_auc,
            embedding_sample=sampled,
        )
        self._last[model_version] = status
        signals: list[HealthSignal] = []
        rearm = config.rearm_fraction
        drop, needed = status.accuracy_drop, config.accuracy_drop
        if self._edge(model_version, "estimated_performance", drop >= needed, clear=drop < rearm * needed):
            low = np.argsort(probs[np.arange(len(decided)), decided])[:5]
            signals.append(HealthSignal(
                kind="estimated_performance", detector="cbpe(prior-adjusted accuracy)",
                statistic=status.estimated_accuracy, threshold=ref.accuracy - config.accuracy_drop,
                window=status.posts, model_version=model_version, example_post_ids=[ids[i] for i in low],
                message=(
                    f"Estimated accuracy of {model_version} (CBPE from calibrated probabilities, at its reference "
                    f"label mix) fell from {ref.accuracy:.3f} to {status.estimated_accuracy:.3f} over the last "
                    f"{status.posts} posts; estimated macro-F1 {status.estimated_macro_f1:.3f} "
                    f"(reference {ref.macro_f1:.3f})."
                ),
            ))
        drifted = {
            name: value for name, value in (("text descriptors", auc), ("sentence embeddings", emb_auc))
            if value is not None and value >= config.auc_threshold
        }
        calm = 0.5 + rearm * (config.auc_threshold - 0.5)
        measured = [a for a in (auc, emb_auc) if a is not None]
        if self._edge(model_version, "input_drift", bool(drifted), clear=all(a < calm for a in measured)):
            on_descriptors = "" if auc is None else f" with AUC {auc:.2f} on text descriptors over the last {status.posts} posts"
            embedded = "" if emb_auc is None else (
                f"; on the encoder's sentence embeddings AUC {emb_auc:.2f} (a sample of {sampled} posts since the previous check)")
            moved = "" if auc is None else (
                f"; descriptors that moved most: {', '.join(shifted_descriptors(ref.descriptors, descriptors))}")
            signals.append(HealthSignal(
                kind="input_drift", detector=f"domain_classifier({' + '.join(drifted)})",
                statistic=max(drifted.values()), threshold=config.auc_threshold, window=status.posts,
                model_version=model_version, example_post_ids=ids[-5:][::-1],
                message=(
                    f"Posts scored by {model_version} no longer look like its reference texts: a classifier tells "
                    f"them apart (0.5 = indistinguishable){on_descriptors}{embedded}{moved}."
                ),
            ))
        return HealthReport(status=status, signals=signals)

    def _edge(self, version: str, kind: str, firing: bool, clear: bool) -> bool:
        """True on the transition into ``firing``; once fired, it must ``clear`` before it can alert again.

        ``clear`` is stricter than not firing (hysteresis): estimates are noisy, and one that hovers at
        the threshold would otherwise alert every time it crosses back over it.
        """
        key = (version, kind)
        with self._lock:
            if key in self.alerted:
                if clear:
                    self.alerted.discard(key)
                return False
            if firing:
                self.alerted.add(key)
                return True
            return False

    def rearm(self, model_version: str) -> None:
        """Let the version's alerts fire again without a recovery first: its retrain closed without a new
        model, and a model still off its reference must be able to ask again (a new domain never recovers)."""
        with self._lock:
            self.alerted = {k for k in self.alerted if k[0] != model_version}

    def drop_version(self, model_version: str) -> None:
        with self._lock:
            for d in (self._tracks, self._last, self._outcomes):
                d.pop(model_version, None)  # type: ignore[attr-defined]
            self.alerted = {k for k in self.alerted if k[0] != model_version}
