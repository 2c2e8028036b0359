"""The jinja2 templates of the code generator: found by role and kind, rendered block by block."""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Any

import jinja2

from gaespec.errors import CodegenError


def _templates_dir() -> Path:
    """templates/ of the source tree; in a non-editable install, the copy under share/."""
    checkout = Path(__file__).resolve().parents[2] / "templates"
    installed = Path(sys.prefix) / "share" / "gaespec" / "templates"
    return checkout if checkout.is_dir() or not installed.is_dir() else installed


TEMPLATES_DIR = _templates_dir()
MODEL = "model.py.j2"


@functools.cache
def environment() -> jinja2.Environment:
    """The template environment: strict about undefined names, no HTML escaping (it is Python)."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )


def kinds(role: str) -> list[str]:
    """The kinds that have a template for `role`."""
    return sorted(p.name.removesuffix(".py.j2") for p in (TEMPLATES_DIR / role).glob("*.py.j2"))


def template_for(role: str, kind: str) -> jinja2.Template:
    """The template of `kind` for `role`; CodegenError listing the kinds that have one."""
    try:
        return environment().get_template(f"{role}/{kind}.py.j2")
    except jinja2.TemplateNotFound:
        known = ", ".join(kinds(role)) or "none"
        raise CodegenError(
            f"no code template for {role} '{kind}' (templates exist for: {known})",
            fix=f"add templates/{role}/{kind}.py.j2",
        ) from None


def render_block(template: jinja2.Template, block: str, context: dict[str, Any]) -> str:
    """One block of a template rendered with `context`; "" if the template has no such block."""
    if block not in template.blocks:
        return ""
    return "".join(template.blocks[block](template.new_context(context)))


def render_file(**context: Any) -> str:
    """The whole file, from templates/model.py.j2."""
    return environment().get_template(MODEL).render(**context)
