"""The study in a few tables, rendered as Markdown (terminals, pull requests) or HTML (the report's head).

The same tables feed both renderings: what the search ran, the selected trial, the top trials and,
with an export, the test metrics with their confidence intervals.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

import optuna

from autosft.config import StudyConfig
from autosft.evaluate.constraints import is_feasible, violations
from autosft.evaluate.holdout import selected_trial
from autosft.evaluate.verdict import study_verdict
from autosft.report.slice_figures import slice_record
from autosft.report.study_figures import objective_names, top_trials
from autosft.storage import mask_url
from autosft.views import (
    calibration_cells,
    calibration_line,
    reference_cells,
    retained_cell,
    retained_metric,
    slice_cells,
    slice_line,
)

__all__ = ["Summary", "Table", "summarize"]


@dataclass
class Table:
    title: str
    header: list[str]
    rows: list[list[str]] = field(default_factory=list)


@dataclass
class Summary:
    title: str
    facts: list[tuple[str, str]]
    tables: list[Table]

    def markdown(self) -> str:
        lines = [f"# {self.title}", ""]
        lines += [f"- **{key}**: {value}" for key, value in self.facts]
        for table in self.tables:
            lines += ["", f"## {table.title}", "", "| " + " | ".join(table.header) + " |",
                      "|" + "---|" * len(table.header)]  # fmt: skip
            lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in table.rows]
        return "\n".join(lines) + "\n"

    def html(self) -> str:
        facts = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in self.facts)
        parts = [f"<table class='facts'>{facts}</table>"]
        for table in self.tables:
            head = "".join(f"<th>{html.escape(cell)}</th>" for cell in table.header)
            body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in table.rows)
            parts.append(f"<h3>{html.escape(table.title)}</h3><table><tr>{head}</tr>{body}</table>")
        return "".join(parts)


def summarize(
    study: optuna.Study, config: StudyConfig | None, storage_url: str, export: dict[str, Any] | None
) -> Summary:
    """The summary tables; ``export`` is an export's ``test_metrics.json`` record, if one is given."""
    states: dict[str, int] = {}
    for trial in study.get_trials(deepcopy=False):
        states[trial.state.name] = states.get(trial.state.name, 0) + 1
    names = objective_names(study, config)
    directions = [d.name.lower() for d in study.directions]
    facts = [
        ("storage", mask_url(storage_url)),
        ("objective", ", ".join(f"{name} ({direction})" for name, direction in zip(names, directions, strict=True))),
        ("trials", f"{sum(states.values())} ({', '.join(f'{n} {s.lower()}' for s, n in sorted(states.items()))})"),
    ]
    if config is not None:
        facts[1:1] = [("task", config.task), ("data", config.dataset.name), ("model", config.model.name)]
        if config.all_constraints:
            facts.append(("constraints", ", ".join(constraint.key for constraint in config.all_constraints)))
    tables = []
    if states.get("COMPLETE"):
        best = selected_trial(study)
        facts.append(("selected trial", f"{best.number}: " + _values(names, best.values)))
        tables.append(Table(f"Selected trial {best.number}", ["parameter", "value"],
                            [[name, _cell(value)] for name, value in best.params.items()]))  # fmt: skip
        tables.append(_top_table(study, names))
        tables += _guard_table(study, names)
    if export is not None:
        level = round(export["confidence_level"] * 100)
        rows = [[name, _cell(i["value"]), "" if i["low"] is None else f"[{i['low']:.4f}, {i['high']:.4f}]"]
                for name, i in export["metrics"].items()]  # fmt: skip
        title = f"Test split, trial {export['trial']} retrained on {export['refit']} ({export['test_rows']} rows)"
        tables.append(Table(title, ["metric", "test", f"{level} % CI"], rows))
        tables += _calibration(facts, export.get("calibration"))
    verdict = export.get("references") if export is not None else None
    verdict = verdict or (study_verdict(study) if states.get("COMPLETE") else None)
    if verdict is not None:
        facts.append(("verdict", verdict["verdict"]))
        tables.append(Table("The chosen model vs the references", *reference_cells(verdict)))
    sliced = slice_record(study, export)
    if sliced is not None:
        facts += [("worst slice", slice_line(sliced, split)) for split in sliced["splits"]]
        tables += [Table(f"Trial {sliced['trial']} per slice, {split}", *slice_cells(sliced, split))
                   for split in sliced["splits"]]  # fmt: skip
    return Summary(f"autosft study {study.study_name}", facts, tables)


def _calibration(facts: list[tuple[str, str]], record: dict[str, Any] | None) -> list[Table]:
    """The calibration as a fact, and, for a calibrated export, its before/after table."""
    if record is None:  # an export written before calibration existed
        return []
    facts.append(("calibration", calibration_line(record)))
    if record.get("skipped"):
        return []
    return [Table(f"Calibration: temperature {record['temperature']:.3f}, fitted on validation only",
                  *calibration_cells(record))]  # fmt: skip


def _guard_table(study: optuna.Study, names: list[str]) -> list[Table]:
    """Every complete trial's retained performance on the reference and the constraints it misses;
    nothing for a study with neither."""
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    metric = retained_metric(study)
    if metric is None and not any(trial.constraints for trial in complete):
        return []
    header = ["trial", "value", *([f"retained {metric} (drop)"] if metric else []), "feasible"]
    rows = [[str(trial.number), _values(names, trial.values), *([retained_cell(trial, metric)] if metric else []),
             "yes" if is_feasible(trial) else "no: " + "; ".join(violations(trial))] for trial in complete]  # fmt: skip
    title = "Trials: retained performance on the reference and constraints (infeasible trials are never selected)"
    return [Table(title, header, rows)]


def _top_table(study: optuna.Study, names: list[str]) -> Table:
    top = top_trials(study)
    params: list[str] = []
    for trial in top:
        params += [name for name in trial.params if name not in params]
    rows = [[str(t.number), _values(names, t.values), *(_cell(t.params.get(p, "")) for p in params)] for t in top]
    return Table(f"Top {len(top)} trials (validation)", ["trial", "value", *params], rows)


def _values(names: list[str], values: list[float]) -> str:
    return ", ".join(f"{name}={value:.4f}" for name, value in zip(names, values, strict=True))


def _cell(value: Any) -> str:
    if value is None:
        return "undefined"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
