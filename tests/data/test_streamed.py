"""Tests of gaespec.data.streamed: a streamed folder gives the in-memory path's batches exactly."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from image_folder import write_digits
from tiny import TINY

import gaespec
from gaespec.data import DataSplits, StreamedSplit, load_data
from gaespec.data.streamed import pixel_values
from gaespec.errors import DataError
from gaespec.training.trainer import epoch_order


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("digits")
    write_digits(root)
    return root


@pytest.fixture(scope="module")
def memory(folder):
    return load_data(f"folder:{folder}?size=16", seed=1)


def streamed(folder, workers):
    return load_data(f"folder:{folder}?size=16&stream=1&workers={workers}", seed=1)


@pytest.mark.parametrize("workers", [0, 2])
def test_streamed_batches_are_the_in_memory_batches(folder, memory, workers):
    data = streamed(folder, workers)
    assert isinstance(data.train, StreamedSplit) and data.train.stream.workers == workers
    for epoch in range(2):  # the second pass reuses the persistent workers
        order = epoch_order(len(memory.train), seed=5, epoch=epoch)
        sizes = [32] * 6 + [17]  # 209 of the 210: the sum may fall short of the order
        pieces = torch.split(memory.train.x[order[:209]], sizes)
        batches = list(data.train.batches(order, sizes, "cpu"))
        assert [len(b) for b in batches] == sizes
        assert all(torch.equal(a, b) for a, b in zip(pieces, batches, strict=True))
        assert all(b.dtype == torch.float32 for b in batches)
    chunks = list(data.validation.chunks(7))
    assert [len(c) for c in chunks] == [7, 7, 7, 7, 2]
    assert torch.equal(torch.cat(chunks), memory.validation.x)
    assert torch.equal(data.test.x, memory.test.x)
    assert torch.equal(data.test.head(5), memory.test.x[:5])
    for split in ("train", "validation", "test"):
        assert torch.equal(getattr(data, split).y, getattr(memory, split).y)
        assert len(getattr(data, split)) == len(getattr(memory, split))


def test_the_in_memory_split_answers_the_same_calls(memory):
    split = memory.validation
    assert split.shape == (1, 16, 16)
    assert torch.equal(torch.cat(list(split.chunks(7))), split.x)
    assert torch.equal(split.head(4), split.x[:4])
    least, most = split.extremes()
    assert (float(least), float(most)) == (float(split.x.min()), float(split.x.max()))


def test_pixel_values_are_check_array_s():
    values = pixel_values()
    assert values.dtype == torch.float32 and values.shape == (256,)
    assert torch.equal(values, torch.from_numpy(np.arange(256, dtype=np.float32) / 255))


def test_shape_and_range_are_checked_without_reading_an_image(tmp_path, folder):
    copy = tmp_path / "digits"
    shutil.copytree(folder, copy)
    data = load_data(f"folder:{copy}?size=16&stream=1", seed=1)
    shutil.rmtree(copy)  # nothing is left to decode
    assert data.shape == (1, 16, 16)
    data.check((1, 16, 16), low=0.0, high=1.0, why="a bernoulli likelihood needs [0, 1]")
    with pytest.raises(DataError) as caught:
        data.check((1, 28, 28), low=0.0, high=1.0, why="")
    assert str(caught.value).startswith(
        f"data 'folder:{copy}?size=16&stream=1' has samples of shape 1×16×16 but the spec "
        "expects 1×28×28 (key input.shape); fix: --set input.shape=[1,16,16]"
    )
    assert repr(data.train) == "StreamedSplit(210 × 1×16×16, with labels, 0 workers)"


@pytest.mark.parametrize("workers", [0, 2])
def test_an_image_spoilt_after_loading_fails_with_its_name(tmp_path, workers):
    write_digits(tmp_path, n=20)
    data = load_data(f"folder:{tmp_path}?size=16&stream=1&workers={workers}", seed=0)
    spoilt = tmp_path / "0" / "000.png"  # sample 0
    spoilt.write_text("spoilt")
    split = next(s for s in (data.train, data.validation, data.test) if 0 in s.index)
    with pytest.raises(DataError) as caught:
        list(split.chunks(4))
    assert str(caught.value) == (
        f"cannot read image '{spoilt}': cannot identify image file '{spoilt}'; "
        "fix: repair or delete the file, or move it out of the folder"
    )


def test_one_pass_at_a_time(folder):
    data = streamed(folder, 2)
    first = data.validation.chunks(10)
    next(first)
    second = data.test.chunks(10)  # the same stream: train, validation and test share it
    assert len(next(second)) == 10
    with pytest.raises(RuntimeError, match="a later pass over the same stream began"):
        next(first)


# -- needs the trainer to take batches from a streamed split (see the report of issue 16) ------


def test_training_streamed_gives_the_in_memory_numbers(tmp_path, folder, monkeypatch):
    """Two epochs of a tiny VAE on the folder, in memory and streamed with two workers, give
    the same metrics; the streamed run never holds a whole split in memory."""

    def materialised(self):
        raise AssertionError("a streamed split was loaded whole")

    spec = gaespec.load_spec("vae", [*TINY, "input.shape=[1,16,16]"])
    metrics = {}
    for name, source in (
        ("memory", f"folder:{folder}?size=16"),
        ("streamed", f"folder:{folder}?size=16&stream=1&workers=2"),
    ):
        if name == "streamed":
            monkeypatch.setattr(StreamedSplit, "x", property(materialised))
        run = gaespec.train(
            spec,
            data=source,
            epochs=2,
            out=tmp_path / name,
            progress=False,
            device="cpu",
            log=lambda *_: None,
        )
        assert isinstance(run.data, DataSplits) and len(run.data.train) == 210
        lines = (tmp_path / name / "metrics.jsonl").read_text().splitlines()
        metrics[name] = [json.loads(line) for line in lines]
        for record in metrics[name]:
            record.pop("seconds")
    assert len(metrics["memory"]) == 2
    assert metrics["streamed"] == metrics["memory"]
