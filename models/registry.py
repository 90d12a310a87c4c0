"""The model registry: MLflow runs + registered model versions + aliases, local by default.

Serving never talks to MLflow directly: it asks :func:`resolve_model` for a reference ('champion',
'challenger', 'models:/name@alias', 'models:/name/3', 'brandpulse-sentiment/v3' or a checkpoint
directory) and gets back a local checkpoint directory, downloaded once into ``<data_dir>/models``.
Every registered checkpoint carries its own registry version in ``brandpulse.json``, so a scored
row's ``model_version`` always names a version that :func:`resolve_model` can find again.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import re
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from models.cards.schema import DataRecord, ModelCard
from models.checkpoint import META_FILE, CheckpointMeta, read_meta, write_meta

EXPERIMENT = "brandpulse"
CHECKPOINT_ARTIFACT = "checkpoint"
CARD_ARTIFACT = "card"  # card.json (models.cards.schema.ModelCard) and card.md
REPORT_ARTIFACT = "report"
CHAMPION, CHALLENGER, PREVIOUS = "champion", "challenger", "previous"
VERSION_TAG = "brandpulse.version"  # on each run: the version it registered
_VERSION_REF = re.compile(r"^(?:(?P<name>[\w.-]+)/)?v?(?P<num>\d+)$")


class RegistryConfig(BaseModel):
    """Where the registry lives; each process builds one from its own settings."""

    model_config = ConfigDict(frozen=True)

    state_dir: Path = Field(description="Local state: downloaded checkpoints under models/, MLflow artifacts under mlartifacts/")
    tracking_uri: str = Field(description="MLflow tracking and registry store, e.g. sqlite:///<state_dir>/mlflow.db")
    registered_model: str = Field(default="brandpulse-sentiment", description="MLflow registered model name")


class ModelNotFound(LookupError):
    """A model reference that names nothing in the registry or on disk; the message says what exists."""


class ModelInfo(BaseModel):
    name: str
    number: int
    version: str
    aliases: list[str]
    created: dt.datetime
    run_id: str | None
    source: str
    base_model: str = ""
    trained_on: str = ""
    metrics: dict[str, float] = {}


def version_string(name: str, number: int) -> str:
    return f"{name}/v{number}"


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    # MLflow and alembic announce schema migrations and deprecations on every fresh store.
    loggers = [logging.getLogger(n) for n in ("mlflow", "alembic", "alembic.runtime.migration")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, lvl in zip(loggers, levels):
            lg.setLevel(lvl)


def _client(registry: RegistryConfig) -> Any:
    from mlflow.tracking import MlflowClient

    registry.state_dir.mkdir(parents=True, exist_ok=True)
    with _quiet():
        return MlflowClient(tracking_uri=registry.tracking_uri, registry_uri=registry.tracking_uri)


def _experiment_id(client: Any, registry: RegistryConfig) -> str:
    exp = client.get_experiment_by_name(EXPERIMENT)
    if exp is not None:
        return exp.experiment_id
    # Without an explicit location a sqlite-backed store drops artifacts into ./mlruns of the current dir.
    location = (registry.state_dir / "mlartifacts").as_uri()
    return client.create_experiment(EXPERIMENT, artifact_location=location)


def _ensure_registered(client: Any, name: str) -> None:
    from mlflow.exceptions import MlflowException

    try:
        client.get_registered_model(name)
    except MlflowException:
        client.create_registered_model(name, description="brandpulse sentiment checkpoints (HF dir + brandpulse.json)")


def _numbers(client: Any, name: str) -> list[int]:
    return [int(mv.version) for mv in client.search_model_versions(f"name='{name}'")]


def _flat_params(params: Mapping[str, Any]) -> dict[str, str]:
    # MLflow caps a param value at 6000 characters.
    return {k: str(v)[:6000] for k, v in params.items() if v is not None}


def _flat_metrics(metrics: Mapping[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def log_and_register(
    model_dir: Path,
    *,
    registry: RegistryConfig,
    params: Mapping[str, Any],
    metrics: Mapping[str, Any],
    report_dir: Path | None = None,
    alias: str | None = None,
    history: Sequence[Mapping[str, float]] = (),
    tags: Mapping[str, str] | None = None,
    staging_dir: Path | None = None,
    on_phase: Callable[[str], None] | None = None,
    data: DataRecord | None = None,
) -> str:
    """Log a checkpoint as an MLflow run, register it as the next version and return 'name/vN'.

    The copy that is logged has ``version`` in ``brandpulse.json`` set to that string. ``history``
    (one mapping per evaluation, with a ``step`` key) becomes step-wise metrics. ``tags`` go on the
    run when it is created and on the model version when it is created (each in one transaction),
    so a caller that keys them, e.g. by the request that asked for the model, can find what an
    interrupted call left behind (:func:`tagged_versions`, :func:`close_stale_runs`). The checkpoint
    is staged for upload under ``staging_dir`` (default: the system's temporary directory).
    ``on_phase`` hears ``"upload"`` once the run exists and ``"registration"`` once the version does.
    Every version gets a model card (``card/``) built from the checkpoint, ``params``, the report and
    ``data``: the sources the caller trained and validated on (None: not recorded).
    """
    from mlflow.entities import Metric, Param

    model_dir = Path(model_dir)
    meta = read_meta(model_dir)
    name = registry.registered_model
    extra_tags = dict(tags or {})
    with _quiet():
        client = _client(registry)
        exp_id = _experiment_id(client, registry)
        _ensure_registered(client, name)
        number = max(_numbers(client, name), default=0) + 1
        version = version_string(name, number)
        run = client.create_run(exp_id, run_name=version, tags={**extra_tags, VERSION_TAG: version})
        run_id = run.info.run_id
        try:
            if on_phase is not None:
                on_phase("upload")
            now = int(dt.datetime.now(dt.timezone.utc).timestamp() * 1000)
            step_metrics = [
                Metric(k, float(v), now, int(h.get("step", i)))
                for i, h in enumerate(history)
                for k, v in h.items()
                if k not in ("step", "epoch") and isinstance(v, (int, float))
            ]
            final = [Metric(k, v, now, 0) for k, v in _flat_metrics(metrics).items()]
            ps = [Param(k, v) for k, v in _flat_params(params).items()]
            for start in range(0, max(len(step_metrics) + len(final), 1), 900):
                client.log_batch(run_id, metrics=(final + step_metrics)[start : start + 900])
            for start in range(0, len(ps), 90):
                client.log_batch(run_id, params=ps[start : start + 90])
            with tempfile.TemporaryDirectory(prefix="brandpulse-register-", dir=staging_dir) as tmp:
                staged = Path(tmp) / CHECKPOINT_ARTIFACT
                # Exports and timed backend choices belong to one machine and are rebuilt on demand.
                shutil.copytree(model_dir, staged, ignore=shutil.ignore_patterns("report", "*.tmp", "onnx", "openvino", "backend-choice"))
                write_meta(staged, meta.model_copy(update={"version": version}))
                client.log_artifacts(run_id, str(staged), CHECKPOINT_ARTIFACT)
            if report_dir is not None and Path(report_dir).is_dir():
                client.log_artifacts(run_id, str(report_dir), REPORT_ARTIFACT)
            source = f"{run.info.artifact_uri}/{CHECKPOINT_ARTIFACT}"
            mv = client.create_model_version(
                name,
                source=source,
                run_id=run_id,
                tags={"base_model": meta.base_model, "trained_on": meta.trained_on[:5000], **extra_tags},
                description=f"{meta.base_model} trained on {meta.trained_on}",
            )
            if on_phase is not None:
                on_phase("registration")
            version = _settle_version(client, run_id, name, int(mv.version), staging_dir)
            report = _read_json(Path(report_dir) / "report.json") if report_dir is not None else None
            _log_card(client, run_id, meta.model_copy(update={"version": version}), params, report, data, staging_dir)
            client.set_terminated(run_id, "FINISHED")
        except BaseException:
            client.set_terminated(run_id, "FAILED")
            raise
        if alias:
            client.set_registered_model_alias(name, alias, mv.version)
    return version


def _read_json(path: Path) -> dict | None:
    import json

    return json.loads(path.read_text()) if path.is_file() else None


def _log_card(
    client: Any, run_id: str, meta: CheckpointMeta, params: Mapping[str, Any], report: Mapping[str, Any] | None,
    data: DataRecord | None, staging_dir: Path | None,
) -> None:
    from models.cards.build import build_card
    from models.cards.render import render_markdown

    card = build_card(meta, {k: str(v) for k, v in params.items() if v is not None}, report, data)
    with tempfile.TemporaryDirectory(prefix="brandpulse-card-", dir=staging_dir) as tmp:
        (Path(tmp) / "card.json").write_text(card.model_dump_json(indent=1))
        (Path(tmp) / "card.md").write_text(render_markdown(card))
        client.log_artifacts(run_id, tmp, CARD_ARTIFACT)


def _run_json(client: Any, run_id: str, folder: str, name: str) -> dict | None:
    """A JSON artifact of a run, or None when the run has none."""
    if name not in {Path(f.path).name for f in client.list_artifacts(run_id, folder)}:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        return _read_json(Path(client.download_artifacts(run_id, f"{folder}/{name}", tmp)))


def registered_card(ref: str, *, registry: RegistryConfig) -> ModelCard:
    """The model card of a registered version (or of a checkpoint directory).

    Versions registered before cards existed get one built from what their run recorded (checkpoint
    metadata, params, report); their training sources then read "not recorded".
    """
    from models.cards.build import build_card

    candidate = Path(ref).expanduser()
    if (candidate / META_FILE).is_file():
        return build_card(read_meta(candidate), {}, None, None)
    name, alias, number = _parse(ref, registry)
    with _quiet():
        client = _client(registry)
        mv = _model_version(client, name, alias, number, registry)
        saved = _run_json(client, mv.run_id, CARD_ARTIFACT, "card.json") if mv.run_id else None
        if saved is not None:
            return ModelCard.model_validate(saved)
        params = dict(client.get_run(mv.run_id).data.params) if mv.run_id else {}
        report = _run_json(client, mv.run_id, REPORT_ARTIFACT, "report.json") if mv.run_id else None
    meta = read_meta(resolve_model(f"models:/{name}/{mv.version}", registry=registry))
    return build_card(meta, params, report, None)


def _settle_version(client: Any, run_id: str, name: str, number: int, staging_dir: Path | None) -> str:
    """'name/vN' of a registered version, its logged ``brandpulse.json`` naming that same version.

    Another process may have registered between choosing the number and creating the version:
    MLflow's number wins, so the logged metadata is fixed. The run's version tag is set last, so
    a run whose tag disagrees with its version is one whose fix was interrupted (and is redone).
    """
    version = version_string(name, number)
    if client.get_run(run_id).data.tags.get(VERSION_TAG) == version:
        return version
    with tempfile.TemporaryDirectory(dir=staging_dir) as tmp:
        local = Path(client.download_artifacts(run_id, f"{CHECKPOINT_ARTIFACT}/{META_FILE}", tmp))
        write_meta(local.parent, read_meta(local.parent).model_copy(update={"version": version}))
        client.log_artifact(run_id, str(local), CHECKPOINT_ARTIFACT)
    client.set_tag(run_id, VERSION_TAG, version)
    return version


class TaggedVersion(BaseModel):
    """A registered version found by a tag, with its run's state and the version's own tags."""

    version: str
    number: int
    run_id: str | None
    run_status: str | None  # RUNNING when the call that registered it was interrupted
    aliases: list[str]
    tags: dict[str, str]


def tagged_versions(key: str, value: str, *, registry: RegistryConfig) -> list[TaggedVersion]:
    """Registered versions whose tag ``key`` is ``value`` (see ``tags`` of :func:`log_and_register`), oldest first.

    Raises whatever the store raises when it cannot be reached: a caller that must not register
    twice has to know the difference between "none" and "cannot tell".
    """
    name = registry.registered_model
    if "'" in value or "'" in key:
        raise ValueError(f"tag {key}={value!r} cannot be searched for (quote in it)")
    with _quiet():
        client = _client(registry)
        versions = client.search_model_versions(f"name = '{name}' AND tags.{key} = '{value}'")
        alias_map = dict(client.get_registered_model(name).aliases or {}) if versions else {}
        out = []
        for mv in versions:
            status = client.get_run(mv.run_id).info.status if mv.run_id else None
            out.append(TaggedVersion(
                version=version_string(name, int(mv.version)), number=int(mv.version), run_id=mv.run_id,
                run_status=status, aliases=sorted(a for a, n in alias_map.items() if int(n) == int(mv.version)),
                tags=dict(mv.tags or {}),
            ))
    return sorted(out, key=lambda v: v.number)


def finish_run(found: TaggedVersion, *, registry: RegistryConfig, staging_dir: Path | None = None) -> None:
    """Complete what an interrupted :func:`log_and_register` left after registering: metadata fix, run FINISHED."""
    if found.run_id is None or found.run_status != "RUNNING":
        return
    with _quiet():
        client = _client(registry)
        _settle_version(client, found.run_id, registry.registered_model, found.number, staging_dir)
        client.set_terminated(found.run_id, "FINISHED")


def close_stale_runs(key: str, *, registry: RegistryConfig, staging_dir: Path | None = None) -> list[str]:
    """End the RUNNING runs tagged ``key`` that a killed process left: FINISHED when they registered a
    version (after completing it), FAILED otherwise. Returns the run ids closed.

    Only for runs no live process is still writing: the caller owns every run tagged ``key``.
    """
    name = registry.registered_model
    with _quiet():
        client = _client(registry)
        exp = client.get_experiment_by_name(EXPERIMENT)
        if exp is None:
            return []
        runs = client.search_runs([exp.experiment_id], f"attributes.status = 'RUNNING' AND tags.{key} LIKE '%'")
        closed = []
        for run in runs:
            versions = client.search_model_versions(f"run_id = '{run.info.run_id}'")
            if versions:
                _settle_version(client, run.info.run_id, name, int(versions[0].version), staging_dir)
                client.set_terminated(run.info.run_id, "FINISHED")
            else:
                client.set_terminated(run.info.run_id, "FAILED")
            closed.append(run.info.run_id)
    return closed


def _parse(ref: str, registry: RegistryConfig) -> tuple[str, str | None, int | None]:
    """(registered name, alias, number) for a registry reference."""
    if ref.startswith("models:/"):
        body = ref[len("models:/") :]
        if "@" in body:
            name, alias = body.split("@", 1)
            return name, alias, None
        name, _, num = body.rpartition("/")
        if not name or not num.isdigit():
            raise ModelNotFound(f"{ref!r} is not a valid model URI; use models:/NAME@ALIAS or models:/NAME/NUMBER")
        return name, None, int(num)
    m = _VERSION_REF.match(ref)
    if m:
        return m.group("name") or registry.registered_model, None, int(m.group("num"))
    if "/" in ref or "\\" in ref or ref.startswith("."):
        raise ModelNotFound(f"{ref!r} is not a checkpoint directory (no {META_FILE}) nor a registry reference")
    return registry.registered_model, ref, None


def _model_version(client: Any, name: str, alias: str | None, number: int | None, registry: RegistryConfig) -> Any:
    from mlflow.exceptions import MlflowException

    try:
        if alias is not None:
            return client.get_model_version_by_alias(name, alias)
        return client.get_model_version(name, str(number))
    except MlflowException:
        what = f"alias {alias!r}" if alias is not None else f"version {number}"
        try:
            existing = sorted(_numbers(client, name))
        except MlflowException:
            existing = []
        hint = (
            f"registered versions: {existing}"
            if existing
            else "nothing is registered yet; run `brandpulse models bootstrap` or `brandpulse models train --register`"
        )
        raise ModelNotFound(f"model {name!r} has no {what} in {registry.tracking_uri}; {hint}") from None


def resolve_model(ref: str, *, registry: RegistryConfig) -> Path:
    """A local checkpoint directory for ``ref``, downloading a registered version once into ``<data_dir>/models``."""
    from mlflow.artifacts import download_artifacts

    candidate = Path(ref).expanduser()
    if (candidate / META_FILE).is_file():
        return candidate.resolve()
    if candidate.is_dir():
        raise ModelNotFound(f"{candidate} is a directory but not a brandpulse checkpoint (no {META_FILE})")
    name, alias, number = _parse(ref, registry)
    with _quiet():
        client = _client(registry)
        mv = _model_version(client, name, alias, number, registry)
        target = registry.state_dir / "models" / name / f"v{mv.version}"
        if (target / META_FILE).is_file():
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=target.parent, prefix=".download-") as tmp:
            local = Path(download_artifacts(artifact_uri=mv.source, dst_path=tmp))
            if not (local / META_FILE).is_file():
                raise ModelNotFound(f"{name} v{mv.version} at {mv.source} holds no {META_FILE}; re-register it")
            try:
                local.rename(target)  # atomic: a reader sees the whole checkpoint or none
            except OSError:
                # Another process on this data dir finished the same download first and may be loading it:
                # its copy stays (replacing it once pulled files from under a starting worker). A folder
                # without the metadata is no finished download: moved aside whole, then replaced.
                if (target / META_FILE).is_file():
                    return target
                target.rename(Path(tmp) / "stale")
                local.rename(target)
    return target


def _number_of(client: Any, ref: str, registry: RegistryConfig) -> tuple[str, int]:
    name, alias, number = _parse(ref, registry)
    mv = _model_version(client, name, alias, number, registry)
    return name, int(mv.version)


def alias_version(alias: str, *, registry: RegistryConfig) -> str | None:
    """The 'name/vN' that ``alias`` points at, or None when it is not set."""
    with _quiet():
        client = _client(registry)
        try:
            name, number = _number_of(client, alias, registry)
        except ModelNotFound:
            return None
    return version_string(name, number)


def set_alias(version: str, alias: str, *, registry: RegistryConfig) -> str:
    """Point ``alias`` at ``version`` ('name/vN', 'vN', 'N', models:/ URI or another alias); returns 'name/vN'."""
    with _quiet():
        client = _client(registry)
        name, number = _number_of(client, version, registry)
        client.set_registered_model_alias(name, alias, str(number))
    return version_string(name, number)


def promote(version_or_alias: str = CHALLENGER, *, registry: RegistryConfig) -> str:
    """Make ``version_or_alias`` the champion; the old champion becomes 'previous' (for rollback).

    The challenger alias is removed when it pointed at the promoted version: its shadow run is over.
    """
    from mlflow.exceptions import MlflowException

    with _quiet():
        client = _client(registry)
        name, number = _number_of(client, version_or_alias, registry)
        try:
            old = int(client.get_model_version_by_alias(name, CHAMPION).version)
        except MlflowException:
            old = None
        if old is not None and old != number:
            client.set_registered_model_alias(name, PREVIOUS, str(old))
        client.set_registered_model_alias(name, CHAMPION, str(number))
        try:
            if int(client.get_model_version_by_alias(name, CHALLENGER).version) == number:
                client.delete_registered_model_alias(name, CHALLENGER)
        except MlflowException:
            pass
    return version_string(name, number)


def list_models(*, registry: RegistryConfig) -> list[ModelInfo]:
    """Every registered version of ``registry.registered_model``, newest first."""
    from mlflow.exceptions import MlflowException

    name = registry.registered_model
    with _quiet():
        client = _client(registry)
        try:
            versions = client.search_model_versions(f"name='{name}'")
            alias_map = dict(client.get_registered_model(name).aliases or {})
        except MlflowException:
            return []
        # search results carry no aliases on every store; the registered model's alias map does.
        aliases_of: dict[int, list[str]] = {}
        for alias, num in alias_map.items():
            aliases_of.setdefault(int(num), []).append(alias)
        out = []
        for mv in versions:
            metrics: dict[str, float] = {}
            if mv.run_id:
                try:
                    metrics = dict(client.get_run(mv.run_id).data.metrics)
                except MlflowException:
                    metrics = {}
            out.append(
                ModelInfo(
                    name=name,
                    number=int(mv.version),
                    version=version_string(name, int(mv.version)),
                    aliases=sorted(aliases_of.get(int(mv.version), [])),
                    created=dt.datetime.fromtimestamp(mv.creation_timestamp / 1000, tz=dt.timezone.utc),
                    run_id=mv.run_id,
                    source=mv.source,
                    base_model=(mv.tags or {}).get("base_model", ""),
                    trained_on=(mv.tags or {}).get("trained_on", ""),
                    metrics=metrics,
                )
            )
    return sorted(out, key=lambda m: m.number, reverse=True)
