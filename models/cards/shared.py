"""Score a checkpoint on the shared evaluation sets (the ``shared/data`` layout; its path is always given).

TweetEval validation and the US-airline tweets are 3-class. SST-2 dev is binary: the 3-class
model's p(neutral) is dropped and p(negative), p(positive) renormalised (:func:`models.cv.align_probs`),
and the larger of the two decides. These sets are for evaluation only: nothing here trains or fits.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from models.cards.build import set_metrics
from models.cards.schema import SetMetrics
from models.classification_metrics import reliability_bins
from models.data import DataError, LabelledData, load_airline_csv, load_sst2, load_tweeteval

BINARY_NOTE = "binary: p(neutral) dropped, negative/positive renormalised; no negative threshold"

# name → (loader from the shared root, note)
SHARED_SETS: dict[str, tuple[Callable[[Path], LabelledData], str]] = {
    "tweeteval/val": (lambda root: load_tweeteval(root / "tweeteval", "val"), ""),
    "airline": (lambda root: load_airline_csv(root / "airline" / "tweets.csv"), ""),
    "sst2/dev": (lambda root: load_sst2(root / "sst2" / "dev.tsv"), BINARY_NOTE),
}


def load_shared(root: Path, sample: int | None = None) -> dict[str, LabelledData]:
    """Every shared set under ``root`` (a stratified sample of ``sample`` rows each, when given)."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DataError(f"{root} is not a directory; point --shared-data at the shared data (airline/, sst2/, tweeteval/)")
    sets = {name: load(root) for name, (load, _) in SHARED_SETS.items()}
    return {name: data.sample(sample, seed=0) if sample else data for name, data in sets.items()}


def score_shared(
    model_dir: Path, root: Path, *, sample: int | None = None, batch_size: int = 64, threads: int | None = None,
    on_set: Callable[[SetMetrics], None] | None = None,
) -> list[SetMetrics]:
    """The checkpoint's metrics, per-class ECE and reliability bins on each shared set."""
    from models.cv import evaluate_checkpoint

    out = []
    for name, data in load_shared(root, sample).items():
        ev = evaluate_checkpoint(model_dir, data, batch_size=batch_size, threads=threads)
        note = SHARED_SETS[name][1] + (f" (stratified sample of {len(data)})" if sample else "")
        result = set_metrics(name, ev.metrics, reliability_bins(ev.y, ev.probs), note.strip())
        out.append(result)
        if on_set is not None:
            on_set(result)
    return out
