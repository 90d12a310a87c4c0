"""Integration tests may use the real broker (started for the session when none listens, with a line on the
terminal saying so), secured brokers of their own, chDB and local servers, all in this process."""

from tests.support.broker import kafka_bootstrap, kafka_settings
from tests.support.kafka_security import pki, secured

__all__ = ["kafka_bootstrap", "kafka_settings", "pki", "secured"]
