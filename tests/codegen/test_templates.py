"""The templates: the file's, and the custom nets' (which import them). No component kind,
built-in net or schedule has one: its code in gaespec is copied (see test_sources.py)."""

from __future__ import annotations

from gaespec.codegen.templates import TEMPLATES_DIR, kinds, template_for
from gaespec.spec.vocabulary import ROLES


def test_no_component_kind_has_a_template():
    for role in ROLES:
        assert kinds(role) == [], role
    assert sorted(p.name for p in TEMPLATES_DIR.iterdir() if p.is_dir()) == [
        "decoder",
        "encoder",
    ]


def test_only_custom_nets_have_templates():
    assert kinds("encoder") == kinds("decoder") == ["custom"]


def test_templates_use_only_known_blocks():
    known = {"imports", "definitions", "init", "features"}
    for role in ("encoder", "decoder"):
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
