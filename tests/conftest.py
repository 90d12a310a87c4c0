"""The three test tiers, and what every tier may use.

- ``tests/unit``: no broker, no chDB, no network, no subprocess workers; real models are fine when fast.
  A unit test that opens a network connection fails at once (tests/unit/conftest.py). ``make test-fast``.
- ``tests/integration``: real components in this process: the Kafka-compatible broker, chDB, local HTTP
  servers, real training runs and benchmarks.
- ``tests/e2e``: real processes: Faust workers, the broker and benchmark commands as the CLI starts them.

Nothing is mocked. Shared helpers live in ``tests/support``; a tier's conftest.py offers the fixtures that
tier may use (the broker only to integration and e2e). This file offers what all three share: the
offline model hub and a real fine-tuned test model.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.models import model_needs_training, trained_test_model

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

TIERS = ("unit", "integration", "e2e")
TRAINING_S = 900  # what the first test that needs the test model may add when it has to train it (cold cache)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Each test carries its tier's marker (``-m "not e2e"`` keeps working), taken from its folder; the first
    test that needs the test model gets the time to train it when it is not cached yet."""
    root = Path(__file__).parent
    for item in items:
        tier = item.path.relative_to(root).parts[0] if item.path.is_relative_to(root) else None
        if tier in TIERS:
            item.add_marker(tier)
    first = next((item for item in items if "trained_model" in getattr(item, "fixturenames", ())), None)
    if first is not None and model_needs_training():
        marker = first.get_closest_marker("timeout")
        own = float(marker.args[0]) if marker and marker.args else float(config.getini("timeout") or 0)
        if own:
            first.add_marker(pytest.mark.timeout(own + TRAINING_S), append=False)


@pytest.fixture(scope="session")
def trained_model() -> Path:
    """all-MiniLM-L6-v2 fine-tuned briefly on real non-airline tweets; trained once, then cached."""
    return trained_test_model()
