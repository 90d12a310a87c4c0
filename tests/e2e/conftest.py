"""End-to-end tests start real processes (Faust workers, CLI commands) against the real broker, which is
started for the session when none listens, with a line on the terminal saying so, or a secured broker of
their own."""

from tests.support.broker import kafka_bootstrap, kafka_settings
from tests.support.kafka_security import pki, secured
from tests.support.stack import stack

__all__ = ["kafka_bootstrap", "kafka_settings", "pki", "secured", "stack"]
