"""Storage URLs: what a checked URL holds, and masking the password of any URL in a text.

Which backend reads a URL is the table in :mod:`autosft.storage.backend`: SQLAlchemy URLs
(``sqlite:///``, ``postgresql+psycopg://``, ``mysql+pymysql://``) open Optuna's RDB storage;
``journal:///path/study.log`` its journal storage on a file (shared file systems, no server);
``redis://host:port/db`` the journal storage on Redis, for clusters with no relational database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DEFAULT_REDIS_PREFIX", "StorageUrl", "mask_url"]

#: Redis keys of autosft's journal start with this unless the URL says ``?prefix=NAME``.
DEFAULT_REDIS_PREFIX = "autosft"

#: A URL inside a message: a scheme, then everything up to white space or a quote.
_URL_IN_TEXT = re.compile(r"[a-zA-Z][\w+.-]*://[^\s'\"]+")


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
    """A checked storage URL: its backend's name, and what opening it needs."""

    url: str
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
