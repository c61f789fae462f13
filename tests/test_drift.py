"""`autosft drift` on the shared data: a tiny german credit study exported once, then a shifted copy
(amounts x1.5, one purpose remapped) is drift naming those columns (exit 1), a random half of the file
is not (exit 0), and bad inputs are one line with exit 2; CLAUDETTE's test documents against its
train split through a tiny BERT's embeddings (slow)."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from autosft.cli import build_app
from autosft.config import parse_study
from autosft.export import export_study
from autosft.plugins import get_plugin_manager
from autosft.search.controller import run_search
from autosft.testing import save_tiny_bert

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
GERMAN = SHARED / "finance" / "german_credit" / "german_credit.csv"
CLAUDETTE = SHARED / "legal" / "claudette_tos_en" / "claudette_tos_en_sentences.csv"


def _needs(path: Path) -> None:
    if not path.is_file():
        pytest.skip(f"{path} is absent (a fresh clone without ../shared)")


def _exported(folder: Path, study: dict) -> Path:
    """``study`` searched for its budget and exported (10 bootstrap resamples) to ``folder / "export"``."""
    manager = get_plugin_manager()
    run_search(parse_study(study, where="test"), manager=manager, final_test=False, check_data=False)
    export_study(study["storage"], study["name"], folder / "export", resamples=10, device="cpu", manager=manager)
    return folder / "export"


def _study_file(folder: Path, study: dict) -> Path:
    path = folder / "study.json"  # JSON is YAML
    path.write_text(json.dumps(study))
    return path


@pytest.fixture(scope="module")
def german(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """The study file, its export, and the folder holding both."""
    _needs(GERMAN)
    folder = tmp_path_factory.mktemp("german")
    study = {
        "name": "german-drift", "task": "binary", "storage": f"sqlite:///{folder / 'study.db'}", "seed": 0,
        "dataset": {"name": "tabular", "options": {"path": str(GERMAN), "target": "is_bad", "drop": ["class"]}},
        "model": {"name": "tabular_mlp", "options": {"hidden_sizes": [16], "pretrain_epochs": 1}},
        "objective": {"metric": "roc_auc"}, "budget": {"n_trials": 1, "max_epochs": 2},
    }  # fmt: skip
    return _study_file(folder, study), _exported(folder, study), folder


def _drift(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(build_app(get_plugin_manager()), ["drift", *map(str, args), "--resamples", "100"])
    return result.exit_code, result.stdout, result.stderr


def test_a_shifted_copy_is_drift_naming_the_shifted_columns(german: tuple[Path, Path, Path]) -> None:
    study, export, folder = german
    frame = pd.read_csv(GERMAN).drop(columns=["is_bad", "class"])  # no labels: the check needs none
    frame["credit_amount"] *= 1.5
    frame["purpose"] = frame["purpose"].replace({"A43": "A40"})
    frame.to_csv(folder / "shifted.csv", index=False)

    code, out, _ = _drift(study, "--data", folder / "shifted.csv", "--model", export, "--out", folder / "s.json")
    assert code == 1, out
    assert out.startswith("drift:") and "credit_amount" in out and "purpose" in out
    record = json.loads((folder / "s.json").read_text())
    assert set(record["features"]["drifted"]) == {"credit_amount", "purpose"}
    purpose = next(column for column in record["features"]["columns"] if column["column"] == "purpose")
    assert purpose["most_changed"] in {"A40", "A43"}
    assert record["domain_classifier"]["low"] > 0.55 and record["drift"] is True
    assert record["performance"] is None and record["rows"]["new"] == 1000


def test_a_random_half_of_the_data_is_no_drift(german: tuple[Path, Path, Path]) -> None:
    study, export, folder = german
    pd.read_csv(GERMAN).sample(frac=0.5, random_state=1).to_csv(folder / "half.csv", index=False)

    code, out, _ = _drift(study, "--data", folder / "half.csv", "--model", export, "--out", folder / "h.html")
    assert code == 0, out
    assert out.startswith("no drift:")
    page = (folder / "h.html").read_text()
    assert "Domain classifier" in page and "Metrics on the new rows" in page and "no drift" in page


def test_without_a_model_the_features_alone_decide(german: tuple[Path, Path, Path]) -> None:
    study, _, folder = german
    frame = pd.read_csv(GERMAN)
    frame["age_years"] += 15
    frame.to_csv(folder / "older.csv", index=False)
    code, out, _ = _drift(study, "--data", folder / "older.csv", "--out", folder / "o.json")
    assert code == 1 and "age_years" in out
    record = json.loads((folder / "o.json").read_text())
    assert record["features"]["drifted"] == ["age_years"] and record["domain_classifier"] is None


def _bad_inputs(folder: Path, export: Path) -> dict[str, tuple[list[str], str]]:
    frame = pd.read_csv(GERMAN)
    frame.drop(columns=["purpose"]).to_csv(folder / "no_purpose.csv", index=False)
    (folder / "empty.csv").write_text("")
    frame.head(0).to_csv(folder / "header_only.csv", index=False)
    (folder / "never_exported").mkdir(exist_ok=True)
    data = ["--data", str(GERMAN)]
    return {
        "missing file": (["--data", str(folder / "nowhere.csv")], "does not exist"),
        "missing column": (["--data", str(folder / "no_purpose.csv")], "purpose"),
        "empty file": (["--data", str(folder / "empty.csv")], "empty"),
        "header only": (["--data", str(folder / "header_only.csv")], "no rows"),
        "never exported": ([*data, "--model", str(folder / "never_exported")], "not an autosft export"),
        "missing model": ([*data, "--model", str(folder / "nothing_here")], "does not exist"),
        "bad --out": ([*data, "--model", str(export), "--out", str(folder / "r.txt")], ".json or .html"),
    }


@pytest.mark.parametrize("case", ["missing file", "missing column", "empty file", "header only", "never exported",
                                  "missing model", "bad --out"])  # fmt: skip
def test_bad_input_is_one_line_and_exit_2(german: tuple[Path, Path, Path], case: str) -> None:
    study, export, folder = german
    args, expected = _bad_inputs(folder, export)[case]
    code, out, err = _drift(study, *args)
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and expected in lines[0], err


@pytest.mark.slow
def test_claudette_test_documents_against_train_through_embeddings(tmp_path: Path) -> None:
    _needs(CLAUDETTE)
    frame = pd.read_csv(CLAUDETTE, keep_default_na=False, na_values=[""])
    train_texts = frame.loc[frame["split"] == "train", "text"]
    words = Counter(word for text in train_texts for word in re.findall(r"\w+", text.lower()))
    bert = save_tiny_bert(tmp_path / "bert", [word for word, _ in words.most_common(3000)], layers=2)
    study = {
        "name": "claudette-drift", "task": "binary", "storage": f"sqlite:///{tmp_path / 'study.db'}", "seed": 0,
        "dataset": {"name": "text_table", "options": {
            "path": str(CLAUDETTE), "text_columns": ["text"], "label_columns": ["unfair"], "positive_class": "1",
            "split_column": "split", "group_column": "doc", "max_train_rows": 1000, "max_val_rows": 300}},
        "model": {"name": "hf_text_classifier", "options": {"name_or_path": str(bert), "max_length": 64}},
        "objective": {"metric": "f1"}, "budget": {"n_trials": 1, "max_epochs": 1},
        "search_space": {"adaptation": {"value": "full"}, "augmentation": {"value": "none"}},
    }  # fmt: skip
    export = _exported(tmp_path, study)
    frame[frame["split"] == "test"].to_csv(tmp_path / "test_documents.csv", index=False)

    code, out, _ = _drift(_study_file(tmp_path, study), "--data", tmp_path / "test_documents.csv", "--model", export,
                          "--out", tmp_path / "c.json")  # fmt: skip
    record = json.loads((tmp_path / "c.json").read_text())
    assert code == (1 if record["drift"] else 0), out
    assert record["features"] is None and record["rows"]["new"] == int((frame["split"] == "test").sum())
    domain = record["domain_classifier"]
    assert domain["low"] <= domain["auc"] <= domain["high"] and domain["rows"]["new"] == 2000
    assert set(record["performance"]["metrics"]) == {"f1"}
    # the test split's rows through load_new score as the export scored its test split
    roc_auc = record["performance"]["scores"]["roc_auc"]
    assert roc_auc["new"] == pytest.approx(roc_auc["test"], abs=1e-6)
