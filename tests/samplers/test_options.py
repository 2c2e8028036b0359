"""Each bad sampler option is refused with a message naming the sampler, option and value."""

import pytest

from gaespec.errors import SamplerError
from gaespec.samplers import make_sampler, parse_options

CASES = [
    ("maf", {"blocks": 0}, "the maf sampler's blocks must be a positive integer, got 0"),
    ("iaf", {"blocks": True}, "the iaf sampler's blocks must be a positive integer, got True"),
    (
        "maf",
        {"hidden": []},
        "the maf sampler's hidden must be a non-empty list of positive integers, got []; "
        "fix: e.g. hidden=[128, 128]",
    ),
    (
        "iaf",
        {"hidden": [64, 0]},
        "the iaf sampler's hidden must be a non-empty list of positive integers, got [64, 0]; "
        "fix: e.g. hidden=[128, 128]",
    ),
    (
        "maf",
        {"standardize": "yes"},
        "the maf sampler's standardize must be true or false, got 'yes'",
    ),
    ("maf", {"epochs": 2.5}, "the maf sampler's epochs must be a positive integer, got 2.5"),
    ("two_stage", {"lr": 0}, "the two_stage sampler's lr must be a number > 0, got 0"),
    ("iaf", {"lr": float("inf")}, "the iaf sampler's lr must be finite, got inf"),
    ("iaf", {"lr": "fast"}, "the iaf sampler's lr must be a number > 0, got 'fast'"),
    (
        "two_stage",
        {"batch_size": -1},
        "the two_stage sampler's batch_size must be a positive integer, got -1",
    ),
    ("maf", {"validation": 1}, "the maf sampler's validation must be a number in [0, 1), got 1"),
    ("maf", {"patience": -2}, "the maf sampler's patience must be an integer ≥ 0, got -2"),
    ("two_stage", {"depth": 0}, "the two_stage sampler's depth must be a positive integer, got 0"),
    (
        "two_stage",
        {"width": "wide"},
        "the two_stage sampler's width must be a positive integer, got 'wide'",
    ),
    (
        "gmm",
        {"n_components": 0},
        "the gmm sampler's n_components must be a positive integer, got 0",
    ),
    ("gmm", {"seed": -1}, "the gmm sampler's seed must be an integer in [0, 2**32), got -1"),
    (
        "maf",
        {"seed": 2**32},
        "the maf sampler's seed must be an integer in [0, 2**32), got 4294967296",
    ),
    (
        "gmm",
        {"embedding": "means"},
        "the gmm sampler's embedding must be 'mean' (posterior means) or 'sample' (one posterior "
        "sample per training image), got 'means'; closest valid choice: 'mean'",
    ),
    (
        "two_stage",
        {"device": "gpu"},
        "the two_stage sampler's device must be a torch device such as 'cpu' or 'cuda:0', got "
        "'gpu'; fix: leave it out to fit on the model's device",
    ),
    (
        "maf",
        {"hiden": [8]},
        "the maf sampler has no option 'hiden' (options: blocks, hidden, standardize, epochs, lr, "
        "batch_size, validation, patience, embedding, seed, device); "
        "closest valid choice: 'hidden'",
    ),
    (
        "two_stage",
        {"n_components": 3},
        "the two_stage sampler has no option 'n_components' (options: depth, width, epochs, lr, "
        "batch_size, validation, patience, embedding, seed, device)",
    ),
]


@pytest.mark.parametrize(("name", "options", "message"), CASES)
def test_a_bad_option_is_refused_with_a_clear_message(name, options, message):
    with pytest.raises(SamplerError) as e:
        make_sampler(name, **options)
    assert str(e.value) == message


def test_good_options_are_kept_in_their_json_form():
    s = make_sampler("maf", hidden=(8, 8), lr=1, device="cpu")
    assert s.hidden == (8, 8) and s.lr == 1.0 and isinstance(s.lr, float)
    assert s.options()["hidden"] == [8, 8] and s.options()["device"] == "cpu"


def test_command_line_options_are_read_as_toml_values():
    parsed = parse_options(["lr=1e-3", "hidden=[64, 64]", " device = cuda:0", "standardize=false"])
    assert parsed == {"lr": 1e-3, "hidden": [64, 64], "device": "cuda:0", "standardize": False}
    with pytest.raises(SamplerError) as e:
        parse_options(["epochs"])
    assert str(e.value) == (
        "sampler option 'epochs' is not KEY=VALUE; fix: e.g. --option n_components=10"
    )
