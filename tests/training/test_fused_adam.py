"""FusedAdamStep against torch's own Adam/AdamW step: the same kernel on the same tensors, so the
weights and moments are compared bit for bit (the arithmetic is identical, not just close)."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from gaespec.training.fused_adam import FusedAdamStep


def _net(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 5), nn.Tanh(), nn.Linear(5, 3))


def _gradients(net: nn.Module, step: int) -> None:
    """The gradients of a fixed loss at batch `step` (the same for both copies)."""
    x = torch.randn(8, 6, generator=torch.Generator().manual_seed(step))
    for p in net.parameters():
        p.grad = None
    (net(x) ** 2).sum().backward()


def _counting(optimizer: torch.optim.Optimizer) -> list[int]:
    """Count the calls of optimizer.step (the usual path)."""
    calls = [0]
    usual = optimizer.step

    def step(*args, **kwargs):
        calls[0] += 1
        return usual(*args, **kwargs)

    optimizer.step = step
    return calls


def _assert_same(reference: torch.optim.Optimizer, direct: torch.optim.Optimizer) -> None:
    for a, b in zip(
        reference.param_groups[0]["params"], direct.param_groups[0]["params"], strict=True
    ):
        assert torch.equal(a, b)
        for key in ("exp_avg", "exp_avg_sq", "step"):
            assert torch.equal(reference.state[a][key], direct.state[b][key]), key


@pytest.mark.parametrize(
    "make",
    [
        lambda ps: torch.optim.Adam(ps, lr=1e-2, fused=True),
        lambda ps: torch.optim.Adam(ps, lr=1e-2, weight_decay=0.1, fused=True),
        lambda ps: torch.optim.AdamW(ps, lr=1e-2, betas=(0.8, 0.99), fused=True),
        lambda ps: torch.optim.Adam(ps, lr=1e-2, maximize=True, eps=1e-6, fused=True),
    ],
    ids=["adam", "adam-l2", "adamw", "adam-maximize"],
)
def test_the_direct_step_equals_torchs_step_bit_for_bit(make):
    nets = _net(), _net()
    reference, direct = make(nets[0].parameters()), make(nets[1].parameters())
    schedulers = [
        torch.optim.lr_scheduler.StepLR(o, step_size=2, gamma=0.5) for o in (reference, direct)
    ]
    calls = _counting(direct)
    stepping = FusedAdamStep(direct)
    assert stepping.direct
    for step in range(6):
        for net in nets:
            _gradients(net, step)
        reference.step()
        stepping()
        for scheduler in schedulers:
            scheduler.step()
        _assert_same(reference, direct)
    # only the first step (which makes the state) went the usual way
    assert calls[0] == 1
    assert direct.param_groups[0]["lr"] == pytest.approx(1e-2 * 0.5**3)


def test_a_loaded_state_is_the_one_stepped():
    nets = _net(), _net(1)
    reference = torch.optim.Adam(nets[0].parameters(), lr=1e-2, fused=True)
    direct = torch.optim.Adam(nets[1].parameters(), lr=1e-2, fused=True)
    stepping = FusedAdamStep(direct)
    for step in range(3):
        _gradients(nets[0], step)
        reference.step()
    nets[1].load_state_dict(nets[0].state_dict())
    direct.load_state_dict(copy.deepcopy(reference.state_dict()))  # its own tensors
    for step in range(3, 6):
        for net in nets:
            _gradients(net, step)
        reference.step()
        stepping()
    _assert_same(reference, direct)


def test_a_weight_without_gradient_or_a_hook_takes_the_usual_step():
    nets = _net(), _net()
    reference = torch.optim.Adam(nets[0].parameters(), lr=1e-2, fused=True)
    direct = torch.optim.Adam(nets[1].parameters(), lr=1e-2, fused=True)
    calls = _counting(direct)
    stepping = FusedAdamStep(direct)
    for step in range(2):
        for net in nets:
            _gradients(net, step)
        reference.step()
        stepping()
    assert calls[0] == 1
    for net in nets:  # the last layer gets no gradient: Adam leaves it as it is
        _gradients(net, 2)
        net[2].weight.grad = None
    reference.step()
    stepping()
    assert calls[0] == 2
    _assert_same(reference, direct)
    seen = []
    handle = direct.register_step_pre_hook(lambda *_: seen.append(1))
    for net in nets:
        _gradients(net, 3)
    reference.step()
    stepping()
    handle.remove()
    assert seen == [1] and calls[0] == 3
    _assert_same(reference, direct)


@pytest.mark.parametrize(
    "make",
    [
        lambda ps: torch.optim.Adam(ps, lr=1e-2, amsgrad=True, fused=True),
        lambda ps: torch.optim.Adam(ps, lr=1e-2),  # not fused: the for-loop Adam
        lambda ps: torch.optim.SGD(ps, lr=1e-2),
    ],
    ids=["amsgrad", "unfused", "sgd"],
)
def test_other_optimisers_always_take_the_usual_step(make):
    net = _net()
    optimizer = make(net.parameters())
    stepping = FusedAdamStep(optimizer)
    assert not stepping.direct
    calls = _counting(optimizer)
    for step in range(3):
        _gradients(net, step)
        stepping()
    assert calls[0] == 3
