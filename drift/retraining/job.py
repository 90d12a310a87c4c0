"""One retraining, without Kafka: human labels in, an evaluated and registered challenger out.

For each request :func:`run_retrain`

1. splits the human labels into a training part and a held-out evaluation part (stratified, grouped
   by near-duplicate text so no copy of a held-out post is trained on; :mod:`drift.retraining.training_sets`);
   labels it cannot use are listed with their reasons in the report, never dropped silently;
2. trains one candidate per :class:`~drift.retraining.config.Recipe`, each for the steps its recipe
   sets whatever the machine's pace (a busy machine takes longer, never trains less). The
   default recipes *warm-start* from the champion checkpoint (continued fine-tuning at a low learning
   rate, several epochs) on the human labels, repeated to up-weight them, plus a replay sample of the
   base corpus against forgetting; ``scratch`` (the untrained base encoder) is available as an option.
   Each warm-started model is also *blended* with the champion (a weighted average of the weights,
   :mod:`models.blend`), which keeps more of the general case. Of the candidates that lose at most
   ``choice_max_general_loss`` on general texts held out apart from the general set, the most tuned
   wins unless another is clearly better on a human *validation* part (:mod:`drift.retraining.choice`)
   — never on the held-out part;
3. evaluates the winner *and the current champion* on the held-out human labels, exactly as
   served (raw text, each checkpoint's own calibration and negative threshold; the one evaluator,
   :func:`models.cv.holdout_report`), and writes both reports plus a side-by-side comparison;
4. scores both on the general set (general texts held out of the base corpus, the same in every
   retrain, never trained on: :func:`~drift.retraining.training_sets.split_general`);
5. registers the winner in MLflow; unless it is worse than the champion on the held-out labels beyond
   sampling noise (:func:`gate`, a paired bootstrap) or loses more than ``max_general_loss`` on the
   general set (:mod:`drift.retraining.forgetting`) it gets the 'challenger' alias. The outcome
   carries the model event and the alert that announce it.

Every outcome, a failure included, leaves ``outcome.json`` in its report directory (with
``error.txt`` for a failure and ``rejected_labels.jsonl`` when labels were left out).
:class:`RetryBackoff` keeps a request that failed (or was skipped) from being retried at once
with the same labels. ``brandpulse trainer`` (:mod:`streams.services.trainer`) is the Kafka loop around it.

One request, one registered version, whatever interrupts it. The run and the version carry the
request id as the tag ``retrain_request`` (set when each is created, in the same transaction), and
before training :func:`run_retrain` looks for a version with that tag: a request that already
registered one is *resumed* (its run completed, its alias set, its outcome rebuilt from the
``outcome.json`` written just before registering) instead of trained again. A registry that
cannot be asked is a failed retrain, not a guess. Training scratch lives in ``.train-*`` folders
under the work directory, which the trainer clears on start (:func:`clear_scratch`).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import shutil
import tempfile
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from models.classification_metrics import bootstrap_gain_upper
from drift.records import HumanLabel, ModelEvent, RetrainAlert, RetrainRequest, RetrainStatus, utcnow
from drift.retraining.choice import CandidateScore, choose_candidate, fallbacks
from drift.retraining.config import Recipe, RetrainPlaces, TrainerConfig
from drift.retraining.forgetting import GeneralCheck, check_forgetting
from drift.retraining.training_sets import (
    HumanLabels, RejectedLabel, TrainingSets, build_training_sets, split_general, usable_labels,
)
from models.data import DataError, LabelledData
from models.progress import Progress
from models.registry import tagged_versions

log = logging.getLogger(__name__)

REQUEST_TAG = "retrain_request"  # on the MLflow run and model version: the request that made them
STATUS_TAG = "retrain_status"  # on the model version: registered (to shadow) or rejected (kept, no alias)
SCRATCH_PREFIX = ".train-"  # training scratch under the work directory; nothing in it outlives a retrain
# The phases a retrain goes through, in order (the trainer adds "announcement"); on_phase hears each.
PHASES = ("checking registry", "training", "evaluation", "upload", "registration")
OUTCOME_ALERT_NS = uuid.UUID("5f0c3a53-3b55-4f0e-9a43-2d1b1c7a2f61")  # retrain alerts: one id per outcome

LABEL_NAMES = ("negative", "neutral", "positive")  # what a retrain trains and evaluates on

PhaseHook = Callable[[str], None]


def _no_phase(phase: str) -> None:
    return None

# ------------------------------------------------------------------ evaluation


class Evaluation(BaseModel):
    """A checkpoint's headline numbers on one labelled set (kept in the outcome and the registry)."""

    version: str
    n: int
    macro_f1: float
    accuracy: float
    negative_recall: float | None
    # Per post, for the paired comparison with the champion; not kept in the outcome or the registry.
    predicted: list[str] = Field(default_factory=list, exclude=True, repr=False)


def evaluate_checkpoint(
    model_dir: Path, data: LabelledData, places: RetrainPlaces, report_dir: Path, title: str
) -> Evaluation:
    """Score ``data`` as the worker would (calibrated, tuned negative rule) and write a full report."""
    from models.cv import holdout_report
    from models.scoring.factory import DEFAULT_BATCH_SIZE

    # fp32 torch on purpose: evaluation numbers must not depend on the serving backend.
    ev, _ = holdout_report(
        model_dir, data, report_dir, title,
        batch_size=places.eval_batch_size or DEFAULT_BATCH_SIZE["torch"], threads=places.eval_threads,
    )
    if set(ev.model_labels) != set(data.label_names):
        # models.cv would score a binary view; the retrain compares 3-class models on 3-class labels.
        raise DataError(
            f"{ev.version} predicts {ev.model_labels} but the human labels use {data.label_names}; "
            "it cannot be evaluated on them"
        )
    neg = ev.metrics["per_class"].get("negative")
    return Evaluation(
        version=ev.version,
        n=len(data),
        macro_f1=ev.metrics["macro_f1"],
        accuracy=ev.metrics["accuracy"],
        negative_recall=neg["recall"] if neg and neg["support"] else None,
        predicted=[ev.labels[i] for i in ev.pred],
    )


def _fmt(x: float | None) -> str:
    return "—" if x is None else f"{x:.3f}"


def write_comparison(
    report_dir: Path, challenger: Evaluation, champion: Evaluation | None, general: GeneralCheck | None = None
) -> None:
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
    if general is not None:
        lines += ["", "## On the general set (what the retrain may have forgotten)", "", general.verdict() + "."]
    (report_dir / "comparison.md").write_text("\n".join(lines) + "\n")
    (report_dir / "comparison.json").write_text(json.dumps({
        "new_model": challenger.model_dump(), "champion": champion.model_dump() if champion else None,
        "general": general.model_dump() if general else None,
    }, indent=2))


# ------------------------------------------------------------------ one retrain, without Kafka


class RetrainOutcome(BaseModel):
    request_id: str
    requested_for: str  # the model version whose alerts asked for this retrain
    status: RetrainStatus
    message: str
    version: str | None = None  # the registered challenger
    challenger: Evaluation | None = None
    champion: Evaluation | None = None
    train_rows: int = 0
    human_train_rows: int = 0
    eval_rows: int = 0
    report_dir: Path | None = None
    seconds: float = 0.0
    labels_seen: int = 0  # human labels handed to the retrain (RetryBackoff counts new ones from here)
    rejected_labels: dict[str, int] = Field(default_factory=dict)  # reason → labels left out (list in the report)
    verdict: str = ""  # the held-out gate's numbers, for a registered or rejected model
    kept_out: list[str] = Field(default_factory=list)  # why a rejected model was not sent to shadow, gate by gate
    general: GeneralCheck | None = None  # the retrained model and the champion on the general set
    summary: str = ""  # held-out and general-set numbers and training mix, for a registered or rejected model
    requested_at: dt.datetime | None = None  # when the retrain was asked for, in the data's time (the alert's)
    resumed: bool = False  # registered before a restart; this outcome completes that registration
    # Each label left out, for the dead letters that report it; listed in rejected_labels.jsonl, not kept here.
    rejected: list[RejectedLabel] = Field(default_factory=list, exclude=True, repr=False)

    def event(self) -> ModelEvent:
        """What workers must hear: load the new challenger, or that the request closed without one."""
        if self.status == "registered":
            return ModelEvent(role="challenger", model_ref="challenger", version=self.version,
                              retrain_for=self.requested_for, reason=self.message[:500])
        return ModelEvent(action="retrain-closed", role="challenger", retrain_for=self.requested_for,
                          reason=f"{self.status}: {self.message}"[:500])

    def alert(self) -> RetrainAlert:
        """The outcome for people (the alerts topic, the alerts table and Slack); failed, skipped and rejected too.

        Its id follows from the outcome, so announcing it again after a restart stores one row. It is
        detected now (Slack judges an outcome's freshness by that) but sits ``since`` its retrain was
        asked for, in the data's time (the drift alert that opened it), so a dashboard showing the
        stream's own window shows it next to that alert.
        """
        return RetrainAlert(
            alert_id=uuid.uuid5(OUTCOME_ALERT_NS, f"{self.request_id}|{self.status}|{self.version}").hex,
            status=self.status,
            requested_for=self.requested_for,
            detector="trainer",
            statistic=self.challenger.macro_f1 if self.challenger else 0.0,
            threshold=self.champion.macro_f1 if self.champion else 0.0,
            window=self.eval_rows,
            model_version=self.version or self.requested_for,
            message=self.message,
            since=self.requested_at,
        )


def _champion_dir(places: RetrainPlaces) -> Path | None:
    from models.registry import CHAMPION, ModelNotFound, resolve_model

    try:
        return resolve_model(CHAMPION, registry=places.registry)
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


def gate(gold: Sequence[str], new: Evaluation, champ: Evaluation | None, config: TrainerConfig) -> tuple[bool, str]:
    """Whether the retrained model stays out of shadow, and the numbers that decided it.

    The held-out part is 30 % of the labels — 60 posts of 200 — so a point estimate says little: a
    model better by several points on 2,000 posts can lose on 60. Only a loss beyond sampling noise
    keeps a model out; the promotion rule, on the random sample, judges everything else.
    """
    if config.min_gain is None or champ is None:
        return False, "no champion to compare" if champ is None else "gate off"
    gain = new.macro_f1 - champ.macro_f1
    if config.gate_confidence is None:
        return gain < config.min_gain, f"gain {gain:+.3f}, needed {config.min_gain:+.3f}"
    upper = bootstrap_gain_upper(gold, new.predicted, champ.predicted, config.gate_confidence)
    return upper < config.min_gain, (
        f"gain {gain:+.3f}, {config.gate_confidence:.0%} upper bound {upper:+.3f} on {len(gold)} labels, "
        f"needed {config.min_gain:+.3f}"
    )


@dataclass
class Candidate:
    recipe: Recipe
    sets: TrainingSets
    result: Any  # models.train.TrainResult
    model_dir: Path
    valid_macro_f1: float  # on the human validation part: what the candidates are compared on
    started_from: str  # the champion version warm-started from, or the base encoder
    name: str  # the recipe's name, or "<recipe>-blend<percent of tuned weights>"
    choice: list[CandidateScore] = field(default_factory=list)  # every candidate's scores
    champion_choice_macro_f1: float | None = None  # the champion on the choice texts
    # Tried in turn if this one forgets too much on the general set (drift.retraining.choice.fallbacks).
    fallbacks: list[Candidate] = field(default_factory=list)

    @property
    def tried(self) -> dict[str, float]:
        """Every candidate made → its human-validation macro-F1."""
        return {s.name: s.human_valid_macro_f1 for s in self.choice}


def train_candidates(
    request_id: str,
    human: LabelledData,
    base: LabelledData,
    config: TrainerConfig,
    places: RetrainPlaces,
    champion_dir: Path | None,
    scratch: Path,
    report_dir: Path,
    progress: Progress,
    choice: LabelledData | None = None,
) -> Candidate:
    """Train each recipe in full, blend each warm-started model with the champion, and choose one.

    Every candidate is scored on the human validation part and, with a champion, on ``choice`` (general
    texts held out apart from the general set); :func:`drift.retraining.choice.choose_candidate` picks
    the most tuned that keeps the general case, unless another is clearly better on human validation. The held-out evaluation part is never
    looked at here: it stays an unbiased judge of the winner. A warm recipe without a champion to start
    from trains from the base encoder instead.
    """
    from models.blend import blend_checkpoint
    from models.checkpoint import read_meta, write_meta
    from models.train import fine_tune

    champion_version = read_meta(champion_dir).version if champion_dir is not None else None
    # Without a champion (or choice texts) there is nothing to lose against: the best on validation wins.
    judge_on = choice if choice is not None and len(choice) and champion_dir is not None else None
    champion_general = None
    if judge_on is not None and champion_dir is not None:
        champion_general = evaluate_checkpoint(champion_dir, judge_on, places, report_dir / "choice" / "champion",
                                               "champion on the choice texts").macro_f1
    made: list[Candidate] = []
    scores: list[CandidateScore] = []

    def consider(name: str, recipe: Recipe, sets: TrainingSets, result: Any, model_dir: Path, started_from: str) -> None:
        valid = evaluate_checkpoint(model_dir, sets.human_valid, places, report_dir / "recipes" / name,
                                    f"candidate {name} on the human validation labels")
        valid_f1 = valid.macro_f1
        general_f1 = None if judge_on is None else evaluate_checkpoint(
            model_dir, judge_on, places, report_dir / "choice" / name, f"candidate {name} on the choice texts"
        ).macro_f1
        scores.append(CandidateScore(
            name=name, human_valid_macro_f1=valid_f1, general_macro_f1=general_f1,
            valid_gold=list(sets.human_valid.labels), valid_pred=valid.predicted,
        ))
        made.append(Candidate(recipe, sets, result, model_dir, valid_f1, started_from, name))
        log.info("retrain %s, candidate %s: human-validation macro-F1 %.3f%s", request_id, name, valid_f1,
                 "" if general_f1 is None or champion_general is None
                 else f", choice texts {general_f1:.3f} (champion {champion_general:.3f})")

    for recipe in config.recipes:
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
            # Named after its request until the registry assigns the real version.
            "version": config.train.version or f"candidate/{request_id}",
        })
        model_dir = scratch / recipe.name
        result = fine_tune(
            sets.train, model_dir, train_config, valid=sets.valid, progress=progress,
            cache_dir=places.encoders,
        )
        log.info("retrain %s, recipe %s: %d steps in %.0fs", request_id, recipe.name, result.steps, result.train_seconds)
        started_from = champion_version if warm and champion_version else config.train.base_model
        outputs = [(recipe.name, model_dir, result)]
        if warm and champion_dir is not None:
            for share in sorted(config.blend_shares, reverse=True):  # most tuned first: the order the choice reads
                name = f"{recipe.name}-blend{round(share * 100)}"
                blended = blend_checkpoint(champion_dir, model_dir, scratch / name, share, sets.valid, train_config)
                outputs.append((name, scratch / name, replace(result, model_dir=blended.model_dir, meta=blended.meta,
                                                                     metrics=blended.metrics,
                                                                     threshold=blended.threshold)))
        for name, out_dir, out_result in outputs:
            if warm:  # the checkpoint would name the champion's temporary directory as its base
                meta = read_meta(out_dir)
                write_meta(out_dir, meta.model_copy(update={"base_model": f"{champion_version} (warm start)"}))
            consider(name, recipe, sets, out_result, out_dir, started_from)
    chosen = choose_candidate(scores, champion_general, config.choice_max_general_loss, config.choice_confidence)
    by_name = {c.name: c for c in made}
    log.info("retrain %s: candidate %s chosen of %s", request_id, chosen.name, ", ".join(s.name for s in scores))
    return replace(by_name[chosen.name], choice=scores, champion_choice_macro_f1=champion_general,
                   fallbacks=[by_name[s.name] for s in fallbacks(scores, chosen)])


def report_dir_of(places: RetrainPlaces, request_id: str) -> Path:
    """Where a request's reports go; request ids come off a topic, so they never name a path outside."""
    return places.work_dir / "runs" / re.sub(r"[^\w-]", "_", request_id) / "report"


def clear_scratch(work_dir: Path) -> list[Path]:
    """Remove the training scratch folders that a killed retrain left behind; returns what was removed.

    Only while no retrain runs in this work directory (the trainer calls it on start).
    """
    if not work_dir.is_dir():
        return []
    left = sorted(p for p in work_dir.iterdir() if p.name.startswith(SCRATCH_PREFIX))
    for path in left:
        shutil.rmtree(path, ignore_errors=True)
    return left


def redact(text: str, uri: str) -> str:
    """``text`` without the password of ``uri`` (a tracking URI may carry one; messages are logged and stored)."""
    from urllib.parse import urlsplit

    try:
        password = urlsplit(uri).password
    except ValueError:
        return text
    return text.replace(password, "***") if password else text


class RegistryUnavailable(RuntimeError):
    """The registry could not say whether a request already registered a model; nothing is trained."""


def run_retrain(
    request: RetrainRequest,
    labels: Sequence[HumanLabel],
    places: RetrainPlaces,
    *,
    config: TrainerConfig | None = None,
    base: LabelledData | None = None,
    progress: Progress = True,
    on_phase: PhaseHook | None = None,
) -> RetrainOutcome:
    """Train, evaluate against the champion and register a challenger; never raises for bad data.

    ``base`` overrides ``config.base_corpus`` (already loaded). Reports are kept under
    ``<places.work_dir>/runs/<request_id>/report``, for every outcome: ``outcome.json`` always,
    ``error.txt`` when it failed, ``rejected_labels.jsonl`` when labels could not be used. A request
    that already registered a version (before a crash) is resumed, not trained again. ``on_phase``
    hears each of :data:`PHASES` as the retrain enters it.
    """
    config = config or TrainerConfig()
    phase = on_phase or _no_phase
    started = time.perf_counter()
    report_dir = report_dir_of(places, request.request_id)
    outcome: dict[str, Any] = {
        "request_id": request.request_id, "requested_for": request.model_version, "labels_seen": len(labels),
        "requested_at": request.requested_at,
    }
    try:
        phase("checking registry")
        try:
            found = tagged_versions(REQUEST_TAG, request.request_id, registry=places.registry)
        except Exception as exc:  # noqa: BLE001 - whatever the store raises, the answer is "cannot tell"
            raise RegistryUnavailable(
                f"the model registry could not be reached ({type(exc).__name__}: {exc}); nothing was trained, "
                "so that a model registered before it failed is not registered twice"
            ) from exc
        if found:
            result = _resume(request, found, places, report_dir, outcome)
        else:
            if report_dir.exists():
                shutil.rmtree(report_dir)  # a request trained again starts its report afresh
            report_dir.mkdir(parents=True)
            result = _retrain(request, labels, places, config, base, progress, report_dir, outcome, phase)
    except Exception as exc:  # noqa: BLE001 - a failed retrain is reported, the trainer keeps running
        trace = redact(traceback.format_exc(), places.registry.tracking_uri)
        log.error("retrain %s failed:\n%s", request.request_id, trace)
        _write(report_dir / "error.txt", trace)
        reason = exc if isinstance(exc, RegistryUnavailable) else f"{type(exc).__name__}: {exc}"
        result = RetrainOutcome(
            **outcome, status="failed",
            message=redact(f"retrain for {request.model_version} failed: {reason} (report: {report_dir})",
                           places.registry.tracking_uri),
        )
    result = result.model_copy(update={"report_dir": report_dir, "seconds": time.perf_counter() - started})
    _write(report_dir / "outcome.json", result.model_dump_json(indent=1))
    return result


def _registered_message(status: str, version: str | None, verdict: str, summary: str, kept_out: list[str]) -> str:
    name = version or "(version not assigned yet)"
    if status == "rejected":
        # An outcome saved before kept_out existed was rejected by the held-out gate, the only one then.
        why = "; ".join(kept_out) or f"{HELD_OUT_LOSS}: {verdict}"
        return f"retrained model {name} kept in the registry but not sent to shadow ({why}): {summary}"
    return f"challenger {name} registered and sent to shadow scoring ({verdict}); {summary}"


HELD_OUT_LOSS = "its held-out gain over the champion falls short beyond sampling noise"
FORGETS = "it forgets too much of the general case"


def kept_out_by(loses: bool, verdict: str, general: GeneralCheck | None) -> list[str]:
    """Why a retrained model stays out of shadow, one reason per gate it failed (empty: it goes to shadow)."""
    reasons = [f"{HELD_OUT_LOSS}: {verdict}"] if loses else []
    if general is not None and general.forgets:
        reasons.append(f"{FORGETS}: macro-F1 {general.change:+.3f} on the general set, allowed {-(general.max_loss or 0):+.3f}")
    return reasons


def _saved_outcome(report_dir: Path, request_id: str) -> RetrainOutcome | None:
    try:
        saved = RetrainOutcome.model_validate_json((report_dir / "outcome.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return saved if saved.request_id == request_id else None


def _resume(
    request: RetrainRequest, found: list[Any], places: RetrainPlaces, report_dir: Path, outcome: dict[str, Any]
) -> RetrainOutcome:
    """Complete a registration a crash interrupted: its run ends, the challenger alias is set, the outcome is rebuilt."""
    from models.registry import CHALLENGER, alias_version, finish_run, set_alias

    first = found[0]  # found: models.registry.TaggedVersion, oldest first
    if len(found) > 1:
        log.error("request %s has %d registered versions (%s): registered before retrains were keyed by request; "
                  "resuming the first", request.request_id, len(found), ", ".join(v.version for v in found))
    log.warning("request %s already registered %s before the trainer stopped; resuming it instead of training again",
                request.request_id, first.version)
    finish_run(first, registry=places.registry)
    status = "rejected" if first.tags.get(STATUS_TAG) == "rejected" else "registered"
    if status == "registered" and not first.aliases:
        # The alias is set right after registering; a newer challenger (or a promotion) wins over a resumed one.
        current = alias_version(CHALLENGER, registry=places.registry)
        if current is None or int(current.rsplit("/v", 1)[-1]) < first.number:
            set_alias(first.version, CHALLENGER, registry=places.registry)
    saved = _saved_outcome(report_dir, request.request_id)
    if saved is not None and saved.status in ("registered", "rejected"):
        message = _registered_message(status, first.version, saved.verdict, saved.summary, saved.kept_out)
        return saved.model_copy(update={"status": status, "version": first.version, "resumed": True,
                                        "message": f"{message} (registration completed after a restart)"})
    return RetrainOutcome(
        **outcome, status=status, version=first.version, resumed=True,
        message=(f"{'challenger' if status == 'registered' else 'retrained model'} {first.version} was registered "
                 f"for this request before the trainer restarted; its evaluation is in the registry run "
                 f"{first.run_id} (the report was not written)"),
    )


def _write(path: Path, text: str) -> None:
    # The outcome is announced whatever happens to its report; a full disk must not turn it into a crash.
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        log.error("could not write %s: %s", path, exc)


def _report_rejected(human: HumanLabels, report_dir: Path) -> dict[str, int]:
    if human.rejected:
        log.warning("%s; listed in %s", human.summary(), report_dir / "rejected_labels.jsonl")
        _write(report_dir / "rejected_labels.jsonl", "".join(r.model_dump_json() + "\n" for r in human.rejected))
    return dict(Counter(r.reason for r in human.rejected))


def _retrain(
    request: RetrainRequest,
    labels: Sequence[HumanLabel],
    places: RetrainPlaces,
    config: TrainerConfig,
    base: LabelledData | None,
    progress: Progress,
    report_dir: Path,
    outcome: dict[str, Any],
    phase: PhaseHook,
) -> RetrainOutcome:
    from models.data import load_dataset
    from models.registry import CHALLENGER, log_and_register

    human_labels = usable_labels(labels, LABEL_NAMES)
    outcome["rejected_labels"] = _report_rejected(human_labels, report_dir)
    outcome["rejected"] = human_labels.rejected
    human = human_labels.data
    if len(human) < config.min_labels:
        return RetrainOutcome(
            **outcome, status="skipped",
            message=(
                f"retrain for {request.model_version} skipped: {len(human)} usable human labels, need "
                f"{config.min_labels} ({human_labels.summary()}); keep labelling with `brandpulse label` "
                "(each label needs the post's text and one of negative/neutral/positive)"
            ),
        )
    base_data = base if base is not None else load_dataset(config.base_corpus)
    split = split_general(base_data, human, config.general_texts)
    places.work_dir.mkdir(parents=True, exist_ok=True)
    champion_dir = _champion_dir(places)
    with tempfile.TemporaryDirectory(dir=places.work_dir, prefix=SCRATCH_PREFIX) as tmp:
        phase("training")
        best = train_candidates(
            request.request_id, human, split.rest, config, places, champion_dir, Path(tmp), report_dir, progress,
            choice=split.choice,
        )
        sets = best.sets  # every recipe splits the human labels alike: one held-out part for all candidates
        phase("evaluation")
        champ = None
        if champion_dir is not None:
            try:
                champ = evaluate_checkpoint(
                    champion_dir, sets.evaluation, places, report_dir / "champion", "champion on held-out human labels"
                )
            except DataError as exc:
                log.warning("champion not evaluated: %s", exc)
        # Scored once, whichever candidates are then compared with it.
        has_general = bool(len(split.general)) and champion_dir is not None and champ is not None
        champion_general = champion_on_general(split.general, champion_dir, places, report_dir) if has_general else None
        passed_over: list[str] = []
        candidates = [best, *best.fallbacks]
        for candidate in candidates:
            new = evaluate_checkpoint(
                candidate.model_dir, sets.evaluation, places, report_dir / "new_model",
                "retrained model on held-out human labels",
            )
            general = (score_general(split.general, candidate.model_dir, champion_general, places, report_dir, config)
                       if has_general else None)
            loses, verdict = gate(sets.evaluation.labels, new, champ, config)
            # Only forgetting sends the next candidate in: one that loses on held-out labels is not rescued.
            if loses or general is None or not general.forgets or candidate is candidates[-1]:
                break
            passed_over.append(f"{candidate.name} forgot too much ({general.change:+.3f} on the general set)")
            log.info("retrain %s: candidate %s forgets too much of the general case; trying the next that keeps more",
                     request.request_id, candidate.name)
        sets, result, model_dir, recipe = candidate.sets, candidate.result, candidate.model_dir, candidate.recipe
        write_comparison(report_dir, new, champ, general)
        summary = _summary(sets, new, champ) + f"; candidate {candidate.name} (from {candidate.started_from})"
        if passed_over:
            summary += f" after {', '.join(passed_over)}"
        if general is not None:
            summary += f"; {general.verdict()}"
        if human_labels.rejected:
            summary += f"; {human_labels.summary()}"
        common = dict(
            challenger=new, champion=champ, train_rows=len(sets.train), human_train_rows=sets.human_train_rows,
            eval_rows=len(sets.evaluation),
        )
        kept_out = kept_out_by(loses, verdict, general)
        status: RetrainStatus = "rejected" if kept_out else "registered"
        decided = RetrainOutcome(
            **outcome, **common, status=status, verdict=verdict, summary=summary, kept_out=kept_out, general=general,
            message=_registered_message(status, None, verdict, summary, kept_out),
        )
        # What a restart after registering needs to finish the job without training again (see _resume).
        _write(report_dir / "outcome.json", decided.model_copy(update={"report_dir": report_dir}).model_dump_json(indent=1))
        # Registered either way (its reports stay findable); only a winner gets the alias workers shadow.
        version = log_and_register(
            model_dir,
            registry=places.registry,
            params=config.train.model_dump() | {
                "request_id": request.request_id, "requested_for": request.model_version,
                "reason": request.reason, "base_corpus": config.base_corpus, "base_rows": sets.base_rows,
                "human_train_rows": sets.human_train_rows, "recipe": recipe.model_dump_json(),
                "warm_start_from": candidate.started_from, "eval_rows": len(sets.evaluation), "steps": result.steps,
                "candidate": candidate.name, "candidates_tried": json.dumps(best.tried),
                "candidate_choice": json.dumps([c.model_dump() for c in best.choice]), "gate": verdict,
                "rejected_labels": json.dumps(outcome["rejected_labels"]),
            },
            metrics=result.meta.metrics | {
                "human_macro_f1": new.macro_f1, "human_accuracy": new.accuracy,
                "human_valid_macro_f1": candidate.valid_macro_f1,
                "champion_choice_macro_f1": best.champion_choice_macro_f1,
                "human_negative_recall": new.negative_recall,
                "champion_human_macro_f1": champ.macro_f1 if champ else None,
                "champion_human_negative_recall": champ.negative_recall if champ else None,
                "general_macro_f1": general.challenger_macro_f1 if general else None,
                "champion_general_macro_f1": general.champion_macro_f1 if general else None,
                "train_seconds": result.train_seconds,
            },
            report_dir=report_dir,
            alias=None if kept_out else CHALLENGER,
            history=result.history,
            tags={REQUEST_TAG: request.request_id, STATUS_TAG: status} | general_tags(general),
            staging_dir=Path(tmp),
            on_phase=phase,
            data=sets.record,
        )
        return decided.model_copy(update={"version": version,
                                          "message": _registered_message(status, version, verdict, summary, kept_out)})


def champion_on_general(
    general: LabelledData, champion_dir: Path, places: RetrainPlaces, report_dir: Path
) -> Evaluation | None:
    """The champion on the general set (reports under ``report_dir/general/champion``); None when it
    cannot be scored there, which leaves the forgetting gate nothing to compare with."""
    try:
        return evaluate_checkpoint(champion_dir, general, places, report_dir / "general" / "champion",
                                   "champion on the general set")
    except DataError as exc:
        log.warning("champion not scored on the general set: %s", exc)
        return None


def score_general(
    general: LabelledData, model_dir: Path, champ: Evaluation | None, places: RetrainPlaces, report_dir: Path,
    config: TrainerConfig,
) -> GeneralCheck:
    """The retrained model on the general set beside the champion's scores (:func:`champion_on_general`),
    with the forgetting gate's decision. Reports under ``report_dir/general``.
    """
    new = evaluate_checkpoint(model_dir, general, places, report_dir / "general" / "new_model",
                              "retrained model on the general set")
    check = check_forgetting(
        general.labels, new.predicted, new.macro_f1, champ.predicted if champ else None, champ.macro_f1 if champ else None,
        champion_version=champ.version if champ else None, max_loss=config.max_general_loss,
        confidence=config.general_confidence, source=general.source,
    )
    log.info("%s", check.verdict())
    return check


def general_tags(general: GeneralCheck | None) -> dict[str, str]:
    """The general-set scores as model-version tags: read with the version, no run to fetch."""
    if general is None:
        return {}
    tags = {"general_macro_f1": f"{general.challenger_macro_f1:.4f}", "general_texts": str(general.n)}
    if general.champion_macro_f1 is not None and general.champion_version is not None:
        tags |= {"general_champion_macro_f1": f"{general.champion_macro_f1:.4f}",
                 "general_compared_with": general.champion_version}
    return tags


# ------------------------------------------------------------------ retrying after a failure


class FailedAttempts(BaseModel):
    failures: int  # in a row, for one model version
    last_at: dt.datetime
    labels_seen: int  # human labels the last attempt had
    message: str
    # A rejected retrain trained and lost: only new labels can change that, a cool-down cannot.
    new_labels_only: bool = False


class RetryBackoff(BaseModel):
    """Which model versions' retrains gave no challenger lately, so the next is not run on the same labels.

    The same labels give the same splits and the same outcome, and the workers ask again as soon as
    a request closes (a model still drifting raises its alerts again), so without this a retrain
    that fails, or trains a model that loses, repeats every few seconds. A request for a version whose
    last retrain was rejected waits until ``retry_new_labels`` new labels arrived; after a failed or
    skipped one it also runs once the cool-down (``retry_after_s``, doubled per failure in a row up
    to ``retry_max_s``) passed, since a failure may be passing. A registered challenger clears it.
    Pure, JSON state.
    """

    versions: dict[str, FailedAttempts] = Field(default_factory=dict)

    def record(self, outcome: RetrainOutcome, at: dt.datetime | None = None) -> None:
        if outcome.status == "registered":
            self.versions.pop(outcome.requested_for, None)
            return
        before = self.versions.get(outcome.requested_for)
        self.versions[outcome.requested_for] = FailedAttempts(
            failures=(before.failures if before else 0) + 1, last_at=at or utcnow(),
            labels_seen=outcome.labels_seen, message=outcome.message[:300],
            new_labels_only=outcome.status == "rejected",
        )

    def retry_at(self, model_version: str, config: TrainerConfig) -> dt.datetime | None:
        """When the cool-down of the version ends; None when it has no failure on record."""
        last = self.versions.get(model_version)
        if last is None:
            return None
        delay = min(config.retry_after_s * 2 ** (last.failures - 1), config.retry_max_s)
        return last.last_at + dt.timedelta(seconds=delay)

    def wait_reason(
        self, request: RetrainRequest, labels: int, config: TrainerConfig, now: dt.datetime | None = None
    ) -> str | None:
        """Why ``request`` must wait, or None when it may run now (``labels``: human labels on file)."""
        last = self.versions.get(request.model_version)
        retry_at = self.retry_at(request.model_version, config)
        if last is None or retry_at is None:
            return None
        if not last.new_labels_only and (now or utcnow()) >= retry_at:
            return None
        new = labels - last.labels_seen
        if new >= config.retry_new_labels:
            return None
        head = f"retrain for {request.model_version} (request {request.request_id}) waits: "
        if last.new_labels_only:
            return (f"{head}its last retrain lost on these labels ({last.message[:120]}); it runs after "
                    f"{config.retry_new_labels - new} more labels")
        return (
            f"{head}{last.failures} attempt(s) in a row did not train ({last.message[:120]}); it runs after "
            f"{config.retry_new_labels - new} more labels or at {retry_at:%Y-%m-%d %H:%M:%S} UTC"
        )

    def first_ready(
        self, pending: Sequence[RetrainRequest], labels: int, config: TrainerConfig, now: dt.datetime | None = None
    ) -> tuple[RetrainRequest | None, list[str]]:
        """The first pending request that may run now, and why the ones before it wait."""
        waits: list[str] = []
        for request in pending:
            reason = self.wait_reason(request, labels, config, now)
            if reason is None:
                return request, waits
            waits.append(reason)
        return None, waits
