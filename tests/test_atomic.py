"""Atomic writes: the old file or the new one, never half of one, and no temporary left behind."""

from __future__ import annotations

import os

import pytest

from gaespec.atomic import atomic_write, atomic_write_text


def test_a_write_replaces_the_file_and_leaves_nothing_else(tmp_path):
    path = tmp_path / "a" / "state.json"
    atomic_write_text(path, "old")
    atomic_write_text(path, "new")
    assert path.read_text() == "new"
    assert os.listdir(path.parent) == ["state.json"]
    assert oct(path.stat().st_mode & 0o777) == oct(0o666 & ~_umask())


def test_a_write_that_fails_keeps_the_old_file(tmp_path):
    path = tmp_path / "state.json"
    atomic_write_text(path, "old")

    def dies_halfway(tmp):
        with open(tmp, "w") as f:
            f.write("ne")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(path, dies_halfway)
    assert path.read_text() == "old"
    assert os.listdir(tmp_path) == ["state.json"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_remove_temporaries_takes_only_the_named_files_leftovers(tmp_path):
    from gaespec.atomic import remove_temporaries

    ours = tmp_path / ".last.safetensors.a1b2.tmp"
    theirs = tmp_path / ".eval-test-best.json.c3d4.tmp"  # another writer's, maybe still going
    kept = tmp_path / "last.safetensors"
    for path in (ours, theirs, kept):
        path.write_text("x")
    assert remove_temporaries(tmp_path, ["last.safetensors", "model.safetensors"]) == [ours]
    assert not ours.exists() and theirs.exists() and kept.exists()
