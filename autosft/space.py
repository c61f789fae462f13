"""The search space as data, and the only module that calls ``trial.suggest_*``.

Dimensions are declared (built-ins here, plugin ones through ``autosft_extend_search_space``),
then the study file's overrides replace ranges, choices or fix values. ``sample`` walks the
dimensions in order, so a conditional child (``freeze_depth`` under ``adaptation: freeze``) is
suggested only when its parent took one of the values it depends on.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from autosft.config import DimensionOverride
from autosft.errors import ConfigError, PluginError

if TYPE_CHECKING:
    import optuna

__all__ = [
    "Categorical",
    "Condition",
    "Dimension",
    "Fixed",
    "Float",
    "Int",
    "Limits",
    "SearchSpace",
]


@dataclass(frozen=True)
class Limits:
    """The values a dimension may ever take, whatever a study's override asks: a learning rate above
    0, a dropout below 1, a batch of at least one row. Checked when the study file is read, so a bad
    value is one line from `validate` instead of a failed trial per sample."""

    low: float = -math.inf
    high: float = math.inf
    low_open: bool = False
    high_open: bool = False

    def admit(self, value: float) -> bool:
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return above and below

    def __str__(self) -> str:
        low = "" if self.low == -math.inf else f"{self.low:g} {'<' if self.low_open else '<='} "
        high = "" if self.high == math.inf else f" {'<' if self.high_open else '<='} {self.high:g}"
        return f"{low}value{high}"


#: Any finite value: the limits of a dimension that declares none.
ANY = Limits()


@dataclass(frozen=True)
class Condition:
    """A dimension is active only when ``parent`` took one of ``values``."""

    parent: str
    values: tuple[Any, ...]


@dataclass(frozen=True)
class Float:
    name: str
    low: float
    high: float
    default: float
    log: bool = False
    step: float | None = None
    condition: Condition | None = None
    limits: Limits = ANY

    def suggest(self, trial: optuna.Trial) -> float:
        return trial.suggest_float(self.name, self.low, self.high, log=self.log, step=self.step)

    def accepts(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not self.low <= value <= self.high:
            return False
        return self.step is None or math.isclose((value - self.low) / self.step, round((value - self.low) / self.step))

    def clamp(self, value: Any) -> float:
        if self.accepts(value):
            return float(value)
        return math.sqrt(self.low * self.high) if self.log else (self.low + self.high) / 2

    def nearest(self, value: Any) -> float:
        near = _nearest_number(value, self.low, self.high, self.step)
        return self.clamp(self.default) if near is None else near


@dataclass(frozen=True)
class Int:
    name: str
    low: int
    high: int
    default: int
    log: bool = False
    step: int = 1
    condition: Condition | None = None
    limits: Limits = ANY

    def suggest(self, trial: optuna.Trial) -> int:
        return trial.suggest_int(self.name, self.low, self.high, log=self.log, step=self.step)

    def accepts(self, value: Any) -> bool:
        in_range = isinstance(value, int) and not isinstance(value, bool) and self.low <= value <= self.high
        return in_range and (value - self.low) % self.step == 0

    def clamp(self, value: Any) -> int:
        if self.accepts(value):
            return value
        return self.low

    def nearest(self, value: Any) -> int:
        near = _nearest_number(value, self.low, self.high, self.step)
        return self.clamp(self.default) if near is None else round(near)


@dataclass(frozen=True)
class Categorical:
    """``also_allowed``: choices left out by default that a study's override may still name."""

    name: str
    choices: tuple[Any, ...]
    default: Any
    condition: Condition | None = None
    also_allowed: tuple[Any, ...] = ()
    limits: Limits = ANY

    def suggest(self, trial: optuna.Trial) -> Any:
        return trial.suggest_categorical(self.name, list(self.choices))

    def accepts(self, value: Any) -> bool:
        return value in self.choices

    def clamp(self, value: Any) -> Any:
        return value if self.accepts(value) else self.choices[0]

    def nearest(self, value: Any) -> Any:
        return value if self.accepts(value) else self.clamp(self.default)


@dataclass(frozen=True)
class Fixed:
    """A dimension the study pinned to one value: recorded in the plan, never suggested."""

    name: str
    default: Any
    condition: Condition | None = None

    def accepts(self, value: Any) -> bool:
        return bool(value == self.default)

    def clamp(self, value: Any) -> Any:
        return self.default

    def nearest(self, value: Any) -> Any:
        return self.default


Dimension = Float | Int | Categorical | Fixed


@dataclass
class SearchSpace:
    """Ordered dimensions; parents must be added before the children that depend on them."""

    dimensions: dict[str, Dimension] = field(default_factory=dict)

    def add(self, dimension: Dimension) -> None:
        if dimension.name in self.dimensions:
            raise PluginError(f"search dimension {dimension.name!r} is declared twice")
        condition = dimension.condition
        if condition is not None and condition.parent not in self.dimensions:
            raise PluginError(
                f"search dimension {dimension.name!r} depends on {condition.parent!r}, which is not declared before it"
            )
        self.dimensions[dimension.name] = dimension

    def __iter__(self) -> Iterator[Dimension]:
        return iter(self.dimensions.values())

    def override(self, overrides: Mapping[str, DimensionOverride]) -> None:
        """Apply the study file's ``search_space`` section, checking each against its dimension."""
        for name, spec in overrides.items():
            if name not in self.dimensions:
                valid = ", ".join(self.dimensions)
                raise ConfigError(f"search_space.{name}: unknown dimension; valid names: {valid}")
            self.dimensions[name] = _overridden(self.dimensions[name], spec)

    def sample(self, trial: optuna.Trial) -> dict[str, Any]:
        """Suggest every active dimension; fixed ones are filled in without a suggestion."""
        values: dict[str, Any] = {}
        for dimension in self:
            if not self._active(dimension, values):
                continue
            values[dimension.name] = dimension.default if isinstance(dimension, Fixed) else dimension.suggest(trial)
        return values

    def values_of(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Every active dimension's value in a finished trial with ``params``, fixed ones included.

        What a trial trained with, as one mapping: what an export pins to re-run it as a fixed study.
        """
        values: dict[str, Any] = {}
        for dimension in self:
            if not self._active(dimension, values):
                continue
            if isinstance(dimension, Fixed):
                values[dimension.name] = dimension.default
            elif dimension.name in params:
                values[dimension.name] = params[dimension.name]
            else:
                raise ConfigError(
                    f"the trial has no value for search dimension {dimension.name!r}: the study's search space "
                    f"changed after it ran; its parameters: {dict(params)}"
                )
        return values

    def default_params(self) -> dict[str, Any]:
        """The default configuration, as Optuna params (fixed dimensions left out) for trial 0."""
        params = self.params_with({})
        assert params is not None  # nothing preferred, so nothing the space can rule out
        return params

    def params_with(self, preferred: Mapping[str, Any]) -> dict[str, Any] | None:
        """The default configuration with ``preferred`` values, as Optuna params; ``None`` if the space
        rules one of them out (a value outside its range or choices, or unlike the study's fixed one).

        A preferred value of a dimension that the other values leave inactive is ignored.
        """
        values: dict[str, Any] = {}
        params: dict[str, Any] = {}
        for dimension in self:
            if not self._active(dimension, values):
                continue
            if dimension.name in preferred:
                value = preferred[dimension.name]
                if not dimension.accepts(value):
                    return None
            else:
                value = dimension.clamp(dimension.default)
            values[dimension.name] = value
            if not isinstance(dimension, Fixed):
                params[dimension.name] = value
        return params

    def nearest_params(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The configuration of this space nearest to ``values`` (another study's trial), as Optuna params.

        What a warm start tries (:mod:`autosft.search.warmstart`): a number outside its range moves to
        the nearest bound (and step), while a choice the space lacks, a value of another kind and a
        dimension ``values`` lacks take this space's default. Never ``None``, unlike :meth:`params_with`:
        an earlier study's best configuration is worth trying as close as the space allows.
        """
        chosen: dict[str, Any] = {}
        for dimension in self:
            if self._active(dimension, chosen):
                given = values.get(dimension.name, _ABSENT)
                default = dimension.clamp(dimension.default)
                chosen[dimension.name] = default if given is _ABSENT else dimension.nearest(given)
        return {name: value for name, value in chosen.items() if not isinstance(self.dimensions[name], Fixed)}

    @staticmethod
    def _active(dimension: Dimension, values: Mapping[str, Any]) -> bool:
        condition = dimension.condition
        return condition is None or values.get(condition.parent, _ABSENT) in condition.values


_ABSENT = object()


def _overridden(dimension: Dimension, spec: DimensionOverride) -> Dimension:
    where = f"search_space.{dimension.name}"
    given = [spec.value] if "value" in spec.model_fields_set else spec.choices
    if given is not None and isinstance(dimension, Categorical) and dimension.name in _CLOSED_CHOICES:
        allowed = (*dimension.choices, *dimension.also_allowed)
        unknown = [choice for choice in given if choice not in allowed]
        if unknown:
            valid = ", ".join(map(str, allowed))
            raise ConfigError(f"{where}: unknown choice(s) {unknown}; valid choices here: {valid}")
    for value in given or ():
        _check_admissible(dimension, value, where)
    if "value" in spec.model_fields_set:
        return Fixed(dimension.name, spec.value, dimension.condition)
    if spec.choices is not None:
        if len(set(map(repr, spec.choices))) != len(spec.choices):
            raise ConfigError(f"{where}: choices must be distinct, but got {spec.choices}")
        limits = dimension.limits if isinstance(dimension, Categorical) else ANY
        return Categorical(dimension.name, tuple(spec.choices), dimension.default, dimension.condition, limits=limits)
    assert spec.low is not None and spec.high is not None  # the override model guarantees a range here
    if not isinstance(dimension, (Int, Float)):
        raise ConfigError(f"{where}: a categorical dimension takes `choices` or `value`, not low/high")
    log = dimension.log if spec.log is None else spec.log
    if log and spec.low <= 0:
        raise ConfigError(f"{where}: a log range needs `low > 0`, but got low={spec.low}")
    if isinstance(dimension, Int):
        if spec.low != int(spec.low) or spec.high != int(spec.high):
            raise ConfigError(f"{where}: an integer dimension needs whole-number low/high, got {spec.low}, {spec.high}")
        step = int(spec.step) if spec.step is not None else dimension.step
        for whole in (int(spec.low), int(spec.high)):
            _check_admissible(dimension, whole, where)
        return replace(dimension, low=int(spec.low), high=int(spec.high), log=log, step=step)
    for end in (spec.low, spec.high):
        _check_admissible(dimension, end, where)
    return replace(dimension, low=spec.low, high=spec.high, log=log, step=spec.step)


def _nearest_number(value: Any, low: float, high: float, step: float | None) -> float | None:
    """The point of ``[low, high]`` (on its ``step`` grid, if any) nearest to ``value``; ``None`` if
    ``value`` is no finite number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    inside = min(max(value, low), high)
    if step is None:
        return float(inside)
    last = math.floor((high - low) / step + 1e-9)  # the grid's top point, which may lie below `high`
    return min(low + min(round((inside - low) / step), last) * step, high)  # no float excess above `high`


def _check_admissible(dimension: Dimension, value: Any, where: str) -> None:
    """Refuse a value the dimension can never take: of another kind, not finite, or outside its limits.

    A fixed value, a choice or a range end of an override is checked against the dimension it
    replaces, so `batch_size: {value: 0}` fails here and not in every trial that samples it.
    """
    kinds = _kinds(dimension)
    kind = _kind(value)
    if kind not in kinds:
        named = kinds - {"int"} if "float" in kinds else kinds  # numbers include whole ones
        wanted = " or ".join(sorted(_KIND_NAMES.get(k, k) for k in named))
        raise ConfigError(f"{where}: {dimension.name} takes {wanted}, but got {value!r}")
    if kind in ("int", "float"):
        if not math.isfinite(value):
            raise ConfigError(f"{where}: {dimension.name} takes finite numbers, but got {value!r}")
        limits = getattr(dimension, "limits", ANY)
        if not limits.admit(value):
            raise ConfigError(f"{where}: `{limits}` must hold for {dimension.name}, but got {value!r}")


def _kind(value: Any) -> str:
    if isinstance(value, bool):  # a bool is an int to Python, never a number to a study file
        return "bool"
    if isinstance(value, int):
        return "int"
    return type(value).__name__


def _kinds(dimension: Dimension) -> set[str]:
    """The kinds of value ``dimension`` takes: numbers for a range, its declared values' kinds otherwise."""
    if isinstance(dimension, Float):
        return {"int", "float"}
    if isinstance(dimension, Int):
        return {"int"}
    declared = (*dimension.choices, *dimension.also_allowed) if isinstance(dimension, Categorical) else ()
    kinds = {_kind(example) for example in (*declared, dimension.default)}
    return kinds | {"int"} if "float" in kinds else kinds


_KIND_NAMES = {"int": "whole numbers", "float": "numbers", "str": "text", "bool": "true/false"}


#: Categorical dimensions whose choices name components or modes: a choice outside them is a typo.
_CLOSED_CHOICES = frozenset({"adaptation", "imbalance", "augmentation", "lora_targets"})
