"""The regularised autoencoders' penalties against direct computations and finite differences."""

from __future__ import annotations

import torch

from gaespec.components.penalties import CodeL2Term, WeightL2Term


def test_code_l2_is_half_the_squared_norm_averaged():
    z = torch.tensor([[[3.0, 4.0], [1.0, 0.0]], [[0.0, 2.0], [1.0, 1.0]]], dtype=torch.float64)
    # per code ½‖z‖²: 12.5, 0.5, 2, 1; their mean
    assert CodeL2Term()(z).item() == (12.5 + 0.5 + 2 + 1) / 4


def test_weight_l2_sums_every_parameter_squared():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    expected = sum(float((v.double() ** 2).sum()) for v in net.state_dict().values())
    torch.testing.assert_close(WeightL2Term()(net).double().item(), expected, rtol=1e-6, atol=0)


def test_rae_l2_penalises_only_the_decoders_weights(tiny_model):
    torch.manual_seed(0)
    model = tiny_model("rae_l2").double()
    out = model(torch.rand(4, 1, 6, 6, dtype=torch.float64))
    expected = sum((p**2).sum() for p in model.decoder.parameters())
    torch.testing.assert_close(out.terms["weight_l2"], expected, rtol=1e-12, atol=0)
    grads = torch.autograd.grad(out.terms["weight_l2"], list(model.decoder.parameters()))
    for p, g in zip(model.decoder.parameters(), grads, strict=True):
        torch.testing.assert_close(g, 2 * p, rtol=1e-12, atol=0)


def test_rae_gp_penalty_against_finite_differences(tiny_model):
    """‖∂(Σ x̂)/∂z‖² per code, each partial derivative by central differences of the decoder."""
    torch.manual_seed(0)
    model = tiny_model("rae_gp").double()
    x = torch.rand(3, 1, 6, 6, dtype=torch.float64)
    out = model(x)
    z = out.tensors["z"][0].detach()  # (b d)
    h = 1e-6
    squares = []
    with torch.no_grad():
        for b in range(z.shape[0]):
            partials = []
            for j in range(z.shape[1]):
                step = torch.zeros_like(z[b])
                step[j] = h
                up = model.decoder((z[b] + step)[None]).sum()
                down = model.decoder((z[b] - step)[None]).sum()
                partials.append((up - down) / (2 * h))
            squares.append(sum(p**2 for p in partials))
    expected = torch.stack(squares).mean()
    torch.testing.assert_close(out.terms["gradient_penalty"], expected, rtol=1e-6, atol=1e-9)


def test_rae_gp_penalty_trains_the_decoder(tiny_model):
    torch.manual_seed(0)
    model = tiny_model("rae_gp").double()
    out = model(torch.rand(3, 1, 6, 6, dtype=torch.float64))
    first = next(model.decoder.parameters())
    (grad,) = torch.autograd.grad(out.terms["gradient_penalty"], [first])
    assert grad.abs().sum() > 0
