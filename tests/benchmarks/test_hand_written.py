"""benchmarks/hand_written.py computes what gaespec computes: on the same weights, batch and random
draws, each objective's loss is gaespec's model's, and one step of its loop leaves the weights,
buffers and optimiser settings that one step of gaespec's trainer leaves."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from torch import Tensor

import gaespec
from benchmarks import hand_written
from gaespec.graph.lower import lower
from gaespec.training.trainer import Trainer

ROOT = Path(__file__).resolve().parents[2]
BATCH, LATENT, DATASET_SIZE = 8, 4, 4000
TOLERANCE = {"rtol": 1e-5, "atol": 1e-5}
# where the hand-written graph sums gradients in another order than gaespec's: β-TC-VAE's
# estimator is computed once, not once per term (mi, tc, dim_kl); every other model matches bitwise
REORDERED = frozenset({"beta_tc_vae"})
# the hand-written modules that hold what one of gaespec's modules holds, in the same order
MODULES = {"posterior": ("mean", "log_var")}


def latent_dim(name: str) -> int:
    """4, but 16 for vqvae: its 8 codebook groups need a multiple of 8, and 2 dims a part (not
    1) let a code cut in the wrong order show."""
    return 16 if name == "vqvae" else LATENT


def gaespec_trainer(name: str, net: str) -> Trainer:
    """gaespec's model of specs/models/<name>.toml on `net`, in its trainer."""
    overrides = [f"encoder.arch={net}", f"decoder.arch={net}", f"latent.dim={latent_dim(name)}"]
    graph = lower(gaespec.load_spec(ROOT / "specs" / "models" / f"{name}.toml", overrides))
    data = SimpleNamespace(train=range(DATASET_SIZE))
    trainer = Trainer(
        gaespec.build(graph), graph.objectives, data, batch_size=BATCH, progress=False
    )
    trainer.model.train()
    return trainer


def pairs(model: torch.nn.Module, hand: hand_written.HandWritten) -> list[tuple[Tensor, Tensor]]:
    """(gaespec's, the hand-written) for every parameter and buffer, module by module in order;
    the shapes agree and nothing of the hand-written model is left out."""
    found = []
    for name, module in model.named_children():
        mine = [
            getattr(hand.model, n) for n in MODULES.get(name, (name,)) if hasattr(hand.model, n)
        ]
        theirs = [*module.parameters(), *module.buffers()]
        ours = [t for m in mine for t in m.parameters()] + [t for m in mine for t in m.buffers()]
        assert len(ours) == len(theirs), name
        for a, b in zip(theirs, ours, strict=True):
            assert a.shape == b.shape and a.dtype == b.dtype, name
        found += zip(theirs, ours, strict=True)
    everything = [*hand.model.parameters(), *hand.model.buffers()]
    assert len(found) == len(everything)
    return found


def assert_stepped_alike(ours: Tensor, theirs: Tensor, reordered: bool) -> None:
    """The same gradient (what the step's backward left) and the same weight after the step.

    Adam's first step moves a weight by lr·g/(|g| + ε), ε = 1e-8, about lr·sign(g): where g is
    mostly rounding (a convolution's bias before BatchNorm, whose true gradient is 0) or within
    a few ε of 0, summing g in another order can move the weight the other way. So where the
    hand-written graph sums in another order (`reordered`), the weights are held to TOLERANCE
    where the two g agree to 0.1%, elsewhere to a step's size; everywhere else to TOLERANCE.
    """
    if theirs.grad is None:
        assert ours.grad is None
        torch.testing.assert_close(ours, theirs, **TOLERANCE)
        return
    torch.testing.assert_close(ours.grad, theirs.grad, **TOLERANCE)
    if not reordered:
        torch.testing.assert_close(ours, theirs, **TOLERANCE)
        return
    g = theirs.grad.abs()
    steady = (g > 1e-6) & ((ours.grad - theirs.grad).abs() <= 1e-3 * g)
    torch.testing.assert_close(ours[steady], theirs[steady], **TOLERANCE)
    torch.testing.assert_close(ours, theirs, rtol=0, atol=2 * hand_written.LR)


CASES = [(name, net) for net in hand_written.NETS for name in hand_written.NAMES]


@pytest.mark.parametrize(("name", "net"), CASES)
def test_same_losses_and_step(name: str, net: str):
    trainer = gaespec_trainer(name, net)
    model = trainer.model
    hand = hand_written.make(name, net, latent_dim=latent_dim(name), dataset_size=DATASET_SIZE)
    tensors = pairs(model, hand)
    with torch.no_grad():
        for theirs, ours in tensors:
            ours.copy_(theirs)

    # one Adam per objective, with the spec's settings, over the same parameters
    assert len(hand.optimizers) == len(trainer.objectives)
    for o, optimizer, group in zip(trainer.objectives, hand.optimizers, hand.groups, strict=True):
        theirs = trainer.optimizers[o.name].param_groups[0]
        ours = optimizer.param_groups[0]
        assert type(optimizer) is type(trainer.optimizers[o.name])
        for setting in ("lr", "betas", "eps", "weight_decay", "amsgrad"):
            assert ours[setting] == theirs[setting], (o.name, setting)
        assert [p.shape for p in group] == [p.shape for p in trainer.groups[o.name]]

    x = torch.rand(BATCH, *hand_written.IMAGE, generator=torch.Generator().manual_seed(0))
    torch.manual_seed(1)
    expected = model(x, dataset_size=DATASET_SIZE).losses
    torch.manual_seed(1)
    got = hand.losses(x)
    assert got.keys() == expected.keys()
    for objective, loss in expected.items():
        torch.testing.assert_close(got[objective], loss, **TOLERANCE, msg=objective)

    before = [ours.detach().clone() for _, ours in tensors]
    torch.manual_seed(2)
    trainer.train_step(x)
    torch.manual_seed(2)
    hand.step(x)
    for theirs, ours in tensors:
        assert_stepped_alike(ours, theirs, reordered=name in REORDERED)
    # the step moved every objective's parameters, so the comparison above means something
    moved = {
        id(ours) for (_, ours), old in zip(tensors, before, strict=True) if not ours.equal(old)
    }
    for group in hand.groups:
        assert any(id(p) in moved for p in group)
