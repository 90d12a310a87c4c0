"""A retrain request that arrives before enough human labels waits for them instead of being dropped."""

from pathlib import Path

from drift.retraining.config import TrainerConfig
from streams.core.schemas import HumanLabel, RetrainRequest
from streams.core.settings import Settings
from streams.services.trainer import TrainerWorker


def test_request_waits_for_labels(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    worker = TrainerWorker(settings, TrainerConfig(min_labels=20))
    request = RetrainRequest(request_id="r1", model_version="m/v1", reason="label_drift")
    worker.handle(settings.topic("retrain-requests"), request.model_dump_json().encode())
    for i in range(5):
        label = HumanLabel(post_id=str(i), label="negative", annotator="a", text=f"late again {i}")
        worker.handle(settings.topic("labels"), label.model_dump_json().encode())
    worker._step_training()
    assert not worker.busy and [r.request_id for r in worker.state.pending] == ["r1"]
