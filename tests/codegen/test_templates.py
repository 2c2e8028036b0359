"""The templates are the code generator's registry: one per kind, no more, no fewer."""

from __future__ import annotations

from gaespec.codegen.templates import TEMPLATES_DIR, kinds, template_for
from gaespec.nets import arch_names
from gaespec.spec.declarations.terms import KL
from gaespec.spec.schedules import SCHEDULES
from gaespec.spec.vocabulary import DECLARATIONS, ROLES


def test_every_declared_kind_has_a_template_and_no_template_is_orphaned():
    for role in ROLES:
        assert kinds(role) == sorted(kind for kind, _ in DECLARATIONS[role].items()), role


def test_every_arch_and_custom_nets_have_templates():
    assert kinds("encoder") == sorted([*arch_names(), "custom"])
    assert kinds("decoder") == sorted([*arch_names(), "custom"])


def test_every_schedule_has_a_template():
    assert kinds("schedule") == sorted(SCHEDULES)


def test_every_analytic_kl_pair_has_its_divergence():
    for posterior, prior in KL.ANALYTIC:
        assert (TEMPLATES_DIR / "shared" / "kl" / f"{posterior}__{prior}.py.j2").is_file()


def test_component_templates_use_only_known_blocks():
    known = {"imports", "requires", "definitions", "init", "forward", "features", "distribution"}
    known.add("decode")  # a stage's call in decode, where only its output is kept
    for role in (*ROLES, "encoder", "decoder", "schedule"):
        for kind in kinds(role):
            assert set(template_for(role, kind).blocks) <= known, (role, kind)


def test_every_template_folder_ships_in_a_wheel():
    import tomllib

    pyproject = tomllib.loads((TEMPLATES_DIR.parent / "pyproject.toml").read_text())
    shipped = pyproject["tool"]["setuptools"]["data-files"]
    folders = {
        p.parent.relative_to(TEMPLATES_DIR.parent).as_posix() for p in TEMPLATES_DIR.rglob("*.j2")
    }
    for folder in folders:
        assert shipped.get(f"share/gaespec/{folder}") == [f"{folder}/*.py.j2"], folder
