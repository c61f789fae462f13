"""autosft plugin for retail recommendation: personalize a pre-trained next-item model per segment.

Installing ``autosft-retail-recsys`` registers, through the ``autosft`` entry-point group:

- the dataset ``interactions``: a CSV or Parquet log of (user, item, time) events, cleaned
  (cancellations, returns, non-product items, duplicates) and split by time per user into
  next-item ``ranking`` rows; all users' training periods form the pretrain population;
- the model ``next_item_transformer``: a SASRec-style encoder pre-trained once on that population
  (cached by data fingerprint), fine-tuned on the target segment;
- augmentations ``sequence_crop``, ``item_mask`` and ``sequence_reorder``;
- search dimensions ``ranking_loss`` (softmax, sampled_softmax, bpr) and ``negatives``;
- the reference ``popularity`` (segment purchase counts, history masked), scored beside every
  ranking study; its builder enables the core's ``pretrained_as_is`` reference and starting trial;
- the command ``autosft retail-baselines STUDY``: the references (popularity, the pre-trained
  model as is) on validation and test, beside the study's held-out test result.

The ranking metrics (``hit_rate@k``, ``ndcg@k``, ``mrr``, ``coverage@10``) are built into autosft.
This module holds hook implementations only; each imports its component module inside the hook
body, so listing plugins or ``autosft --help`` never imports torch or pandas.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from autosft import hookimpl

if TYPE_CHECKING:
    import typer

    from autosft import Augmentation, DatasetLoader, ModelBuilder, Reference, SearchSpace, StudyConfig

__all__ = [
    "autosft_extend_search_space",
    "autosft_register_augmentations",
    "autosft_register_commands",
    "autosft_register_datasets",
    "autosft_register_models",
    "autosft_register_references",
]


@hookimpl
def autosft_register_datasets(register: Callable[[DatasetLoader], None]) -> None:
    from autosft_retail_recsys.data import InteractionsDataset

    register(InteractionsDataset())


@hookimpl
def autosft_register_models(register: Callable[[ModelBuilder], None]) -> None:
    from autosft_retail_recsys.model import NextItemBuilder

    register(NextItemBuilder())


@hookimpl
def autosft_register_augmentations(register: Callable[[Augmentation], None]) -> None:
    from autosft_retail_recsys.augment import ItemMask, SequenceCrop, SequenceReorder

    for augmentation in (SequenceCrop(), ItemMask(), SequenceReorder()):
        register(augmentation)


@hookimpl
def autosft_register_references(register: Callable[[Reference], None]) -> None:
    from autosft_retail_recsys.baselines import Popularity

    register(Popularity())


@hookimpl
def autosft_extend_search_space(space: SearchSpace, study: StudyConfig) -> None:
    from autosft_retail_recsys.objectives import add_objective_dimensions

    add_objective_dimensions(space, study)


@hookimpl
def autosft_register_commands(app: typer.Typer) -> None:
    from autosft_retail_recsys.baselines import register_commands

    register_commands(app)
