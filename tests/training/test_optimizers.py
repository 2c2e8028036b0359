"""Optimisers: the fused kernel by default where there is one, and the same update as Adam's."""

import pytest
import torch

from gaespec.spec.schema import OptimizerSpec
from gaespec.training.optimizers import make_optimizer


def _adam_by_hand(w, g, steps, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
    """Adam (Kingma & Ba 2015, Algorithm 1) on a constant gradient g, written out."""
    m, v = torch.zeros_like(w), torch.zeros_like(w)
    for t in range(1, steps + 1):
        m = betas[0] * m + (1 - betas[0]) * g
        v = betas[1] * v + (1 - betas[1]) * g * g
        m_hat, v_hat = m / (1 - betas[0] ** t), v / (1 - betas[1] ** t)
        w = w - lr * m_hat / (v_hat.sqrt() + eps)
    return w


def test_adam_is_fused_by_default_and_makes_adams_update():
    torch.manual_seed(0)
    w = torch.nn.Parameter(torch.randn(10, 7, dtype=torch.float64))
    g = torch.randn(10, 7, dtype=torch.float64)
    expected = _adam_by_hand(w.detach().clone(), g, steps=3)
    optimizer = make_optimizer(OptimizerSpec(), [w], "objective.optimizer")
    assert optimizer.defaults["fused"] is True
    for _ in range(3):
        w.grad = g.clone()
        optimizer.step()
    torch.testing.assert_close(w.detach(), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("option", [{"fused": False}, {"foreach": True}])
def test_a_spec_that_chooses_the_kernel_keeps_its_choice(option):
    w = torch.nn.Parameter(torch.randn(3))
    optimizer = make_optimizer(OptimizerSpec(**option), [w], "objective.optimizer")
    assert optimizer.defaults["fused"] is (None if "foreach" in option else False)
    assert optimizer.defaults["foreach"] is option.get("foreach")


def test_an_optimiser_without_a_fused_kernel_is_made_as_named():
    w = torch.nn.Parameter(torch.randn(3))
    optimizer = make_optimizer(OptimizerSpec(name="rmsprop", lr=0.01), [w], "o.optimizer")
    assert type(optimizer).__name__ == "RMSprop" and "fused" not in optimizer.defaults
