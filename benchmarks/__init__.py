"""Benchmarks, apart from the production packages: scoring paths, the pipeline, the closed loop,
drift detectors and brand spikes. ``brandpulse bench …`` runs them; their data comes from options."""
