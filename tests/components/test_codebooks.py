"""The VQ codebook: nearest codeword, straight-through gradient, and its two losses."""

from __future__ import annotations

import torch

from gaespec.components.codebooks import CodebookLossTerm, CommitmentLossTerm, VQCodebook

K, D = 8, 3


def _codebook(seed: int = 0, num_embeddings: int = K) -> VQCodebook:
    torch.manual_seed(seed)
    return VQCodebook(D, num_embeddings)


def _z_e(k: int = 2, b: int = 5, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (0.3 * torch.randn(k, b, D, generator=g)).requires_grad_()


def test_uniform_init_within_one_over_k():
    codebook = _codebook(num_embeddings=512)
    weight = codebook.embeddings.weight
    assert weight.shape == (512, D)
    assert weight.abs().max().item() <= 1 / 512
    # spread over the whole range, not clustered at zero
    assert weight.max().item() > 0.9 / 512 and weight.min().item() < -0.9 / 512


def _assert_nearest(z: torch.Tensor, codewords: torch.Tensor, indices: torch.Tensor) -> None:
    """Each chosen codeword is a nearest one: its squared distance to z is the least, up to the
    float32 rounding of ‖z‖² − 2 z·e + ‖e‖² (a near-tie may go either way on another CPU)."""
    squared = ((z[:, None] - codewords[None]) ** 2).sum(-1)  # (n k), from the differences
    chosen = squared.gather(1, indices[:, None])[:, 0]
    # about 8 float32 ulps of the largest ‖z‖² + ‖e‖², the size of the terms that cancel
    scale = float((z**2).sum(1).max() + (codewords**2).sum(1).max())
    torch.testing.assert_close(chosen, squared.min(1).values, rtol=0, atol=1e-6 * scale)


def test_quantize_picks_the_nearest_codeword():
    codebook = _codebook()
    with torch.no_grad():
        codebook.embeddings.weight.normal_()  # codewords of unequal norms, far apart
    weight = codebook.embeddings.weight.detach()
    g = torch.Generator().manual_seed(2)
    targets = torch.randint(K, (200,), generator=g)
    # each input lies within a quarter of the least distance p between codewords of its target:
    # every other codeword is farther by ≥ p/2 (by ≥ p²/2 squared), so there are no near-ties
    radius = torch.pdist(weight).min() / 4
    direction = torch.randn(200, D, generator=g)
    offset = radius * torch.rand(200, 1, generator=g) * direction / direction.norm(dim=1)[:, None]
    codes, indices = codebook.quantize(weight[targets] + offset)
    assert torch.equal(indices, targets)
    assert torch.equal(codes, weight[targets])


def test_quantize_picks_a_nearest_codeword_of_random_inputs():
    codebook = _codebook()
    with torch.no_grad():
        codebook.embeddings.weight.normal_()
    z_e = torch.randn(200, D, generator=torch.Generator().manual_seed(3))
    codes, indices = codebook.quantize(z_e)
    _assert_nearest(z_e, codebook.embeddings.weight.detach(), indices)
    assert torch.equal(codes, codebook.embeddings.weight[indices])


def test_forward_writes_codes_indices_and_straight_through_output():
    codebook = _codebook()
    z_e = _z_e()
    z_q, codes, indices = codebook(z_e)
    assert z_q.shape == codes.shape == (2, 5, D)
    assert indices.shape == (2, 5)
    weight = codebook.embeddings.weight
    assert torch.equal(codes, weight[indices])
    # z_e + (e − z_e) rounds to e within an ulp of z_e (|z_e| < 2)
    torch.testing.assert_close(z_q, codes, rtol=1e-6, atol=1e-6)


def test_straight_through_gradient_is_the_identity():
    codebook = _codebook()
    z_e = _z_e()
    z_q, _, _ = codebook(z_e)
    target = torch.randn_like(z_q)
    loss = ((z_q - target) ** 3).sum()
    (grad_z_q,) = torch.autograd.grad(loss, z_q, retain_graph=True)
    loss.backward()
    # exact: the addition passes the gradient on unchanged, and both backward passes run the
    # same arithmetic in one process
    assert torch.equal(z_e.grad, grad_z_q)
    assert codebook.embeddings.weight.grad is None


def _terms_and_values(codebook: VQCodebook, z_e: torch.Tensor):
    _, codes, indices = codebook(z_e)
    t = {"z": z_e, "codebook.codes": codes, "codebook.indices": indices}
    codebook_loss = CodebookLossTerm()
    commitment = CommitmentLossTerm()
    return t, codebook_loss, commitment


def _by_hand(codebook: VQCodebook, z_e: torch.Tensor) -> float:
    weight = codebook.embeddings.weight.detach()
    k, b, _ = z_e.shape
    total = 0.0
    for i in range(k):
        for j in range(b):
            z = z_e[i, j].detach()
            e = min(weight, key=lambda w, z=z: float(((z - w) ** 2).sum()))
            total += sum((z[d] - e[d]).item() ** 2 for d in range(D))
    return total / (k * b)


def test_codebook_loss_moves_only_the_codebook():
    codebook = _codebook()
    z_e = _z_e()
    t, codebook_loss, _ = _terms_and_values(codebook, z_e)
    value = codebook_loss(z_e, t["codebook.codes"])
    assert abs(value.item() - _by_hand(codebook, z_e)) < 1e-6
    value.backward()
    assert z_e.grad is None
    grad = codebook.embeddings.weight.grad
    used = t["codebook.indices"].unique()
    assert grad[used].abs().sum() > 0
    unused = torch.ones(K, dtype=torch.bool)
    unused[used] = False
    assert torch.equal(grad[unused], torch.zeros_like(grad[unused]))


def test_commitment_moves_only_the_encoder_output():
    codebook = _codebook()
    z_e = _z_e()
    t, _, commitment = _terms_and_values(codebook, z_e)
    value = commitment(z_e, t["codebook.codes"])
    assert abs(value.item() - _by_hand(codebook, z_e)) < 1e-6
    value.backward()
    assert codebook.embeddings.weight.grad is None
    # d/dz_e of mean_(k b) Σ_d (z_e − e)² = 2 (z_e − e) / (k b)
    expected = 2 * (z_e.detach() - t["codebook.codes"].detach()) / (2 * 5)
    torch.testing.assert_close(z_e.grad, expected, rtol=1e-6, atol=1e-7)


def test_vqvae_model_routes_the_quantised_code_to_the_decoder(tiny_model):
    torch.manual_seed(0)
    model = tiny_model("vqvae")
    out = model(torch.rand(4, 1, 6, 6))
    t = out.tensors
    torch.testing.assert_close(t["z_q"], t["codebook.codes"], rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(t["x_hat"][0], model.decoder(t["z_q"][0]), rtol=1e-6, atol=1e-6)
    # the same arithmetic: the two terms differ only in where the gradient stops
    torch.testing.assert_close(
        out.terms["codebook_loss"], out.terms["commitment"], rtol=1e-6, atol=1e-7
    )
    weight = model.codebook.embeddings.weight.detach()
    # 512 codewords within ±1/512 of 0: near-ties are likely, so the distance is checked, not the
    # index
    _assert_nearest(t["z"][0].detach(), weight, t["codebook.indices"][0])
    assert torch.equal(t["codebook.codes"][0], weight[t["codebook.indices"][0]])
