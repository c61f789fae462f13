"""The study file: its pydantic schema, loading, and one-line rendering of validation errors.

Everything a user writes is validated here, at the edge, with ``extra="forbid"`` so a misspelled
key fails instead of being silently ignored; the rest of autosft trusts these types.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from autosft.errors import ConfigError

__all__ = [
    "TASK_TYPES",
    "Budget",
    "ComponentRef",
    "ConstraintConfig",
    "DimensionOverride",
    "Direction",
    "HeartbeatConfig",
    "ObjectiveConfig",
    "PrunerConfig",
    "ReferenceConfig",
    "SamplerConfig",
    "SearchConfig",
    "SelectConfig",
    "SlicesConfig",
    "StudyConfig",
    "TaskType",
    "ValidationConfig",
    "WarmStartConfig",
    "format_validation_error",
    "load_study_file",
    "parse_study",
    "with_overrides",
]

DEFAULT_STORAGE = "sqlite:///autosft.db"
#: The largest seed NumPy and Optuna's samplers take.
MAX_SEED = 2**32 - 1
#: Where ``--storage`` is read from when not given: how a worker gets a URL with a password
#: without the password showing on its command line (``ps``).
STORAGE_ENV = "AUTOSFT_STORAGE"

Direction = Literal["maximize", "minimize"]

TaskType = Literal["binary", "multiclass", "multilabel", "ranking"]
#: Task types the engine trains today; the study file rejects any other with this list.
#: ``ranking`` (next-item or candidate scoring) is trained and predicted like ``multiclass``: the
#: model scores every item (class) per row and the label is the index of the held-out item, so
#: softmax, soft targets and prediction need no special case; only its metrics differ.
TASK_TYPES: tuple[str, ...] = ("binary", "multiclass", "multilabel", "ranking")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ComponentRef(_Strict):
    """A registered component by name, with the options its own schema validates."""

    name: str = Field(min_length=1, description="Registered component name (see `autosft plugins`).")
    options: dict[str, Any] = Field(default_factory=dict, description="Options of that component.")


class ReferenceConfig(ComponentRef):
    """A dataset from the model's original domain (same classes), scored after every trial: the
    forgetting guard (see :mod:`autosft.evaluate.retained`)."""

    max_drop: float | None = Field(
        default=None,
        ge=0,
        allow_inf_nan=False,
        description="Largest allowed drop of the objective metric on the reference vs the pre-trained model: "
        "the constraint `reference_drop <= max_drop`; trials beyond it are infeasible and never selected.",
    )


class ConstraintConfig(_Strict):
    """A bound a trial must meet to be selected: ``{metric: recall, min: 0.6}`` or ``{metric: NAME, max: X}``.

    ``metric`` is a validation metric of the task, or a per-trial extra (``retained_<metric>``,
    ``reference_drop`` with a ``reference``); the names are checked against the installed plugins
    by :func:`autosft.search.prepare.constraint_metric_names`.
    """

    metric: str = Field(min_length=1, description="Validation metric, retained_<metric> or reference_drop.")
    min: float | None = Field(default=None, allow_inf_nan=False, description="Feasible when the metric >= min.")
    max: float | None = Field(default=None, allow_inf_nan=False, description="Feasible when the metric <= max.")

    @model_validator(mode="after")
    def _one_bound(self) -> ConstraintConfig:
        if (self.min is None) == (self.max is None):
            raise ValueError(f"constraint on {self.metric!r}: give exactly one of min or max")
        return self

    @property
    def key(self) -> str:
        """The constraint's name in Optuna (``trial.constraints``) and in tables: ``recall >= 0.6``."""
        return f"{self.metric} >= {self.min:g}" if self.min is not None else f"{self.metric} <= {self.max:g}"

    def violation(self, value: float) -> float:
        """Optuna's constraint value: feasible when zero or less, else by how much the bound is missed."""
        if self.min is not None:
            return self.min - value
        assert self.max is not None  # one of the two, by _one_bound
        return value - self.max


class ObjectiveConfig(_Strict):
    """The validation metric to optimize; the direction defaults to the metric's own."""

    metric: str = Field(min_length=1, description="Registered metric name, e.g. roc_auc.")
    direction: Direction | None = Field(default=None, description="Defaults to the metric's registered direction.")
    aggregate: Literal["overall", "worst_slice"] = Field(
        default="overall",
        description="overall: the metric on all validation rows; worst_slice: its value on the worst validation "
        "slice of at least slices.min_rows rows (needs `slices`).",
    )


class Budget(_Strict):
    """How much search a single `autosft search` run adds to the study."""

    n_trials: int = Field(default=20, ge=1, description="Trials this run adds.")
    timeout: float | None = Field(default=None, gt=0, description="Seconds; stop starting trials after it.")
    max_epochs: int = Field(default=10, ge=1, le=1000, description="Upper bound of the epochs dimension.")


class DimensionOverride(_Strict):
    """Replace one search dimension: a numeric range, a list of choices, or a fixed value."""

    low: float | None = Field(default=None, allow_inf_nan=False)
    high: float | None = Field(default=None, allow_inf_nan=False)
    log: bool | None = None
    step: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    choices: list[Any] | None = Field(default=None, min_length=1)
    value: Any = None

    @model_validator(mode="after")
    def _one_form(self) -> DimensionOverride:
        ranged = self.low is not None or self.high is not None
        forms = [ranged, self.choices is not None, "value" in self.model_fields_set]
        if sum(forms) != 1:
            raise ValueError("give exactly one of low/high, choices or value")
        if ranged:
            if self.low is None or self.high is None:
                raise ValueError("a range needs both low and high")
            if self.low > self.high:
                raise ValueError(f"`low <= high` must hold, but got low={self.low}, high={self.high}")
            if self.log and self.low <= 0:
                raise ValueError(f"a log range needs `low > 0`, but got low={self.low}")
        elif self.log is not None or self.step is not None:
            raise ValueError("log and step apply only to a low/high range")
        return self


class SamplerConfig(_Strict):
    name: Literal["tpe", "random", "cmaes", "gp", "nsga2"] = "tpe"
    options: dict[str, Any] = Field(default_factory=dict, description="Keyword arguments of the Optuna sampler.")


class PrunerConfig(_Strict):
    name: Literal["hyperband", "median", "successive_halving", "none"] = "hyperband"
    options: dict[str, Any] = Field(default_factory=dict, description="Keyword arguments of the Optuna pruner.")


class HeartbeatConfig(_Strict):
    """Crash safety: a trial whose worker stops beating is failed and re-queued with its params."""

    interval: int = Field(default=30, ge=1, description="Seconds between heartbeats of a running trial.")
    grace_period: int = Field(default=90, ge=2, description="Seconds without a heartbeat before a trial is stale.")
    max_retries: int = Field(default=3, ge=0, description="Times a stale trial is re-queued.")

    @model_validator(mode="after")
    def _grace_exceeds_interval(self) -> HeartbeatConfig:
        if self.grace_period <= self.interval:
            raise ValueError(
                f"`grace_period > interval` must hold, but got grace_period={self.grace_period}, "
                f"interval={self.interval}"
            )
        return self


class SelectConfig(_Strict):
    """Seed-robust selection: after the budget, re-run the best configurations with other seeds and
    pick the one with the best mean validation score (off while ``seeds`` is 0)."""

    top_k: int = Field(default=3, ge=1, le=20, description="Best distinct complete configurations to re-run.")
    seeds: int = Field(default=0, ge=0, le=100, description="Extra seeds per configuration; 0 turns selection off.")


class DataCheckConfig(_Strict):
    """What the data check may change before a search (see :mod:`autosft.evaluate.repeats`)."""

    drop_repeats: bool = Field(
        default=False,
        description="Drop validation and test rows that exactly repeat a row of train, pretrain or (for test) "
        "validation, before the check and every trial; also set by --drop-repeats.",
    )


class WarmStartConfig(_Strict):
    """Earlier studies whose best configurations a new study tries first, after its starting trials
    (see :mod:`autosft.search.warmstart`): how last month's study starts this month's."""

    studies: list[Annotated[str, Field(min_length=1)]] = Field(
        default_factory=list, description="Study names, same model and task; also set by --warm-start."
    )
    top_k: int = Field(default=5, ge=1, le=50, description="Best distinct complete configurations per study.")
    storage: str | None = Field(default=None, description="SQLAlchemy URL of those studies; defaults to `storage`.")


class SearchConfig(_Strict):
    """How a new study spends its first trials (see :mod:`autosft.search.portfolio`)."""

    portfolio: bool | Path = Field(
        default=True,
        description="Try the model builder's portfolio (configurations that did well across tasks) right after the "
        "starting trials, in place of the sampler's random start-up; false leaves the start-up to the sampler; a "
        "path names a portfolio JSON file to use instead of the builder's (e.g. one learned on your own tasks).",
    )


class SlicesConfig(_Strict):
    """Group columns the dataset keeps beside the inputs, never as features, to score the selected model
    per slice (each value of a column) on validation and test (see :mod:`autosft.evaluate.slices`)."""

    columns: list[Annotated[str, Field(min_length=1)]] = Field(
        min_length=1, description="Columns of the dataset, e.g. [sex, race]; each is sliced on its own."
    )
    metrics: list[Annotated[str, Field(min_length=1)]] = Field(
        default_factory=list,
        description="Metrics scored per slice besides the objective's, e.g. [recall] for a worst_slice_recall "
        "constraint; each costs time per epoch and bootstrap resample.",
    )
    min_rows: int = Field(default=30, ge=1, description="Slices with fewer rows are listed as too small, not scored.")
    n_boot: int = Field(default=200, ge=10, le=10000, description="Bootstrap resamples of each slice's 95 % interval.")

    @model_validator(mode="after")
    def _distinct(self) -> SlicesConfig:
        if len(set(self.columns)) != len(self.columns):
            raise ValueError(f"slice columns must be distinct, but got {self.columns}")
        return self


class ValidationConfig(_Strict):
    """How a trial is scored: on the validation split, or by cross-validation (see :mod:`autosft.evaluate.folds`)."""

    folds: int | None = Field(
        default=None,
        ge=2,
        le=20,
        description="Score each trial by its mean over this many folds of train+validation (test untouched), "
        "stratified by label and grouped by the data's groups (patients), the same folds for every trial; "
        "for small data, where one validation split of a few hundred rows picks noise. Unset: the validation split.",
    )


class StudyConfig(_Strict):
    """A whole study file. Relative paths in component options resolve against the working directory."""

    name: str = Field(min_length=1, description="Study name in the storage; also set by --study-name.")
    task: str = Field(description=f"One of {', '.join(TASK_TYPES)}.")
    dataset: ComponentRef
    model: ComponentRef
    objective: ObjectiveConfig | list[ObjectiveConfig] = Field(
        description="One metric, or a list for a multi-objective (Pareto) study."
    )
    budget: Budget = Field(default_factory=Budget)
    search_space: dict[str, DimensionOverride] = Field(
        default_factory=dict, description="Per-dimension overrides, e.g. learning_rate: {low: 1e-4, high: 1e-2}."
    )
    sampler: SamplerConfig = Field(default_factory=SamplerConfig)
    pruner: PrunerConfig | None = Field(
        default=None, description="Defaults to hyperband (none for multi-objective studies)."
    )
    storage: str = Field(default=DEFAULT_STORAGE, description="SQLAlchemy URL of the study database.")
    heartbeat: HeartbeatConfig = Field(default_factory=HeartbeatConfig)
    select: SelectConfig = Field(default_factory=SelectConfig)
    data_check: DataCheckConfig = Field(default_factory=DataCheckConfig)
    warm_start: WarmStartConfig = Field(default_factory=WarmStartConfig)
    search: SearchConfig = Field(default_factory=SearchConfig)
    validation: ValidationConfig = Field(default_factory=ValidationConfig)
    seed: int = Field(
        default=0, ge=0, le=MAX_SEED, description="Seeds the sampler, the splits and every trial (0 to 2**32 - 1)."
    )
    reference: ReferenceConfig | None = Field(
        default=None,
        description="A dataset from the model's original domain (same classes): every trial is scored on its "
        "validation split (retained performance; `max_drop` makes it a constraint), and `autosft export` scores "
        "the pre-trained and the fine-tuned model on its test split, to show what fine-tuning made the model forget.",
    )
    constraints: list[ConstraintConfig] = Field(
        default_factory=list,
        description="Bounds a trial must meet to be selected, e.g. [{metric: recall, min: 0.6}]; passed to "
        "Optuna's constrained sampling (TPE, GP, NSGA-II).",
    )
    slices: SlicesConfig | None = Field(
        default=None, description="Score the selected model per slice of these group columns (not features)."
    )

    @model_validator(mode="after")
    def _consistent(self) -> StudyConfig:
        if self.task not in TASK_TYPES:
            raise ValueError(f"task must be one of {', '.join(TASK_TYPES)}, but got {self.task!r}")
        if self.is_multi_objective and self.pruner is not None and self.pruner.name != "none":
            raise ValueError("Optuna cannot prune multi-objective studies: set `pruner: {name: none}`")
        if self.task == "ranking" and self.validation.folds is not None:
            raise ValueError(
                "validation.folds does not apply to ranking tasks: their validation rows are a later period "
                "of each user's history, which folds over train+validation would mix; remove validation.folds"
            )
        if self.is_multi_objective and self.select.seeds:
            raise ValueError(
                "seed-robust selection ranks configurations by one objective: set `select.seeds: 0` "
                f"for a study with {len(self.objectives)} objectives"
            )
        if self.slices is None and any(o.aggregate == "worst_slice" for o in self.objectives):
            raise ValueError("objective aggregate worst_slice needs `slices: {columns: [...]}` in the study file")
        return self

    @property
    def objectives(self) -> list[ObjectiveConfig]:
        return self.objective if isinstance(self.objective, list) else [self.objective]

    @property
    def is_multi_objective(self) -> bool:
        return len(self.objectives) > 1

    @property
    def all_constraints(self) -> list[ConstraintConfig]:
        """The study's constraints, with ``reference.max_drop`` as ``reference_drop <= max_drop``."""
        found = list(self.constraints)
        if self.reference is not None and self.reference.max_drop is not None:
            found.append(ConstraintConfig(metric="reference_drop", max=self.reference.max_drop))
        return found

    @property
    def pruning_steps(self) -> int:
        """The pruner's resource: epochs (1 to ``budget.max_epochs``), or folds with cross-validation."""
        return self.validation.folds or self.budget.max_epochs

    @property
    def effective_pruner(self) -> PrunerConfig:
        if self.pruner is not None:
            return self.pruner
        return PrunerConfig(name="none" if self.is_multi_objective else "hyperband")


def format_validation_error(error: ValidationError, where: str) -> str:
    """Render a pydantic error as one line: ``where: key.path: message (got value); ...``."""
    parts = []
    for item in error.errors():
        path = ".".join(str(part) for part in item["loc"]) or "(top level)"
        message = item["msg"].removeprefix("Value error, ")
        seen = "" if item["type"] in {"missing", "value_error"} else f" (got {item['input']!r})"
        parts.append(f"{path}: {message}{seen}")
    return f"{where}: " + "; ".join(parts)


def load_study_file(path: str | Path) -> StudyConfig:
    """Read and validate a YAML study file, raising :class:`ConfigError` with a one-line reason."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"study file {str(file)!r} does not exist") from None
    except UnicodeDecodeError as error:
        raise ConfigError(
            f"study file {str(file)!r} is not UTF-8 text (byte {error.start}): not a YAML file?"
        ) from None
    except OSError as error:
        raise ConfigError(f"cannot read study file {str(file)!r}: {error.strerror}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"study file {str(file)!r} is not valid YAML{where}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"study file {str(file)!r} must hold a mapping of settings")
    return parse_study(raw, where=str(file))


def parse_study(raw: dict[str, Any], *, where: str) -> StudyConfig:
    """Validate an already-parsed study mapping (also used for studies stored in a database)."""
    try:
        return StudyConfig.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(format_validation_error(error, where)) from None


def with_overrides(
    config: StudyConfig,
    *,
    storage: str | None = None,
    study_name: str | None = None,
    n_trials: int | None = None,
    timeout: float | None = None,
    seed: int | None = None,
    warm_start: list[str] | None = None,
) -> StudyConfig:
    """The study with command-line flags applied, validated again like the file itself.

    ``warm_start`` (the ``--warm-start`` names) replaces the file's ``warm_start.studies``, keeping its
    ``top_k`` and ``storage``, as every flag replaces the key it names."""
    raw = config.model_dump(exclude_unset=True)  # unset stays unset: an override's form is which keys it has
    raw.setdefault("budget", {})
    if storage is not None:
        raw["storage"] = storage
    if study_name is not None:
        raw["name"] = study_name
    if n_trials is not None:
        raw["budget"]["n_trials"] = n_trials
    if timeout is not None:
        raw["budget"]["timeout"] = timeout
    if seed is not None:
        raw["seed"] = seed
    if warm_start:
        raw["warm_start"] = {**raw.get("warm_start", {}), "studies": warm_start}
    return parse_study(raw, where="command-line flags")
