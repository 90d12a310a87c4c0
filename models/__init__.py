"""brandpulse's ML library: data, training and evaluation, scoring backends (:mod:`models.scoring`)
and the model registry. No Kafka, no ClickHouse, no process settings."""
