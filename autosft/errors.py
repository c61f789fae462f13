"""The one exception tree of autosft.

Every error a user can cause derives from :class:`AutosftError`, so the CLI can print it as a
single line and exit non-zero, while anything else stays a bug with a traceback.
"""

from __future__ import annotations

__all__ = [
    "AutosftError",
    "ConfigError",
    "DataError",
    "PluginError",
    "StorageError",
    "TrialFailure",
]


class AutosftError(Exception):
    """Base of every error autosft raises on purpose."""

    #: Process exit code the CLI uses for this kind of error (2 = usage or configuration).
    exit_code: int = 2


class ConfigError(AutosftError):
    """The study file, a CLI flag or a search-space override breaks a rule."""


class DataError(AutosftError):
    """A data file is missing, empty or unusable for the declared task."""


class PluginError(AutosftError):
    """A plugin is missing, misbehaves, or two plugins claim the same component name."""


class StorageError(AutosftError):
    """The study storage URL is malformed or the database cannot be reached."""


class TrialFailure(AutosftError):
    """A trial cannot produce a result (e.g. its loss became NaN).

    The search records the reason on the trial and carries on with the next one.
    """

    exit_code = 1
