"""What every brandpulse process shares: one :class:`~streams.core.settings.Settings`, the typed
configs built from it for ``models`` and ``drift``, the records that cross Kafka and ClickHouse, the
model slots (champion and shadow challenger), brand resolution and the Prometheus metrics."""
