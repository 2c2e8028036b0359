"""The composed model: the Python API of the design, custom nets, and shape checks at build time."""

from __future__ import annotations

from copy import deepcopy

import pytest
import torch
from tiny import tiny_spec
from torch import nn

import gaespec
from gaespec.errors import GraphError


@pytest.fixture(autouse=True)
def toy_nets_on_path(monkeypatch):
    monkeypatch.syspath_prepend("tests/nets")


def test_the_python_api_of_the_design():
    spec = gaespec.load_spec("specs/models/beta_vae.toml", overrides={"params.beta": 4})
    model = gaespec.build(spec)
    x = torch.rand(2, 1, 28, 28)
    out = model(x)
    assert set(out.terms) == {"recon", "kl"} and set(out.losses) == {"loss"}
    expected = out.terms["recon"] + 4 * out.terms["kl"]
    torch.testing.assert_close(out.losses["loss"], expected, rtol=1e-6, atol=1e-6)
    z = model.encode(x).mean
    assert z.shape == (2, 16)
    assert model.decode(z).shape == (2, 1, 28, 28)
    assert out.tensors["z"].shape == (1, 2, 16)


def test_state_dict_keys_are_stable_names():
    model = gaespec.build(gaespec.load_spec("specs/models/aae.toml"))
    roots = {key.split(".")[0] for key in model.state_dict()}
    assert roots == {"encoder", "posterior", "decoder", "critic"}
    assert "posterior.log_var.weight" in model.state_dict()


def test_iwae_decodes_k_samples_per_input():
    model = gaespec.build(tiny_spec("iwae"))
    out = model(torch.rand(3, 1, 8, 8))
    assert out.tensors["z"].shape == (5, 3, 4)
    assert out.tensors["x_hat"].shape == (5, 3, 1, 8, 8)


def test_vq_decode_quantises_first():
    model = gaespec.build(tiny_spec("vqvae")).eval()  # in training, a pass restarts codewords
    z = torch.randn(4, 4)
    _, codes, _ = model.codebook(z[None])
    # straight-through: z + sg(e − z) equals e up to float rounding
    torch.testing.assert_close(model.decode(z), model.decoder(codes[0]), rtol=1e-5, atol=1e-6)


def test_custom_nets_by_import_path():
    spec = gaespec.load_spec(
        "vae",
        [
            "input.shape=[1,8,8]",
            "latent.dim=4",
            "encoder.arch=toy_nets:TinyEncoder",
            "encoder.width=7",
            "decoder.arch=toy_nets:TinyDecoder",
        ],
    )
    model = gaespec.build(spec)
    assert model.posterior.mean.in_features == 7
    assert model(torch.rand(2, 1, 8, 8)).loss.isfinite()


def test_a_custom_decoder_of_the_wrong_shape_is_caught_at_build():
    spec = gaespec.load_spec(
        "vae", ["input.shape=[1,8,8]", "encoder.arch=mlp", "decoder.arch=toy_nets:HalfDecoder"]
    )
    with pytest.raises(GraphError) as caught:
        gaespec.build(spec)
    assert str(caught.value) == (
        "--set: decoder.arch: the decoder must map codes (b, 16) to (b, 1×8×8), but it gave "
        "shape (2, 1, 8, 4)"
    )


def test_user_nets_passed_in_python():
    class Encoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(64, 10)

        def forward(self, x):
            return self.fc(x.flatten(1))

    class WrongDecoder(nn.Module):
        def forward(self, z):
            return torch.zeros(z.shape[0], 1, 4, 4)

    spec = tiny_spec("vae")
    model = gaespec.build(spec, encoder=Encoder())
    assert model.posterior.mean.in_features == 10
    with pytest.raises(GraphError) as caught:
        gaespec.build(spec, decoder=WrongDecoder())
    assert str(caught.value).endswith(
        "decoder.arch: the decoder must map codes (b, 4) to (b, 1×8×8), but it gave shape "
        "(2, 1, 4, 4)"
    )


def test_named_schedules_and_inline_schedules_count_steps():
    spec = gaespec.load_spec(
        "vae",
        [
            "input.shape=[1,8,8]",
            "encoder.arch=mlp",
            "decoder.arch=mlp",
            "latent.dim=4",
            'schedules.warm={kind="linear", args=[0, 1, 100]}',
            'schedules.per_epoch={kind="warmup", args=[4], unit="epoch"}',
            'objective.loss="recon + warm * kl + per_epoch * kl + cyclical(0, 2, 10) * kl"',
        ],
    )
    model = gaespec.build(spec)
    torch.manual_seed(0)
    out = model(torch.rand(3, 1, 8, 8), step=25, epoch=2)
    recon, kl = out.terms["recon"], out.terms["kl"]
    # linear(0, 1, 100) at step 25 = 0.25; warmup(4) at epoch 2 = 0.5;
    # cyclical(0, 2, 10) at step 25: t = 0.5 of the cycle, ramp over 0.5 → 2
    torch.testing.assert_close(out.loss, recon + (0.25 + 0.5 + 2.0) * kl, rtol=1e-6, atol=1e-6)


def test_build_takes_a_path_or_a_name():
    assert isinstance(gaespec.build("specs/models/ae.toml").decoder, nn.Module)
    with pytest.raises(GraphError) as caught:
        gaespec.build(42)
    assert str(caught.value) == "build() takes a Spec, a ModelGraph or a spec path, not int"


def test_user_nets_replace_nets_the_spec_could_not_build():
    """The spec's mnist_convnet cannot take 1×8×8 digits; the user's own nets can."""

    class Encoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(64, 12)

        def forward(self, x):
            return self.fc(x.flatten(1))

    class Decoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(16, 64)

        def forward(self, z):
            return torch.sigmoid(self.fc(z)).reshape(-1, 1, 8, 8)

    spec = gaespec.load_spec("vae", ["input.shape=[1,8,8]"])
    with pytest.raises(GraphError):
        gaespec.build(spec)
    model = gaespec.build(spec, encoder=Encoder(), decoder=Decoder())
    assert model(torch.rand(3, 1, 8, 8)).loss.isfinite()
    assert model.posterior.mean.in_features == 12


def test_the_calls_bound_once_follow_what_the_model_holds():
    """The program's calls are looked up once; after a move to float64, in a deep copy whose
    decoder is zeroed, and after the decoder is replaced, each model runs its own modules."""

    class Half(nn.Module):
        def forward(self, z):
            return torch.full((len(z), 1, 8, 8), 0.5, dtype=z.dtype)

    model = gaespec.build(tiny_spec("ae"))
    x = torch.rand(3, 1, 8, 8, dtype=torch.float64)
    recon = model(x.float()).terms["recon"]
    model.to(torch.float64)
    moved = model(x).terms["recon"]
    assert moved.dtype == torch.float64
    torch.testing.assert_close(moved, recon.double(), rtol=1e-5, atol=0)
    copy = deepcopy(model)
    with torch.no_grad():
        for p in copy.decoder.parameters():
            p.zero_()  # x̂ = sigmoid(0) = 0.5 everywhere
    half = ((x - 0.5) ** 2).sum((1, 2, 3)).mean()
    # x̂ = 0.5 exactly; the sums of 64 squares may round in another order than .sum's
    torch.testing.assert_close(copy(x).terms["recon"], half, rtol=1e-12, atol=0)
    assert torch.equal(model(x).terms["recon"], moved)  # the same arithmetic run again
    model.decoder = Half()
    torch.testing.assert_close(model(x).terms["recon"], half, rtol=1e-12, atol=0)
