"""`rank-unlabeled`: the command that says which rows of a new, unlabelled pool to label next."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from autosft.cli_support import console, plugin_manager
from autosft.commands.options import StudyFile, require_writable

__all__ = ["rank_unlabeled"]

#: Rows of the ranking printed; the CSV holds all of them.
_SHOWN = 10


def rank_unlabeled(
    context: typer.Context,
    study_file: StudyFile,
    data: Annotated[Path, typer.Option("--data", help="The unlabelled pool, a file like the study's data.")],
    top: Annotated[int, typer.Option("--top", help="How many rows to label next.", show_default=False)],
    strategy: Annotated[
        str, typer.Option("--strategy", help="margin, entropy, diverse (uncertain and spread out) or random.")
    ] = "margin",
    model: Annotated[Path, typer.Option("--model", help="The study's `autosft export` folder.")] = Path("export"),
    out: Annotated[Path, typer.Option("--out", help="CSV of the rows to label, best first.")] = Path("ranked.csv"),
    id_column: Annotated[
        str | None, typer.Option("--id-column", help="Pool column naming each row (default: its position).")
    ] = None,
    device: Annotated[str | None, typer.Option("--device", help="cpu, cuda or cuda:N [default: auto]")] = None,
) -> None:
    """Score an unlabelled pool with the exported model and write the TOP rows to label next, with their scores."""
    from autosft.config import load_study_file
    from autosft.evaluate.acquisition import check_request
    from autosft.newdata import require_data_file
    from autosft.newdata.ranking import rank_unlabeled as rank

    check_request(strategy, top)
    require_writable(out, "--out")
    require_data_file(data)
    config = load_study_file(study_file)
    ranked = rank(config, data, top=top, strategy=strategy, model=model, manager=plugin_manager(context),
                  id_column=id_column, device=device)  # fmt: skip
    ranked.write_csv(out)
    picked = len(ranked.ranking.rows)
    console.print(f"{picked} of {ranked.pool_rows} pool rows to label next by {strategy}, written to {out}:",
                  highlight=False, markup=False)  # fmt: skip
    for rank_number, (row_id, score, predicted) in enumerate(
        zip(ranked.ids[:_SHOWN], ranked.ranking.scores, ranked.predicted, strict=False), start=1
    ):
        console.print(f"  {rank_number:>3}  id {row_id}  score {score:.4f}  predicted {predicted}",
                      highlight=False, markup=False)  # fmt: skip
    if picked > _SHOWN:
        console.print(f"  … {picked - _SHOWN} more in {out}", highlight=False, markup=False)
