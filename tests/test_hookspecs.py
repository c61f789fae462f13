"""Every hook is documented: a docstring that says when it is called and each argument."""

from __future__ import annotations

import inspect

import pytest

from autosft import hookspecs

HOOKS = [
    function for name, function in inspect.getmembers(hookspecs, inspect.isfunction) if name.startswith("autosft_")
]


def test_the_design_hooks_exist() -> None:
    names = {hook.__name__ for hook in HOOKS}
    assert names == {
        "autosft_register_datasets",
        "autosft_register_models",
        "autosft_register_augmentations",
        "autosft_register_imbalance_strategies",
        "autosft_register_metrics",
        "autosft_register_references",
        "autosft_register_portfolios",
        "autosft_extend_search_space",
        "autosft_trial_start",
        "autosft_epoch_end",
        "autosft_trial_end",
        "autosft_register_commands",
    }


@pytest.mark.parametrize("hook", HOOKS, ids=lambda hook: hook.__name__)
def test_hook_documents_itself_and_every_argument(hook) -> None:
    doc = inspect.getdoc(hook)
    assert doc, f"{hook.__name__} has no docstring"
    assert "Called" in doc, f"{hook.__name__} does not say when it is called"
    for parameter in inspect.signature(hook).parameters:
        assert f":param {parameter}:" in doc, f"{hook.__name__} does not document {parameter!r}"
    assert all(p.annotation is not inspect.Parameter.empty for p in inspect.signature(hook).parameters.values())
