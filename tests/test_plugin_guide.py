"""The plugin author's guide (docs/plugins.md) stays true: every hook and every public contract field is
documented, and its Python examples (a complete plugin and a one-trial search on it) run as written."""

from __future__ import annotations

import inspect
import re
from dataclasses import fields, is_dataclass
from pathlib import Path

import pytest

import autosft
from autosft import hookspecs

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "plugins.md"

#: The contracts a plugin implements or receives, each documented under a ``### `Name` `` heading.
CONTRACTS = [
    autosft.Splits, autosft.DataSplit, autosft.NewRows, autosft.DatasetLoader, autosft.ModelBuilder, autosft.BuiltModel,
    autosft.StagedForward, autosft.InputEncoder, autosft.Augmentation, autosft.ImbalanceStrategy, autosft.Metric,
    autosft.Portfolio, autosft.Reference, autosft.ReferenceData, autosft.TrialContext, autosft.TrialResult,
    autosft.TrialPlan,
]  # fmt: skip


def _sections(text: str) -> dict[str, str]:
    """Each ``### `title` `` heading's first backticked word, with the text up to the next heading."""
    parts = re.split(r"^### ", text, flags=re.MULTILINE)[1:]
    return {part.split("`")[1]: part for part in parts if part.startswith("`")}


def _hooks() -> dict[str, inspect.Signature]:
    return {name: inspect.signature(function) for name, function in vars(hookspecs).items()
            if name.startswith("autosft_") and callable(function)}  # fmt: skip


def _public_members(contract: type) -> list[str]:
    """Dataclass fields, or for an abstract contract its declared attributes and overridable methods."""
    if is_dataclass(contract):
        return [item.name for item in fields(contract)]
    names = list(inspect.get_annotations(contract))
    names += [name for name, value in vars(contract).items() if callable(value) and not name.startswith("_")]
    return [name for name in names if not name.startswith("_")]


@pytest.mark.parametrize("hook", sorted(_hooks()))
def test_every_hook_is_documented_with_its_arguments(hook: str) -> None:
    arguments = ", ".join(_hooks()[hook].parameters)
    assert f"### `{hook}({arguments})`" in GUIDE.read_text(encoding="utf-8")


@pytest.mark.parametrize("contract", CONTRACTS, ids=lambda contract: contract.__name__)
def test_every_contract_field_is_documented(contract: type) -> None:
    section = _sections(GUIDE.read_text(encoding="utf-8")).get(contract.__name__)
    assert section is not None, f"docs/plugins.md has no ### `{contract.__name__}` section"
    missing = [name for name in _public_members(contract) if f"`{name}" not in section]
    assert not missing, f"{contract.__name__}: {missing} not documented"


def test_the_guides_examples_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOSFT_CACHE_DIR", str(tmp_path / "cache"))
    blocks = re.findall(r"^```python\n(.*?)^```", GUIDE.read_text(encoding="utf-8"), flags=re.MULTILINE | re.DOTALL)
    assert len(blocks) >= 5
    namespace: dict[str, object] = {"__name__": "plugin_guide"}
    exec(compile("\n".join(blocks), str(GUIDE), "exec"), namespace)  # the guide's own code, nothing else
    assert namespace["FINISHED"] == [(0, "COMPLETE")]
