"""The Inception network's inference layout leaves its features unchanged (below 1e-4)."""

import pytest
import torch
from torch import nn

from gaespec.metrics.inception_layout import fold_batch_norms, inference_layout

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.* is deprecated:FutureWarning")


def test_folding_is_the_same_affine_map_per_block():
    """One conv + batch norm (eval, non-trivial statistics) against the folded conv."""
    torch.manual_seed(0)
    block = nn.Module()
    block.conv = nn.Conv2d(3, 5, 3, bias=False)
    block.bn = nn.BatchNorm2d(5, eps=0.001)
    with torch.no_grad():
        block.bn.running_mean.uniform_(-1, 1)
        block.bn.running_var.uniform_(0.5, 2)
        block.bn.weight.uniform_(0.5, 1.5)
        block.bn.bias.uniform_(-1, 1)
    block.eval()
    x = torch.randn(2, 3, 8, 8)
    folded = fold_batch_norms(block)
    assert isinstance(folded.bn, nn.Identity) and folded.conv.bias is not None
    assert isinstance(block.bn, nn.BatchNorm2d)  # the original is left as it was
    with torch.no_grad():
        expected = (block.conv(x) - block.bn.running_mean[:, None, None]) / torch.sqrt(
            block.bn.running_var[:, None, None] + 0.001
        ) * block.bn.weight[:, None, None] + block.bn.bias[:, None, None]
        torch.testing.assert_close(folded.conv(x), expected, rtol=1e-5, atol=1e-5)


def test_the_fast_layout_leaves_the_pool_features_within_1e_4(converted):
    plain, _ = converted
    fast = inference_layout(plain.network, torch.device("cpu"))
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (3, 3, 28, 28), generator=g, dtype=torch.uint8)
    with torch.inference_mode():
        ours, theirs = fast(x)[0], plain.network(x)[0]
    assert theirs.abs().max() > 1  # features of a real size
    assert (ours - theirs).abs().max() < 1e-4
    n_bn = sum(isinstance(m, nn.BatchNorm2d) for m in fast.modules())
    assert n_bn == 0 and sum(isinstance(m, nn.BatchNorm2d) for m in plain.network.modules()) == 94
