"""Shared fixtures: scikit-learn's 8×8 digits, loaded once."""

from __future__ import annotations

import functools

import pytest


@functools.cache
def _digits():
    from gaespec.data import load_data

    return load_data("sklearn_digits", seed=0)


@pytest.fixture
def digits():
    """scikit-learn's 8×8 digits, split 1258/180/359."""
    return _digits()
