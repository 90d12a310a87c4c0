"""Scoring a checkpoint: the batched torch scorer and what every backend shares
(:mod:`~models.scoring.scorer`), the ONNX and OpenVINO backends, the factory that builds the configured
one (:mod:`~models.scoring.factory`), the timed choice of backend, and the de-duplicating cache."""
