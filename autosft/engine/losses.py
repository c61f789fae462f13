"""Losses over soft targets, so label smoothing and mixup need no special case anywhere.

Single-label tasks (binary, multiclass, and ranking, whose classes are the catalogue's items) get
per-class probabilities (rows sum to 1); multilabel tasks get independent 0..1 targets per class.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from autosft.components import LossFunction, TaskType

__all__ = ["cross_entropy", "focal", "member_loss", "soft_targets"]


def member_loss(loss_fn: LossFunction, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """``loss_fn`` of a batch; training logits of shape (rows, members, classes) are an ensemble (TabM)
    whose every member learns the row's targets on its own, so each row is scored once per member.

    Training the members apart, not their mean, is what keeps them diverse (the TabM paper's finding);
    in eval mode such a model returns the members' combined (rows, classes) logits.
    """
    if logits.ndim == 3:
        return loss_fn(logits.flatten(0, 1), targets.repeat_interleave(logits.shape[1], dim=0))
    return loss_fn(logits, targets)


def soft_targets(labels: torch.Tensor, *, task: TaskType, num_classes: int, smoothing: float) -> torch.Tensor:
    """Turn stored labels into smoothed probability targets of shape (rows, classes)."""
    if task == "multilabel":
        targets = labels.float()
        return targets * (1 - smoothing) + 0.5 * smoothing
    targets = F.one_hot(labels.long(), num_classes).float()
    return targets * (1 - smoothing) + smoothing / num_classes


def cross_entropy(*, task: TaskType, class_weights: torch.Tensor | None = None) -> LossFunction:
    """Softmax cross-entropy (sigmoid for multilabel), optionally weighted per class."""
    if task == "multilabel":

        def multilabel(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
            # For multilabel, class weights scale each label's positive term (BCE pos_weight).
            return F.binary_cross_entropy_with_logits(logits.float(), targets, pos_weight=class_weights)

        return multilabel

    def single_label(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        log_probs = F.log_softmax(logits.float(), dim=-1)
        per_class = -targets * log_probs
        if class_weights is not None:
            per_class = per_class * class_weights
        return per_class.sum(dim=-1).mean()

    return single_label


def focal(*, task: TaskType, gamma: float = 2.0, class_weights: torch.Tensor | None = None) -> LossFunction:
    """Focal loss (Lin et al. 2017): down-weights easy rows so rare hard ones drive the gradient."""

    def loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        logits = logits.float()
        if task == "multilabel":
            bce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
            probs = torch.sigmoid(logits)
            agreement = probs * targets + (1 - probs) * (1 - targets)
            weighted = (1 - agreement).pow(gamma) * bce
            return weighted.mean()
        log_probs = F.log_softmax(logits, dim=-1)
        per_class = -targets * log_probs
        if class_weights is not None:
            per_class = per_class * class_weights
        row_loss = per_class.sum(dim=-1)
        agreement = (targets * log_probs.exp()).sum(dim=-1)
        return ((1 - agreement).pow(gamma) * row_loss).mean()

    return loss
