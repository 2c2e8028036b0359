"""Convolutions as matmuls against torch's own kernels: in float64 the outputs and every gradient
agree to rounding, for strides, paddings, output paddings, non-square kernels, with and without
bias; what has no matmul form keeps torch's forward."""

from __future__ import annotations

import pytest
import torch
from tiny import tiny_spec
from torch import nn
from torch.nn.functional import fold as _fold
from torch.nn.functional import unfold as _unfold

import gaespec
from gaespec.data import load_data
from gaespec.graph.lower import lower
from gaespec.training import conv_matmul
from gaespec.training.conv_matmul import lower_convolutions
from gaespec.training.trainer import Trainer

CLOSE = {"rtol": 1e-10, "atol": 1e-12}


@pytest.fixture
def every_map(monkeypatch):
    """The matmul form on feature maps of any size (by default only on small ones)."""
    monkeypatch.setattr(conv_matmul, "MAX_POSITIONS", 10**9)


def _compare(make, shape):
    """The module's output and its gradients (input, weight, bias) before and after lowering."""
    torch.manual_seed(0)
    reference = make().double()
    lowered = make().double()
    lowered.load_state_dict(reference.state_dict())
    assert lower_convolutions(lowered) == [""]
    x = torch.randn(shape, dtype=torch.float64)
    results = []
    for module in (reference, lowered):
        xi = x.clone().requires_grad_()
        out = module(xi)
        grad_out = torch.randn(out.shape, generator=torch.Generator().manual_seed(1)).double()
        params = [p for p in module.parameters()]
        grads = torch.autograd.grad(out, [xi, *params], grad_out)
        results.append((out, grads))
    (out, grads), (out_l, grads_l) = results
    assert out_l.shape == out.shape
    torch.testing.assert_close(out_l, out, **CLOSE)
    for g, g_l in zip(grads, grads_l, strict=True):
        torch.testing.assert_close(g_l, g, **CLOSE)


@pytest.mark.parametrize(
    "make, shape",
    [
        (lambda: nn.Conv2d(3, 5, 4, 2, 1), (2, 3, 9, 9)),
        (lambda: nn.Conv2d(4, 6, (3, 2), (1, 2), (2, 0), bias=False), (3, 4, 7, 8)),
        (lambda: nn.Conv2d(8, 4, 4, 2, 1), (2, 8, 3, 3)),  # 3×3 → 1×1, as the ConvNet's last
        (lambda: nn.Conv2d(2, 3, 1), (2, 2, 5, 4)),
    ],
    ids=["k4s2p1", "rect-nobias", "3x3-to-1x1", "1x1"],
)
def test_a_convolution_as_a_matmul_is_torchs_convolution(make, shape, every_map):
    _compare(make, shape)


@pytest.mark.parametrize(
    "make, shape",
    [
        (lambda: nn.ConvTranspose2d(6, 4, 3, 2, 1), (2, 6, 4, 4)),  # 4 → 7, the decoder's first
        (lambda: nn.ConvTranspose2d(4, 2, 3, 2, 1, output_padding=1), (2, 4, 7, 7)),  # 7 → 14
        (lambda: nn.ConvTranspose2d(3, 5, (2, 3), (2, 1), (0, 1), bias=False), (2, 3, 5, 6)),
        (lambda: nn.ConvTranspose2d(3, 2, 4, 2, 1), (1, 3, 5, 5)),
    ],
    ids=["4-to-7", "7-to-14-outpad", "rect-nobias", "k4s2p1"],
)
def test_a_transposed_convolution_as_a_matmul_is_torchs(make, shape, every_map):
    _compare(make, shape)


def test_only_small_maps_go_the_matmul_way(monkeypatch):
    """A convolution with an output of at most 16 positions, or a transposed one with an input
    of at most 16, is a matmul; a larger map keeps torch's kernel."""
    calls = []
    monkeypatch.setattr(
        conv_matmul.F, "unfold", lambda *a, **k: calls.append("unfold") or _unfold(*a, **k)
    )
    monkeypatch.setattr(
        conv_matmul.F, "fold", lambda *a, **k: calls.append("fold") or _fold(*a, **k)
    )
    conv, deconv = nn.Conv2d(2, 3, 4, 2, 1), nn.ConvTranspose2d(2, 3, 3, 2, 1)
    lower_convolutions(conv), lower_convolutions(deconv)
    conv(torch.randn(1, 2, 8, 8))  # 4×4 out: 16 positions
    deconv(torch.randn(1, 2, 4, 4))  # 4×4 in
    assert calls == ["unfold", "fold"]
    conv(torch.randn(1, 2, 10, 10))  # 5×5 out
    deconv(torch.randn(1, 2, 5, 4))  # 20 positions in
    assert calls == ["unfold", "fold"]


def test_what_has_no_matmul_form_keeps_torchs_forward():
    class Mine(nn.Conv2d):
        pass

    model = nn.Sequential(
        nn.Conv2d(4, 4, 3, groups=2),
        nn.Conv2d(4, 4, 3, dilation=2),
        nn.Conv2d(4, 4, 3, padding="same"),
        nn.Conv2d(4, 4, 3, padding=1, padding_mode="reflect"),
        Mine(4, 4, 3),
        nn.Conv1d(4, 4, 3),
        nn.Conv2d(4, 4, 3),
    )
    assert lower_convolutions(model) == ["6"]
    assert all("forward" not in vars(m) for m in list(model)[:6])
    x = torch.randn(4, 9, 9)  # unbatched: torch's own kernel
    torch.testing.assert_close(model[6](x), nn.Conv2d.forward(model[6], x), rtol=0, atol=0)


def test_the_trainer_lowers_the_nets_and_keeps_the_state_dict():
    """conv_as_matmul=True: the ConvNet VAE's 7 convolutions run as matmuls, its state dict has
    the same names, and a step (float64) gives the plain step's loss and gradients."""
    data = load_data("mnist5k")
    spec = gaespec.load_spec("specs/models/vae.toml", ["train.batch_size=8"])
    x = data.train.x[:8].double()
    losses, grads, keys = [], [], []
    for on in (False, True):
        torch.manual_seed(0)
        graph = lower(spec)
        trainer = Trainer(
            gaespec.build(graph).double(),
            graph.objectives,
            data,
            batch_size=8,
            progress=False,
            conv_as_matmul=on,
        )
        replaced = [n for n, m in trainer.model.named_modules() if "forward" in vars(m)]
        assert len(replaced) == (7 if on else 0)
        keys.append(list(trainer.model.state_dict()))
        trainer.optimizers["loss"].step = lambda: None  # keep the weights: compare gradients
        torch.manual_seed(3)
        losses.append(trainer.train_step(x).losses["loss"])
        grads.append({n: p.grad for n, p in trainer.model.named_parameters()})
    assert keys[0] == keys[1]
    torch.testing.assert_close(losses[0], losses[1], rtol=1e-12, atol=0.0)
    for name, g in grads[0].items():
        torch.testing.assert_close(
            g, grads[1][name], rtol=1e-9, atol=1e-9, msg=lambda m, name=name: f"{name}: {m}"
        )


def test_the_spec_key_reaches_the_trainer(tmp_path, digits, monkeypatch):
    """`train.conv_as_matmul = true` in a spec: gaespec.train lowers the model it trains."""
    import gaespec.training.trainer as trainer_module

    seen = []
    monkeypatch.setattr(trainer_module, "lower_convolutions", seen.append)
    spec = tiny_spec("vae", "train.conv_as_matmul=true", "train.epochs=1")
    run = gaespec.train(spec, data=digits, out=tmp_path, progress=False, log=lambda *_: None)
    assert seen == [run.model]
    seen.clear()
    gaespec.train(
        tiny_spec("vae", "train.epochs=1"),
        data=digits,
        out=tmp_path / "plain",
        progress=False,
        log=lambda *_: None,
    )
    assert seen == []
