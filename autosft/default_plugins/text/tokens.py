"""Texts to token ids: a model's tokenizer, a max length and a truncation side (head, tail or both).

Legal texts put what matters at either end: a clause's operative words often come first, a
judgment's holding last. So a text longer than ``max_length`` keeps its first tokens (head), its
last (tail), or a share of each (head_tail), always with the model's special tokens around them.
Rows are padded to the longest in their split; the engine pads each batch only to its longest.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np

from autosft.components import InputEncoder
from autosft.engine.cache import load_once
from autosft.errors import ConfigError

__all__ = ["Truncation", "encoder_for", "truncate"]

logger = logging.getLogger(__name__)

Truncation = Literal["head", "tail", "head_tail"]
#: Tokenizers report this (or larger) as "no limit"; the model config's position count decides then.
_NO_LIMIT = 1_000_000


def truncate(content: np.ndarray, budget: int, truncation: Truncation, head_fraction: float) -> np.ndarray:
    """Positions of ``content`` (non-special token positions) that a text of at most ``budget`` tokens keeps."""
    if len(content) <= budget:
        return content
    if truncation == "head":
        return content[:budget]
    if truncation == "tail":
        return content[len(content) - budget :]
    head = min(budget, max(0, round(budget * head_fraction)))
    return np.concatenate([content[:head], content[len(content) - (budget - head) :]])


def _tokenizer(path: str) -> Any:
    from transformers import AutoTokenizer

    from autosft.engine.hf import quiet_transformers  # torch: kept off this module's import

    try:
        with quiet_transformers():
            return AutoTokenizer.from_pretrained(path)
    except (OSError, ValueError) as error:
        raise ConfigError(
            f"model {path!r}: no tokenizer can be loaded ({str(error).strip().splitlines()[0][:200]}); "
            "give a local folder holding the model and its tokenizer files"
        ) from None


def _limit(path: str, tokenizer: Any) -> int:
    if 0 < tokenizer.model_max_length < _NO_LIMIT:
        return int(tokenizer.model_max_length)
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(path)
    return int(getattr(config, "max_position_embeddings", _NO_LIMIT))


def encoder_for(path: str, max_length: int, truncation: Truncation, head_fraction: float) -> InputEncoder:
    """The encoder of ``path``'s tokenizer; a ``max_length`` above the model's limit is a :class:`ConfigError`."""
    tokenizer = load_once(("tokenizer", path), lambda: _tokenizer(path))
    limit = _limit(path, tokenizer)
    if max_length > limit:
        raise ConfigError(f"model option max_length={max_length} exceeds the model's limit of {limit} tokens")
    specials = tokenizer.num_special_tokens_to_add(pair=False)
    if max_length <= specials:
        raise ConfigError(f"model option max_length={max_length} leaves no room beside {specials} special tokens")
    names = [name for name in tokenizer.model_input_names if name in ("input_ids", "token_type_ids", "attention_mask")]
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0

    def encode(texts: Any) -> Mapping[str, np.ndarray]:
        from autosft.engine.hf import quiet_transformers  # torch: kept off this module's import

        with quiet_transformers():  # "sequence longer than the model's maximum": truncated below
            encoded = tokenizer(list(texts), add_special_tokens=True, truncation=False,
                                return_special_tokens_mask=True, return_attention_mask=False)  # fmt: skip
        rows = []
        for special_mask in encoded["special_tokens_mask"]:
            special = np.asarray(special_mask, dtype=bool)
            content = np.flatnonzero(~special)
            kept = truncate(content, max_length - int(special.sum()), truncation, head_fraction)
            keep = np.sort(np.concatenate([np.flatnonzero(special), kept]))
            rows.append(keep)
        width = max((len(keep) for keep in rows), default=1)
        arrays = {"input_ids": np.full((len(rows), width), pad, dtype=np.int64),
                  "attention_mask": np.zeros((len(rows), width), dtype=np.int64)}  # fmt: skip
        if "token_type_ids" in names:
            arrays["token_type_ids"] = np.zeros((len(rows), width), dtype=np.int64)
        for row, keep in enumerate(rows):
            arrays["input_ids"][row, : len(keep)] = np.asarray(encoded["input_ids"][row])[keep]
            arrays["attention_mask"][row, : len(keep)] = 1
            if "token_type_ids" in arrays:
                arrays["token_type_ids"][row, : len(keep)] = np.asarray(encoded["token_type_ids"][row])[keep]
        return arrays

    key = f"{path}|{type(tokenizer).__name__}|{len(tokenizer)}|{max_length}|{truncation}|{head_fraction}"
    return InputEncoder(key=key, encode=encode)
