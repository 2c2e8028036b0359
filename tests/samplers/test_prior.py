from dataclasses import dataclass

import pytest
import torch
from torch import nn

import gaespec
from gaespec.components.distributions import StandardNormalDistribution
from gaespec.errors import SamplerError
from gaespec.samplers import make_sampler, sample


@dataclass
class StubPosterior:
    """A posterior whose samples differ from its mean, so using rsample would show."""

    mean: torch.Tensor

    def rsample(self, k: int = 1) -> torch.Tensor:
        return self.mean + 1000.0


class StubModel(nn.Module):
    """encode(x).mean = x (the codes are the inputs); decode(z) = z; prior N(0, I) in `dim`."""

    def __init__(self, dim: int = 2):
        super().__init__()
        self.dim = dim
        self.calls: list[tuple[int, bool, bool]] = []  # (batch size, training, grad enabled)

    def encode(self, x: torch.Tensor) -> StubPosterior:
        self.calls.append((len(x), self.training, torch.is_grad_enabled()))
        return StubPosterior(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return z

    def prior(self) -> StandardNormalDistribution:
        return StandardNormalDistribution(self.dim)


def tiny_vae():
    """A VAE with one-layer MLPs of 32 and a 4-d latent space, on 1×28×28 images."""
    spec = gaespec.load_spec(
        "specs/models/vae.toml",
        overrides=[
            "encoder.arch='mlp'",
            "decoder.arch='mlp'",
            "encoder.hidden=[32]",
            "decoder.hidden=[32]",
            "latent.dim=4",
        ],
    )
    return gaespec.build(spec)


def test_prior_codes_are_standard_normal():
    torch.manual_seed(0)
    codes = make_sampler("prior").fit(StubModel(dim=3)).sample(20_000)
    assert codes.shape == (20_000, 3)
    assert torch.allclose(codes.mean(0), torch.zeros(3), atol=0.03)
    assert torch.allclose(codes.std(0), torch.ones(3), atol=0.03)


def test_prior_fit_reads_no_data():
    model = StubModel()
    make_sampler("prior").fit(model, torch.rand(7, 2))
    assert model.calls == []


def test_same_generator_same_images_and_global_rng_untouched():
    model = StubModel()
    s = make_sampler("prior").fit(model)
    state = torch.random.get_rng_state()
    a = s.sample(5, generator=torch.Generator().manual_seed(3))
    b = s.sample(5, generator=torch.Generator().manual_seed(3))
    c = s.sample(5, generator=torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.equal(torch.random.get_rng_state(), state)


def test_tiny_vae_images_shape_range_and_mode_restored():
    model = tiny_vae().train()
    images = sample(model, "prior", 6, None, seed=0)
    assert images.shape == (6, 1, 28, 28)
    assert images.min() >= 0 and images.max() <= 1
    assert not images.requires_grad
    assert model.training
    assert torch.equal(images, sample(model, "prior", 6, None, seed=0))


def test_sample_before_fit_and_bad_n():
    with pytest.raises(SamplerError) as e:
        make_sampler("prior").sample(3)
    assert str(e.value) == (
        "the prior sampler is not fitted yet; fix: call .fit(model, x_train) before .sample(n)"
    )
    with pytest.raises(SamplerError) as e:
        make_sampler("prior").fit(StubModel()).sample(-1)
    assert str(e.value) == "the number of samples must be an integer ≥ 0, got -1"


def test_zero_samples_are_an_empty_batch():
    assert make_sampler("prior").fit(StubModel()).sample(0).shape == (0, 2)
