"""``autosft ARGS`` with the toy plugin and a sampler that stops for good once a trial is created.

Optuna creates a trial inside ``study.ask()`` and then hands it to the sampler's ``before_trial``
before autosft records its first heartbeat. Pausing there holds open, as long as a test needs,
the window in which a killed worker leaves a RUNNING trial that never beat. Each pause first
touches ``$AUTOSFT_TEST_PAUSES/<pid>-<trial number>``, so the test knows when to kill.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import optuna

PAUSES_ENV = "AUTOSFT_TEST_PAUSES"


class PausingSampler(optuna.samplers.TPESampler):
    """Optuna's TPE sampler (autosft's default), which never gets past ``before_trial``."""

    def before_trial(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        super().before_trial(study, trial)
        Path(os.environ[PAUSES_ENV], f"{os.getpid()}-{trial.number}").touch()
        time.sleep(3600)


if __name__ == "__main__":
    optuna.samplers.TPESampler = PausingSampler  # type: ignore[misc]  # the name autosft's sampler table looks up
    from autosft.cli import build_app
    from autosft.testing import toy_manager

    build_app(toy_manager())()
