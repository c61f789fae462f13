"""The study file: validation at the edge, one-line errors, the published schema."""

from __future__ import annotations

from pathlib import Path

import pytest

from autosft.config import StudyConfig, load_study_file, parse_study, with_overrides
from autosft.errors import ConfigError
from autosft.testing import toy_study

BAD_STUDIES = [
    ({"bogus": 1}, "bogus: Extra inputs are not permitted"),
    ({"budget": {"n_trials": "many"}}, "budget.n_trials: Input should be a valid integer"),
    ({"budget": {"n_trials": 0}}, "budget.n_trials: Input should be greater than or equal to 1"),
    ({"task": "regression"}, "task must be one of binary, multiclass, multilabel"),
    ({"search_space": {"learning_rate": {"low": 0.1, "high": 0.01}}}, "`low <= high` must hold"),
    ({"search_space": {"learning_rate": {"low": 0, "high": 0.01, "log": True}}}, "a log range needs `low > 0`"),
    ({"search_space": {"epochs": {"low": 1}}}, "a range needs both low and high"),
    ({"search_space": {"epochs": {"low": 1, "high": 3, "choices": [1]}}}, "give exactly one of"),
    ({"sampler": {"name": "annealing"}}, "sampler.name: Input should be"),
    ({"heartbeat": {"interval": 30, "grace_period": 10}}, "`grace_period > interval` must hold"),
    (
        {"objective": [{"metric": "roc_auc"}, {"metric": "log_loss"}], "pruner": {"name": "median"}},
        "cannot prune multi-objective",
    ),
]


@pytest.mark.parametrize(("change", "message"), BAD_STUDIES)
def test_bad_study_is_one_line_config_error(change: dict, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_study(toy_study("sqlite:///x.db", **change), where="study.yaml")
    text = str(raised.value)
    assert message in text
    assert text.startswith("study.yaml: ")
    assert "\n" not in text


def test_defaults_fill_a_minimal_study() -> None:
    config = parse_study(toy_study("sqlite:///x.db"), where="s")
    assert config.sampler.name == "tpe"
    assert config.effective_pruner.name == "hyperband"
    assert config.heartbeat.max_retries == 3


def test_multi_objective_defaults_to_no_pruner() -> None:
    config = parse_study(
        toy_study("sqlite:///x.db", objective=[{"metric": "roc_auc"}, {"metric": "log_loss"}]), where="s"
    )
    assert config.is_multi_objective
    assert config.effective_pruner.name == "none"


def test_load_study_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_study_file(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: [unclosed\n")
    with pytest.raises(ConfigError, match="is not valid YAML at line"):
        load_study_file(broken)
    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("just a string\n")
    with pytest.raises(ConfigError, match="must hold a mapping"):
        load_study_file(scalar)


def test_flag_overrides_are_validated() -> None:
    config = parse_study(toy_study("sqlite:///x.db"), where="s")
    changed = with_overrides(config, n_trials=7, study_name="other", seed=3)
    assert (changed.budget.n_trials, changed.name, changed.seed) == (7, "other", 3)
    with pytest.raises(ConfigError, match="command-line flags: budget.n_trials"):
        with_overrides(config, n_trials=0)


def test_schema_forbids_unknown_keys() -> None:
    schema = StudyConfig.model_json_schema()
    assert schema["additionalProperties"] is False
    assert {"name", "task", "dataset", "model", "objective"} <= set(schema["required"])


def test_published_schema_is_current() -> None:
    """schema/study.schema.json is what editors validate against; regenerate with `autosft schema`."""
    import json

    from tests.conftest import REPO

    published = json.loads((REPO / "schema" / "study.schema.json").read_text())
    assert published == StudyConfig.model_json_schema(), "run: autosft schema > schema/study.schema.json"
