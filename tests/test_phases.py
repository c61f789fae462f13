"""benchmarks/phases.py: a moment is filed under the first phase with a function on the stack."""

from __future__ import annotations

import sys
import time

from tests.conftest import REPO

sys.path.insert(0, str(REPO / "benchmarks"))  # benchmarks/ is a folder of scripts, not a package
import phases


def _peer_rows(seconds: float = 0.0) -> str:
    """Named like the benchmark's tokenizing helper, which the ``:_peer_rows`` rule files under data."""
    time.sleep(seconds)
    return phases.classify(sys._getframe())


def test_the_first_matching_phase_names_the_moment() -> None:
    assert _peer_rows() == "data (read, tokenize, batch)"
    assert phases.classify(sys._getframe()) == phases.OTHER


def test_the_profile_files_the_time_a_function_runs_under_its_phase() -> None:
    # Phases long against the sampler's wake-up delay on a loaded machine (tens of ms, at worst a few
    # hundred): the moment a phase ends is filed under the next one at the next sample.
    with phases.PhaseProfile(interval=0.005) as profile:
        _peer_rows(1.0)
        time.sleep(0.5)
    assert profile.seconds["data (read, tokenize, batch)"] >= 0.6
    assert 0.3 <= profile.seconds[phases.OTHER] <= 0.9
