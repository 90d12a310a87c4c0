"""The models a worker serves: a champion, and optionally a challenger scored in shadow.

Models are resolved through the registry (alias, ``models:/`` URI or a checkpoint dir) and loaded
in a thread. A swap replaces the reference between batches: a batch scores with the pair it
started with, so a promotion never scores one post twice or not at all.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path

from models.scorer_factory import SentimentScorer, make_scorer
from streams.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Serving:
    champion: SentimentScorer
    challenger: SentimentScorer | None = None


def resolve_checkpoint(ref: str, settings: Settings) -> Path:
    path = Path(ref).expanduser()
    if path.is_dir():
        return path
    from models.registry import resolve_model

    return resolve_model(ref, settings=settings)


def load_scorer(ref: str, settings: Settings) -> SentimentScorer:
    model_dir = resolve_checkpoint(ref, settings)
    return make_scorer(
        model_dir,
        backend=settings.backend,
        batch_size=settings.scorer_batch_size,
        max_length=settings.max_length,
        threads=settings.threads,
        cache_entries=settings.cache_entries,
    )


class ModelSlots:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._serving: Serving | None = None
        self.ready = asyncio.Event()

    @property
    def current(self) -> Serving:
        if self._serving is None:
            raise RuntimeError("no model loaded yet")
        return self._serving

    async def load_initial(self) -> None:
        champion = await asyncio.to_thread(load_scorer, self.settings.model_ref, self.settings)
        challenger = None
        if self.settings.challenger_ref:
            challenger = await self._try_load(self.settings.challenger_ref)
            if challenger is not None and challenger.version == champion.version:
                challenger = None  # already promoted: nothing to shadow
        self._serving = Serving(champion, challenger)
        self.ready.set()
        log.info("serving champion %s%s", champion.version, f", shadow {challenger.version}" if challenger else "")

    async def _try_load(self, ref: str) -> SentimentScorer | None:
        try:
            return await asyncio.to_thread(load_scorer, ref, self.settings)
        except LookupError:
            return None  # no model under that alias: nothing to shadow

    async def apply(self, role: str, action: str, ref: str) -> None:
        """React to a model event: (re)load or drop the model for a role."""
        current = self.current
        if role == "champion":
            scorer = await asyncio.to_thread(load_scorer, ref, self.settings)
            # A promoted challenger stops being shadowed once it is the champion.
            challenger = current.challenger
            if challenger is not None and challenger.version == scorer.version:
                challenger = None
            self._serving = Serving(scorer, challenger)
        elif action == "unload":
            self._serving = Serving(current.champion, None)
        else:
            self._serving = Serving(current.champion, await asyncio.to_thread(load_scorer, ref, self.settings))
        s = self._serving
        log.info("model event applied: champion %s, shadow %s", s.champion.version, s.challenger.version if s.challenger else "-")
