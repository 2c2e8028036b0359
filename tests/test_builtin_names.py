"""The names `gaespec list` prints without importing torch are the registries' own."""

from gaespec import builtin_names
from gaespec.data import known_sources
from gaespec.samplers import known_samplers


def test_the_data_sources_are_the_registry_s():
    assert list(builtin_names.DATA_SOURCES) == known_sources()


def test_the_samplers_are_the_registry_s():
    assert list(builtin_names.SAMPLERS) == known_samplers()
