"""The worker's model slots: a promotion serves the challenger it already holds."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from models.checkpoint import read_meta, write_meta
from streams.core.model_slots import ModelSlots
from streams.core.settings import Settings


def test_a_promotion_serves_the_loaded_challenger_instead_of_loading_it_again(trained_model: Path, tmp_path: Path) -> None:
    challenger_dir = tmp_path / "challenger"
    shutil.copytree(trained_model, challenger_dir)
    write_meta(challenger_dir, read_meta(challenger_dir).model_copy(update={"version": "v-shadow"}))
    slots = ModelSlots(Settings(data_dir=tmp_path / "data", model_ref=str(trained_model), backend="torch"))

    async def promote() -> tuple[object, object]:
        await slots.load_initial()
        await slots.apply("challenger", "load", str(challenger_dir), "v-shadow")
        shadowed = slots.current.challenger
        # The registry alias is not looked up: the event names the version the worker already holds.
        await slots.apply("champion", "load", "champion", "v-shadow")
        return shadowed, slots.current.champion

    shadowed, champion = asyncio.run(promote())
    assert champion is shadowed
