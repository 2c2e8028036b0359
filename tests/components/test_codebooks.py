"""The VQ codebook: nearest codeword, straight-through gradient, and its two losses."""

from __future__ import annotations

import math

import pytest
import torch
from einops import rearrange

import gaespec
from gaespec.components.codebooks import (
    CodebookLossTerm,
    CodebookPerplexityTerm,
    CommitmentLossTerm,
    VQCodebook,
    VQCodebookEMA,
    idle_codewords,
    nearest_codewords,
)

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


def test_the_nearest_codeword_keeps_no_graph():
    """The choice is not differentiable: its distances save nothing for a backward pass, not
    even of a codebook that trains."""
    saved = []
    codebook, z_e = _codebook(), _z_e()
    with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t) or t, lambda t: t):
        indices = nearest_codewords(z_e.reshape(-1, D), codebook.embeddings.weight)
    assert saved == [] and not indices.requires_grad
    assert torch.equal(
        indices, nearest_codewords(z_e.detach().reshape(-1, D), codebook.embeddings.weight.detach())
    )


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
    # one codeword per code, and no restarts: the codewords after the pass are those it chose from
    model = tiny_model("vqvae", "modules.codebook.groups=1", "modules.codebook.restart_after=0")
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


# -- the EMA codebook -------------------------------------------------------------------------

# three codewords far apart in 2-d, and batches of codes near them
EMA_CODEWORDS = [[0.0, 0.0], [4.0, 0.0], [0.0, 4.0]]
EMA_SUMS = [[0.25, -0.5], [0.5, 0.25], [-0.25, 0.125]]  # m before the first update (N = 0)
EMA_BATCHES = [
    [[0.5, 0.25], [-0.25, 0.5], [3.5, 0.5]],
    [[4.25, -0.5], [0.75, 3.5], [3.75, 0.25], [0.5, 0.5]],
    [[-0.5, 3.75], [0.25, -0.25]],
]


def _ema_codebook(decay: float = 0.75, epsilon: float = 1e-3) -> VQCodebookEMA:
    codebook = VQCodebookEMA(2, 3, decay=decay, epsilon=epsilon).double()
    with torch.no_grad():
        codebook.embeddings.copy_(torch.tensor(EMA_CODEWORDS))
        codebook.cluster_sum.copy_(torch.tensor(EMA_SUMS))
    return codebook


def _ema_by_hand(decay: float, epsilon: float):
    """For each batch: the nearest codewords' indices, then N, m and e after the paper's update
    with Laplace-smoothed counts, in plain Python floats."""
    n_codes = len(EMA_CODEWORDS)
    codewords = [list(e) for e in EMA_CODEWORDS]
    counts = [0.0] * n_codes
    sums = [list(m) for m in EMA_SUMS]
    steps = []
    for batch in EMA_BATCHES:
        indices = [
            min(
                range(n_codes),
                key=lambda i, z=z: sum((z[d] - codewords[i][d]) ** 2 for d in (0, 1)),
            )
            for z in batch
        ]
        for i in range(n_codes):
            mine = [z for z, j in zip(batch, indices, strict=True) if j == i]
            counts[i] = decay * counts[i] + (1 - decay) * len(mine)
            sums[i] = [decay * sums[i][d] + (1 - decay) * sum(z[d] for z in mine) for d in (0, 1)]
        n = sum(counts)
        smoothed = [(c + epsilon) / (n + n_codes * epsilon) * n for c in counts]
        codewords = [[sums[i][d] / smoothed[i] for d in (0, 1)] for i in range(n_codes)]
        steps.append((indices, list(counts), [list(m) for m in sums], codewords))
    return steps


def test_ema_update_follows_its_closed_form_over_three_steps():
    decay, epsilon = 0.75, 1e-3
    codebook = _ema_codebook(decay, epsilon)
    steps = _ema_by_hand(decay, epsilon)
    # the batches exercise a codeword used twice in a row, and one unused at first, which the
    # smoothing sends to about γ·m / ε, far from every code
    assert [s[0] for s in steps] == [[0, 0, 1], [1, 0, 1, 0], [0, 0]]
    assert min(abs(v) for v in steps[0][3][2]) > 50
    before = torch.tensor(EMA_CODEWORDS, dtype=torch.float64)
    for batch, (indices, counts, sums, codewords) in zip(EMA_BATCHES, steps, strict=True):
        z_q, codes, chosen = codebook(torch.tensor([batch], dtype=torch.float64))
        assert chosen.tolist() == [indices]
        # the codes are the codewords before this batch's update
        assert torch.equal(codes[0], before[indices])
        # float64: the update and the hand round differently, by a few ulps
        tight = {"rtol": 1e-12, "atol": 1e-14}
        as64 = {"dtype": torch.float64}
        torch.testing.assert_close(codebook.cluster_size, torch.tensor(counts, **as64), **tight)
        torch.testing.assert_close(codebook.cluster_sum, torch.tensor(sums, **as64), **tight)
        torch.testing.assert_close(codebook.embeddings, torch.tensor(codewords, **as64), **tight)
        before = codebook.embeddings.clone()
    # ε matters here: without the smoothing the used codewords would be m / N exactly
    used = codebook.cluster_size > 0.1
    assert not torch.allclose(
        codebook.embeddings[used],
        codebook.cluster_sum[used] / codebook.cluster_size[used, None],
        rtol=1e-6,
        atol=0,
    )


def test_ema_codeword_moves_to_the_mean_of_its_codes():
    """γ = 0: each used codeword becomes the mean of its codes, a k-means step (up to the
    smoothing, which moves it by a relative ~Kε = 3e-9)."""
    codebook = _ema_codebook(decay=0.0, epsilon=1e-9)
    codebook(torch.tensor([EMA_BATCHES[0]], dtype=torch.float64))
    expected = [[0.125, 0.375], [3.5, 0.5]]  # mean of codes 0 and 1, and code 2
    torch.testing.assert_close(
        codebook.embeddings[:2], torch.tensor(expected, dtype=torch.float64), rtol=1e-8, atol=1e-8
    )


def test_ema_codebook_does_not_update_in_eval_mode():
    codebook = _ema_codebook()
    codebook.eval()
    state = {k: v.clone() for k, v in codebook.state_dict().items()}
    z_q, codes, indices = codebook(torch.tensor([EMA_BATCHES[1]], dtype=torch.float64))
    assert indices.tolist() == [[1, 2, 1, 0]]
    for key, value in codebook.state_dict().items():
        assert torch.equal(value, state[key]), key
    codebook.train()
    codebook(torch.tensor([EMA_BATCHES[1]], dtype=torch.float64))
    assert not torch.equal(codebook.embeddings, state["embeddings"])


def test_ema_codebook_state_is_buffers_and_its_gradient_passes_straight_through():
    torch.manual_seed(0)
    codebook = VQCodebookEMA(D, K)
    assert list(codebook.parameters()) == []
    assert sorted(codebook.state_dict()) == ["cluster_size", "cluster_sum", "embeddings"]
    # Pythae's initialisation: N = 0, e and m two draws within ±1/K
    assert torch.equal(codebook.cluster_size, torch.zeros(K))
    assert not torch.equal(codebook.cluster_sum, codebook.embeddings)
    for buffer in (codebook.embeddings, codebook.cluster_sum):
        assert buffer.shape == (K, D) and buffer.abs().max().item() <= 1 / K
    # the state travels with the state_dict
    other = VQCodebookEMA(D, K)
    codebook(_z_e().detach())
    other.load_state_dict(codebook.state_dict())
    for key, value in codebook.state_dict().items():
        assert torch.equal(other.state_dict()[key], value), key
    z_e = _z_e()
    z_q, _, _ = codebook(z_e)
    weight = torch.randn_like(z_q)
    (z_q * weight).sum().backward()
    assert torch.equal(z_e.grad, weight)


def test_vqvae_ema_trains_no_codebook_parameters(tiny_model):
    torch.manual_seed(0)
    model = tiny_model("vqvae_ema")
    spec = model.graph.spec
    assert not spec.modules["codebook"].has_parameters
    assert model.graph.graph.nodes["module:codebook"]["trainable"] is False
    assert model.graph.objectives[0].params == ("encoder", "posterior", "decoder")
    assert "codebook" not in model.parameter_groups() and not list(model.codebook.parameters())
    state = {k: v.clone() for k, v in model.state_dict().items() if k.startswith("codebook.")}
    assert sorted(state) == [
        "codebook.cluster_size",
        "codebook.cluster_sum",
        "codebook.embeddings",
        "codebook.idle",
    ]
    out = model(torch.rand(4, 1, 6, 6))
    # a training-mode forward moved the codewords, by buffers alone
    assert not torch.equal(model.codebook.embeddings, state["codebook.embeddings"])
    assert set(out.terms) == {"recon", "commitment", "perplexity"}
    torch.testing.assert_close(
        out.losses["loss"], out.terms["recon"] + 0.25 * out.terms["commitment"]
    )


def test_a_codebook_loss_of_an_ema_codebook_is_refused():
    from gaespec.errors import GraphError
    from gaespec.graph.lower import lower

    spec = gaespec.load_spec("vqvae_ema", ['terms.extra={kind="codebook_loss"}'])
    with pytest.raises(GraphError) as error:
        lower(spec)
    assert str(error.value) == (
        "--set: terms.extra.kind: codebook 'codebook' (vq_codebook_ema) has no parameters: its "
        "codewords follow moving averages of the codes, and a codebook loss would train "
        "nothing; fix: remove the term (the commitment loss trains the encoder), or use kind = "
        '"vq_codebook"'
    )


# -- the perplexity -----------------------------------------------------------------------------


def _perplexity(num_embeddings: int = 64) -> CodebookPerplexityTerm:
    return CodebookPerplexityTerm(VQCodebook(2, num_embeddings))


def test_perplexity_of_uniform_usage_is_the_number_of_codewords_used():
    perplexity = _perplexity()
    for k in (1, 2, 3, 7, 64):
        indices = torch.arange(k).repeat(5)[torch.randperm(5 * k)]  # each of k codewords 5 times
        value = perplexity(rearrange(indices, "(s b) -> s b", s=5))
        torch.testing.assert_close(value, torch.tensor(float(k)), rtol=1e-6, atol=0)
    # one codeword for every code: exp(0) = 1 exactly
    assert perplexity(torch.full((1, 9), 4)).item() == 1.0


def test_perplexity_against_a_direct_computation():
    perplexity = _perplexity(num_embeddings=10)
    indices = torch.tensor([[5, 5, 5, 0, 2, 2, 5, 9]])
    counts = {5: 4, 0: 1, 2: 2, 9: 1}
    entropy = -sum(c / 8 * math.log(c / 8) for c in counts.values())
    torch.testing.assert_close(
        perplexity(indices).double(),
        torch.tensor(math.exp(entropy), dtype=torch.float64),
        rtol=1e-6,
        atol=0,
    )


@pytest.mark.parametrize("kind", [VQCodebook, VQCodebookEMA])
def test_perplexity_equals_the_count_of_the_codewords_in_use(kind):
    # counted over all K codewords (no sync on how many are in use), the value of counting the
    # ones in use (torch.unique), on a fixed batch of 3·64 codes in 8 groups over K = 512
    perplexity = CodebookPerplexityTerm(kind(16, 512, groups=8))
    g = torch.Generator().manual_seed(0)
    indices = torch.randint(0, 40, (3, 64, 8), generator=g) ** 2 % 512  # skewed, some unused
    _, counts = torch.unique(indices, return_counts=True)
    p = counts.float() / indices.numel()
    expected = torch.special.entr(p).sum().exp()
    assert 20 < expected.item() < 40
    torch.testing.assert_close(perplexity(indices), expected, rtol=1e-6, atol=0)


def test_vqvae_logs_the_perplexity_of_its_codebook(tiny_model):
    torch.manual_seed(0)
    for name in ("vqvae", "vqvae_ema"):
        model = tiny_model(name)
        out = model(torch.rand(8, 1, 6, 6))
        indices = out.tensors["codebook.indices"]
        used = torch.bincount(indices.flatten()).double()
        p = used[used > 0] / used.sum()
        torch.testing.assert_close(
            out.terms["perplexity"].double(), torch.exp(-(p * p.log()).sum()), rtol=1e-6, atol=0
        )
        assert "perplexity" not in str(model.graph.objectives[0].loss)


def test_groups_quantise_each_part_of_the_code_against_the_one_codebook():
    torch.manual_seed(0)
    codebook = VQCodebook(6, K, groups=3)  # codewords of 2 dims, for the three parts of 6
    assert codebook.embeddings.weight.shape == (K, 2)
    z_e = torch.randn(2, 5, 6)
    z_q, codes, indices = codebook(z_e)
    assert z_q.shape == codes.shape == (2, 5, 6) and indices.shape == (2, 5, 3)
    weight = codebook.embeddings.weight
    for part in range(3):
        piece = z_e[..., 2 * part : 2 * part + 2].reshape(-1, 2)
        chosen = indices[..., part].reshape(-1)
        _assert_nearest(piece, weight.detach(), chosen)
        # the codes are the chosen codewords, part by part (indexing: exact)
        assert torch.equal(codes[..., 2 * part : 2 * part + 2].reshape(-1, 2), weight[chosen])


def test_groups_in_an_ema_codebook_update_from_every_part():
    torch.manual_seed(0)
    codebook = VQCodebookEMA(4, 3, groups=2, decay=0.0)
    z_e = torch.tensor([[[1.0, 1.0, 5.0, 5.0], [1.2, 1.2, 5.2, 5.2]]])
    codebook.embeddings.copy_(torch.tensor([[1.0, 1.0], [5.0, 5.0], [-9.0, -9.0]]))
    _, _, indices = codebook.train()(z_e)
    assert indices.tolist() == [[[0, 1], [0, 1]]]
    # decay 0: each codeword used becomes the mean of the parts assigned to it
    torch.testing.assert_close(codebook.embeddings[:2], torch.tensor([[1.1, 1.1], [5.1, 5.1]]))


def test_groups_must_cut_the_code_evenly(tiny_model):
    with pytest.raises(gaespec.errors.GaespecError) as error:
        tiny_model("vqvae", "modules.codebook.groups=3")
    assert str(error.value).endswith(
        "modules.codebook.groups: 3 groups do not cut the 4-d code into parts of equal width; "
        "fix: use a divisor of latent.dim = 4"
    )


def test_a_vqvae_in_groups_reconstructs_through_the_parts(tiny_model):
    torch.manual_seed(0)
    model = tiny_model("vqvae", "modules.codebook.groups=4")
    out = model(torch.rand(5, 1, 6, 6))
    assert out.tensors["codebook.indices"].shape == (1, 5, 4)
    assert out.tensors["z_q"].shape == (1, 5, 4)
    torch.testing.assert_close(
        out.terms["codebook_loss"],
        ((out.tensors["z"] - out.tensors["codebook.codes"]) ** 2).sum(-1).mean(),
        rtol=1e-6,
        atol=0,
    )


def test_idle_counts_reset_for_chosen_codewords_and_restart_after_r_passes():
    idle = torch.tensor([0, 1, 2, 0])
    dead = idle_codewords(idle, torch.tensor([1, 1]), restart_after=3)
    # every count goes up by one, the chosen codeword's back to 0, the third reaches 3: restarted
    assert dead.tolist() == [False, False, True, False] and idle.tolist() == [1, 0, 0, 1]
    dead = idle_codewords(idle, torch.tensor([3]), restart_after=3)
    assert dead.tolist() == [False] * 4 and idle.tolist() == [2, 1, 1, 0]


@pytest.mark.parametrize("kind", [VQCodebook, VQCodebookEMA])
def test_restarts_move_idle_codewords_onto_codes_of_the_batch(kind):
    torch.manual_seed(0)
    codebook = kind(4, K, groups=2, restart_after=2)
    assert "idle" in codebook.state_dict() and "idle" not in kind(4, K).state_dict()

    def codewords():
        return (codebook.embeddings.weight if kind is VQCodebook else codebook.embeddings).detach()

    before = codewords().clone()
    z_e = torch.randn(1, 5, 4, requires_grad=True)
    z_q, codes, indices = codebook.train()(z_e)
    # the codes are the codewords before the restarts (indexing: exact), the gradient passes
    assert torch.equal(codes.reshape(-1, 2), before[indices.reshape(-1)])
    z_q.sum().backward()
    assert torch.equal(z_e.grad, torch.ones_like(z_e))
    chosen = set(indices.reshape(-1).tolist())
    parts = {tuple(row) for row in z_e.detach().reshape(-1, 2).tolist()}
    after = codewords()
    assert codebook.idle.tolist() == [0] * K  # chosen, or just restarted
    for i in range(K):
        if i not in chosen:  # the counts start at r: every unchosen codeword moves onto a part
            assert tuple(after[i].tolist()) in parts, i
        elif kind is VQCodebook:  # a chosen one keeps its place (the loss moves it, not this)
            assert torch.equal(after[i], before[i])
    if kind is VQCodebookEMA:
        unchosen = [i for i in range(K) if i not in chosen]
        assert torch.equal(codebook.cluster_sum[unchosen], after[unchosen])
        assert codebook.cluster_size[unchosen].tolist() == [1.0] * len(unchosen)
    # evaluation changes nothing
    state = {key: value.clone() for key, value in codebook.state_dict().items()}
    codebook.eval()(torch.randn(1, 5, 4))
    for key, value in codebook.state_dict().items():
        assert torch.equal(value, state[key]), key


@pytest.mark.parametrize("kind", [VQCodebook, VQCodebookEMA])
def test_restarted_codewords_take_the_draws_in_index_order(kind):
    """A draw for every codeword, the dead ones (in index order) taking the first: on a CPU the
    rows a draw of only as many gives, as the restarts drew before (and the hand-written loop)."""
    torch.manual_seed(0)
    codebook = kind(4, K, groups=2, restart_after=3).train()
    codebook.idle.copy_(torch.tensor([0, 2, 2, 0, 2, 2, 0, 2]))  # the 2s reach 3 unless chosen
    z_e = 3 + torch.randn(1, 5, 4)  # far from the codewords: the parts choose one or two
    torch.manual_seed(1)
    with torch.no_grad():
        indices = codebook(z_e)[2]
    dead = [i for i in (1, 2, 4, 5, 7) if i not in set(indices.reshape(-1).tolist())]
    assert len(dead) >= 3
    torch.manual_seed(1)
    expected = z_e.reshape(-1, 2)[torch.randint(10, (len(dead),))]
    after = codebook.embeddings.weight if kind is VQCodebook else codebook.embeddings
    assert torch.equal(after[dead], expected)


def test_restarts_revive_a_collapsed_codebook():
    # all codewords start within ±1/K of 0: codes far from 0 choose one or two of them, and
    # without restarts the others stay unused; with them the first pass spreads them over the codes
    torch.manual_seed(0)
    codebook = VQCodebook(2, 16)
    z_e = 3 + torch.randn(1, 64, 2)
    assert len(set(codebook.train()(z_e)[2].reshape(-1).tolist())) <= 2
    restarting = VQCodebook(2, 16, restart_after=1)
    restarting.train()(z_e)
    assert len(set(restarting(z_e)[2].reshape(-1).tolist())) >= 8


def test_restart_after_reaches_the_built_model(tiny_model):
    model = tiny_model("vqvae_ema", "modules.codebook.restart_after=7")
    assert model.codebook.restart_after == 7
    assert model.codebook.idle.tolist() == [7] * model.codebook.num_embeddings
