"""The models a worker serves: a champion, and optionally a challenger scored in shadow.

Models are resolved through the registry (alias, ``models:/`` URI or a checkpoint dir) and loaded
in a thread. With ``backend=auto`` each model's scoring backend and micro-batch size are timed on
real tweets when it is loaded (cached per model and machine; :mod:`models.scoring.backend_choice`). A swap
replaces the reference between batches: a batch scores with the pair it started with, so a
promotion never scores one post twice or not at all.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from models.scoring.backend_choice import BackendChoice, SelectionConfig, choose_backend_in_subprocess, default_sample
from models.data import LabelledData
from models.memory import release_memory, trim_heap
from models.scoring.factory import DEFAULT_BATCH_SIZE, Backend, SentimentScorer, make_scorer
from streams.core.settings import Settings
from streams.core.configs import registry_config

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LoadedModel:
    """A scorer and how its backend was picked (``choice`` is None when the backend was configured)."""

    scorer: SentimentScorer
    backend: Backend
    batch_size: int
    choice: BackendChoice | None = None

    def describe(self) -> dict[str, Any]:
        """What /stats, /readyz and the metrics show about the backend."""
        info: dict[str, Any] = {
            "backend": self.backend,
            "batch_size": self.batch_size,
            "selected": "auto" if self.choice else "configured",
        }
        if self.choice:
            info |= {
                "posts_per_s": round(self.choice.posts_per_s, 1),
                "x_torch_fp32": round(self.choice.x_reference, 2),
                "timed_on_texts": self.choice.texts,
                "cached": self.choice.cached,
                "trials": [t.model_dump() for t in self.choice.trials],
            }
        return info


@dataclass(frozen=True, slots=True)
class Serving:
    champion: SentimentScorer
    challenger: SentimentScorer | None = None


def resolve_checkpoint(ref: str, settings: Settings) -> Path:
    path = Path(ref).expanduser()
    if path.is_dir():
        return path
    from models.registry import resolve_model

    return resolve_model(ref, registry=registry_config(settings))


def selection_config(settings: Settings) -> SelectionConfig:
    return SelectionConfig(
        batch_sizes=[settings.scorer_batch_size] if settings.scorer_batch_size else [16, 64],
        threads=settings.threads,
        max_length=settings.max_length,
        stream_batch=settings.batch_max,
        budget_s=settings.backend_budget_s,
    )


@lru_cache(maxsize=2)
def selection_sample(n: int) -> LabelledData:
    return default_sample(n)


def pick_backend(model_dir: Path, settings: Settings) -> BackendChoice:
    sample = selection_sample(settings.backend_texts)
    choice = choose_backend_in_subprocess(model_dir, sample.texts, sample.labels, selection_config(settings))
    log.info("scoring backend for %s: %s", model_dir, choice.summary())
    return choice


def load_model(ref: str, settings: Settings) -> LoadedModel:
    """Resolve ``ref``, pick its backend (timed under ``backend=auto``) and load the scorer."""
    model_dir = resolve_checkpoint(ref, settings)
    choice = pick_backend(model_dir, settings) if settings.backend == "auto" else None
    backend: Backend = choice.backend if choice else settings.backend  # type: ignore[assignment]
    batch_size = choice.batch_size if choice else settings.scorer_batch_size or DEFAULT_BATCH_SIZE[backend]
    scorer = make_scorer(
        model_dir,
        backend=backend,
        batch_size=batch_size,
        max_length=settings.max_length,
        threads=settings.threads,
        cache_entries=settings.cache_entries,
    )
    scorer.warm_up()  # a serving process holds its model's whole working set from the start
    trim_heap()  # and not the warm-up's scratch, which glibc would otherwise keep until the next trim
    return LoadedModel(scorer, backend, batch_size, choice)


class ModelSlots:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._serving: Serving | None = None
        self._loaded: dict[str, LoadedModel] = {}
        self.ready = asyncio.Event()

    @property
    def current(self) -> Serving:
        if self._serving is None:
            raise RuntimeError("no model loaded yet")
        return self._serving

    @property
    def backends(self) -> dict[str, dict[str, Any] | None]:
        """The backend of each role's model (None for an empty challenger slot)."""
        serving = self._serving
        if serving is None:
            return {}
        challenger = self._loaded.get("challenger") if serving.challenger is not None else None
        return {"champion": self._loaded["champion"].describe(), "challenger": challenger.describe() if challenger else None}

    def _set(self, champion: LoadedModel, challenger: LoadedModel | None) -> None:
        self._loaded = {"champion": champion} | ({"challenger": challenger} if challenger else {})
        self._serving = Serving(champion.scorer, challenger.scorer if challenger else None)

    async def load_initial(self) -> None:
        champion = await asyncio.to_thread(load_model, self.settings.model_ref, self.settings)
        challenger = None
        if self.settings.challenger_ref:
            challenger = await self._try_load(self.settings.challenger_ref)
            if challenger is not None and challenger.scorer.version == champion.scorer.version:
                challenger = None  # already promoted: nothing to shadow
        self._set(champion, challenger)
        self.ready.set()
        log.info("serving champion %s%s", champion.scorer.version, f", shadow {challenger.scorer.version}" if challenger else "")

    async def _try_load(self, ref: str) -> LoadedModel | None:
        try:
            return await asyncio.to_thread(load_model, ref, self.settings)
        except LookupError:
            return None  # no model under that alias: nothing to shadow

    async def apply(self, role: str, action: str, ref: str, version: str | None = None) -> None:
        """React to a model event: (re)load or drop the model for a role (``version``: the one the event names)."""
        champion = self._loaded["champion"]
        challenger = self._loaded.get("challenger") if self.current.challenger is not None else None
        if role == "champion":
            if challenger is not None and version is not None and challenger.scorer.version == version:
                champion = challenger  # the promoted challenger: already loaded, timed and warm
            else:
                champion = await asyncio.to_thread(load_model, ref, self.settings)
            # A promoted challenger stops being shadowed once it is the champion.
            if challenger is not None and challenger.scorer.version == champion.scorer.version:
                challenger = None
        elif action == "unload":
            challenger = None
        else:
            challenger = await asyncio.to_thread(load_model, ref, self.settings)
        self._set(champion, challenger)
        # The dropped model's hundreds of MB go back to the OS, not into glibc's free lists for good.
        await asyncio.to_thread(release_memory)
        s = self.current
        log.info("model event applied: champion %s, shadow %s", s.champion.version, s.challenger.version if s.challenger else "-")
