"""Storage URLs: which backend a URL names, its checks before anything is opened, credential masking.

Three families: SQLAlchemy URLs (``sqlite:///``, ``postgresql+psycopg://``, ``mysql+pymysql://``, ...)
open Optuna's RDB storage; ``journal:///path/study.log`` opens Optuna's journal storage on a file
(shared file systems, no server); ``redis://host:port/db`` opens the journal storage on Redis, for
clusters with no relational database. The study lock and the retry policy both follow the family.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from autosft.errors import StorageError

__all__ = ["DEFAULT_REDIS_PREFIX", "StorageUrl", "mask_url", "parse_storage_url"]

#: Redis keys of autosft's journal start with this unless the URL says ``?prefix=NAME``.
DEFAULT_REDIS_PREFIX = "autosft"

#: A URL inside a message: a scheme, then everything up to white space or a quote.
_URL_IN_TEXT = re.compile(r"[a-zA-Z][\w+.-]*://[^\s'\"]+")

Family = Literal["rdb", "journal-file", "redis"]


def mask_url(text: str) -> str:
    """Replace the password of every URL in ``text`` with ``***`` (for any message we print or store)."""
    return _URL_IN_TEXT.sub(lambda match: _masked(match.group(0)), text)


def _masked(url: str) -> str:
    """``url`` with its password hidden; read by SQLAlchemy's ``make_url`` (Redis URLs too).

    A URL-encoded password may hold anything. A raw ``@`` in one (which URLs do not allow) would
    make ``make_url`` read the rest of the password as the host, so then everything up to the last
    ``@`` is taken as the credentials: hiding too much is harmless, printing a part is not.
    """
    import sqlalchemy.exc
    from sqlalchemy.engine import make_url

    head, at, host = url.rpartition("@")
    if not at:
        return url
    if at not in head:
        try:
            parsed = make_url(url)
        except (sqlalchemy.exc.ArgumentError, ValueError):  # a port that is no number: keep to the text
            pass
        else:
            return url if parsed.password is None else parsed.render_as_string(hide_password=True)
    scheme, _, credentials = head.partition("://")
    user, colon, _ = credentials.partition(":")
    return f"{scheme}://{user}:***@{host}" if colon else url


@dataclass(frozen=True)
class StorageUrl:
    """A checked storage URL: its family, its backend name, and what opening it needs."""

    url: str
    family: Family
    #: SQLAlchemy backend name (``sqlite``, ``postgresql``, ``mysql``) or ``journal`` / ``redis``.
    backend: str
    #: The file of an embedded store: the journal of ``journal:///`` URLs, SQLite's database.
    path: Path | None = None
    #: The Redis URL without autosft's own query options, and the key prefix.
    redis_url: str | None = None
    redis_prefix: str = DEFAULT_REDIS_PREFIX

    @property
    def shared(self) -> bool:
        """Whether several processes may write to it at once (parallel workers)."""
        return self.backend != "sqlite"


def parse_storage_url(url: str, *, must_exist: bool = False) -> StorageUrl:
    """Classify and check ``url`` without opening it.

    ``must_exist`` is for commands that only read: a SQLite or journal file that is not there is
    an error rather than a new empty study store.
    """
    scheme = url.split(":", 1)[0].lower() if "://" in url else ""
    if scheme == "journal":
        return _journal_file(url, must_exist=must_exist)
    if scheme in {"redis", "rediss"}:
        return _redis(url)
    import sqlalchemy.exc
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except ValueError:  # make_url reads the port as a number
        raise StorageError(f"storage {mask_url(url)!r}: the port must be a number") from None
    except sqlalchemy.exc.ArgumentError:
        raise StorageError(
            f"malformed storage URL {mask_url(url)!r}; expected e.g. sqlite:///autosft.db, "
            "postgresql+psycopg://user@host/db, journal:///path/study.log or redis://host:6379/0"
        ) from None
    backend = parsed.get_backend_name()
    if backend != "sqlite":
        return StorageUrl(url=url, family="rdb", backend=backend)
    database = parsed.database
    if database and parsed.query.get("uri") == "true":  # sqlite:///file:/path/study.db?mode=ro&uri=true
        database = database.removeprefix("file:")
    _check_file(database, url, must_exist=must_exist, what="study database")
    assert database is not None
    return StorageUrl(url=url, family="rdb", backend=backend, path=Path(database).expanduser())


def _journal_file(url: str, *, must_exist: bool) -> StorageUrl:
    parts = urlsplit(url)
    path = parts.netloc + parts.path  # journal:///abs/study.log and journal://relative/study.log
    _check_file(path, url, must_exist=must_exist, what="journal")
    return StorageUrl(url=url, family="journal-file", backend="journal", path=Path(path).expanduser())


def _redis(url: str) -> StorageUrl:
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018  # urlsplit reads the port only when asked
    except ValueError:
        raise StorageError(f"storage {mask_url(url)!r}: the port must be a number from 0 to 65535") from None
    query = dict(parse_qsl(parts.query))
    prefix = query.pop("prefix", DEFAULT_REDIS_PREFIX)
    if not prefix:
        raise StorageError(f"storage {mask_url(url)!r}: `prefix` must not be empty")
    redis_url = urlunsplit(parts._replace(query=urlencode(query)))
    return StorageUrl(url=url, family="redis", backend="redis", redis_url=redis_url, redis_prefix=prefix)


def _check_file(path: str | None, url: str, *, must_exist: bool, what: str) -> None:
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
