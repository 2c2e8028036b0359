"""The templates of custom nets and of schedules, no more, no fewer. Every component kind and
built-in net has none: its class in gaespec is copied (tests/codegen/test_sources.py)."""

from __future__ import annotations

from gaespec.codegen.templates import TEMPLATES_DIR, kinds, template_for
from gaespec.spec.schedules import SCHEDULES
from gaespec.spec.vocabulary import ROLES


def test_no_component_kind_has_a_template():
    for role in ROLES:
        assert kinds(role) == [], role
    assert sorted(p.name for p in TEMPLATES_DIR.iterdir() if p.is_dir()) == [
        "decoder",
        "encoder",
        "schedule",
    ]


def test_only_custom_nets_have_templates():
    assert kinds("encoder") == kinds("decoder") == ["custom"]


def test_every_schedule_has_a_template():
    assert kinds("schedule") == sorted(SCHEDULES)


def test_templates_use_only_known_blocks():
    known = {"imports", "definitions", "init", "features"}
    for role in ("encoder", "decoder", "schedule"):
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
