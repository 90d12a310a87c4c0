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

from tests.support.models import trained_test_model

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

TIERS = ("unit", "integration", "e2e")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Each test carries its tier's marker (``-m "not e2e"`` keeps working), taken from its folder."""
    root = Path(__file__).parent
    for item in items:
        tier = item.path.relative_to(root).parts[0] if item.path.is_relative_to(root) else None
        if tier in TIERS:
            item.add_marker(tier)


@pytest.fixture(scope="session")
def trained_model() -> Path:
    """all-MiniLM-L6-v2 fine-tuned briefly on real non-airline tweets; trained once, then cached."""
    return trained_test_model()
