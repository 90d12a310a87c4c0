"""Drift detectors behind one protocol (:mod:`drift.detectors.base`), registered by name.

One detector per module; a new detector is its file plus one ``register`` line in
:mod:`drift.detectors.registry`.
``tests/unit/drift/test_detector_protocol.py`` runs every registered detector through the same checks
(state round trip, quiet on a stationary stream, a signal on a clear shift, bad input rejected).

- :mod:`drift.detectors.confidence` — guarded River detectors (ADWIN, Page-Hinkley, KSWIN) on the
  confidence stream; one class, one registration per River method.
- :mod:`drift.detectors.label_distribution` — predicted-label mix vs. a reference (chi², JS, PSI).
- :mod:`drift.brand.volume`, :mod:`drift.brand.sentiment_share` — per-brand spikes, fed one closed
  minute at a time; they live with the rest of the brand logic and register here.
"""
