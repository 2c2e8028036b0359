import pytest
import torch
from einops import rearrange
from tiny import StubModel, tiny_vae

from gaespec.errors import SamplerError
from gaespec.samplers import SAMPLERS, known_samplers, make_sampler, sample
from gaespec.samplers.gmm import GMMSampler
from gaespec.samplers.registry import sampler

# ten well-separated centres in 2-d: a 5×2 grid with spacing 10
CENTRES = torch.tensor([[10.0 * i, 10.0 * j] for i in range(5) for j in range(2)])


def clustered_codes(per_cluster: int = 100, std: float = 0.1) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    noise = std * torch.randn(len(CENTRES), per_cluster, 2, generator=g)
    return rearrange(CENTRES[:, None] + noise, "k n d -> (k n) d")


def by_rows(t: torch.Tensor) -> torch.Tensor:
    """Rows sorted by their grid cell: first coordinate, then second, each rounded to the grid."""
    cell = torch.round(t / 10)
    return t[torch.argsort(cell[:, 0] * 100 + cell[:, 1])]


def test_fitted_means_are_the_known_centres():
    s = make_sampler("gmm").fit(StubModel(), clustered_codes())
    assert s.means.shape == (10, 2) and s.covariances.shape == (10, 2, 2)
    # means of 100 codes of std 0.1: within 0.1 of the centres (10 standard errors)
    torch.testing.assert_close(by_rows(s.means.float()), by_rows(CENTRES), rtol=0, atol=0.1)
    weights = torch.full((10,), 0.1, dtype=torch.float64)
    torch.testing.assert_close(s.weights, weights, rtol=0, atol=1e-6)
    # covariances 0.01·I: a variance from 100 codes has standard error 0.0014, so within 3 of them
    covariances = torch.eye(2, dtype=torch.float64).expand(10, 2, 2) * 0.01
    torch.testing.assert_close(s.covariances, covariances, rtol=0, atol=0.0045)
    assert s.report["converged"]


def test_samples_fall_around_the_centres_evenly():
    s = make_sampler("gmm").fit(StubModel(), clustered_codes())
    z = s.sample(5000, generator=torch.Generator().manual_seed(1))
    nearest = torch.cdist(z, CENTRES).argmin(1)
    counts = torch.bincount(nearest, minlength=10) / len(z)
    torch.testing.assert_close(counts, torch.full((10,), 0.1), rtol=0, atol=0.02)
    spread = (z - CENTRES[nearest]).std(0)
    torch.testing.assert_close(spread, torch.full((2,), 0.1), rtol=0, atol=0.02)


def test_fit_embeds_with_the_posterior_mean_in_eval_batches_of_500():
    model = StubModel().train()
    s = make_sampler("gmm").fit(model, clustered_codes(per_cluster=120))
    assert model.calls == [(500, False, False), (500, False, False), (200, False, False)]
    assert model.training
    assert s.means.abs().max() < 100  # rsample would have shifted every code by 1000


def test_tiny_vae_images_shape_and_range():
    model = tiny_vae()
    images = sample(model, "gmm", 7, torch.rand(40, 1, 28, 28), seed=0, n_components=3)
    assert images.shape == (7, 1, 28, 28)
    assert images.min() >= 0 and images.max() <= 1


def test_seeded_sampling_is_reproducible():
    codes = clustered_codes()
    a = sample(StubModel(), "gmm", 9, codes, seed=2)
    assert torch.equal(a, sample(StubModel(), "gmm", 9, codes, seed=2))
    assert not torch.equal(a, sample(StubModel(), "gmm", 9, codes, seed=3))


def test_too_few_codes():
    with pytest.raises(SamplerError) as e:
        make_sampler("gmm").fit(StubModel(), torch.rand(3, 2))
    assert str(e.value) == (
        "the gmm sampler needs at least 10 training codes to fit 10 components, got 3; "
        "fix: pass more training images or a smaller n_components"
    )


def test_bad_options():
    with pytest.raises(SamplerError) as e:
        make_sampler("gmm", n_component=5)
    assert str(e.value) == (
        "the gmm sampler has no option 'n_component' (options: n_components, seed, embedding); "
        "closest valid choice: 'n_components'"
    )
    with pytest.raises(SamplerError) as e:
        make_sampler("gmm", n_components=0)
    assert str(e.value) == "the gmm sampler's n_components must be a positive integer, got 0"


def test_unknown_name_lists_known_and_closest():
    with pytest.raises(SamplerError) as e:
        make_sampler("gmn")
    known = ", ".join(known_samplers())
    assert known_samplers() == ["gmm", "iaf", "maf", "prior", "two_stage", "vamp"]
    assert str(e.value) == f"unknown sampler 'gmn' (known: {known}); closest valid choice: 'gmm'"


def test_registering_a_name_twice_raises():
    known_samplers()
    with pytest.raises(ValueError, match="^sampler 'gmm' is registered twice$"):
        sampler("gmm")(type("Other", (GMMSampler,), {}))
    assert SAMPLERS.get("gmm") is GMMSampler
