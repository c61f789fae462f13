"""`autosft export` on real toy studies: the model reloads and reproduces its (calibrated) test metrics and
probabilities, the fixed study re-runs the selected trial, train+val refits for the epochs found, and every
bad input is one line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import optuna
import pytest
import yaml
from typer.testing import CliRunner

from autosft.cli import build_app
from autosft.components import DatasetLoader, DataSplit, Splits
from autosft.config import parse_study
from autosft.engine.data import to_device_split
from autosft.engine.device import pick_device
from autosft.engine.loop import predict
from autosft.engine.prepared import PreparedStudy
from autosft.engine.scoring import score
from autosft.errors import DataError
from autosft.evaluate.holdout import selected_trial
from autosft.export import export_study, load_exported, load_model
from autosft.export.exporter import BEST_CONFIG, PREDICTIONS, RUN_CARD, TEST_METRICS
from autosft.hookspecs import hookimpl
from autosft.plugins import get_plugin_manager
from autosft.search.controller import run_search
from autosft.search.prepare import prepare_study
from autosft.search.study import CONFIG_ATTR
from autosft.testing import ToyBlobs, toy_manager, toy_study

CPU = pick_device("cpu")


def _searched(folder: Path, **overrides) -> str:
    """A finished toy study in ``folder``; returns its storage URL."""
    url = f"sqlite:///{folder / 'study.db'}"
    config = parse_study(toy_study(url, budget={"n_trials": 2, "max_epochs": 3}, **overrides), where="test")
    run_search(config, manager=toy_manager(), final_test=False)
    return url


@pytest.fixture(scope="module")
def lora_export(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    folder = tmp_path_factory.mktemp("lora")
    url = _searched(folder, search_space={"adaptation": {"value": "lora"}},
                    reference={"name": "toy_blobs", "options": {"rows": 200}})  # fmt: skip
    export_study(url, "toy", folder / "export", merge_lora=True, resamples=100, manager=toy_manager())
    return url, folder / "export"


def _test_split(url: str) -> tuple[PreparedStudy, DataSplit]:
    study = optuna.load_study(study_name="toy", storage=url)
    prepared = prepare_study(parse_study(study.user_attrs[CONFIG_ATTR], where="test"), toy_manager())
    return prepared, prepared.splits.test


def _test_scores(module, url: str) -> dict[str, float]:
    """Score ``module`` (uncalibrated) on the study's test split, as a user of the export would."""
    prepared, test = _test_split(url)
    return score(prepared.metrics, test.labels, predict(module, to_device_split(test, CPU.device), CPU, "binary"))


def test_export_writes_every_part_and_the_model_reproduces_its_test_metrics(lora_export: tuple[str, Path]) -> None:
    url, folder = lora_export
    assert {"adapter", "base", "merged", "model.json", BEST_CONFIG, RUN_CARD, TEST_METRICS, PREDICTIONS} <= {
        path.name for path in folder.iterdir()
    }
    assert (folder / "adapter" / "adapter_config.json").is_file()
    assert (folder / "merged" / "model.safetensors").is_file()
    recorded = json.loads((folder / TEST_METRICS).read_text())["metrics"]
    prepared, test = _test_split(url)
    for merged in (False, True):
        exported = load_exported(folder, merged=merged, manager=toy_manager())
        scores = score(prepared.metrics, test.labels, exported.predict(test, device="cpu"))
        for name, interval in recorded.items():
            assert scores[name] == pytest.approx(interval["value"], abs=1e-5), (name, merged)
    with np.load(folder / PREDICTIONS) as saved:
        assert saved["probabilities"].shape == (150, 2) and list(saved["class_names"]) == ["class_0", "class_1"]


def test_the_export_is_calibrated_on_validation_and_reloads_with_identical_probabilities(
    lora_export: tuple[str, Path],
) -> None:
    url, folder = lora_export
    record = json.loads((folder / TEST_METRICS).read_text())["calibration"]
    assert json.loads((folder / RUN_CARD).read_text())["calibration"] == record
    temperature = record["temperature"]
    assert record["skipped"] is None and record["fitted_on"] == "validation" and temperature != 1.0
    assert json.loads((folder / "model.json").read_text())["temperature"] == temperature
    validation, tested = record["validation"], record["test"]
    assert validation["rows"] == 150 and tested["rows"] == 150
    assert validation["nll"]["after"] <= validation["nll"]["before"]  # what the fit minimises
    for split in (validation, tested):  # a temperature changes neither decisions nor a binary ranking
        for name in ("roc_auc", "pr_auc", "accuracy"):
            assert split["metrics"][name]["after"] == pytest.approx(split["metrics"][name]["before"], abs=1e-12)
        assert split["metrics"]["log_loss"]["after"] == pytest.approx(split["nll"]["after"])
    _, test = _test_split(url)
    exported = load_exported(folder, manager=toy_manager())
    assert exported.temperature == temperature and exported.task == "binary"
    with np.load(folder / PREDICTIONS) as saved:
        np.testing.assert_array_equal(exported.predict(test, device="cpu"), saved["probabilities"])
        # the native module's own logits are the model as trained: the saved "before" probabilities
        raw = predict(load_model(folder, manager=toy_manager()), to_device_split(test, CPU.device), CPU, "binary")
        np.testing.assert_array_equal(raw, saved["uncalibrated_probabilities"])


def test_run_card_names_versions_seeds_data_and_trials(lora_export: tuple[str, Path]) -> None:
    url, folder = lora_export
    card = json.loads((folder / RUN_CARD).read_text())
    study = optuna.load_study(study_name="toy", storage=url)
    assert {"autosft", "torch", "transformers", "peft", "optuna"} <= set(card["versions"])
    assert card["study"]["selected_trial"] == selected_trial(study).number
    assert card["study"]["trials"] == 2 and card["seeds"]["study"] == 0
    assert card["data"]["fingerprint"] and card["data"]["rows"] == {"train": 300, "val": 150, "test": 150}
    assert card["hardware"]["device"] == "cpu" and card["seconds"]["refit_train"] > 0
    assert card["refit"]["plan"]["adaptation"] == "lora"


def test_retained_performance_on_the_reference_set(lora_export: tuple[str, Path]) -> None:
    retained = json.loads((lora_export[1] / TEST_METRICS).read_text())["retained"]
    assert retained["dataset"] == "toy_blobs" and retained["test_rows"] == 100
    for metric, change in retained["change"].items():
        assert change == pytest.approx(retained["fine_tuned"][metric] - retained["pretrained"][metric])


def test_best_config_reruns_the_selected_trial_through_autosft_search(lora_export: tuple[str, Path]) -> None:
    url, folder = lora_export
    best = yaml.safe_load((folder / BEST_CONFIG).read_text())
    assert best["name"] == "toy-best" and best["budget"]["n_trials"] == 1
    assert all(set(spec) == {"value"} for spec in best["search_space"].values())
    searched = _invoke("search", str(folder / BEST_CONFIG), "--no-final-test")
    assert searched.exit_code == 0, searched.output
    rerun = optuna.load_study(study_name="toy-best", storage=url).trials
    selected = selected_trial(optuna.load_study(study_name="toy", storage=url))
    assert len(rerun) == 1 and rerun[0].params == {}
    assert rerun[0].user_attrs["plan"] == selected.user_attrs["plan"]
    assert rerun[0].values == pytest.approx(selected.values, abs=1e-9)


def test_train_val_refit_trains_the_best_epoch_count_without_early_stopping(tmp_path: Path) -> None:
    url = _searched(tmp_path, search_space={"adaptation": {"value": "full"}})
    export_study(url, "toy", tmp_path / "out", refit_mode="train+val", resamples=50, manager=toy_manager())
    card = json.loads((tmp_path / "out" / RUN_CARD).read_text())
    best_epoch = selected_trial(optuna.load_study(study_name="toy", storage=url)).user_attrs["best_epoch"]
    assert card["refit"]["mode"] == "train+val"
    assert "trained on the validation rows" in card["calibration"]["skipped"]  # no held-out rows left to fit on
    assert card["refit"]["plan"]["epochs"] == card["refit"]["epochs_run"] == best_epoch
    assert (tmp_path / "out" / "model" / "model.safetensors").is_file()  # no LoRA: one plain state dict
    reloaded = load_model(tmp_path / "out", manager=toy_manager())
    recorded = json.loads((tmp_path / "out" / TEST_METRICS).read_text())["metrics"]
    assert _test_scores(reloaded, url)["roc_auc"] == pytest.approx(recorded["roc_auc"]["value"], abs=1e-6)


def _invoke(*args: str, manager=None):
    return CliRunner().invoke(build_app(manager or toy_manager()), list(args))


def _export_cli(url: str, out: Path, *extra: str, manager=None):
    return _invoke("export", "--storage", url, "--study-name", "toy", "--out", str(out), "--resamples", "20", *extra,
                   manager=manager)  # fmt: skip


def _one_line_error(result, message: str) -> bool:
    return result.exit_code == 2 and message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_an_existing_export_is_replaced_only_with_force(tmp_path: Path) -> None:
    url = _searched(tmp_path, search_space={"adaptation": {"value": "full"}, "epochs": {"value": 2}})
    out = tmp_path / "out"
    first = _export_cli(url, out)
    assert first.exit_code == 0, first.output
    assert "roc_auc" in first.stdout and "[" in first.stdout  # the interval is printed
    assert _one_line_error(_export_cli(url, out), "exists and is not empty; pass --force")
    stamp = (out / RUN_CARD).stat().st_mtime_ns
    forced = _export_cli(url, out, "--force")
    assert forced.exit_code == 0, forced.output
    assert (out / RUN_CARD).stat().st_mtime_ns != stamp
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    assert _one_line_error(_export_cli(url, mine, "--force"), "holds no autosft export")
    assert (mine / "notes.txt").read_text() == "keep me"
    assert not [path for path in tmp_path.iterdir() if path.name.startswith(".")]  # no staging folder left


def test_bad_input_is_one_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    study = optuna.create_study(study_name="toy", storage=url, direction="maximize")
    study.set_user_attr(CONFIG_ATTR, toy_study(url))
    assert _one_line_error(_export_cli(url, tmp_path / "a"), "has no complete trial yet")
    (tmp_path / "searched").mkdir()
    searched = _searched(tmp_path / "searched")
    assert _one_line_error(_export_cli(searched, tmp_path / "b", "--refit", "val"), "--refit must be one of train, ")
    # The CLI of a user who no longer has the toy plugin the study was searched with.
    without_toy = get_plugin_manager(load_entry_points=False)
    missing = _export_cli(searched, tmp_path / "c", manager=without_toy)
    assert _one_line_error(missing, "uses dataset 'toy_blobs', which no installed plugin registers"), missing.stderr
    assert not (tmp_path / "a").exists() and not (tmp_path / "c").exists()


class _NoTest(DatasetLoader):
    """toy_blobs whose test split is empty, as a loader with no held-out rows would return."""

    name = "toy_no_test"
    Options = ToyBlobs.Options

    def load(self, options, *, task, seed) -> Splits:
        splits = ToyBlobs().load(options, task=task, seed=seed)
        empty = DataSplit(splits.test.inputs[:0], splits.test.labels[:0])
        return Splits(splits.train, splits.val, empty, task, splits.class_names, "tabular", splits.fingerprint)


class _NoTestPlugin:
    @hookimpl
    def autosft_register_datasets(self, register) -> None:
        register(_NoTest())


def test_a_missing_test_split_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'study.db'}"
    manager = toy_manager(_NoTestPlugin())
    config = parse_study(toy_study(url, dataset={"name": "toy_no_test"}, budget={"n_trials": 1, "max_epochs": 2}),
                         where="test")  # fmt: skip
    run_search(config, manager=manager, final_test=False)
    with pytest.raises(DataError, match="gives an empty test split") as raised:
        export_study(url, "toy", tmp_path / "out", manager=manager)
    assert "\n" not in str(raised.value) and not (tmp_path / "out").exists()
