"""Running a model for inference: in eval mode, without gradients, on its own device and dtype."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn


def placement(model: nn.Module) -> tuple[torch.device, torch.dtype]:
    """The device and dtype of the model's first parameter (CPU and the default dtype if none)."""
    p = next(model.parameters(), None)
    if p is None:
        return torch.device("cpu"), torch.get_default_dtype()
    return p.device, p.dtype


@contextmanager
def evaluating(model: nn.Module) -> Iterator[nn.Module]:
    """The model in eval mode and without gradients; its previous mode comes back afterwards."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield model
    finally:
        model.train(was_training)
