"""The Inception network in its fastest inference layout that leaves its features unchanged.

Each `BasicConv2d` block (convolution, batch norm in eval mode, ReLU) becomes one convolution
with the batch norm folded into its weights and bias, w' = w·γ/σ, b' = β − μ·γ/σ, σ =
√(running var + ε): the same affine map, so the features move by float rounding only (below
1e-4, tests/metrics/test_inception_layout.py). On a GPU the weights and activations also go
channels-last. bfloat16 is not used: it moves the features by far more than a metric allows.
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval


def fold_batch_norms(network: nn.Module) -> nn.Module:
    """A copy of `network` in eval mode with every conv followed by a batch norm folded into one
    conv (modules with `.conv` and `.bn` children, as torch-fidelity's BasicConv2d)."""
    network = copy.deepcopy(network).eval()
    for module in network.modules():
        conv, bn = getattr(module, "conv", None), getattr(module, "bn", None)
        if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
            module.conv = fuse_conv_bn_eval(conv, bn)
            module.bn = nn.Identity()
    return network


def inference_layout(network: nn.Module, device: torch.device) -> nn.Module:
    """`network` folded, and channels-last on a GPU, for measuring on `device`."""
    network = fold_batch_norms(network)
    if device.type == "cuda":
        network = network.to(memory_format=torch.channels_last)
    return network
