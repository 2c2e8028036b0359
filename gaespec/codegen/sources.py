"""The source of a component, copied: a class or function of gaespec.components with every
definition it names, dependencies first, and the imports they need.

The composed model runs these very definitions; the code generator writes their text into the
standalone file, so that each kind's torch code has one source. A copyable definition names
only the standard library, torch and einops, and other definitions of gaespec.components
(a test checks every registered kind).
"""

from __future__ import annotations

import ast
import builtins
import functools
import inspect
import sys
from dataclasses import dataclass

from gaespec.errors import CodegenError

# packages a copied definition may import from (the emitted file needs torch and einops only)
COPYABLE_IMPORTS = ("torch", "einops", "math", "dataclasses", "typing", "collections")
# the packages whose definitions are copied along when named: the components and the nets
COPIED = ("gaespec.components", "gaespec.nets", "gaespec.spec.schedules")
# the decorators that register a kind or a schedule with gaespec: not copied
REGISTRATION = frozenset({"implements", "schedule"})


@dataclass(frozen=True)
class Copied:
    """Definitions in dependency order (each once) and the import lines they need."""

    imports: tuple[str, ...]
    definitions: tuple[str, ...]
    names: tuple[str, ...]  # the top-level names the definitions define, in order


@functools.cache
def _module_tree(module_name: str) -> tuple[str, ast.Module]:
    source = inspect.getsource(sys.modules[module_name])
    return source, ast.parse(source)


def _definitions(tree: ast.Module) -> dict[str, ast.stmt]:
    found: dict[str, ast.stmt] = {}
    for statement in tree.body:
        match statement:
            case ast.ClassDef(name=n) | ast.FunctionDef(name=n):
                found[n] = statement
            case ast.Assign(targets=[ast.Name(id=n)]) | ast.AnnAssign(target=ast.Name(id=n)):
                found[n] = statement
    return found


def _imports(tree: ast.Module) -> dict[str, tuple[str, str | None, str]]:
    """name → (module, imported name or None for `import module`, the import line)."""
    found: dict[str, tuple[str, str | None, str]] = {}
    for statement in tree.body:
        match statement:
            case ast.Import(names=aliases):
                for a in aliases:
                    line = f"import {a.name}" + (f" as {a.asname}" if a.asname else "")
                    found[a.asname or a.name.split(".")[0]] = (a.name, None, line)
            case ast.ImportFrom(level=level, names=aliases) if level:
                for a in aliases:  # refused where named: the copier follows absolute ones
                    found[a.asname or a.name] = (".", a.name, "")
            case ast.ImportFrom(module=module, names=aliases) if module and module != "__future__":
                for a in aliases:
                    alias = f" as {a.asname}" if a.asname else ""
                    line = f"from {module} import {a.name}{alias}"
                    found[a.asname or a.name] = (module, a.name, line)
    return found


def _registers(decorator: ast.expr) -> bool:
    """Whether a decorator registers the definition with gaespec (it stays behind)."""
    call = decorator.func if isinstance(decorator, ast.Call) else decorator
    return isinstance(call, ast.Name) and call.id in REGISTRATION


def _names_bound(node: ast.AST) -> set[str]:
    """The names a definition binds itself: its arguments, assignments and loop targets."""
    bound = {
        n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
    }
    bound |= {
        a.arg
        for n in ast.walk(node)
        if isinstance(n, ast.arguments)
        for a in (*n.posonlyargs, *n.args, *n.kwonlyargs, *(x for x in (n.vararg, n.kwarg) if x))
    }
    return bound


def _names_read(node: ast.AST) -> list[str]:
    """Every name the definition reads, annotations included (they stay names in the tree), its
    decorators not (registration stays behind)."""
    parts = [node]
    if isinstance(node, (ast.ClassDef, ast.FunctionDef)):
        parts = [*node.body, *getattr(node, "bases", ()), *getattr(node, "keywords", ())]
        if isinstance(node, ast.FunctionDef):
            parts += [node.args, *([node.returns] if node.returns else [])]
    return [
        n.id
        for part in parts
        for n in ast.walk(part)
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
    ]


def copy_definitions(objects) -> Copied:
    """The source of `objects` (classes or functions of gaespec.components) and of everything
    they name there, dependencies first; their imports, each once."""
    imports: dict[str, None] = {}
    definitions: dict[tuple[str, str], str] = {}

    def visit(module_name: str, name: str, chain: tuple[str, ...]) -> None:
        if (module_name, name) in definitions:
            return
        if name in chain:
            raise CodegenError(f"internal: definitions name each other: {' → '.join(chain)}")
        source, tree = _module_tree(module_name)
        node = _definitions(tree).get(name)
        if node is None:
            raise CodegenError(f"internal: {module_name} defines no '{name}' to copy")
        known, imported = _definitions(tree), _imports(tree)
        text = ast.get_source_segment(source, node, padded=False)
        kept = [d for d in getattr(node, "decorator_list", ()) if not _registers(d)]
        text = "".join(f"@{ast.get_source_segment(source, d)}\n" for d in kept) + text
        reads = _names_read(node) + [
            n.id for d in kept for n in ast.walk(d) if isinstance(n, ast.Name)
        ]
        for inner in ast.walk(node):  # an import inside a definition comes along as text
            if isinstance(inner, (ast.Import, ast.ImportFrom)):
                modules = [a.name for a in inner.names] if isinstance(inner, ast.Import) else []
                modules += [inner.module or "."] if isinstance(inner, ast.ImportFrom) else []
                if getattr(inner, "level", 0) or any(
                    m.split(".")[0] not in COPYABLE_IMPORTS for m in modules
                ):
                    raise CodegenError(
                        f"internal: {module_name}.{name} imports {', '.join(modules)} inside "
                        "it, which a standalone file cannot"
                    )
        bound = _names_bound(node)
        namespace = vars(sys.modules[module_name])
        for read in reads:
            if read == name or (read in bound and read not in known):
                continue
            if read not in known and read not in imported and read in namespace:
                if not hasattr(builtins, read):
                    raise CodegenError(
                        f"internal: {module_name}.{name} names '{read}', which its module "
                        "defines in a way the copier does not follow (one name per def, class, "
                        "assignment or import)"
                    )
            if read in known:
                visit(module_name, read, (*chain, name))
            elif read in imported:
                module, original, line = imported[read]
                if module.startswith(COPIED):
                    visit(module, original or read, (*chain, name))
                elif module.split(".")[0] in COPYABLE_IMPORTS:
                    imports[line] = None
                else:
                    raise CodegenError(
                        f"internal: {module_name}.{name} names '{read}' from {module}, which a "
                        "standalone file cannot import"
                    )
        if name in owners and owners[name] != module_name:
            raise CodegenError(
                f"internal: '{name}' is defined in {owners[name]} and in {module_name}; one "
                "standalone file holds one of each name"
            )
        owners[name] = module_name
        definitions[(module_name, name)] = text

    owners: dict[str, str] = {}
    for obj in objects:
        visit(obj.__module__, obj.__name__, ())
    return Copied(tuple(imports), tuple(definitions.values()), tuple(n for _, n in definitions))
