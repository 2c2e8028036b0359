"""The vamp sampler: codes from a VAMP model's own mixture prior; other models are refused."""

import pytest
import torch
from tiny import tiny_spec

import gaespec
from gaespec.errors import SamplerError
from gaespec.samplers import make_sampler


def sharp_vamp():
    """A tiny VAMP model with 5 pseudo-inputs whose posteriors have variance e^-30 (std 3e-7)."""
    torch.manual_seed(0)
    model = gaespec.build(tiny_spec("vamp", "prior.components=5"))
    with torch.no_grad():
        model.posterior.log_var.weight.zero_()
        model.posterior.log_var.bias.fill_(-30.0)
    return model


def test_each_code_is_one_pseudo_input_mean_drawn_uniformly():
    model = sharp_vamp()
    means = model.prior().mean.detach()  # (5 d): the pseudo-inputs' posterior means
    assert torch.cdist(means, means).add(torch.eye(5)).min() > 0.01  # five distinct components
    z = make_sampler("vamp").fit(model).codes(5000, torch.Generator().manual_seed(1))
    distance, nearest = (z[:, None] - means[None]).norm(dim=-1).min(1)  # (n), exact differences
    assert distance.max() < 1e-5  # within 30 standard deviations of a component's mean
    # 5,000 uniform draws: each share 0.2 with standard error 0.006
    shares = torch.bincount(nearest, minlength=5) / len(z)
    torch.testing.assert_close(shares, torch.full((5,), 0.2), rtol=0, atol=0.025)


def test_seeded_codes_repeat_and_images_have_the_data_shape():
    model = sharp_vamp()
    s = make_sampler("vamp").fit(model)
    state = torch.random.get_rng_state()
    a = s.sample(6, generator=torch.Generator().manual_seed(2))
    assert torch.equal(a, s.sample(6, generator=torch.Generator().manual_seed(2)))
    assert torch.equal(torch.random.get_rng_state(), state)
    assert a.shape == (6, 1, 8, 8)


def test_a_model_without_a_vampprior_is_refused():
    model = gaespec.build(tiny_spec("vae"))
    with pytest.raises(SamplerError) as e:
        make_sampler("vamp").fit(model)
    assert str(e.value) == (
        "the vamp sampler draws from a VampPrior, but this model's prior is 'standard_normal'; "
        "fix: use the prior sampler, or a model whose spec has [prior] kind = 'vamp'"
    )


def test_vamp_reads_no_data_and_takes_no_options():
    with pytest.raises(SamplerError) as e:
        make_sampler("vamp", seed=0)
    assert str(e.value) == "the vamp sampler has no option 'seed' (options: none)"
    assert make_sampler("vamp").uses_codes is False
