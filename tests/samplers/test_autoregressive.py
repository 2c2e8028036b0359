"""The affine autoregressive flow shared by MAF and IAF: triangular Jacobians, exact inverses."""

import torch

from gaespec.samplers.autoregressive import AffineAutoregressiveFlow, AffineAutoregressiveStep


def _random(n: int, d: int, seed: int) -> torch.Tensor:
    return torch.randn(n, d, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))


def test_a_layer_is_autoregressive_with_the_log_determinant_it_reports():
    torch.manual_seed(0)
    step = AffineAutoregressiveStep(5, (16, 16)).double()
    x = _random(1, 5, seed=1)[0]
    jacobian = torch.autograd.functional.jacobian(lambda p: step(p[None])[0][0], x)
    # u_i depends on x_1 … x_i only: a lower-triangular Jacobian, diagonal exp(−α_i)
    assert torch.equal(jacobian.triu(1), torch.zeros(5, 5, dtype=torch.float64))
    _, alpha = step.made(x[None]).unbind(1)
    torch.testing.assert_close(jacobian.diagonal(), torch.exp(-alpha[0]), rtol=1e-12, atol=0)
    _, log_det = step(x[None])
    torch.testing.assert_close(
        log_det[0], torch.linalg.slogdet(jacobian).logabsdet, rtol=0, atol=1e-12
    )


def test_the_flow_and_its_inverse_undo_each_other_with_matching_log_determinants():
    torch.manual_seed(0)
    flow = AffineAutoregressiveFlow(4, blocks=3, hidden=(16,)).double()
    x = _random(20, 4, seed=2)
    u, log_det = flow(x)
    back, log_det_back = flow.inverse(u)
    torch.testing.assert_close(back, x, rtol=0, atol=1e-10)
    torch.testing.assert_close(log_det_back, log_det, rtol=0, atol=1e-10)


def test_the_order_of_the_dims_is_reversed_between_layers():
    torch.manual_seed(0)
    flow = AffineAutoregressiveFlow(4, blocks=2, hidden=(16,)).double()
    x = _random(1, 4, seed=3)[0]
    jacobian = torch.autograd.functional.jacobian(lambda p: flow(p[None])[0][0], x)
    # two layers of opposite orders: every output depends on every input
    assert (jacobian.abs() > 0).all()
    with torch.no_grad():
        first, _ = flow.steps[0](x[None])
        expected, _ = flow.steps[1](first.flip(-1))
    torch.testing.assert_close(flow(x[None])[0], expected, rtol=0, atol=0)
