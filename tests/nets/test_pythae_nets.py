"""Pythae's benchmark ConvNets and ResNets against the reference's layer lists
(../shared/reference/pythae.md §6): layers in order, parameter counts summed by hand, shapes and
ranges, mnist_convnet's weights, and the standalone file's copy of them."""

from __future__ import annotations

import inspect

import pytest
import torch
import torch.nn.functional as F
from codegen.emitted import import_source, model_class
from torch import nn

import gaespec
from gaespec.codegen import emit
from gaespec.codegen.sources import copy_definitions
from gaespec.nets import pythae_tables
from gaespec.nets.mnist_convnet import MNISTConvDecoder, MNISTConvEncoder
from gaespec.nets.pythae_nets import (
    ConvNetDecoder,
    ConvNetEncoder,
    ResBlock,
    ResNetDecoder,
    ResNetEncoder,
)

D = 16  # latent dim
TABLES = {
    name: getattr(pythae_tables, name)
    for name in ("CONVNET_ENCODERS", "CONVNET_DECODERS", "RESNET_ENCODERS", "RESNET_DECODERS")
}
MNIST, CIFAR, CELEBA = (1, 28, 28), (3, 32, 32), (3, 64, 64)


# -- the reference's layer lists, written out ---------------------------------------------------


def conv(c_in, c_out, k, s, p):
    return ("Conv2d", c_in, c_out, k, s, p)


def conv_t(c_in, c_out, k, s, p, op=0):
    return ("ConvTranspose2d", c_in, c_out, k, s, p, op)


def bn(c):
    return ("BatchNorm2d", c)


RELU, SIGMOID = ("ReLU",), ("Sigmoid",)
FLATTEN, UNFLATTEN = ("Flatten",), ("Unflatten",)
RES = ("ResBlock", 128, 32)


def convnet_encoder(c_in):
    rows = []
    for a, b in [(c_in, 128), (128, 256), (256, 512), (512, 1024)]:
        rows += [conv(a, b, 4, 2, 1), bn(b), RELU]
    return [*rows, FLATTEN]


def linear(n_out):
    return [("Linear", D, n_out), UNFLATTEN]


REFERENCE = {
    ("convnet", MNIST): (
        convnet_encoder(1),
        [
            *linear(1024 * 4 * 4),
            *(conv_t(1024, 512, 3, 2, 1), bn(512), RELU),
            *(conv_t(512, 256, 3, 2, 1, 1), bn(256), RELU),
            *(conv_t(256, 1, 3, 2, 1, 1), SIGMOID),
        ],
    ),
    ("convnet", CIFAR): (
        convnet_encoder(3),
        [
            *linear(1024 * 8 * 8),
            *(conv_t(1024, 512, 4, 2, 1), bn(512), RELU),
            *(conv_t(512, 256, 4, 2, 1, 1), bn(256), RELU),
            *(conv_t(256, 3, 4, 1, 2), SIGMOID),
        ],
    ),
    ("convnet", CELEBA): (
        convnet_encoder(3),
        [
            *linear(1024 * 8 * 8),
            *(conv_t(1024, 512, 5, 2, 2), bn(512), RELU),
            *(conv_t(512, 256, 5, 2, 1), bn(256), RELU),
            *(conv_t(256, 128, 5, 2, 2, 1), bn(128), RELU),
            *(conv_t(128, 3, 5, 1, 1), SIGMOID),
        ],
    ),
    ("resnet", MNIST): (
        [conv(1, 64, 4, 2, 1), conv(64, 128, 4, 2, 1), conv(128, 128, 3, 2, 1), RES, RES, FLATTEN],
        [
            *linear(128 * 4 * 4),
            *(conv_t(128, 128, 3, 2, 1), RES, RES, RELU),
            *(conv_t(128, 64, 3, 2, 1, 1), RELU),
            *(conv_t(64, 1, 3, 2, 1, 1), SIGMOID),
        ],
    ),
    ("resnet", CIFAR): (
        [conv(3, 64, 4, 2, 1), conv(64, 128, 4, 2, 1), conv(128, 128, 3, 1, 1), RES, RES, FLATTEN],
        [
            *linear(128 * 8 * 8),
            *(RES, RES, conv_t(128, 64, 4, 2, 1)),
            *(conv_t(64, 3, 4, 2, 1), SIGMOID),
        ],
    ),
    ("resnet", CELEBA): (
        [
            *(conv(3, 64, 4, 2, 1), conv(64, 128, 4, 2, 1)),
            *(conv(128, 128, 3, 2, 1), conv(128, 128, 3, 2, 1), RES, RES, FLATTEN),
        ],
        [
            *linear(128 * 4 * 4),
            *(conv_t(128, 128, 3, 2, 1), RES, RES),
            *(conv_t(128, 128, 5, 2, 1), SIGMOID),  # Pythae's sigmoid half-way
            *(conv_t(128, 64, 5, 2, 1, 1), conv_t(64, 3, 4, 2, 1), SIGMOID),
        ],
    ),
}


def count(rows):
    """Parameters of a layer list by hand: weights and biases; BatchNorm's scale and shift."""
    total = 0
    for kind, *args in rows:
        if kind in ("Conv2d", "ConvTranspose2d"):
            c_in, c_out, k = args[:3]
            total += c_in * c_out * k * k + c_out
        elif kind == "BatchNorm2d":
            total += 2 * args[0]
        elif kind == "Linear":
            total += args[0] * args[1] + args[1]
        elif kind == "ResBlock":  # Conv3×3(c → h), Conv1×1(h → c)
            c, h = args
            total += (c * h * 9 + h) + (h * c + c)
    return total


# the sums above by hand (encoder, decoder), as printed in the report
TOTALS = {
    ("convnet", MNIST): (11_017_856, 278_528 + 4_719_104 + 1_024 + 1_179_904 + 512 + 2_305),
    ("convnet", CIFAR): (
        11_017_856 + 2 * 128 * 16,
        1_114_112 + 8_389_120 + 1_024 + 2_097_408 + 512 + 12_291,
    ),
    ("convnet", CELEBA): (
        11_017_856 + 2 * 128 * 16,
        1_114_112 + 13_107_712 + 1_024 + 3_277_056 + 512 + 819_328 + 256 + 9_603,
    ),
    ("resnet", MNIST): (
        1_088 + 131_200 + 147_584 + 2 * 41_120,
        34_816 + 147_584 + 2 * 41_120 + 73_792 + 577,
    ),
    ("resnet", CIFAR): (
        3_136 + 131_200 + 147_584 + 2 * 41_120,
        139_264 + 2 * 41_120 + 131_136 + 3_075,
    ),
    ("resnet", CELEBA): (
        3_136 + 131_200 + 2 * 147_584 + 2 * 41_120,
        34_816 + 147_584 + 2 * 41_120 + 409_728 + 204_864 + 3_075,
    ),
}

FEATURES = {MNIST: (1024, 2048), CIFAR: (4096, 8192), CELEBA: (16384, 2048)}


def describe(module):
    """The rows of a net's `layers`, in the reference's terms."""
    rows = []
    for m in module.layers:
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d):
            geometry = (m.in_channels, m.out_channels, m.kernel_size[0], m.stride[0], m.padding[0])
            if isinstance(m, nn.ConvTranspose2d):
                rows.append(conv_t(*geometry, m.output_padding[0]))
            else:
                rows.append(conv(*geometry))
        elif isinstance(m, nn.BatchNorm2d):
            rows.append(bn(m.num_features))
        elif isinstance(m, nn.Linear):
            rows.append(("Linear", m.in_features, m.out_features))
        elif isinstance(m, ResBlock):
            rows.append(("ResBlock", m.block[1].in_channels, m.block[1].out_channels))
        else:
            rows.append((type(m).__name__,))
    return rows


def n_params(module):
    return sum(p.numel() for p in module.parameters())


# -- each net, built once, through a spec -------------------------------------------------------


@pytest.fixture(
    scope="module", params=list(REFERENCE), ids=lambda c: f"{c[0]}-{'x'.join(map(str, c[1]))}"
)
def built(request):
    """(arch, shape, model) of the vae spec on that net and shape: each net is built once."""
    arch, shape = request.param
    spec = gaespec.load_spec(
        "vae",
        [
            f"input.shape={list(shape)}",
            f"encoder.arch={arch}",
            f"decoder.arch={arch}",
            f"latent.dim={D}",
        ],
    )
    return arch, shape, gaespec.build(spec)


def test_layers_are_the_references_in_order(built):
    arch, shape, model = built
    encoder, decoder = REFERENCE[arch, shape]
    assert describe(model.encoder) == encoder
    assert describe(model.decoder) == decoder


def test_parameter_counts_are_the_references_summed_by_hand(built):
    arch, shape, model = built
    encoder, decoder = REFERENCE[arch, shape]
    assert (count(encoder), count(decoder)) == TOTALS[arch, shape]
    assert n_params(model.encoder) == count(encoder)
    assert n_params(model.decoder) == count(decoder)


def test_shapes_and_range(built):
    arch, shape, model = built
    torch.manual_seed(0)
    features = FEATURES[shape][arch == "resnet"]
    assert model.encoder.features == features
    assert model.encoder(torch.rand(2, *shape)).shape == (2, features)
    x = model.decoder(torch.randn(2, D) * 10)
    assert x.shape == (2, *shape)
    assert x.min() >= 0 and x.max() <= 1


# -- the parts ----------------------------------------------------------------------------------


def test_a_residual_block_is_x_plus_its_two_convolutions():
    torch.manual_seed(0)
    block = ResBlock(6, 3)
    x = torch.randn(2, 6, 5, 5)
    inner, outer = block.block[1], block.block[3]
    by_hand = x + F.conv2d(
        F.relu(F.conv2d(F.relu(x), inner.weight, inner.bias, padding=1)), outer.weight, outer.bias
    )
    torch.testing.assert_close(block(x), by_hand, rtol=1e-6, atol=1e-6)
    assert (inner.kernel_size, outer.kernel_size) == ((3, 3), (1, 1))


def test_the_mnist_convnet_is_mnist_convnets_weight_for_weight():
    torch.manual_seed(0)
    pairs = [
        (MNISTConvEncoder(), ConvNetEncoder(MNIST)),
        (MNISTConvDecoder(D), ConvNetDecoder(D, MNIST)),
    ]
    inputs = [torch.rand(2, *MNIST), torch.randn(2, D)]
    for (old, new), x in zip(pairs, inputs, strict=True):
        new.load_state_dict(old.state_dict())  # strict: the same names and shapes
        old.eval(), new.eval()
        assert torch.equal(new(x), old(x))  # the same operations, in the same order


def test_the_copies_in_a_standalone_file_are_the_same_nets():
    copied = copy_definitions([ConvNetEncoder, ConvNetDecoder, ResNetEncoder, ResNetDecoder])
    assert not any("gaespec" in d for d in copied.definitions)
    namespace: dict = {}
    exec(compile("\n".join(copied.imports), "<imports>", "exec"), namespace)
    for definition in copied.definitions:
        exec(compile(definition, "<copied>", "exec"), namespace)
    for name, table in TABLES.items():
        assert namespace[name] == table
    torch.manual_seed(0)
    for shape in (MNIST, CIFAR, CELEBA):  # the small ones, run
        pairs = [
            (ResNetEncoder(shape), namespace["ResNetEncoder"](shape), torch.rand(2, *shape)),
            (ResNetDecoder(D, shape), namespace["ResNetDecoder"](D, shape), torch.randn(2, D)),
        ]
        for ours, theirs, x in pairs:
            assert type(theirs) is not type(ours)
            theirs.load_state_dict(ours.state_dict())
            assert torch.equal(theirs(x), ours(x))  # the same operations, in the same order


def test_a_spec_on_these_nets_emits_a_file_that_takes_its_weights(tmp_path):
    spec = gaespec.load_spec(
        "vae", ["input.shape=[3, 64, 64]", "encoder.arch=resnet", "decoder.arch=resnet"]
    )
    text = emit(spec)
    for cls in (ResNetEncoder, ResNetDecoder, ResBlock):
        source = inspect.getsource(cls)
        assert source[source.index("class ") :] in text, cls.__name__
    torch.manual_seed(0)
    emitted = model_class(import_source(text, tmp_path))()
    ours = gaespec.build(spec)
    emitted.load_state_dict(ours.state_dict())
    emitted.eval(), ours.eval()
    x = torch.rand(2, *CELEBA)
    with torch.no_grad():
        assert torch.equal(emitted.reconstruct(x), ours.reconstruct(x))
    cifar = ["input.shape=[3, 32, 32]", "encoder.arch=convnet", "decoder.arch=convnet"]
    convnet = emit(gaespec.load_spec("vae", cifar))
    assert "class ConvNetEncoder(TableEncoder)" in convnet and "CONVNET_DECODERS = {" in convnet
