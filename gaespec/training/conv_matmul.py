"""Convolutions as one matrix multiplication each: the `[train] conv_as_matmul` fast path.

A 2-d convolution is a matmul of its weight with the input's patches (im2col: `F.unfold`), and a
transposed convolution is a matmul of the input with the weight whose columns are then summed
back into place (col2im: `F.fold`). On a CPU, oneDNN's direct kernels are slow on the small
feature maps of the study's MNIST ConvNet (its last encoder convolution maps 3×3 to 1×1, its
first decoder one 4×4 to 7×7: 25–50 GFLOP/s where a matmul of the same FLOPs runs at several
hundred), while one large matmul runs at the machine's matmul speed, and under bf16 autocast on
AMX at several times that. The weights, their names and the state dict stay as they are: only
each eligible module's `forward` is replaced, for the same function (to float rounding: tests/
training/test_conv_matmul.py).

Only small feature maps go the matmul way: a convolution whose output, or a transposed one whose
input, has at most MAX_POSITIONS positions; larger ones keep oneDNN's kernels, which are good
there and which unfolding would only slow down (measured, 2 CPU threads with AMX, batch 64, one
VAE step against fp32: the MNIST ConvNet with bf16 1.28x, with bf16 and every convolution as a
matmul 1.87x, with bf16 and the maps of at most 16 positions 2.46x (at most 9: 1.86x); Pythae's
CIFAR ConvNet bf16 1.93x, all as matmuls 1.42x, at most 16 positions 2.27x; the ResNet 1.82x,
0.34x and 1.84x; in fp32 the small-map rule is never slower: 1.33x, 1.04x, 1.00x).

Eligible: `nn.Conv2d` and `nn.ConvTranspose2d` themselves (not subclasses), one group, no
dilation, zero padding given as numbers. Others keep torch's kernels.
"""

from __future__ import annotations

import types

import torch
import torch.nn.functional as F
from torch import nn

MAX_POSITIONS = 16  # h·w of the small side (output of a convolution, input of a transposed one)


def conv2d_as_matmul(self: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    """nn.Conv2d's forward as unfold + one matmul: (b c h w) → (b o h' w')."""
    if x.dim() != 4:  # an unbatched image: torch's own kernel
        return nn.Conv2d.forward(self, x)
    b, _, h, w = x.shape
    out_channels, _, kh, kw = self.weight.shape
    (sh, sw), (ph, pw) = self.stride, self.padding
    oh, ow = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    if oh * ow > MAX_POSITIONS:  # a large map: oneDNN's kernel is the faster
        return nn.Conv2d.forward(self, x)
    patches = F.unfold(x, (kh, kw), padding=(ph, pw), stride=(sh, sw))  # (b (c kh kw) (h' w'))
    # ((b h' w') (c kh kw)) @ ((c kh kw) o): the batch's every position in one matmul
    rows = patches.transpose(1, 2).flatten(0, 1)
    out = rows @ self.weight.flatten(1).t()
    out = out.view(b, oh, ow, out_channels).permute(0, 3, 1, 2)  # (b o h' w'), channels-last
    return out if self.bias is None else out + self.bias.view(1, out_channels, 1, 1)


def conv_transpose2d_as_matmul(
    self: nn.ConvTranspose2d, x: torch.Tensor, output_size: list[int] | None = None
) -> torch.Tensor:
    """nn.ConvTranspose2d's forward as one matmul + fold: (b c h w) → (b o h' w')."""
    if output_size is not None or x.dim() != 4 or x.shape[-2] * x.shape[-1] > MAX_POSITIONS:
        # torch's own kernel (it works out an output padding for output_size; on a large map,
        # oneDNN's kernel is the faster)
        return nn.ConvTranspose2d.forward(self, x, output_size)
    b, in_channels, h, w = x.shape
    _, out_channels, kh, kw = self.weight.shape
    (sh, sw), (ph, pw), (oph, opw) = self.stride, self.padding, self.output_padding
    oh = (h - 1) * sh - 2 * ph + kh + oph
    ow = (w - 1) * sw - 2 * pw + kw + opw
    rows = x.permute(0, 2, 3, 1).reshape(b * h * w, in_channels)  # ((b h w) c)
    # ((b h w) c) @ (c (o kh kw)): each input position's contribution to its kh×kw window
    columns = (rows @ self.weight.flatten(1)).view(b, h * w, -1).transpose(1, 2)
    out = F.fold(columns, (oh, ow), (kh, kw), padding=(ph, pw), stride=(sh, sw))
    return out if self.bias is None else out + self.bias.view(1, out_channels, 1, 1)


# the module types whose forward has a matmul form, and that form
AS_MATMUL = {nn.Conv2d: conv2d_as_matmul, nn.ConvTranspose2d: conv_transpose2d_as_matmul}


def _eligible(module: nn.Module) -> bool:
    return (
        type(module) in AS_MATMUL
        and module.groups == 1
        and tuple(module.dilation) == (1, 1)
        and module.padding_mode == "zeros"
        and not isinstance(module.padding, str)
    )


def lower_convolutions(model: nn.Module) -> list[str]:
    """Give every eligible convolution of `model` its matmul forward; the names of those lowered."""
    lowered = []
    for name, module in model.named_modules():
        if _eligible(module):
            module.forward = types.MethodType(AS_MATMUL[type(module)], module)
            lowered.append(name)
    return lowered
