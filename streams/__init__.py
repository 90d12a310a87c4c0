"""brandpulse's processes and their edges, one folder each.

- :mod:`streams.worker` — the Faust worker: a post is validated (``worker/validation.py``), scored,
  stored and published (``worker/pipeline.py``) and watched (``worker/model_watch.py``,
  ``worker/brand_watch.py``); roles score, store and watch run together or apart (``worker/roles/``).
- :mod:`streams.services` — the other processes: trainer, labeller, inference API, dashboard, demo.
- :mod:`streams.kafka`, :mod:`streams.store`, :mod:`streams.slack` — the adapters: topics and the
  local broker, ClickHouse behind one protocol, Slack alerts.
- :mod:`streams.views` — reports read from the store: trends, brand views, dashboard pages.
- :mod:`streams.core` — what every process shares: settings, record schemas, model slots, brands.
- :mod:`streams.cli` — the ``brandpulse`` command line.
"""
