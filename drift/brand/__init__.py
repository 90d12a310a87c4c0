"""Brand alerts: what moved for a brand, and why. Pure logic, no Kafka, ClickHouse or Slack I/O
(:mod:`streams.slack.messages` renders brand events for Slack).

Modules, each with one job:

- :mod:`drift.brand.config` — typed settings of everything below (``streams`` builds them).
- :mod:`drift.brand.base` — the per-minute bucket, the ``SpikeDetector`` protocol, spike episodes
  (cooldown, escalation, resolution).
- :mod:`drift.brand.baseline` — expected counts: hour-of-week / hour-of-day profile when history
  exists, a trailing window when not, and the overdispersion of the counts.
- :mod:`drift.brand.episodic` — what the two spike detectors share: baseline feeding and the episode.
- :mod:`drift.brand.volume` — mention-volume spikes (negative-binomial tail on distinct voices).
- :mod:`drift.brand.sentiment_share` — negative-share spikes and positive surges (binomial tail).
- :mod:`drift.brand.voices` — reposts and copy-paste floods collapse to one voice.
- :mod:`drift.brand.terms` — tokens and the log-odds ratio with an informative Dirichlet prior.
- :mod:`drift.brand.why` — the explanation attached to every brand alert.
- :mod:`drift.brand.registration` — the brand detectors' entries in the detector registry.
- :mod:`drift.brand.monitor` — per-brand fan-out, event-time buckets, one incident per brand.
- :mod:`benchmarks.spikes` — detection delay, false alarms and per-post cost.
"""
