"""Spec loading: extends chains, overrides, and errors that name file, key and closest choice."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gaespec.errors import SpecError
from gaespec.spec.load import builtin_specs, load_spec
from gaespec.spec.toml_writer import dumps


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / f"{name}.toml"
    path.write_text(textwrap.dedent(text))
    return path


def error_of(path, overrides=()) -> SpecError:
    with pytest.raises(SpecError) as caught:
        load_spec(path, overrides)
    return caught.value


def test_extends_merges_key_by_key():
    spec = load_spec("specs/models/beta_vae.toml")
    assert spec.model.name == "beta_vae"
    assert spec.model.reference.startswith("Higgins")
    assert spec.terms["recon"].scale == 0.5  # from vae.toml
    assert spec.objective.loss == "recon + beta * kl"
    assert spec.objective.optimizer.lr == 1e-3  # the parent's optimiser table survives
    assert spec.params == {"beta": 4.0}


def test_a_child_that_changes_a_kind_replaces_the_table(tmp_path):
    write(
        tmp_path,
        "base",
        """
        [model]
        name = "base"
        [terms]
        recon = { kind = "reconstruction", scale = 0.5 }
        [objective]
        loss = "recon"
    """,
    )
    child = write(
        tmp_path,
        "child",
        """
        extends = "base"
        [model]
        name = "child"
        [terms]
        recon = { kind = "kl" }
    """,
    )
    assert load_spec(child).terms["recon"].kind == "kl"


def test_objectives_in_a_child_replace_the_parents_objective(tmp_path):
    child = write(
        tmp_path,
        "two",
        """
        extends = "vae"
        [model]
        name = "two"
        [[objectives]]
        name = "main"
        loss = "recon + kl"
    """,
    )
    spec = load_spec(child)
    assert spec.objective is None
    assert [o.name for o in spec.all_objectives] == ["main"]


def test_builtin_name_and_overrides():
    spec = load_spec("vae", ["params.beta=4", "latent.dim=32", "encoder.arch=mlp"])
    assert spec.params == {"beta": 4.0}
    assert spec.latent.dim == 32
    assert spec.encoder.arch == "mlp"
    assert load_spec("vae", {"latent.dim": 8}).latent.dim == 8


def test_typo_in_a_kind_names_file_line_key_and_closest(tmp_path):
    path = write(
        tmp_path,
        "typo",
        """
        extends = "vae"
        [model]
        name = "typo"
        [latent]
        posterior = { kind = "diag_gausian" }
    """,
    )
    assert str(error_of(path)) == (
        f"{path}:6:1: latent.posterior.kind: unknown kind 'diag_gausian' (expected one of "
        "deterministic, diag_gaussian, iaf, normalizing_flows, or a class of yours as "
        "'package.module:Class'); closest valid choice: 'diag_gaussian'"
    )


def test_unknown_key_names_the_closest(tmp_path):
    path = write(
        tmp_path,
        "key",
        """
        extends = "vae"
        [model]
        name = "key"
        [terms.recon]
        scael = 1.0
    """,
    )
    assert str(error_of(path)) == (
        f"{path}:6:1: terms.recon.scael: unknown key 'scael'; closest valid choice: 'scale'"
    )


def test_error_in_a_parent_names_the_parent(tmp_path):
    write(
        tmp_path,
        "parent",
        """
        [model]
        name = "parent"
        [terms]
        recon = { kind = "reconstruction", likelihood = "gausian" }
        [objective]
        loss = "recon"
    """,
    )
    child = write(tmp_path, "child", 'extends = "parent"\n[model]\nname = "child"\n')
    error = error_of(child)
    assert error.file == str(tmp_path / "parent.toml")
    assert error.key == "terms.recon.likelihood"
    assert error.line == 5
    assert error.suggestions == ["gaussian"]


def test_cycle_in_extends(tmp_path):
    write(tmp_path, "a", 'extends = "b"\n')
    write(tmp_path, "b", 'extends = "a"\n')
    assert str(error_of(tmp_path / "a.toml")) == (
        f"{tmp_path / 'b.toml'}:1:1: extends: cycle in extends: a.toml → b.toml → a.toml"
    )


def test_unknown_parent(tmp_path):
    path = write(tmp_path, "orphan", 'extends = "vea"\n')
    error = error_of(path)
    assert error.key == "extends"
    assert error.suggestions[0] == "vae"
    assert str(error).startswith(f"{path}:1:1: extends: unknown parent spec 'vea'")


def test_toml_syntax_error_has_line_and_column(tmp_path):
    path = write(tmp_path, "bad", "[model]\nname = \n")
    error = error_of(path)
    assert (error.file, error.line, error.column) == (str(path), 2, 8)
    assert str(error).startswith(f"{path}:2:8: invalid TOML: ")


def test_missing_file():
    assert str(error_of("no/such.toml")) == "no such spec file 'no/such.toml'"


def test_bad_override():
    assert str(error_of("specs/models/vae.toml", ["latent.dim"])) == (
        "--set: override 'latent.dim' is not KEY=VALUE; fix: e.g. --set params.beta=4"
    )
    error = error_of("specs/models/vae.toml", ["latent.dim=-3"])
    assert (error.file, error.key) == ("--set", "latent.dim")
    assert str(error) == "--set: latent.dim: Input should be greater than 0"


def test_missing_objective(tmp_path):
    path = write(tmp_path, "none", '[model]\nname = "none"\n[terms]\nkl = { kind = "kl" }\n')
    assert "a spec needs [objective] (one loss) or [[objectives]] (several)" in str(error_of(path))


@pytest.mark.parametrize("name", sorted(builtin_specs()))
def test_resolved_spec_round_trips_through_toml(tmp_path, name):
    spec = load_spec(builtin_specs()[name])
    data = spec.model_dump(mode="json", exclude_none=True)
    path = tmp_path / "resolved.toml"
    path.write_text(dumps(data))
    assert load_spec(path).model_dump() == spec.model_dump()


def test_loading_a_spec_never_imports_torch():
    code = (
        "import sys, gaespec; from gaespec.graph.lower import lower;"
        "lower(gaespec.load_spec('specs/models/aae.toml'));"
        "print('torch' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


def test_errors_in_an_array_of_tables_point_at_the_right_entry(tmp_path):
    path = write(
        tmp_path,
        "two",
        """
        extends = "vae"
        [model]
        name = "two"
        [[objectives]]
        name = "a"
        loss = "recon"
        params = ["encoder", "posterior", "decoder"]
        [[objectives]]
        name = "b"
        loss = "kl"
        params = ["encoder"]
        optimizer = { name = "adam", lr = -1 }
    """,
    )
    error = error_of(path)
    assert (error.key, error.line) == ("objectives.1.optimizer.lr", 13)


def test_values_that_are_not_numbers_or_out_of_range():
    assert str(error_of("specs/models/vae.toml", ["params.beta=nan"])) == (
        "--set: params.beta: Input should be a finite number"
    )
    assert str(error_of("specs/models/vae.toml", ["train.seed=-1"])) == (
        "--set: train.seed: Input should be greater than or equal to 0"
    )


def test_a_file_that_is_not_text(tmp_path):
    path = tmp_path / "weights.toml"
    path.write_bytes(b"\xff\xfe\x00binary")
    assert str(error_of(path)) == f"{path}: not a UTF-8 TOML file"
