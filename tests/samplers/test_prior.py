import pytest
import torch
from tiny import StubModel, tiny_vae

from gaespec.errors import SamplerError
from gaespec.samplers import make_sampler, sample


def test_prior_codes_are_standard_normal():
    torch.manual_seed(0)
    codes = make_sampler("prior").fit(StubModel(dim=3)).sample(20_000)
    assert codes.shape == (20_000, 3)
    # 20 000 draws: the standard error of each is under 0.01
    torch.testing.assert_close(codes.mean(0), torch.zeros(3), rtol=0, atol=0.03)
    torch.testing.assert_close(codes.std(0), torch.ones(3), rtol=0, atol=0.03)


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
