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
  reference texts' vocabulary) of the live window against the checkpoint's reference texts, tested
  with a domain classifier: gradient-boosted trees try to tell live posts from reference posts under
  5-fold cross-validation; ROC-AUC ≈ 0.5 means indistinguishable, ≥ ``auc_threshold`` (0.75) means
  the model is reading a different kind of text than it was validated on. The same test runs on the
  served encoder's sentence embeddings of the most recent ``embedding_sample`` posts (a logistic
  regression; the caller supplies the embedding function, :class:`models.embeddings.SentenceEmbedder`),
  which sees a change of topic that leaves length and vocabulary alone. A sentiment model's
  embeddings carry sentiment, so the reference is first reweighted to the window's decided-label
  mix (:func:`mix_weights`): a wave of complaints is not new input.

The reference comes from ``CheckpointMeta.reference_texts`` (a sample of the validation texts) scored
by the served model when it is loaded. Pure: plain inputs, no I/O; the worker calls
:meth:`HealthMonitor.observe` after each scored batch (it is cheap until a check is due, every
``every`` posts, which costs ~0.2-0.5 s of CPU and runs off the event loop).
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field
from sklearn.metrics import confusion_matrix, f1_score

from drift.records import ScoredPost
from models.data import normalise_tweet

DESCRIPTORS = ("chars", "words", "mentions", "links", "hashtags", "uppercase", "digits", "non_ascii", "oov")
_WORD = re.compile(r"[^\W\d_]{2,}", re.UNICODE)
_MENTION = re.compile(r"@\w+")
_LINK = re.compile(r"https?://\S+|\bhttp\b")
_HASHTAG = re.compile(r"#\w+")


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
    """One row of :data:`DESCRIPTORS` per text."""
    rows = np.zeros((len(texts), len(DESCRIPTORS)))
    for i, t in enumerate(texts):
        words = _WORD.findall(t)
        letters = [c for c in t if c.isalpha()]
        n_letters = max(len(letters), 1)
        rows[i] = (
            np.log1p(len(t)),
            len(t.split()),
            len(_MENTION.findall(t)),
            len(_LINK.findall(t)),
            len(_HASHTAG.findall(t)),
            sum(c.isupper() for c in letters) / n_letters,
            sum(c.isdigit() for c in t) / max(len(t), 1),
            sum(not c.isascii() for c in letters) / n_letters,
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


def domain_auc(
    reference: np.ndarray, current: np.ndarray, seed: int = 0, linear: bool = False,
    reference_weights: np.ndarray | None = None,
) -> float:
    """Cross-validated ROC-AUC of a classifier telling ``current`` rows from ``reference`` rows.

    Shallow boosted trees for the few, differently scaled text descriptors; ``linear`` (a logistic
    regression) for sentence embeddings: hundreds of dense dimensions and a few hundred rows, where a
    linear boundary is what separates topics and trees would split on noise. ``reference_weights``
    reweight the reference rows in training and in the AUC (see :func:`mix_weights`).
    """
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    x = np.vstack([reference, current])
    y = np.r_[np.zeros(len(reference)), np.ones(len(current))]
    clf = (
        LogisticRegression(C=1.0, max_iter=1000) if linear
        else HistGradientBoostingClassifier(max_iter=30, max_depth=3, random_state=seed)
    )
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)
    if reference_weights is None:
        scores = cross_val_predict(clf, x, y, cv=folds, method="predict_proba")[:, 1]
        return float(roc_auc_score(y, scores))
    w = np.r_[reference_weights, np.ones(len(current))]
    scores = cross_val_predict(clf, x, y, cv=folds, method="predict_proba", params={"sample_weight": w})[:, 1]
    return float(roc_auc_score(y, scores, sample_weight=w))


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


@dataclass(frozen=True)
class HealthReference:
    labels: list[str]
    mix: np.ndarray  # decided-label shares on the reference texts
    accuracy: float  # prior-adjusted expected accuracy on the reference texts
    macro_f1: float  # CBPE macro-F1 on the reference texts
    descriptors: np.ndarray
    vocab: frozenset[str]
    normalise: bool = False  # the checkpoint masks @handles and links: live texts are described masked too
    embeddings: np.ndarray | None = None  # the reference texts in the encoder's sentence space (None: not checked)
    decided: np.ndarray | None = None  # the label index decided for each reference text (weights the embeddings)


def build_reference(
    texts: Sequence[str], probs: np.ndarray, decided: Sequence[str], labels: Sequence[str], normalise: bool = False,
    embeddings: np.ndarray | None = None,
) -> HealthReference:
    """From the checkpoint's reference texts as the served model scores them.

    Half the texts make the vocabulary, the other half the descriptor reference, so the reference's
    own out-of-vocabulary share is measured the same way as the live one's.
    """
    if len(texts) < 20:
        raise ValueError(f"a health reference needs at least 20 texts, got {len(texts)}")
    if embeddings is not None and len(embeddings) != len(texts):
        raise ValueError(f"{len(embeddings)} embeddings for {len(texts)} reference texts")
    index = {lab: i for i, lab in enumerate(labels)}
    d = np.array([index[x] for x in decided])
    mix = np.bincount(d, minlength=len(labels)) / len(d)
    vocab = vocabulary(texts[::2])
    return HealthReference(
        labels=list(labels), mix=mix, accuracy=adjusted_accuracy(probs, d, mix),
        macro_f1=estimated_macro_f1(probs, d), descriptors=describe(texts[1::2], vocab), vocab=vocab,
        normalise=normalise, embeddings=embeddings, decided=d,
    )


# ------------------------------------------------------------------ the monitor


class HealthConfig(BaseModel):
    window: int = Field(default=500, ge=50, description="Recent posts per model version a check looks at")
    every: int = Field(default=250, ge=10, description="Posts between two checks")
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
        default=96, ge=0, le=5_000,
        description="Most recent posts embedded per check for the sentence-embedding drift test (0: off)",
    )
    brand_window: int = Field(default=300, ge=20, description="Recent posts per brand for the brand estimate")
    max_brands: int = Field(default=200, ge=0)
    seed: int = 0


class HealthStatus(BaseModel):
    model_version: str
    brand: str | None = None
    posts: int
    estimated_accuracy: float
    reference_accuracy: float
    estimated_macro_f1: float
    domain_auc: float | None = None  # on text descriptors
    embedding_auc: float | None = None  # on the encoder's sentence embeddings

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


class _Window:
    def __init__(self, size: int) -> None:
        self.texts: deque[str] = deque(maxlen=size)
        self.probs: deque[np.ndarray] = deque(maxlen=size)
        self.decided: deque[int] = deque(maxlen=size)
        self.ids: deque[str] = deque(maxlen=size)

    def add(self, post: ScoredPost, ref: HealthReference, index: Mapping[str, int]) -> None:
        self.texts.append(normalise_tweet(post.text) if ref.normalise else post.text)
        self.probs.append(np.array([post.probs.get(lab, 0.0) for lab in ref.labels]))
        self.decided.append(index[post.label])
        self.ids.append(post.post_id)

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        return np.vstack(self.probs), np.array(self.decided)


class HealthMonitor:
    """Per model version: a window of scored posts, checked every ``every`` posts against the reference."""

    def __init__(self, config: HealthConfig | None = None) -> None:
        self.config = config or HealthConfig()
        self._refs: dict[str, HealthReference] = {}
        self._embed: dict[str, Callable[[list[str]], np.ndarray]] = {}
        self._windows: dict[str, _Window] = {}
        self._brands: dict[str, dict[str, _Window]] = {}
        self._since_check: dict[str, int] = {}
        self._last: dict[str, HealthStatus] = {}
        self.alerted: set[tuple[str, str]] = set()  # (model version, alert kind) currently firing

    def set_reference(
        self, model_version: str, reference: HealthReference, embed: Callable[[list[str]], np.ndarray] | None = None
    ) -> None:
        """``embed`` maps texts to the space of ``reference.embeddings`` (the served encoder); without
        both, input drift is tested on the text descriptors alone."""
        self._refs[model_version] = reference
        if embed is not None and reference.embeddings is not None:
            self._embed[model_version] = embed

    def has_reference(self, model_version: str) -> bool:
        return model_version in self._refs

    def add(self, batch: Sequence[ScoredPost]) -> list[str]:
        """Buffer one batch (cheap); returns the model versions due for a :meth:`check`."""
        due = []
        for post in batch:
            ref = self._refs.get(post.model_version)
            if ref is None or post.label not in ref.labels:
                continue
            index = {lab: i for i, lab in enumerate(ref.labels)}
            v = post.model_version
            self._windows.setdefault(v, _Window(self.config.window)).add(post, ref, index)
            brands = self._brands.setdefault(v, {})
            if post.brand in brands or len(brands) < self.config.max_brands:
                brands.setdefault(post.brand, _Window(self.config.brand_window)).add(post, ref, index)
            self._since_check[v] = self._since_check.get(v, 0) + 1
            if self._since_check[v] >= self.config.every and len(self._windows[v].decided) >= self.config.window:
                if v not in due:
                    due.append(v)
        return due

    def status(self, model_version: str, brand: str | None = None) -> HealthStatus | None:
        """The latest estimate (global from the last check; per brand computed now)."""
        if brand is None:
            return self._last.get(model_version)
        ref = self._refs.get(model_version)
        window = self._brands.get(model_version, {}).get(brand)
        if ref is None or window is None or len(window.decided) < 50:
            return None
        probs, decided = window.arrays()
        return HealthStatus(
            model_version=model_version, brand=brand, posts=len(decided),
            estimated_accuracy=adjusted_accuracy(probs, decided, ref.mix), reference_accuracy=ref.accuracy,
            estimated_macro_f1=estimated_macro_f1(probs, decided),
        )

    def check(self, model_version: str) -> list[HealthSignal]:
        """Estimate performance and test input drift on the version's window; alert once per condition."""
        ref, window = self._refs[model_version], self._windows[model_version]
        self._since_check[model_version] = 0
        probs, decided = window.arrays()
        texts = list(window.texts)
        current = describe(texts, ref.vocab)
        auc = domain_auc(ref.descriptors, current, self.config.seed)
        embed, sample = self._embed.get(model_version), self.config.embedding_sample
        emb_auc = None
        if embed is not None and ref.embeddings is not None and ref.decided is not None and sample:
            weights = mix_weights(ref.decided, decided[-sample:], len(ref.labels))
            emb_auc = domain_auc(ref.embeddings, embed(texts[-sample:]), self.config.seed, linear=True,
                                 reference_weights=weights)
        status = HealthStatus(
            model_version=model_version, posts=len(decided),
            estimated_accuracy=adjusted_accuracy(probs, decided, ref.mix), reference_accuracy=ref.accuracy,
            estimated_macro_f1=estimated_macro_f1(probs, decided), domain_auc=auc, embedding_auc=emb_auc,
        )
        self._last[model_version] = status
        alerts: list[HealthSignal] = []
        low = [i for i in np.argsort(probs[np.arange(len(decided)), decided])[:5]]
        examples = [window.ids[i] for i in low]
        rearm = self.config.rearm_fraction
        drop, needed = status.accuracy_drop, self.config.accuracy_drop
        if self._edge(model_version, "estimated_performance", drop >= needed, clear=drop < rearm * needed):
            alerts.append(HealthSignal(
                kind="estimated_performance", detector="cbpe(prior-adjusted accuracy)",
                statistic=status.estimated_accuracy, threshold=ref.accuracy - self.config.accuracy_drop,
                window=status.posts, model_version=model_version, example_post_ids=examples,
                message=(
                    f"Estimated accuracy of {model_version} (CBPE from calibrated probabilities, at its reference "
                    f"label mix) fell from {ref.accuracy:.3f} to {status.estimated_accuracy:.3f} over the last "
                    f"{status.posts} posts; estimated macro-F1 {status.estimated_macro_f1:.3f} "
                    f"(reference {ref.macro_f1:.3f})."
                ),
            ))
        drifted = {
            name: value for name, value in (("text descriptors", auc), ("sentence embeddings", emb_auc))
            if value is not None and value >= self.config.auc_threshold
        }
        calm = 0.5 + rearm * (self.config.auc_threshold - 0.5)
        measured = [a for a in (auc, emb_auc) if a is not None]
        if self._edge(model_version, "input_drift", bool(drifted), clear=all(a < calm for a in measured)):
            embedded = "" if emb_auc is None else f"; on the encoder's sentence embeddings AUC {emb_auc:.2f} (last {min(sample, len(texts))} posts)"
            alerts.append(HealthSignal(
                kind="input_drift", detector=f"domain_classifier({' + '.join(drifted)})",
                statistic=max(drifted.values()), threshold=self.config.auc_threshold, window=status.posts,
                model_version=model_version, example_post_ids=[window.ids[-i] for i in range(1, 6) if i <= len(window.ids)],
                message=(
                    f"Posts scored by {model_version} no longer look like its reference texts: a classifier tells "
                    f"them apart (0.5 = indistinguishable) with AUC {auc:.2f} on text descriptors over the last "
                    f"{status.posts} posts{embedded}; descriptors that moved most: "
                    f"{', '.join(shifted_descriptors(ref.descriptors, current))}."
                ),
            ))
        return alerts

    def _edge(self, version: str, kind: str, firing: bool, clear: bool) -> bool:
        """True on the transition into ``firing``; once fired, it must ``clear`` before it can alert again.

        ``clear`` is stricter than not firing (hysteresis): estimates are noisy, and one that hovers at
        the threshold would otherwise alert every time it crosses back over it.
        """
        key = (version, kind)
        if key in self.alerted:
            if clear:
                self.alerted.discard(key)
            return False
        if firing:
            self.alerted.add(key)
            return True
        return False

    def drop_version(self, model_version: str) -> None:
        for d in (self._refs, self._embed, self._windows, self._brands, self._since_check, self._last):
            d.pop(model_version, None)
        self.alerted = {k for k in self.alerted if k[0] != model_version}
