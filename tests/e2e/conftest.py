"""End-to-end tests start real processes (Faust workers, CLI commands) against the real broker, which is
started for the session when none listens, with a line on the terminal saying so, or a secured broker of
their own."""

from pathlib import Path

import pytest

from tests.support.airline import airline_model as _airline_model
from tests.support.broker import kafka_bootstrap, kafka_settings
from tests.support.kafka_security import pki, secured
from tests.support.stack import stack

__all__ = ["airline_model", "kafka_bootstrap", "kafka_settings", "pki", "secured", "stack"]


@pytest.fixture(scope="session")
def airline_model(trained_model: Path) -> Path:
    """The test model warm-started on 2,500 real airline tweets (cached after the first training)."""
    return _airline_model(trained_model)
