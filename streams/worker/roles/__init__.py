"""The agents of each worker role, one module per role (see :mod:`streams.worker.role_names` for the roles).

``embedded`` is all three in one process (the default); ``score``, ``store`` and ``watch`` run one
role each. Each module's ``register(runtime)`` adds its agents to the runtime's app;
:func:`streams.worker.main.create_worker` calls those of the roles a process runs.
"""
