"""The pre-trained model as it is, without fine-tuning, where its head already fits the task.

A model pre-trained on the same label (a fraud MLP pre-trained on other segments' fraud labels, a
next-item model pre-trained on every customer) already predicts the target; fine-tuning must beat
it, or the search should pick it (:data:`autosft.search.study.AS_IS_ATTR` makes it a trial too).
Builders say so with :meth:`autosft.components.ModelBuilder.head_is_pretrained`.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from autosft.components import TASK_TYPES, DataSplit
from autosft.references.base import Predict, Reference, ReferenceData

__all__ = ["PretrainedAsIs"]


class PretrainedAsIs(Reference):
    name: ClassVar[str] = "pretrained_as_is"
    description: ClassVar[str] = "the study's pre-trained model without fine-tuning"
    task_types: ClassVar[frozenset[str]] = frozenset(TASK_TYPES)

    def skip_reason(self, data: ReferenceData) -> str | None:
        # The builder's word alone decides, as it decides the as-is starting trial: a pre-trained
        # encoder (MiniLM) with a new head is not ready, a checkpoint whose head already has the
        # task's labels is, with or without a pre-training population in the dataset.
        splits = data.splits
        if data.builder.head_is_pretrained(data.model_options, splits):
            return None
        population = splits.pretrain is not None and len(splits.pretrain) > 0
        why = "" if population else "; the dataset has no pre-training population"
        return f"model {data.builder.name!r} has no head pre-trained for this task, so as is it would guess{why}"

    def fit(self, data: ReferenceData) -> Predict:
        from autosft.engine.data import to_device_split
        from autosft.engine.device import pick_device
        from autosft.engine.loop import predict as predict_rows

        device = pick_device("cpu")
        module = data.builder.build(data.model_options, data.splits, seed=data.seed).module
        task = data.splits.task

        def predict(split: DataSplit) -> np.ndarray:
            return predict_rows(module, to_device_split(split, device.device), device, task)

        return predict
