"""The contract of a portfolio: a few configurations of one model builder that did well across tasks.

A fine-tuning study has 6 to 20 trials. Spent on random start-up samples, most of them land far from
anything good (extreme label smoothing, learning rates 100x off); a portfolio learned offline on
many tasks (``benchmarks/learn_portfolio.py``, greedy construction as in auto-sklearn 2.0) is a
small, diverse set that already covers what tends to work, so a new study tries those first, after
its starting trials, in place of the sampler's random start-up (see :mod:`autosft.search.portfolio`).

A plugin ships a portfolio as JSON data inside its package and registers it through
``autosft_register_portfolios``; :func:`load_portfolio` reads such a file. Learning rates are stored
as multiples of the search space's default (:data:`RELATIVE_DIMENSIONS`), because a builder's default
rate already follows its options (size, checkpoint); every other value is the dimension's own.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Literal

from autosft.errors import PluginError

__all__ = ["RELATIVE_DIMENSIONS", "Portfolio", "load_portfolio", "parse_portfolio"]

#: What a portfolio's tasks started from: pre-trained weights, or random ones (a model built from a config).
Weights = Literal["pretrained", "random"]

#: Dimensions whose portfolio values are multiples of the study's default value, not absolute values.
RELATIVE_DIMENSIONS = ("learning_rate", "lora_learning_rate")


@dataclass(frozen=True)
class Portfolio:
    """Configurations for the model builder called ``name``, best first.

    Each configuration names some search dimensions (the others take the study's defaults); a value
    the study's space does not allow moves to the nearest one it does. ``source`` says where the
    portfolio was learned (tasks, date), for the run card and ``status``. ``weights``, where set, is
    what every task it was learned on started from: a model trained from random weights wants other
    rates and regularization than one fine-tuned from a checkpoint, so a study whose model starts from
    the other kind goes without it; ``None`` fits both.
    """

    name: str
    configurations: tuple[Mapping[str, Any], ...]
    source: str = ""
    info: Mapping[str, Any] = field(default_factory=dict)
    weights: Weights | None = None

    def __post_init__(self) -> None:
        if self.weights not in (None, "pretrained", "random"):
            raise PluginError(
                f"portfolio {self.name!r}: weights is {self.weights!r}; it is 'pretrained', 'random' or left out"
            )
        for index, entry in enumerate(self.configurations):
            if not isinstance(entry, Mapping) or not all(isinstance(key, str) for key in entry):
                raise PluginError(
                    f"portfolio {self.name!r}: configuration {index} is {entry!r}; each configuration must be a "
                    "mapping of search dimension names to values"
                )
            for name in RELATIVE_DIMENSIONS:
                ratio = entry.get(name)
                if ratio is not None and (not isinstance(ratio, int | float) or isinstance(ratio, bool) or ratio <= 0):
                    raise PluginError(
                        f"portfolio {self.name!r}: configuration {index} gives {name}={ratio!r}; it is a positive "
                        "multiple of the study's default rate"
                    )

    @property
    def description(self) -> str:
        """One line for listings, as every other component has: what it holds and where it was learned."""
        learned = f", learned on {self.source}" if self.source else ""
        start = f" (models from {self.weights} weights)" if self.weights else ""
        return f"{len(self.configurations)} configurations of {self.name}{start}{learned}"

    def fits(self, *, pretrained: bool) -> bool:
        """Whether a study whose model starts from pre-trained (or random) weights should get this portfolio."""
        return self.weights is None or (self.weights == "pretrained") == pretrained


def load_portfolio(package: str, resource: str) -> Portfolio:
    """The portfolio stored as JSON in ``package``'s data file ``resource``.

    The file holds ``{"model": NAME, "source": TEXT, "configurations": [{dimension: value}, ...]}``
    and optionally ``"weights": "pretrained" | "random"`` (as ``benchmarks/learn_portfolio.py`` writes
    it); a missing or malformed file is a :class:`~autosft.errors.PluginError` naming the package and
    file, never a silent empty portfolio.
    """
    where = f"portfolio file {resource!r} of package {package!r}"
    try:
        text = resources.files(package).joinpath(resource).read_text(encoding="utf-8")
    except (OSError, ModuleNotFoundError) as error:
        raise PluginError(f"{where} cannot be read: {error}") from None
    return parse_portfolio(text, where=where)


def parse_portfolio(text: str, *, where: str) -> Portfolio:
    """A portfolio from its JSON text; ``where`` names the file in the one-line error a bad one gives."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise PluginError(f"{where} cannot be read: {error}") from None
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("model"), str)
        or not isinstance(data.get("configurations"), list)
    ):
        raise PluginError(f"{where} must hold an object with 'model' (a name) and 'configurations' (a list)")
    info = {key: value for key, value in data.items() if key not in ("model", "source", "configurations", "weights")}
    return Portfolio(data["model"], tuple(data["configurations"]), str(data.get("source", "")), info,
                     weights=data.get("weights"))  # fmt: skip
