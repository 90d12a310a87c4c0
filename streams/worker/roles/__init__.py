"""The agents of each worker role, one module per role (see :mod:`streams.worker.role_names` for the roles).

``embedded`` is all three in one process (the default); ``score``, ``store`` and ``watch`` run one
role each. :mod:`streams.worker.main` imports the modules for the roles a process runs.
"""
