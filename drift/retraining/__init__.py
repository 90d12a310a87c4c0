"""Retraining without Kafka: which alerts ask for a retrain (:mod:`~drift.retraining.requests`), the
data of one retrain (:mod:`~drift.retraining.training_sets`), its recipes and places
(:mod:`~drift.retraining.config`) and the job itself (:mod:`~drift.retraining.job`). The trainer
service (:mod:`streams.services.trainer`) runs it on requests from Kafka."""
