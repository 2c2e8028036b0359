"""Every declared kind has a torch implementation, and every implementation a declaration."""

from __future__ import annotations

from pathlib import Path

import pytest

import gaespec
import gaespec.components  # noqa: F401  (registers every implementation)
import gaespec.spec.declarations  # noqa: F401  (registers every declaration)
from gaespec.components.registry import IMPLEMENTATIONS, implementation
from gaespec.errors import SpecError
from gaespec.spec.vocabulary import DECLARATIONS, ROLES

SPECS = Path(__file__).resolve().parents[2] / "specs" / "models"


def test_roles_agree():
    assert set(DECLARATIONS) == set(IMPLEMENTATIONS) == set(ROLES)


@pytest.mark.parametrize("role", ROLES)
def test_declared_and_implemented_kinds_are_the_same(role):
    declared = [kind for kind, _ in DECLARATIONS[role].items()]
    implemented = [kind for kind, _ in IMPLEMENTATIONS[role].items()]
    assert declared, role
    assert declared == implemented


@pytest.mark.parametrize("path", sorted(SPECS.glob("*.toml")), ids=lambda p: p.stem)
def test_every_kind_a_shipped_spec_uses_is_implemented(path):
    spec = gaespec.load_spec(path)
    used = [("posterior", spec.latent.posterior.kind)]
    used += [("prior", spec.prior.kind)] if spec.prior is not None else []
    used += [("module", decl.kind) for decl in spec.modules.values()]
    used += [("term", decl.kind) for decl in spec.terms.values()]
    for role, kind in used:
        assert kind in IMPLEMENTATIONS[role], (role, kind)


def test_unknown_kind_lists_what_exists():
    with pytest.raises(SpecError) as err:
        implementation("prior", "standard_norml")
    assert str(err.value) == (
        "unknown prior implementation 'standard_norml' (known: standard_normal, vamp); "
        "closest valid choice: 'standard_normal'"
    )


def test_the_declared_analytic_kl_pairs_are_the_implemented_ones():
    from gaespec.components.divergences import ANALYTIC_KL
    from gaespec.spec.declarations.terms import KL

    assert set(ANALYTIC_KL) == KL.ANALYTIC
    for q, p in ANALYTIC_KL:
        assert q in IMPLEMENTATIONS["posterior"] and p in IMPLEMENTATIONS["prior"]


def test_the_declared_densities_are_the_implemented_ones():
    for kind, registered in IMPLEMENTATIONS["posterior"].items():
        declared = DECLARATIONS["posterior"].get(kind).has_density
        assert declared == hasattr(registered.cls.distribution, "log_prob"), kind


@pytest.mark.parametrize(
    "name",
    ["vae", "ae", "vqvae", "vqvae_ema", "aae", "vamp", "factor_vae", "vae_iaf", "vae_lin_nf"],
)
def test_declared_parameters_are_the_implemented_ones(name, tiny_model):
    """A module is trained when it has parameters: lowering reads the declaration, so the
    declaration must say what the implementation makes."""
    model = tiny_model(name)
    spec = model.graph.spec
    made = {"posterior": spec.latent.posterior, "prior": spec.prior, **spec.modules}
    for module, decl in made.items():
        has = any(True for _ in getattr(model, module).parameters())
        assert decl.has_parameters == has, (module, decl.kind)
        assert model.graph.graph.nodes[f"module:{module}"]["trainable"] == has, module
