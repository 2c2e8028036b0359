import pytest
import torch
from torch import nn

from gaespec.nets.mlp import MLPDecoder, MLPEncoder


def linear_widths(module):
    return [(m.in_features, m.out_features) for m in module.modules() if isinstance(m, nn.Linear)]


def test_encoder_flattens_and_ends_at_last_hidden_width():
    enc = MLPEncoder((3, 4, 5), hidden=(32, 16))
    assert enc.features == 16
    assert linear_widths(enc) == [(60, 32), (32, 16)]
    assert enc(torch.rand(2, 3, 4, 5)).shape == (2, 16)


def test_encoder_default_is_one_layer_of_512():
    enc = MLPEncoder((1, 28, 28))
    assert enc.features == 512
    assert linear_widths(enc) == [(784, 512)]
    assert [k for k in enc.state_dict()] == ["layers.1.weight", "layers.1.bias"]


def test_encoder_takes_flat_vectors():
    assert MLPEncoder((7,), hidden=[5])(torch.rand(2, 7)).shape == (2, 5)


def test_decoder_widths_shape_and_sigmoid_range():
    dec = MLPDecoder(4, (2, 3, 5), hidden=(8, 6))
    assert linear_widths(dec) == [(4, 8), (8, 6), (6, 30)]
    x = dec(torch.randn(2, 4) * 100)
    assert x.shape == (2, 2, 3, 5)
    assert x.min() >= 0 and x.max() <= 1


def test_decoder_identity_output_is_unbounded():
    dec = MLPDecoder(4, (3,), hidden=(8,), output="identity")
    torch.manual_seed(0)
    x = dec(torch.randn(64, 4) * 100)
    assert x.shape == (64, 3)
    assert x.min() < 0 and x.max() > 1


def test_bad_options_raise_the_rule_message():
    """The classes are plain torch (copied into emitted files); nets.make_* check them first."""
    from gaespec import nets
    from gaespec.errors import GraphError

    with pytest.raises(GraphError) as err:
        nets.make_encoder("mlp", (3,), {"hidden": []})
    assert str(err.value) == "mlp hidden must list at least one width, got []"
    with pytest.raises(GraphError) as err:
        nets.make_decoder("mlp", 4, (3,), {"output": "tanh"})
    assert str(err.value) == "mlp decoder output must be one of 'sigmoid', 'identity', got 'tanh'"
