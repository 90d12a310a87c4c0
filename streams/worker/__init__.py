"""The Faust worker: posts in, scored posts stored, published and watched.

Read it top to bottom: :mod:`~streams.worker.app` makes the app from the settings,
:mod:`~streams.worker.runtime` holds what the agents share, :mod:`~streams.worker.roles` registers the
agents of each role, and :mod:`~streams.worker.pipeline` is one batch's contract (validate → score →
store → publish → observe). :mod:`~streams.worker.model_watch` and :mod:`~streams.worker.brand_watch`
are the monitors; :mod:`~streams.worker.web` the worker's HTTP views.
"""
