"""Copying a component's source: every registered kind runs standalone, as the file runs it."""

from __future__ import annotations

import sys
import types

import pytest
import torch

import gaespec.components  # noqa: F401  (registers every implementation)
from gaespec.codegen.sources import copy_definitions
from gaespec.components.ops import per_sample
from gaespec.components.registry import IMPLEMENTATIONS
from gaespec.errors import CodegenError

KINDS = [(role, kind) for role, registry in IMPLEMENTATIONS.items() for kind, _ in registry.items()]


def _standalone(*objects) -> dict:
    """The copied definitions executed in a module of their own that has never seen gaespec."""
    copied = copy_definitions(objects)
    module = types.ModuleType(f"standalone_{len(sys.modules)}")
    sys.modules[module.__name__] = module  # dataclasses look their module up
    namespace = module.__dict__
    exec(compile("\n".join(copied.imports), "<imports>", "exec"), namespace)
    for definition in copied.definitions:
        assert "gaespec" not in definition
        exec(compile(definition, "<copied>", "exec"), namespace)
    return namespace


@pytest.mark.parametrize(("role", "kind"), KINDS, ids=lambda v: str(v))
def test_every_kind_copies_into_a_standalone_namespace(role, kind):
    cls = IMPLEMENTATIONS[role].get(kind).cls
    namespace = _standalone(cls)
    assert namespace[cls.__name__].__name__ == cls.__name__
    assert namespace[cls.__name__] is not cls


def test_a_copied_codebook_computes_what_gaespecs_does():
    from gaespec.components.codebooks import VQCodebook

    copied = _standalone(VQCodebook, per_sample)["VQCodebook"]
    torch.manual_seed(0)
    ours = VQCodebook(dim=3, num_embeddings=5)
    torch.manual_seed(0)
    theirs = copied(dim=3, num_embeddings=5)
    z = torch.randn(2, 4, 3)
    for a, b in zip(ours(z), theirs(z), strict=True):
        assert torch.equal(a, b)  # the same operations in one process


def test_dependencies_come_first_and_once():
    from gaespec.components.divergences import KLTerm, kl_diag_gaussian_standard_normal
    from gaespec.components.posteriors import DiagGaussianPosterior

    copied = copy_definitions([DiagGaussianPosterior, KLTerm, kl_diag_gaussian_standard_normal])
    assert copied.names == (
        "BatchShare",
        "SHARE",
        "batch_draw",
        "LOG_2PI",
        "DiagGaussian",
        "DiagGaussianPosterior",
        "KLTerm",
        "StandardNormalDistribution",
        "kl_diag_gaussian_standard_normal",
    )
    assert "from typing import ClassVar" in copied.imports
    assert not any(d.startswith("@implements") for d in copied.definitions)
    assert copied.definitions[4].startswith("@dataclass\nclass DiagGaussian:")


def test_a_definition_that_needs_more_than_torch_is_refused(monkeypatch):
    module = types.ModuleType("gaespec.components.fake")
    source = "import numpy\n\n\ndef uses_numpy(x):\n    return numpy.asarray(x)\n"
    exec(source, module.__dict__)
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setattr("inspect.getsource", lambda m: source if m is module else None)
    with pytest.raises(CodegenError) as caught:
        copy_definitions([module.uses_numpy])
    assert str(caught.value) == (
        "internal: gaespec.components.fake.uses_numpy names 'numpy' from numpy, which a "
        "standalone file cannot import"
    )


def _fake_module(monkeypatch, name: str, source: str) -> types.ModuleType:
    module = types.ModuleType(name)
    exec(source, module.__dict__)
    monkeypatch.setitem(sys.modules, name, module)
    sources = {name: source}
    original = __import__("inspect").getsource
    monkeypatch.setattr(
        "inspect.getsource", lambda m: sources.get(getattr(m, "__name__", None)) or original(m)
    )
    return module


def test_two_definitions_of_one_name_are_refused(monkeypatch):
    a = _fake_module(monkeypatch, "gaespec.components.fake_a", "def helper():\n    return 1\n")
    b = _fake_module(monkeypatch, "gaespec.components.fake_b", "def helper():\n    return 2\n")
    with pytest.raises(CodegenError) as caught:
        copy_definitions([a.helper, b.helper])
    assert str(caught.value) == (
        "internal: 'helper' is defined in gaespec.components.fake_a and in "
        "gaespec.components.fake_b; one standalone file holds one of each name"
    )


def test_a_name_the_copier_cannot_follow_is_refused(monkeypatch):
    source = "A, B = 1, 2\n\n\ndef uses_a(x):\n    return x + A\n"
    module = _fake_module(monkeypatch, "gaespec.components.fake_c", source)
    with pytest.raises(CodegenError) as caught:
        copy_definitions([module.uses_a])
    assert str(caught.value).startswith(
        "internal: gaespec.components.fake_c.uses_a names 'A', which its module defines in a "
        "way the copier does not follow"
    )


@pytest.mark.parametrize("arch", ["mlp", "mnist_convnet"])
def test_every_built_in_net_copies_into_a_standalone_namespace(arch):
    from gaespec.nets import get_arch

    for cls in (get_arch(arch).encoder_factory, get_arch(arch).decoder_factory):
        namespace = _standalone(cls)
        assert namespace[cls.__name__] is not cls


def test_every_schedule_copies_into_a_standalone_namespace():
    from gaespec.spec.schedules import SCHEDULES

    args = {"linear": (0.0, 2.0, 100.0), "cyclical": (0.0, 2.0, 100.0, 0.5), "warmup": (100.0,)}
    assert set(args) == set(SCHEDULES)
    for name, schedule in SCHEDULES.items():
        copied = _standalone(schedule.fn)[name]
        for step in (0, 3, 250):
            # one function run twice: the same arithmetic
            assert copied(*args[name], step=step) == schedule(*args[name], step=step)
