"""Monitoring and lifecycle logic without I/O: detectors, model health, labels, retraining, shadow and
promotion. Every entry point takes its own typed config and plain inputs.

- :mod:`drift.detectors` — every detector behind one protocol, one module each, registered by name
  (guarded River detectors on confidence, the predicted-label mix); :mod:`drift.detectors.monitor`
  fans scored posts out to them per model version and per brand.
- :mod:`drift.health` — model health without labels: estimated performance and input drift.
- :mod:`drift.performance` — macro-F1 / negative recall on human-labelled samples.
- :mod:`drift.labels` — which posts get human labels (flyback sample, active selection) and how
  human labels are read (terminal session, CSV).
- :mod:`drift.retraining` — alerts to retrain requests, and one retrain without Kafka.
- :mod:`drift.shadow` and :mod:`drift.promotion` — a challenger judged beside the champion.
- :mod:`drift.brand` — brand alerts: volume / sentiment spikes per brand and their "why".
- :mod:`drift.measures` and :mod:`drift.records` — distribution distances; the records drift reads and writes.
"""
