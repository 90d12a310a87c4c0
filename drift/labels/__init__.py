"""Human labels: which posts get them — the unbiased flyback sample (:mod:`~drift.labels.flyback`) and
the actively chosen training posts (:mod:`~drift.labels.active`) — and how they are read, in a
terminal session or from a CSV (:mod:`~drift.labels.human`). The labeller service runs the session."""
