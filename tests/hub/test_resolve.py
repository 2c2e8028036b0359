"""load_run("hf://ORG/NAME"): a model in huggingface_hub's local cache, read with HF_HUB_OFFLINE=1,
gives the reconstructions of the run it was exported from, and nothing is unpickled."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import sys
from pathlib import Path

import pytest
import torch
from huggingface_hub import constants, scan_cache_dir, try_to_load_from_cache
from huggingface_hub.file_download import repo_folder_name
from typer.testing import CliRunner

import gaespec
from gaespec.cli import app
from gaespec.errors import RunError

COMMIT = hashlib.sha1(b"gaespec export").hexdigest()
runner = CliRunner()
BARE = hashlib.sha1(b"no weights").hexdigest()  # a commit whose snapshot lacks model.safetensors


def git_hash(data: bytes) -> str:
    """The id git gives a file's content (`git hash-object`): the Hub's ETag of a non-LFS file."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def cache_model(cache: Path, repo: str, folder: Path, commit: str, refs=("main",), skip=()):
    """Put folder's files into a huggingface_hub cache as a download of `repo` at `commit`
    would: blobs named by their ETag (sha256 for LFS files such as *.safetensors, else the git
    blob hash), the snapshot's files relative symlinks to them, refs/<ref> holding the commit."""
    storage = cache / repo_folder_name(repo_id=repo, repo_type="model")
    snapshot = storage / "snapshots" / commit
    snapshot.mkdir(parents=True)
    (storage / "blobs").mkdir(exist_ok=True)
    for path in sorted(folder.iterdir()):
        if path.name in skip:
            continue
        data = path.read_bytes()
        lfs = path.suffix in (".safetensors", ".png")
        blob = storage / "blobs" / (hashlib.sha256(data).hexdigest() if lfs else git_hash(data))
        blob.write_bytes(data)
        (snapshot / path.name).symlink_to(os.path.relpath(blob, snapshot))
    for ref in refs:
        (storage / "refs").mkdir(exist_ok=True)
        (storage / "refs" / ref).write_text(commit)
    return snapshot


@pytest.fixture
def hub_cache(exported, tmp_path, monkeypatch):
    """A huggingface_hub cache holding `exported` as someorg/tiny (main, and v1 without
    weights), HF_HUB_OFFLINE=1; huggingface_hub reads both settings once, when imported."""
    cache = tmp_path / "hub"
    cache_model(cache, "someorg/tiny", exported, COMMIT)
    cache_model(cache, "someorg/tiny", exported, BARE, refs=("v1",), skip=("model.safetensors",))
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    return cache


def test_the_cache_is_laid_out_as_huggingface_hub_reads_it(hub_cache, exported):
    (repo,) = scan_cache_dir(hub_cache).repos
    assert (repo.repo_id, repo.repo_type) == ("someorg/tiny", "model")
    assert {ref: revision.commit_hash for ref, revision in repo.refs.items()} == {
        "main": COMMIT,
        "v1": BARE,
    }
    files = {f.file_name for r in repo.revisions if r.commit_hash == COMMIT for f in r.files}
    assert files == {p.name for p in exported.iterdir()}
    found = try_to_load_from_cache("someorg/tiny", "spec.toml", cache_dir=hub_cache)
    assert Path(found).read_bytes() == (exported / "spec.toml").read_bytes()


def test_load_run_reads_the_offline_cache(hub_cache, tiny_run, digits, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("pickle was used")

    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, refuse)
    monkeypatch.setattr(torch, "load", refuse)
    model = gaespec.load_run("hf://someorg/tiny")
    assert model.run.path == hub_cache / "models--someorg--tiny" / "snapshots" / COMMIT
    x = digits.test.x[:16]
    with torch.no_grad():
        assert torch.equal(model.reconstruct(x), gaespec.load_run(tiny_run).reconstruct(x))
    pinned = gaespec.load_run(f"hf://someorg/tiny@{COMMIT}")
    assert all(
        torch.equal(a, b) for a, b in zip(pinned.parameters(), model.parameters(), strict=True)
    )


def test_a_revision_without_weights_is_refused(hub_cache):
    with pytest.raises(RunError) as caught:
        gaespec.load_run("hf://someorg/tiny@v1")
    assert str(caught.value) == (
        "'hf://someorg/tiny@v1' is not a gaespec model: it has no model.safetensors; "
        "fix: give a repository written by `gaespec push`"
    )


def test_a_model_missing_from_the_offline_cache(hub_cache):
    with pytest.raises(RunError) as caught:
        gaespec.load_run("hf://someorg/other")
    assert str(caught.value) == (
        f"'hf://someorg/other' is not in the Hugging Face cache '{hub_cache}', and "
        "HF_HUB_OFFLINE=1 forbids downloading it; fix: load it once with a network "
        "(HF_HUB_OFFLINE unset), or point HF_HUB_CACHE at a cache that holds it"
    )


def test_a_reference_that_names_no_repository():
    with pytest.raises(RunError) as caught:
        gaespec.load_run("hf://tiny")
    assert str(caught.value) == (
        "'hf://tiny' is not a Hugging Face Hub model reference; "
        "fix: give hf://ORG/NAME or hf://ORG/NAME@REVISION"
    )


def test_loading_from_the_hub_needs_huggingface_hub(monkeypatch):
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)  # `import huggingface_hub` fails
    with pytest.raises(RunError) as caught:
        gaespec.load_run("hf://someorg/tiny")
    assert str(caught.value) == (
        "loading 'hf://someorg/tiny' needs huggingface_hub, which is not installed; "
        "fix: pip install 'gaespec[hub]'"
    )


def test_the_cli_samples_and_evaluates_a_model_in_the_cache(
    hub_cache, exported, tmp_path, monkeypatch
):
    """`sample` and `eval` of hf://someorg/tiny say and write what they do for the exported
    folder; what they write goes to runs/hf/someorg/tiny, and the cache stays as it was."""
    before = sorted(map(str, hub_cache.rglob("*")))
    local = tmp_path / "local"
    shutil.copytree(exported, local)
    monkeypatch.chdir(tmp_path)
    results = [
        runner.invoke(app, [command, run, *extra])
        for run in ("hf://someorg/tiny", str(local))
        for command, extra in (("sample", ["-n", "8"]), ("eval", []))
    ]
    assert [result.exit_code for result in results] == [0] * 4, results[0].output
    hub_sample, hub_eval, local_sample, local_eval = [result.output for result in results]
    outputs = Path("runs/hf/someorg/tiny")
    assert hub_sample == f"8 samples (prior): {outputs / 'samples-prior.png'}\n"
    assert local_sample == f"8 samples (prior): {local / 'samples-prior.png'}\n"
    assert hub_eval == local_eval
    hub_png, local_png = outputs / "samples-prior.png", local / "samples-prior.png"
    assert hub_png.read_bytes() == local_png.read_bytes()
    hub_report = json.loads((outputs / "eval-test-best.json").read_text())
    assert hub_report == json.loads((local / "eval-test-best.json").read_text())
    assert sorted(map(str, hub_cache.rglob("*"))) == before
