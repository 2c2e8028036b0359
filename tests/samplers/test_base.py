"""Embedding training data: posterior means by default, posterior samples when told."""

import pytest
import torch
from tiny import tiny_spec

import gaespec
from gaespec.errors import SamplerError
from gaespec.samplers import embed, make_sampler


def tiny_model():
    torch.manual_seed(0)
    return gaespec.build(tiny_spec("vae"))


def test_embedding_by_samples_is_seeded_and_draws_from_the_posterior():
    model = tiny_model().train()
    x = torch.rand(30, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    state = torch.random.get_rng_state()
    z = embed(model, x, embedding="sample", seed=3)
    assert torch.equal(torch.random.get_rng_state(), state) and model.training
    assert torch.equal(z, embed(model, x, embedding="sample", seed=3))
    assert not torch.equal(z, embed(model, x, embedding="sample", seed=4))
    # independently: μ + σ·ε with ε from torch.manual_seed(3), in eval mode
    with torch.no_grad():
        q = model.eval().encode(x)
        torch.manual_seed(3)
        expected = q.mean + torch.exp(0.5 * q.log_var) * torch.randn(1, *q.mean.shape)[0]
    torch.testing.assert_close(z, expected, rtol=0, atol=0)
    assert torch.equal(embed(model, x), q.mean)


def test_a_sampler_told_to_fits_posterior_samples():
    model = tiny_model()
    x = torch.rand(40, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    by_mean = make_sampler("maf", epochs=1, hidden=[8]).fit(model, x)
    by_sample = make_sampler("maf", epochs=1, hidden=[8], embedding="sample").fit(model, x)
    torch.testing.assert_close(by_mean.shift, embed(model, x).mean(0), rtol=0, atol=1e-6)
    z = embed(model, x, embedding="sample", seed=0)
    torch.testing.assert_close(by_sample.shift, z.mean(0), rtol=0, atol=1e-6)


def test_an_unknown_embedding_is_refused():
    with pytest.raises(SamplerError) as e:
        embed(tiny_model(), torch.rand(2, 1, 8, 8), embedding="mode")
    assert str(e.value) == "embedding must be 'mean' or 'sample', got 'mode'"
