import subprocess
import sys
from pathlib import Path

import pytest
import torch

from gaespec import nets
from gaespec.errors import GraphError, SpecError
from gaespec.nets import registry
from gaespec.nets.registry import Arch, ArchRejected, register_arch
from gaespec.registry import Registry

HERE = Path(__file__).parent


def test_builtin_archs_are_registered():
    assert nets.arch_names() == ["convnet", "mlp", "mnist_convnet", "resnet"]


def test_mnist_convnet_shape_rules():
    rules = nets.get_arch("mnist_convnet")
    assert rules.encoder_features((1, 28, 28), {}) == 1024
    assert rules.decoder_output(16, (3, 64, 64), {}) == (1, 28, 28)
    with pytest.raises(ArchRejected) as err:
        rules.encoder_features((1, 8, 8), {})
    assert (
        str(err.value)
        == "mnist_convnet encoder accepts only input shape (1, 28, 28), got (1, 8, 8)"
    )
    assert err.value.fix == "use arch 'mlp' or data of shape 1×28×28"


def test_mlp_shape_rules_accept_any_shape():
    rules = nets.get_arch("mlp")
    for shape in [(1, 8, 8), (3, 64, 64), (10,), (2, 3, 4, 5)]:
        assert rules.encoder_features(shape, {}) == 512
        assert rules.decoder_output(8, shape, {}) == shape
    assert rules.encoder_features((5,), {"hidden": [64, 32]}) == 32


def test_rule_refusal_becomes_a_located_graph_error():
    with pytest.raises(GraphError) as err:
        nets.encoder_features("mnist_convnet", (1, 8, 8), file="m.toml", key="encoder")
    assert str(err.value) == (
        "m.toml: encoder: mnist_convnet encoder accepts only input shape (1, 28, 28), "
        "got (1, 8, 8); fix: use arch 'mlp' or data of shape 1×28×28"
    )


def test_unknown_option_names_the_closest():
    with pytest.raises(GraphError) as err:
        nets.encoder_features("mlp", (3,), {"hiden": [4]})
    assert str(err.value) == (
        "mlp encoder has no option 'hiden' (its options: 'hidden'); closest valid choice: 'hidden'"
    )


def test_custom_arch_shapes_are_unknown_before_build():
    assert nets.encoder_features("toy_nets:TinyEncoder", (3,)) is None
    assert nets.decoder_output("toy_nets:TinyDecoder", 2, (3,)) is None


def test_unknown_arch_lists_known_names_closest_first():
    with pytest.raises(SpecError) as err:
        nets.get_arch("mnist_conv")
    assert str(err.value) == (
        "unknown architecture 'mnist_conv' (known: convnet, mlp, mnist_convnet, resnet); closest "
        "valid choice: 'mnist_convnet'; fix: name a known architecture or give an import path "
        "'package.module:Class'"
    )


def test_registering_twice_raises(monkeypatch):
    fresh = Registry("architecture", SpecError)
    for name, arch in registry._ARCHS.items():
        fresh.register(name)(arch)
    monkeypatch.setattr(registry, "_ARCHS", fresh)

    class Toy(Arch):
        name = "toy"

    register_arch(Toy)
    assert "toy" in nets.arch_names()
    with pytest.raises(ValueError, match=r"^architecture 'toy' is registered twice$"):
        register_arch(Toy)
    with pytest.raises(ValueError, match=r"^architecture 'mlp' is registered twice$"):

        @register_arch
        class OtherMLP(Arch):
            name = "mlp"


def test_make_registered_nets():
    enc = nets.make_encoder("mnist_convnet", (1, 28, 28), {})
    dec = nets.make_decoder("mlp", 16, (1, 28, 28), {"hidden": [32]})
    assert enc(torch.rand(2, 1, 28, 28)).shape == (2, 1024)
    assert dec(torch.randn(2, 16)).shape == (2, 1, 28, 28)


def test_make_refuses_what_the_rules_refuse():
    with pytest.raises(
        GraphError, match=r"accepts only input shape \(1, 28, 28\), got \(1, 8, 8\)"
    ):
        nets.make_encoder("mnist_convnet", (1, 8, 8), {})
    with pytest.raises(GraphError) as err:
        nets.make_decoder("mnist_convnet", 16, (1, 32, 32), {}, key="decoder")
    assert str(err.value) == (
        "decoder: mnist_convnet decoder produces shape (1, 28, 28), not the requested (1, 32, 32); "
        "fix: use arch 'mlp' or a decoder made for this shape"
    )
    with pytest.raises(
        SpecError,
        match=r"^unknown architecture 'mpl' \(known: convnet, mlp, mnist_convnet, resnet\)",
    ):
        nets.make_encoder("mpl", (3,), {})


def test_custom_nets_by_import_path(monkeypatch):
    monkeypatch.syspath_prepend(str(HERE))
    enc = nets.make_encoder("toy_nets:TinyEncoder", (2, 3), {"width": 5})
    dec = nets.make_decoder("toy_nets:TinyDecoder", 5, (2, 3), {})
    assert type(enc).__name__ == "TinyEncoder" and enc.features == 5
    assert dec(enc(torch.rand(4, 2, 3))).shape == (4, 2, 3)


def test_custom_net_that_cannot_be_called(monkeypatch):
    monkeypatch.syspath_prepend(str(HERE))
    with pytest.raises(SpecError) as err:
        nets.make_encoder("toy_nets:TinyEncoder", (3,), {"depth": 2})
    assert str(err.value) == (
        "encoder 'toy_nets:TinyEncoder' cannot be called as "
        "TinyEncoder(input_shape=(3,), depth=2): got an unexpected keyword argument 'depth'"
    )
    with pytest.raises(SpecError) as err:
        nets.make_encoder("toy_nets:not_a_module", (3,), {})
    assert str(err.value) == "encoder 'toy_nets:not_a_module' gave a Tensor, not a torch.nn.Module"
    with pytest.raises(
        SpecError, match=r"options may not set input_shape \(it comes from the spec\)"
    ):
        nets.make_encoder("toy_nets:TinyEncoder", (3,), {"input_shape": (4,)})


@pytest.mark.parametrize("module", ["gaespec.nets.shapes", "gaespec.nets"])
def test_shape_rules_do_not_import_torch(module):
    code = (
        f"import sys, {module}, gaespec.nets as n; "
        "n.encoder_features('mnist_convnet', (1, 28, 28)); n.decoder_output('mlp', 2, (3,)); "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
