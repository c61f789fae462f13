"""Stores that are one local file (a SQLite database, a journal): checks of the path, and the
study lock, an ``flock`` on a file beside the store that the kernel frees if its holder dies."""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path

from autosft.errors import StorageError

__all__ = ["FileLock", "check_file", "file_lock"]


def check_file(path: str | None, url: str, *, must_exist: bool, what: str) -> None:
    """Refuse a store in memory, a folder, a missing file where one must exist, a missing folder."""
    if not path or path == ":memory:":
        raise StorageError(
            f"storage {url!r} is in memory and would lose the study on exit; give a file, e.g. sqlite:///autosft.db"
        )
    if Path(path).expanduser().is_dir():
        example = Path(path) / ("study.log" if what == "journal" else "autosft.db")
        raise StorageError(f"storage {url!r}: {path!r} is a folder; name the {what} file in it, e.g. {str(example)!r}")
    if must_exist and not Path(path).expanduser().is_file():
        raise StorageError(f"storage {url!r}: there is no {what} at {path!r}")
    folder = Path(path).expanduser().resolve().parent
    if not folder.is_dir():
        raise StorageError(f"storage {url!r}: folder {str(folder)!r} does not exist")


@contextlib.contextmanager
def file_lock(store: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on a file beside ``store``."""
    # Not "<journal>.lock": Optuna's own journal lock takes that name.
    try:
        handle = open(f"{store}.study-lock", "a")  # noqa: SIM115  # closed below, after the unlock
    except OSError as error:
        raise StorageError(f"cannot take the study lock beside {str(store)!r}: {error.strerror}") from None
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class FileLock:
    """The study lock of a local file store (one lock per file, whatever the study)."""

    def __init__(self, store: Path) -> None:
        self.store = store

    def held(self) -> contextlib.AbstractContextManager[None]:
        return file_lock(self.store)

    def close(self) -> None:
        """Nothing stays open between holds."""
