"""The torch-free rules of Pythae's benchmark nets: the shapes each family takes, the features its
encoders give, and refusals in the spec author's terms."""

from __future__ import annotations

import pytest

import gaespec
from gaespec import nets
from gaespec.errors import GraphError
from gaespec.nets.pythae_tables import (
    CONVNET_DECODERS,
    CONVNET_ENCODERS,
    RESNET_DECODERS,
    RESNET_ENCODERS,
    trace_shape,
)
from gaespec.nets.registry import ArchRejected

SHAPES = [(1, 28, 28), (3, 32, 32), (3, 64, 64)]

# c·h·w of the last feature map, from the reference's sides: ConvNet 28 → 1, 32 → 2, 64 → 4 at
# 1024 channels; ResNet 28 → 4, 32 → 8, 64 → 4 at 128 channels
FEATURES = {
    ("convnet", (1, 28, 28)): 1024,
    ("convnet", (3, 32, 32)): 1024 * 2 * 2,
    ("convnet", (3, 64, 64)): 1024 * 4 * 4,
    ("resnet", (1, 28, 28)): 128 * 4 * 4,
    ("resnet", (3, 32, 32)): 128 * 8 * 8,
    ("resnet", (3, 64, 64)): 128 * 4 * 4,
}


@pytest.mark.parametrize(("arch", "shape"), list(FEATURES))
def test_each_shape_gets_its_features_and_its_own_shape_back(arch, shape):
    rules = nets.get_arch(arch)
    assert rules.encoder_features(shape, {}) == FEATURES[arch, shape]
    assert rules.decoder_output(16, shape, {}) == shape


def test_the_side_formulas_on_pythaes_sizes():
    # Conv: ⌊(n + 2p − k)/s⌋ + 1; ConvTranspose: (n − 1)s − 2p + k + op
    assert trace_shape((("conv", 1, 8, 4, 2, 1),), (1, 28, 28)) == (8, 14, 14)
    assert trace_shape((("conv", 8, 8, 3, 2, 1),), (8, 7, 7)) == (8, 4, 4)
    assert trace_shape((("convT", 8, 4, 4, 2, 1, 1),), (8, 16, 16)) == (4, 33, 33)
    assert trace_shape((("convT", 8, 4, 5, 1, 1, 0),), (8, 62, 62)) == (4, 64, 64)
    assert trace_shape((("bn", 8), ("relu",), ("res", 8, 2)), (8, 5, 5)) == (8, 5, 5)


@pytest.mark.parametrize("tables", [CONVNET_DECODERS, RESNET_DECODERS], ids=["conv", "res"])
def test_every_decoder_table_makes_its_shape(tables):
    assert sorted(tables) == sorted(SHAPES)
    for shape, (start, table) in tables.items():
        assert trace_shape(table, start) == shape


# (the channels going in, table) of every encoder and decoder
CHAINS = [
    (shape[0], t) for tables in (CONVNET_ENCODERS, RESNET_ENCODERS) for shape, t in tables.items()
]
CHAINS += [
    (start[0], t) for tables in (CONVNET_DECODERS, RESNET_DECODERS) for start, t in tables.values()
]


@pytest.mark.parametrize(("channels", "table"), CHAINS)
def test_each_row_takes_the_channels_the_row_before_makes(channels, table):
    taken = [args[0] for op, *args in table if args]
    made = [args[1] if op in ("conv", "convT") else args[0] for op, *args in table if args]
    assert taken == [channels, *made[:-1]]


@pytest.mark.parametrize("arch", ["convnet", "resnet"])
def test_other_shapes_are_refused_naming_the_shapes_taken(arch):
    rules = nets.get_arch(arch)
    with pytest.raises(ArchRejected) as err:
        rules.encoder_features((3, 28, 28), {})
    assert str(err.value) == (
        f"{arch} encoder accepts only input shapes (1, 28, 28), (3, 32, 32) and (3, 64, 64) "
        "(Pythae's MNIST, CIFAR-10 and CelebA nets), got (3, 28, 28)"
    )
    assert err.value.fix == "use arch 'mlp' or data of shape 1×28×28, 3×32×32 or 3×64×64"
    with pytest.raises(ArchRejected) as err:
        rules.decoder_output(16, (784,), {})
    assert str(err.value) == (
        f"{arch} decoder makes only output shapes (1, 28, 28), (3, 32, 32) and (3, 64, 64) "
        "(Pythae's MNIST, CIFAR-10 and CelebA nets), got (784,)"
    )
    with pytest.raises(ArchRejected, match=rf"^{arch} encoder has no option 'hidden'"):
        rules.encoder_features((1, 28, 28), {"hidden": [8]})
    with pytest.raises(ArchRejected, match=rf"^{arch} decoder needs a positive integer latent"):
        rules.decoder_output(0, (1, 28, 28), {})


@pytest.mark.parametrize(("arch", "shape"), list(FEATURES))
def test_a_spec_with_each_net_validates(arch, shape):
    spec = gaespec.load_spec(
        "vae", [f"input.shape={list(shape)}", f"encoder.arch={arch}", f"decoder.arch={arch}"]
    )
    graph = gaespec.lower(spec)
    assert graph.shapes["h"] == (FEATURES[arch, shape],)
    assert graph.shapes["x_hat"] == shape


def test_a_spec_whose_data_the_net_does_not_take_says_which_it_takes():
    spec = gaespec.load_spec(
        "vae", ["input.shape=[3, 48, 48]", "encoder.arch=convnet", "decoder.arch=convnet"]
    )
    with pytest.raises(GraphError) as err:
        gaespec.lower(spec)
    assert str(err.value) == (
        "--set: encoder.arch: convnet encoder accepts only input shapes (1, 28, 28), (3, 32, 32) "
        "and (3, 64, 64) (Pythae's MNIST, CIFAR-10 and CelebA nets), got (3, 48, 48); "
        "fix: use arch 'mlp' or data of shape 1×28×28, 3×32×32 or 3×64×64"
    )
    spec = gaespec.load_spec(
        "vae", ["input.shape=[1, 8, 8]", "encoder.arch=mlp", "decoder.arch=resnet"]
    )
    with pytest.raises(GraphError) as err:
        gaespec.lower(spec)
    assert str(err.value).startswith(
        "--set: decoder.arch: resnet decoder makes only output shapes (1, 28, 28), (3, 32, 32) "
        "and (3, 64, 64) (Pythae's MNIST, CIFAR-10 and CelebA nets), got (1, 8, 8); "
    )
