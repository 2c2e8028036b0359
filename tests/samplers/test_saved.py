"""Fitted samplers saved in the run folder and reused: same codes from the same seed, no pickle."""

import json

import pytest
import torch
from tiny import tiny_spec

import gaespec
from gaespec.errors import SamplerError
from gaespec.samplers import fitted_sampler, load_sampler
from gaespec.samplers.base import Sampler
from gaespec.samplers.saved import FOLDER, SETTINGS, STATE

QUICK = {
    "gmm": {"n_components": 3},
    "maf": {"epochs": 2, "hidden": [8]},
    "iaf": {"epochs": 2, "hidden": [8]},
    "two_stage": {"epochs": 2, "width": 8},
}


def tiny_model():
    torch.manual_seed(0)
    return gaespec.build(tiny_spec("vae"))


def images(n: int = 60) -> torch.Tensor:
    return torch.rand(n, 1, 8, 8, generator=torch.Generator().manual_seed(0))


@pytest.fixture
def fits(monkeypatch):
    """The names of the samplers fitted so far (every fit goes through Sampler.fit)."""
    calls = []
    fit = Sampler.fit

    def counted(self, model, x_train=None):
        calls.append(self.name)
        return fit(self, model, x_train)

    monkeypatch.setattr(Sampler, "fit", counted)
    return calls


@pytest.mark.parametrize("name", sorted(QUICK))
def test_a_saved_sampler_is_reused_and_draws_the_same_codes(tmp_path, fits, name):
    model, x = tiny_model(), images()
    fitted = fitted_sampler(tmp_path, model, name, x, **QUICK[name])
    again = fitted_sampler(tmp_path, model, name, x, **QUICK[name])
    assert fits == [name]  # fitted once, then loaded
    assert (fitted.reused, again.reused) == (False, True)
    assert fitted.saved_in == again.saved_in and again.saved_in.parent == tmp_path / FOLDER
    assert again is not fitted and again.report == fitted.report
    a = fitted.codes(50, torch.Generator().manual_seed(3))
    b = again.codes(50, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)  # the same tensors through the same ops
    assert not torch.equal(a, fitted.codes(50, torch.Generator().manual_seed(4)))
    images_a = fitted.sample(5, generator=torch.Generator().manual_seed(5))
    assert torch.equal(images_a, again.sample(5, generator=torch.Generator().manual_seed(5)))
    # only JSON and safetensors on disk, in RUN/samplers/<name>-<hash>/
    files = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    (folder,) = {f.parent for f in files}
    assert folder.parent.name == FOLDER and folder.name.startswith(f"{name}-")
    assert [f.name for f in files] == [SETTINGS, STATE]
    settings = json.loads((tmp_path / folder / SETTINGS).read_text())
    assert settings["sampler"] == name
    assert settings["options"] == fitted.options()


def test_other_options_weights_or_data_fit_again(tmp_path, fits):
    model, x = tiny_model(), images()
    first = fitted_sampler(tmp_path, model, "gmm", x, n_components=3)
    fitted_sampler(tmp_path, model, "gmm", x, n_components=2)  # another folder
    assert len(list((tmp_path / FOLDER).iterdir())) == 2
    with torch.no_grad():
        model.posterior.mean.bias.add_(1.0)  # other weights, the same data
    moved = fitted_sampler(tmp_path, model, "gmm", x, n_components=3)
    assert fits == ["gmm"] * 3
    assert not torch.equal(moved.means, first.means)
    fitted_sampler(tmp_path, model, "gmm", x[:50], n_components=3)  # other data
    fitted_sampler(tmp_path, model, "gmm", x[:50], n_components=3)  # loaded
    assert fits == ["gmm"] * 4
    # each fit replaced the one before it in the folder of its options
    assert len(list((tmp_path / FOLDER).iterdir())) == 2


def test_samplers_that_fit_nothing_save_nothing(tmp_path):
    model = tiny_model()
    s = fitted_sampler(tmp_path, model, "prior", images())
    assert s.sample(2).shape == (2, 1, 8, 8)
    assert not (tmp_path / FOLDER).exists()


def test_a_damaged_save_is_fitted_again_and_refused_when_loaded_directly(tmp_path, fits):
    model, x = tiny_model(), images()
    fitted_sampler(tmp_path, model, "maf", x, **QUICK["maf"])
    (folder,) = (tmp_path / FOLDER).iterdir()
    (folder / STATE).write_bytes(b"not safetensors")
    with pytest.raises(SamplerError) as e:
        load_sampler(folder, model)
    assert str(e.value).startswith(f"'{folder / STATE}' is not a readable safetensors file: ")
    assert str(e.value).endswith("; fix: delete the folder to fit again")
    fitted_sampler(tmp_path, model, "maf", x, **QUICK["maf"])
    assert fits == ["maf", "maf"]
    load_sampler(folder, model)  # repaired by the second fit


def test_a_state_that_is_not_the_one_described_is_refused(tmp_path):
    model, x = tiny_model(), images()
    fitted_sampler(tmp_path, model, "gmm", x, n_components=3)
    fitted_sampler(tmp_path, model, "gmm", x, n_components=2)
    first, second = sorted((tmp_path / FOLDER).iterdir())
    (first / STATE).write_bytes((second / STATE).read_bytes())
    with pytest.raises(SamplerError) as e:
        load_sampler(first, model)
    assert str(e.value) == (
        f"'{first / STATE}' is not the state that '{first / SETTINGS}' describes; "
        "fix: delete the folder to fit again"
    )


def test_a_missing_save_says_so(tmp_path):
    with pytest.raises(SamplerError) as e:
        load_sampler(tmp_path / "nothing", tiny_model())
    assert (
        str(e.value)
        == f"'{tmp_path / 'nothing' / SETTINGS}' is missing: no sampler was saved there"
    )
