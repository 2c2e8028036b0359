import pytest
import torch
from torch import nn

from gaespec.nets.mnist_convnet import MNISTConvDecoder, MNISTConvEncoder


def layer_list(module):
    """(type, c_in, c_out, kernel, stride, padding, output_padding) of each layer, in order."""
    rows = []
    for m in module.layers:
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d):
            op = m.output_padding[0] if isinstance(m, nn.ConvTranspose2d) else None
            rows.append(
                (
                    type(m).__name__,
                    m.in_channels,
                    m.out_channels,
                    m.kernel_size[0],
                    m.stride[0],
                    m.padding[0],
                    op,
                )
            )
        elif isinstance(m, nn.BatchNorm2d):
            rows.append(("BatchNorm2d", m.num_features))
        elif isinstance(m, nn.Linear):
            rows.append(("Linear", m.in_features, m.out_features))
        else:
            rows.append((type(m).__name__,))
    return rows


def n_params(module):
    return sum(p.numel() for p in module.parameters())


def conv(c_in, c_out, k):
    return c_in * c_out * k * k + c_out  # weight + bias


def bn(c):
    return 2 * c  # weight + bias (running stats are buffers)


def test_encoder_layers_match_pythae():
    assert layer_list(MNISTConvEncoder()) == [
        ("Conv2d", 1, 128, 4, 2, 1, None),
        ("BatchNorm2d", 128),
        ("ReLU",),
        ("Conv2d", 128, 256, 4, 2, 1, None),
        ("BatchNorm2d", 256),
        ("ReLU",),
        ("Conv2d", 256, 512, 4, 2, 1, None),
        ("BatchNorm2d", 512),
        ("ReLU",),
        ("Conv2d", 512, 1024, 4, 2, 1, None),
        ("BatchNorm2d", 1024),
        ("ReLU",),
        ("Flatten",),
    ]


def test_decoder_layers_match_pythae():
    assert layer_list(MNISTConvDecoder(16)) == [
        ("Linear", 16, 1024 * 4 * 4),
        ("Unflatten",),
        ("ConvTranspose2d", 1024, 512, 3, 2, 1, 0),
        ("BatchNorm2d", 512),
        ("ReLU",),
        ("ConvTranspose2d", 512, 256, 3, 2, 1, 1),
        ("BatchNorm2d", 256),
        ("ReLU",),
        ("ConvTranspose2d", 256, 1, 3, 2, 1, 1),
        ("Sigmoid",),
    ]


def test_encoder_parameter_count_by_hand():
    # 2176 + 256 + 524544 + 512 + 2097664 + 1024 + 8389632 + 2048
    expected = (
        conv(1, 128, 4)
        + bn(128)
        + conv(128, 256, 4)
        + bn(256)
        + conv(256, 512, 4)
        + bn(512)
        + conv(512, 1024, 4)
        + bn(1024)
    )
    assert expected == 11_017_856
    assert n_params(MNISTConvEncoder()) == expected


def test_decoder_parameter_count_by_hand():
    d = 16
    expected = (
        (d * 16384 + 16384)  # Linear(d, 1024·4·4)
        + conv(1024, 512, 3)
        + bn(512)
        + conv(512, 256, 3)
        + bn(256)
        + conv(256, 1, 3)
    )
    assert expected == 278_528 + 4_719_104 + 1_024 + 1_179_904 + 512 + 2_305
    assert n_params(MNISTConvDecoder(d)) == expected


def test_shapes_and_range():
    enc, dec = MNISTConvEncoder(), MNISTConvDecoder(16)
    assert enc.features == 1024
    h = enc(torch.rand(2, 1, 28, 28))
    assert h.shape == (2, 1024)
    x = dec(torch.randn(2, 16) * 10)
    assert x.shape == (2, 1, 28, 28)
    assert x.min() >= 0 and x.max() <= 1


def test_state_dict_keys_are_short_and_stable():
    keys = list(MNISTConvDecoder(4).state_dict())
    assert keys[:4] == ["layers.0.weight", "layers.0.bias", "layers.2.weight", "layers.2.bias"]
    assert all(k.startswith("layers.") for k in keys)


def test_other_shapes_are_refused():
    """The classes are plain torch (copied into emitted files); nets.make_* check them first."""
    from gaespec import nets
    from gaespec.errors import GraphError

    with pytest.raises(GraphError) as err:
        nets.make_encoder("mnist_convnet", (1, 8, 8))
    assert str(err.value).startswith(
        "mnist_convnet encoder accepts only input shape (1, 28, 28), got (1, 8, 8)"
    )
    with pytest.raises(GraphError) as err:
        nets.make_decoder("mnist_convnet", 4, (3, 32, 32))
    assert str(err.value).startswith(
        "mnist_convnet decoder produces shape (1, 28, 28), not the requested (3, 32, 32)"
    )
