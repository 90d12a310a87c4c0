"""The data of one retraining: human labels split three ways, mixed with a replay of the base corpus.

Pure functions of the labels, the base corpus and the seed, so every recipe of a retrain is
validated and evaluated on the same posts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from drift.records import HumanLabel
from drift.retraining.config import Recipe, TrainerConfig
from models.data import DataError, LabelledData, assert_no_leakage, concat, deduplicate, overlap, train_test_split


def usable_labels(labels: Iterable[HumanLabel], label_names: Sequence[str]) -> tuple[LabelledData, int]:
    """Human labels as training data: last label per post wins; labels without text or unknown ones are dropped.

    Returns the data and the number of labels dropped.
    """
    latest: dict[str, HumanLabel] = {}
    for h in labels:
        latest[h.post_id] = h
    keep = [h for h in latest.values() if h.text and h.text.strip() and h.label in label_names]
    if not keep:
        raise DataError("no human labels with text; label posts with `brandpulse label` (or import a CSV with a text column)")
    data = LabelledData([h.text.strip() for h in keep], [h.label for h in keep], "3class", "human labels")  # type: ignore[union-attr]
    return data, len(latest) - len(keep)


@dataclass(frozen=True)
class TrainingSets:
    train: LabelledData
    valid: LabelledData  # human validation part + an equal-sized slice of the base corpus
    evaluation: LabelledData  # held-out human labels, never seen in training, validation or recipe choice
    human_valid: LabelledData  # the human part of ``valid``: what recipes are compared on
    base_rows: int
    human_train_rows: int
    removed_overlap: int  # base texts dropped because a human label covers the same text


def _without(data: LabelledData, texts: set[str]) -> LabelledData:
    return data.subset([i for i, t in enumerate(data.texts) if t not in texts])


def build_training_sets(
    human: LabelledData, base: LabelledData, config: TrainerConfig, recipe: Recipe | None = None
) -> TrainingSets:
    """Split the human labels three ways (fit / validate / held-out evaluation) and mix in the base corpus.

    The splits of the human labels depend only on the labels and the seed, so every recipe is
    validated and evaluated on the same posts.
    """
    replay = config.base_sample if recipe is None or recipe.replay is None else recipe.replay
    repeat = config.human_repeat if recipe is None or recipe.human_repeat is None else recipe.human_repeat
    human = deduplicate(human)
    human_train, evaluation = train_test_split(human, config.eval_fraction, seed=config.seed)
    human_fit, human_valid = train_test_split(human_train, config.human_valid_fraction, seed=config.seed)
    # A base text that a person labelled is taken with the person's label, or left out if held out.
    covered = set(overlap(human, base))
    base = _without(deduplicate(base), covered)
    if replay is not None and len(base) > replay:
        base = base.sample(replay, seed=config.seed) if replay else base.subset([])
    parts_train, parts_valid = [], [human_valid]
    if len(base) >= 20:
        # Validation also fits the temperature and the negative threshold: a few dozen rows make those
        # noisy (in the loop benchmark a 50-row base slice let one run forget general tweets badly).
        share = min(0.2, max(4 * len(human_valid), 300) / len(base))
        base_fit, base_valid = train_test_split(base, share, seed=config.seed)
        parts_train.append(base_fit)
        parts_valid.insert(0, base_valid)
    parts_train += [human_fit] * repeat  # up-weighted: few, but from the live domain
    train = concat(parts_train, source=f"{base.source} + {len(human_fit)} human labels ×{repeat}")
    valid = concat(parts_valid, source=f"{len(human_valid)} human labels + base corpus")
    assert_no_leakage(train, evaluation)
    assert_no_leakage(valid, evaluation)
    return TrainingSets(train, valid, evaluation, human_valid, len(base), len(human_fit), len(covered))
