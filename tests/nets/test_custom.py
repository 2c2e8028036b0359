from pathlib import Path

import pytest
from torch import nn

from gaespec.errors import SpecError
from gaespec.nets.custom import import_object


def test_imports_a_class_and_a_dotted_attribute():
    assert import_object("torch.nn:Linear") is nn.Linear
    assert import_object("torch:nn.Linear") is nn.Linear


def test_path_without_colon():
    with pytest.raises(SpecError) as err:
        import_object("torch.nn.Linear", file="m.toml", key="encoder.arch")
    assert str(err.value) == (
        "m.toml: encoder.arch: import path 'torch.nn.Linear' is not of the form "
        "'package.module:Name'; fix: write the module, a colon, then the name, "
        "as in 'mypkg.nets:Encoder'"
    )


@pytest.mark.parametrize("path", [":Linear", "torch.nn:", "a:b:c"])
def test_other_malformed_paths(path):
    with pytest.raises(SpecError, match="is not of the form 'package.module:Name'"):
        import_object(path)


def test_module_that_does_not_import():
    with pytest.raises(SpecError) as err:
        import_object("no_such_pkg_gaespec.nets:Encoder")
    assert str(err.value) == (
        "cannot import module 'no_such_pkg_gaespec.nets' of 'no_such_pkg_gaespec.nets:Encoder': "
        "No module named 'no_such_pkg_gaespec'; fix: install the package or put its folder on "
        "PYTHONPATH"
    )


def test_missing_attribute_names_the_closest():
    with pytest.raises(SpecError) as err:
        import_object("torch.nn:Linaer")
    assert str(err.value) == (
        "module 'torch.nn' has no attribute 'Linaer'; "
        "closest valid choice: 'Linear', 'LazyLinear', 'Bilinear'"
    )


def test_missing_nested_attribute(monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    with pytest.raises(SpecError) as err:
        import_object("toy_nets:TinyEncoder.forwrd")
    assert str(err.value) == (
        "'toy_nets.TinyEncoder' has no attribute 'forwrd'; closest valid choice: 'forward'"
    )
