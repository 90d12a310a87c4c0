"""The data of one retraining: human labels split three ways, mixed with a replay of the base corpus,
and the fixed general set that checks what a retrained model forgot.

Pure functions of the labels, the base corpus and the seed, so every recipe of a retrain is
validated and evaluated on the same posts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel

from drift.records import HumanLabel
from drift.retraining.config import Recipe, TrainerConfig
from models.cards.build import source_data
from models.cards.schema import DataRecord
from models.data import (
    LabelledData, assert_no_leakage, concat, deduplicate, find_duplicates, label_spelling,
    near_duplicate_key, train_test_split,
)

RejectReason = Literal["no_text", "unknown_label", "conflicting_labels"]


class RejectedLabel(BaseModel):
    """A human label a retrain could not use, and why: reported, never dropped silently."""

    post_id: str
    label: str
    annotator: str
    reason: RejectReason
    detail: str


@dataclass(frozen=True)
class HumanLabels:
    """The usable human labels of a retrain (one row per near-duplicate group) and the ones left out."""

    data: LabelledData
    rejected: list[RejectedLabel]
    merged: int  # labels of a near duplicate of another labelled post, with the same label: counted once

    def summary(self) -> str:
        """One line for logs and outcome messages, e.g. ``3 labels not used: 2 unknown_label, 1 no_text``."""
        parts = [f"{n} {reason}" for reason, n in Counter(r.reason for r in self.rejected).most_common()]
        line = f"{len(self.rejected)} labels not used" + (f": {', '.join(parts)}" if parts else "")
        return line + (f"; {self.merged} near duplicates counted once" if self.merged else "")


def usable_labels(labels: Iterable[HumanLabel], label_names: Sequence[str]) -> HumanLabels:
    """Human labels as training data, with every label that cannot be used and its reason.

    The last label per post wins (a correction replaces what it corrects, even when the correction
    itself is unusable). Known spellings count (``NEG``, ``Negative``); texts are grouped by
    :func:`models.data.near_duplicate_key`, so copies of one post count once and a post labelled one way
    and its copy another are both left out. ``data`` may be empty: the caller says how many it needs.
    """
    latest: dict[str, HumanLabel] = {}
    for h in labels:
        latest[h.post_id] = h
    rejected: list[RejectedLabel] = []
    keep: list[tuple[HumanLabel, str]] = []
    for h in latest.values():
        problem = rejection(h, label_names)
        if problem is not None:
            rejected.append(problem)
        else:
            keep.append((h, label_spelling(h.label)))  # type: ignore[arg-type]  # rejection() checked it
    data = LabelledData([h.text.strip() for h, _ in keep], [n for _, n in keep], "3class", "human labels")  # type: ignore[union-attr]
    groups = find_duplicates(data)
    for i, group_labels in groups.conflicts.items():
        rejected.append(_reject(keep[i][0], "conflicting_labels",
                                f"a near duplicate of this post is labelled {' and '.join(group_labels)}"))
    return HumanLabels(data.subset(groups.keep), rejected, len(groups.copies))


def rejection(h: HumanLabel, label_names: Sequence[str]) -> RejectedLabel | None:
    """Why this one label cannot be trained on (no text, a label outside ``label_names``), or None.

    Conflicts between near duplicates need the other labels: :func:`usable_labels` finds those.
    """
    if not h.text or not h.text.strip():
        return _reject(h, "no_text", "the label carries no post text to train on")
    name = label_spelling(h.label)
    if name is None or name not in label_names:
        return _reject(h, "unknown_label", f"label {h.label!r} is not one of {list(label_names)}")
    return None


def _reject(h: HumanLabel, reason: RejectReason, detail: str) -> RejectedLabel:
    return RejectedLabel(post_id=h.post_id, label=h.label, annotator=h.annotator, reason=reason, detail=detail)


@dataclass(frozen=True)
class TrainingSets:
    train: LabelledData
    valid: LabelledData  # human validation part + an equal-sized slice of the base corpus
    evaluation: LabelledData  # held-out human labels, never seen in training, validation or recipe choice
    human_valid: LabelledData  # the human part of ``valid``: what recipes are compared on
    base_rows: int
    human_train_rows: int
    removed_overlap: int  # base texts dropped because a human label covers the same text (near duplicates too)
    record: DataRecord  # the sources of train and valid, for the model card


# The general set is drawn from the part of the base corpus the bootstrap champion held out for
# validation (models.bootstrap: VALID_TEXTS texts, seed 42; a unit test keeps them equal), so on the
# default corpus no model of the lineage, the first included, was trained on it.
GENERAL_POOL = 2_000
GENERAL_SEED = 42


@dataclass(frozen=True)
class GeneralSplit:
    rest: LabelledData  # what replay and validation may draw from
    general: LabelledData  # the general set: the same texts in every retrain (empty when there is none)
    # The rest of the pool: what a retrain chooses its candidate on for what it keeps of the general case,
    # so the general set stays an unbiased gate (never trained on, never chosen on).
    choice: LabelledData


def split_general(base: LabelledData, human: LabelledData, texts: int) -> GeneralSplit:
    """Hold the general set out of the base corpus: ``texts`` texts, the same in every retrain.

    The pool is the bootstrap's validation split (at most a fifth of a small corpus); a text that a
    person labelled is left out of the set, since the human label may be trained on. None of the pool
    goes to replay or validation, so no challenger ever trains on the set it is judged on.
    """
    unique = deduplicate(base)
    pool_size = min(GENERAL_POOL, len(unique) // 5)
    if texts == 0 or pool_size < len(unique.label_names):
        return GeneralSplit(unique, unique.subset([]), unique.subset([]))
    rest, pool = train_test_split(unique, pool_size / len(unique), seed=GENERAL_SEED)
    unlabelled = _without(pool, {near_duplicate_key(t) for t in human.texts})
    general = unlabelled.sample(texts, seed=GENERAL_SEED)
    gate_texts = set(general.texts)
    choice = unlabelled.subset([i for i, t in enumerate(unlabelled.texts) if t not in gate_texts])
    return GeneralSplit(
        rest, general.subset(range(len(general)), f"{len(general)} texts held out of {base.source}"),
        choice.subset(range(len(choice)), f"{len(choice)} other texts held out of {base.source}"),
    )


def _without(data: LabelledData, keys: set[str]) -> LabelledData:
    return data.subset([i for i, t in enumerate(data.texts) if near_duplicate_key(t) not in keys])


def build_training_sets(
    human: LabelledData, base: LabelledData, config: TrainerConfig, recipe: Recipe | None = None
) -> TrainingSets:
    """Split the human labels three ways (fit / validate / held-out evaluation) and mix in the base corpus.

    The splits of the human labels depend only on the labels and the seed, so every recipe is
    validated and evaluated on the same posts. Every part is grouped by near-duplicate key before it
    is split, and a base text in the group of any human label is left out (a person's label wins, and
    a held-out text must not come back through the replay), so the leakage guards never fire.
    """
    replay = config.base_sample if recipe is None or recipe.replay is None else recipe.replay
    repeat = config.human_repeat if recipe is None or recipe.human_repeat is None else recipe.human_repeat
    human = deduplicate(human)
    human_train, evaluation = train_test_split(human, config.eval_fraction, seed=config.seed)
    human_fit, human_valid = train_test_split(human_train, config.human_valid_fraction, seed=config.seed)
    # A base text that a person labelled is taken with the person's label, or left out if held out.
    human_keys = {near_duplicate_key(t) for t in human.texts}
    unique_base = deduplicate(base)
    base = _without(unique_base, human_keys)
    covered = len(unique_base) - len(base)
    if replay is not None and len(base) > replay:
        base = base.sample(replay, seed=config.seed) if replay else base.subset([])
    parts_train, parts_valid = [], [human_valid]
    train_sources, valid_sources = [], [source_data(human_valid, "human labels")]
    if len(base) >= 20:
        # Validation also fits the temperature and the negative threshold: a few dozen rows make those
        # noisy (in the loop benchmark a 50-row base slice let one run forget general tweets badly).
        share = min(0.2, max(4 * len(human_valid), 300) / len(base))
        base_fit, base_valid = train_test_split(base, share, seed=config.seed)
        parts_train.append(base_fit)
        parts_valid.insert(0, base_valid)
        train_sources.append(source_data(base_fit, base.source))
        valid_sources.insert(0, source_data(base_valid, base.source))
    parts_train += [human_fit] * repeat  # up-weighted: few, but from the live domain
    train_sources.append(source_data(human_fit, "human labels", note=f"repeated ×{repeat}"))
    train = concat(parts_train, source=f"{base.source} + {len(human_fit)} human labels ×{repeat}")
    valid = concat(parts_valid, source=f"{len(human_valid)} human labels + base corpus")
    assert_no_leakage(train, evaluation)
    assert_no_leakage(valid, evaluation)
    assert_no_leakage(train, valid)
    return TrainingSets(train, valid, evaluation, human_valid, len(base), len(human_fit), covered,
                        DataRecord(train=train_sources, validation=valid_sources))
