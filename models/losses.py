"""The training losses of :func:`models.train.fine_tune`: class-weighted or focal cross-entropy
against imbalance, optionally mixed with knowledge distillation from a teacher's logits.

Their own module so :mod:`models.train` and :mod:`models.distill` (which drives ``fine_tune`` with a
teacher) both import them without importing each other.
"""

from __future__ import annotations

from typing import Any


def distillation_loss(student_logits: Any, teacher_logits: Any, temperature: float) -> Any:
    """T² · KL(softmax(teacher / T) ‖ softmax(student / T)), averaged over the batch (torch tensors)."""
    import torch.nn.functional as F

    log_student = F.log_softmax(student_logits / temperature, dim=-1)
    teacher = F.softmax(teacher_logits / temperature, dim=-1)
    return F.kl_div(log_student, teacher, reduction="batchmean") * temperature**2


def loss_trainer_class(weights: Any, imbalance: str, gamma: float, kd_alpha: float, kd_temperature: float) -> type:
    import torch
    from transformers import Trainer

    class _ImbalanceTrainer(Trainer):
        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):  # type: ignore[override]
            labels = inputs.pop("labels")
            teacher = inputs.pop("teacher_logits", None)  # only training rows of a distillation run have them
            outputs = model(**inputs)
            logits = outputs.logits.float()
            w = weights.to(logits.device) if weights is not None else None
            if imbalance == "focal":
                logp = torch.log_softmax(logits, dim=-1).gather(1, labels[:, None]).squeeze(1)
                loss_i = -((1.0 - logp.exp()) ** gamma) * logp
                if w is not None:
                    loss_i = loss_i * w[labels]
                loss = loss_i.mean()
            else:
                loss = torch.nn.functional.cross_entropy(logits, labels, weight=w)
            if teacher is not None:
                soft = distillation_loss(logits, teacher.to(logits.device).float(), kd_temperature)
                loss = (1.0 - kd_alpha) * loss + kd_alpha * soft
            return (loss, outputs) if return_outputs else loss

    return _ImbalanceTrainer
