"""The options and arguments the commands share, and how they name a study."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from autosft.config import DEFAULT_STORAGE, STORAGE_ENV
from autosft.errors import ConfigError

if TYPE_CHECKING:
    import optuna

    from autosft.config import StudyConfig

__all__ = [
    "AllowDataChange", "DropRepeatsOption", "NameOption", "StorageOption", "StudyFile", "StudyOption", "open_selected",
    "require_writable", "selected_study", "with_drop_repeats",
]  # fmt: skip


StudyFile = Annotated[Path, typer.Argument(help="Study file (YAML).", show_default=False)]


StorageOption = Annotated[
    str | None,
    typer.Option(
        "--storage", envvar=STORAGE_ENV, help=f"SQLAlchemy URL of the study database [default: {DEFAULT_STORAGE}]."
    ),
]


NameOption = Annotated[str | None, typer.Option("--study-name", help="Study name in the storage.")]


AllowDataChange = Annotated[
    bool,
    typer.Option("--allow-data-change", help="Resume a study whose data changed since its trials ran (recorded)."),
]


DropRepeatsOption = Annotated[
    bool,
    typer.Option("--drop-repeats", help="Drop val/test rows that repeat earlier splits (data_check.drop_repeats)."),
]


StudyOption = Annotated[
    Path | None, typer.Option("--study", help="Read --storage and --study-name from this study file.")
]


def with_drop_repeats(config: StudyConfig, drop_repeats: bool) -> StudyConfig:
    """The study with ``data_check.drop_repeats`` on when the flag asks for it (it is stored with the study)."""
    from autosft.config import DataCheckConfig

    return config.model_copy(update={"data_check": DataCheckConfig(drop_repeats=True)}) if drop_repeats else config


def selected_study(study: Path | None, storage: str | None, study_name: str | None) -> tuple[str, str | None]:
    """The storage URL and study name the selectors name: --storage, else the study file's, else the default."""
    from autosft.config import load_study_file

    if study is not None:
        config = load_study_file(study)
        storage, study_name = storage or config.storage, study_name or config.name
    return storage or DEFAULT_STORAGE, study_name


def open_selected(study: Path | None, storage: str | None, study_name: str | None) -> tuple[optuna.Study, str]:
    """The study the selectors name, and its storage URL."""
    from autosft.search.study import load_existing_study
    from autosft.storage import open_storage

    url, name = selected_study(study, storage, study_name)
    return load_existing_study(open_storage(url, must_exist=True), url, name), url


def require_writable(path: Path | None, option: str) -> None:
    """Refuse an output file that could not be written, before the work that would fill it."""
    if path is None:
        return
    if path.is_dir():
        raise ConfigError(f"{option} {str(path)!r} is a folder; give the name of a file to write")
    if not path.parent.is_dir():
        raise ConfigError(f"{option} {str(path)!r}: the folder {str(path.parent)!r} does not exist")
