"""Mixed precision for the training step: autocast, and a gradient scaler where fp16 needs one.

`[train] precision` picks it: "fp32" (the default: no autocast), "bf16" (autocast to bfloat16 on
a CPU with bfloat16 kernels, or on a GPU; no scaler: bfloat16 has fp32's exponent range), or
"fp16" (autocast to float16 on a GPU, with a `torch.amp.GradScaler` that scales each objective's
loss and skips the steps whose gradients overflow). The weights, the optimisers' states and the
evaluation stay in fp32; only the arithmetic of the training step's forward pass is lowered.
"""

from __future__ import annotations

import contextlib

import torch

from gaespec.errors import TrainingError

PRECISIONS = ("fp32", "bf16", "fp16")
DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def bf16_supported(device: torch.device) -> bool:
    """Whether `device` has fast bfloat16 kernels (a CPU: oneDNN's AVX-512 BF16 or AMX)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return device.type == "cpu" and bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


class Precision:
    """The autocast context and the (optional) gradient scaler of one training run."""

    def __init__(self, name: str, device: torch.device):
        if name not in PRECISIONS:
            raise TrainingError(
                f"unknown precision '{name}'", key="train.precision", name=name, choices=PRECISIONS
            )
        if name == "fp16" and device.type != "cuda":
            raise TrainingError(
                "fp16 training needs a GPU: on a CPU float16 arithmetic is emulated and slow",
                key="train.precision",
                fix='use precision = "bf16" where the CPU has bfloat16 kernels, or "fp32"',
            )
        if name == "bf16" and not bf16_supported(device):
            raise TrainingError(
                f"this {device.type.upper()} has no fast bfloat16 kernels "
                "(a CPU needs AVX-512 BF16 or AMX)",
                key="train.precision",
                fix='use precision = "fp32"',
            )
        self.name = name
        self.device = device
        self.scaler = torch.amp.GradScaler("cuda") if name == "fp16" else None

    def autocast(self):
        """The context the forward pass runs in."""
        if self.name == "fp32":
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=DTYPES[self.name])

    def backward(self, loss: torch.Tensor, **options) -> None:
        """loss.backward(**options), on the scaled loss under fp16."""
        (self.scaler.scale(loss) if self.scaler is not None else loss).backward(**options)

    def step(self, optimizer: torch.optim.Optimizer, plain=None) -> None:
        """optimizer.step(), unscaling (and skipping on overflow) under fp16; without a scaler,
        `plain()` where given (a step of the same optimiser: gaespec.training.fused_adam)."""
        if self.scaler is not None:
            self.scaler.step(optimizer)
        elif plain is not None:
            plain()
        else:
            optimizer.step()

    def update(self) -> None:
        """After every optimiser of a step has stepped: adapt the fp16 loss scale."""
        if self.scaler is not None:
            self.scaler.update()

    def state_dict(self) -> dict:
        return self.scaler.state_dict() if self.scaler is not None else {}

    def load_state_dict(self, state: dict) -> None:
        if self.scaler is not None and state:
            self.scaler.load_state_dict(state)
