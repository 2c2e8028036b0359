"""For every built-in spec: the emitted file and the composed model compute the same numbers.

Same weights, same input, same random state: the same loss terms, totals and gradients
(float32, relative difference below 1e-6), the same batch statistics, samples and codes.
"""

from __future__ import annotations

import pytest
import torch
from codegen.emitted import relative_difference

import gaespec
from gaespec.spec.load import builtin_specs

SPECS = sorted(builtin_specs())
TOLERANCE = 1e-6


def _pair(name, emitted_files, *overrides):
    spec = gaespec.load_spec(name, list(overrides))
    torch.manual_seed(0)
    composed = gaespec.build(spec)
    cls, _ = emitted_files.model_class(spec)
    torch.manual_seed(0)
    emitted = cls()
    return spec, composed, emitted


def _batch(spec, n=6):
    generator = torch.Generator().manual_seed(7)
    return torch.rand((n, *spec.input.shape), generator=generator)


@pytest.mark.parametrize("name", SPECS)
def test_state_dict_keys_and_initial_weights_are_the_composed_models(name, emitted_files):
    _, composed, emitted = _pair(name, emitted_files)
    ours, theirs = emitted.state_dict(), composed.state_dict()
    assert list(ours) == list(theirs)
    # the same seed gives the same weights: modules are made in the same order
    for key in theirs:
        assert torch.equal(ours[key], theirs[key]), key


@pytest.mark.parametrize("name", SPECS)
def test_weights_load_both_ways(name, emitted_files):
    _, composed, emitted = _pair(name, emitted_files)
    torch.manual_seed(1)
    trained = gaespec.build(composed.graph)  # other weights than emitted's
    emitted.load_state_dict(trained.state_dict(), strict=True)
    composed.load_state_dict(emitted.state_dict(), strict=True)
    for key, value in trained.state_dict().items():
        assert torch.equal(composed.state_dict()[key], value)


@pytest.mark.parametrize("name", SPECS)
def test_same_terms_losses_and_gradients(name, emitted_files):
    spec, composed, emitted = _pair(name, emitted_files)
    emitted.load_state_dict(composed.state_dict())
    x = _batch(spec)
    torch.manual_seed(3)
    theirs = composed(x)
    torch.manual_seed(3)
    ours = emitted(x)
    assert list(ours.terms) == list(theirs.terms) == list(spec.terms)
    assert list(ours.losses) == list(theirs.losses)
    for key in theirs.terms:
        assert relative_difference(ours.terms[key], theirs.terms[key]) < TOLERANCE, key
    for key in theirs.losses:
        assert relative_difference(ours.losses[key], theirs.losses[key]) < TOLERANCE, key
    # a term only logged (IWAE's recon and kl, VQ-VAE's perplexity) has no graph in either
    assert {k: v.requires_grad for k, v in ours.terms.items()} == {
        k: v.requires_grad for k, v in theirs.terms.items()
    }

    names = [n for n, _ in composed.named_parameters()]
    params_c = dict(composed.named_parameters())
    params_e = dict(emitted.named_parameters())
    assert names == [n for n, _ in emitted.named_parameters()]
    for objective in theirs.losses:
        grads_c = torch.autograd.grad(
            theirs.losses[objective],
            [params_c[n] for n in names],
            retain_graph=True,
            allow_unused=True,
        )
        grads_e = torch.autograd.grad(
            ours.losses[objective],
            [params_e[n] for n in names],
            retain_graph=True,
            allow_unused=True,
        )
        for n, gc, ge in zip(names, grads_c, grads_e, strict=True):
            assert (gc is None) == (ge is None), (objective, n)
            if gc is not None and gc.abs().max() > 0:
                assert relative_difference(ge, gc) < TOLERANCE, (objective, n)
            elif gc is not None:
                assert torch.equal(ge, gc), (objective, n)
    # batch-norm statistics moved the same way
    for key, value in composed.state_dict().items():
        torch.testing.assert_close(
            emitted.state_dict()[key], value, rtol=TOLERANCE, atol=1e-7, msg=key
        )


@pytest.mark.parametrize("name", SPECS)
def test_encode_decode_reconstruct_and_sample_agree(name, emitted_files):
    spec, composed, emitted = _pair(name, emitted_files)
    emitted.load_state_dict(composed.state_dict())
    composed.eval()
    emitted.eval()
    x = _batch(spec, n=3)
    with torch.no_grad():
        mean = composed.encode(x).mean
        torch.testing.assert_close(emitted.encode(x).mean, mean, rtol=TOLERANCE, atol=1e-7)
        torch.testing.assert_close(
            emitted.decode(mean), composed.decode(mean), rtol=1e-5, atol=1e-6
        )
        torch.testing.assert_close(
            emitted.reconstruct(x), composed.reconstruct(x), rtol=1e-5, atol=1e-6
        )
        torch.manual_seed(5)
        theirs = composed.sample(4)
        torch.manual_seed(5)
        ours = emitted.sample_prior(4)
    assert ours.shape == (4, *spec.input.shape)
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", SPECS)
def test_parameter_groups_are_the_composed_models(name, emitted_files):
    _, composed, emitted = _pair(name, emitted_files)

    def groups(model):
        names = {id(p): n for n, p in model.named_parameters()}
        return {k: [names[id(p)] for p in ps] for k, ps in model.parameter_groups().items()}

    assert groups(emitted) == groups(composed)
