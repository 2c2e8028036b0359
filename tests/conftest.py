"""Shared fixtures: scikit-learn's 8×8 digits, loaded once; the hypothesis profile of the suite."""

from __future__ import annotations

import functools

import pytest
from hypothesis import HealthCheck, settings

# Fuzz tests are seeded and bounded: every machine and every CI run tries the same examples,
# and the suite's time does not depend on how hard hypothesis searches. `--hypothesis-profile=deep`
# searches longer and at random, for a session spent hunting bugs.
settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=200,
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("deep", max_examples=5000, deadline=None)
settings.load_profile("ci")


@functools.cache
def _digits():
    from gaespec.data import load_data

    return load_data("sklearn_digits", seed=0)


@pytest.fixture
def digits():
    """scikit-learn's 8×8 digits, split 1258/180/359."""
    return _digits()
