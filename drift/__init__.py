"""Drift detection, alerting and the retraining trigger.

Modules, each with one job (their docstrings explain thresholds and why):

- :mod:`drift.detectors` — every detector behind one protocol, one module each, registered by name
  (guarded River detectors on confidence, the predicted-label mix, the brand spikes).
- :mod:`drift.measures` — PSI, Jensen–Shannon distance and chi-square between two distributions.
- :mod:`drift.monitor` — per model version / per brand fan-out producing ``Alert`` records.
- :mod:`drift.performance` — macro-F1 / negative recall on human-labelled samples.
- :mod:`drift.flyback` — which posts go to human labelling.
- :mod:`drift.retrain` — alerts to at most one in-flight ``RetrainRequest`` per version.
- :mod:`drift.records` — the records drift reads and writes (alerts, scored posts, labels, model events).
- :mod:`drift.retraining` — one retrain without Kafka (data in :mod:`drift.training_sets`, config in :mod:`drift.retrain_config`).
- :mod:`benchmarks.detectors` — detection delay / false alarms on seeded simulated streams.
- :mod:`drift.brand` — brand alerts: volume / sentiment spikes per brand and their "why" (own package).
"""
