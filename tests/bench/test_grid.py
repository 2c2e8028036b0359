"""The bench's grid of configurations: parsing, the product, errors that name the grid file."""

from __future__ import annotations

import pytest

from gaespec.bench.grid import DEFAULT_GRID, Configuration, check_against_spec, load_grid
from gaespec.errors import BenchError


def test_each_model_gets_the_product_of_its_lists(tmp_path):
    path = tmp_path / "grid.toml"
    path.write_text(
        '[beta_tc_vae]\nsource = "here"\n"params.beta" = [1.0, 2.0]\n"params.alpha" = [0.5, 1.0]\n'
        '"params.gamma" = 3.0\n'
    )
    grid = load_grid(path)
    points = grid.configurations("beta_tc_vae")
    assert [p.overrides for p in points] == [
        {"params.beta": b, "params.alpha": a, "params.gamma": 3.0}
        for b in (1.0, 2.0)
        for a in (0.5, 1.0)
    ]
    assert points[0].name == "beta=1.0,alpha=0.5,gamma=3.0"
    assert grid.sources["beta_tc_vae"] == "here"
    # a model the grid leaves out is its spec as it is
    assert grid.configurations("vae") == [Configuration()]
    assert Configuration().name == "default"
    assert [p.name for p in grid.only_first().configurations("beta_tc_vae")] == [points[0].name]


def test_the_default_grid_applies_to_every_spec_and_leads_with_its_values():
    import gaespec

    grid = load_grid()
    assert grid.file == DEFAULT_GRID
    for model, points in grid.points.items():
        check_against_spec(grid, model)
        assert grid.sources[model], model
        # the first value of each list is the spec's own
        spec = gaespec.load_spec(model).model_dump()
        for key, value in points[0].overrides.items():
            node = spec
            for part in key.split("."):
                node = node[part]
            assert node == value, (model, key)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[nope]\n"params.beta" = [1]\n',
            "{file}: nope: no built-in spec named 'nope'",
        ),
        (
            "[beta_vae]\nparams.beta = [1]\n",
            "{file}: beta_vae.params: 'params' is a table; grid keys are spec overrides with "
            'their values; fix: quote the dotted key, e.g. "params.NAME" = [1, 2] under [beta_vae]',
        ),
        (
            '[beta_vae]\n"params.beta" = []\n',
            '{file}: beta_vae."params.beta": an empty list leaves the model no configuration; '
            "fix: give at least one value, or remove the key",
        ),
        (
            "beta_vae = 3\n",
            "{file}: beta_vae: 'beta_vae' must be a table of overrides, got int; fix: write "
            '[beta_vae] and under it "params.NAME" = [values]',
        ),
    ],
)
def test_a_bad_grid_names_its_file_and_key(tmp_path, text, message):
    path = tmp_path / "grid.toml"
    path.write_text(text)
    with pytest.raises(BenchError) as error:
        load_grid(path)
    assert str(error.value).startswith(message.format(file=path))


def test_an_override_the_spec_lacks_is_blamed_on_the_grid(tmp_path):
    path = tmp_path / "grid.toml"
    path.write_text('[vae]\n"latent.dimm" = [4]\n')
    grid = load_grid(path)
    with pytest.raises(BenchError) as error:
        check_against_spec(grid, "vae")
    text = str(error.value)
    assert text.startswith(
        f'{path}: vae ("latent.dimm"): configuration dimm=4 does not apply to the vae spec: '
    )
    assert text.endswith("fix: use the spec's own keys (gaespec explain vae)")
