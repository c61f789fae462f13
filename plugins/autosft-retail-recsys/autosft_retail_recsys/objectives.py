"""Training objectives of next-item models, and the search dimensions that choose them.

Full softmax scores the held-out item against the whole catalogue; sampled softmax against
``negatives`` items drawn uniformly; BPR pushes the held-out item above each drawn item pairwise.
With a catalogue of a few thousand items the model still computes every score (cheap at this
size); sampling changes the objective, which the search compares on validation ranking quality.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch.nn import functional as F

from autosft import ConfigError, LossFunction

if TYPE_CHECKING:
    from autosft import SearchSpace, StudyConfig

__all__ = ["LOSSES", "LOSS_DIMENSION", "NEGATIVES_DIMENSION", "add_objective_dimensions", "ranking_loss"]

#: Search dimension naming the objective, and the one giving the number of negatives.
LOSS_DIMENSION = "ranking_loss"
NEGATIVES_DIMENSION = "negatives"
LOSSES = ("softmax", "sampled_softmax", "bpr")
#: Model builders whose ``training_loss`` reads the two dimensions.
MODELS = frozenset({"next_item_transformer"})


def add_objective_dimensions(space: SearchSpace, study: StudyConfig) -> None:
    """``ranking_loss`` and, for the sampled objectives, ``negatives`` (log-uniform 8..512)."""
    from autosft import Categorical, Condition, Int

    if study.model.name not in MODELS:
        return
    space.add(Categorical(LOSS_DIMENSION, LOSSES, "softmax"))
    sampled = Condition(LOSS_DIMENSION, ("sampled_softmax", "bpr"))
    space.add(Int(NEGATIVES_DIMENSION, 8, 512, 64, log=True, condition=sampled))


def ranking_loss(kind: str, *, negatives: int, seed: int, device: torch.device) -> LossFunction | None:
    """The loss for ``kind``; ``None`` for full softmax, which is the engine's cross-entropy
    (label smoothing included). Negatives are drawn from a generator seeded by the trial."""
    if kind == "softmax":
        return None
    if kind not in LOSSES:
        raise ConfigError(f"unknown {LOSS_DIMENSION} {kind!r}; valid: {', '.join(LOSSES)}")
    if negatives < 1:
        raise ConfigError(f"{kind} needs `{NEGATIVES_DIMENSION} >= 1`, but got {negatives}")
    generator = torch.Generator(device=device).manual_seed(seed)

    def loss(scores: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        scores = scores.float()
        positives = targets.argmax(dim=-1)
        drawn = torch.randint(0, scores.shape[1], (scores.shape[0], negatives), generator=generator,
                              device=scores.device)  # fmt: skip
        positive = scores.gather(1, positives[:, None])
        negative = scores.gather(1, drawn)
        # A draw of the held-out item itself is no negative: it must not push its own score down.
        real = drawn != positives[:, None]
        if kind == "bpr":
            pairwise = -F.logsigmoid(positive - negative)
            return (pairwise * real).sum() / real.sum().clamp(min=1)
        logits = torch.cat([positive, negative.masked_fill(~real, float("-inf"))], dim=1)
        return -F.log_softmax(logits, dim=1)[:, 0].mean()

    return loss
