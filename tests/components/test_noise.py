"""A process's share of a batch draws its rows of the whole batch's noise, and every process's
random stream moves on alike."""

from __future__ import annotations

import torch

from gaespec.components.distributions import DiagGaussian, StandardNormalDistribution
from gaespec.components.noise import SHARE, batch_draw, sharing
from gaespec.components.vamp import GaussianMixture

B, D, K = 10, 3, 2


def _whole_then_share(draw, start: int, size: int):
    """draw(rows of the whole batch) and draw(rows of the share) from the same random state,
    with the random states after each."""
    torch.manual_seed(7)
    whole = draw(0, B)
    after_whole = torch.get_rng_state()
    torch.manual_seed(7)
    with sharing(start, size, B):
        part = draw(start, size)
    return whole, part, after_whole, torch.get_rng_state()


def test_a_shares_posterior_samples_are_its_rows_of_the_whole_batchs():
    mean, log_var = torch.randn(B, D), torch.randn(B, D)

    def draw(start, size):
        q = DiagGaussian(mean[start : start + size], log_var[start : start + size])
        return q.rsample(K)  # (k b d)

    whole, part, after_whole, after_part = _whole_then_share(draw, 3, 4)
    assert part.shape == (K, 4, D)
    torch.testing.assert_close(part, whole[:, 3:7], rtol=1e-6, atol=1e-7)
    assert torch.equal(after_part, after_whole)  # the stream moved on by the whole batch's draw


def test_prior_and_mixture_samples_for_k_passes_over_a_share_are_its_rows():
    """Rows k·b run over the batch k times ("(k b)"): the share's are rows start..start+size of
    each pass."""
    normal = StandardNormalDistribution(D)
    whole, part, after_whole, after_part = _whole_then_share(
        lambda start, size: normal.sample(K * size), 6, 4
    )
    expected = whole.reshape(K, B, D)[:, 6:10].reshape(K * 4, D)
    assert torch.equal(part, expected)
    assert torch.equal(after_part, after_whole)

    mixture = GaussianMixture(torch.randn(5, D), torch.randn(5, D))
    whole, part, _, _ = _whole_then_share(lambda start, size: mixture.sample(size), 0, 5)
    torch.testing.assert_close(part, whole[:5], rtol=1e-6, atol=1e-7)


def test_outside_a_share_a_draw_is_the_plain_draw():
    torch.manual_seed(3)
    plain = torch.randn(K * B, D)
    torch.manual_seed(3)
    drawn = batch_draw(lambda shape: torch.randn(shape), K * B, D)
    assert torch.equal(drawn, plain)
    with sharing(2, 4, B):
        pass
    assert (SHARE.start, SHARE.size, SHARE.total) == (0, 0, 0)  # restored on leaving
