"""The built-in references: the class prior, scikit-learn models on tables, pixels and raw texts,
and the pre-trained model as is (where its builder says its head fits the task)."""

from __future__ import annotations

from collections.abc import Callable

from autosft.hookspecs import hookimpl
from autosft.references.base import Reference


@hookimpl(trylast=True)
def autosft_register_references(register: Callable[[Reference], None]) -> None:
    from autosft.default_plugins.references.features import (
        ImageBoosting,
        ImageLogistic,
        TabularBoosting,
        TabularLogistic,
        TfidfLogistic,
    )
    from autosft.default_plugins.references.pretrained import PretrainedAsIs
    from autosft.default_plugins.references.prior import ClassPrior

    for reference in (ClassPrior(), TabularLogistic(), TabularBoosting(), ImageLogistic(), ImageBoosting(),
                      TfidfLogistic(), PretrainedAsIs()):  # fmt: skip
        register(reference)
