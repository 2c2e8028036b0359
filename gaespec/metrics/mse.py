"""Reconstruction MSE per pixel from the posterior mean: Pythae's test MSE (arXiv:2206.08309)."""

from __future__ import annotations

import torch
from torch import nn

from gaespec.errors import DataError
from gaespec.inference import evaluating, placement


def reconstruction_mse(model: nn.Module, x: torch.Tensor, batch_size: int = 500) -> float:
    """Mean of (x̂ − x)² over every pixel of every image of x (n ...), x̂ = model.reconstruct(x)."""
    if len(x) == 0:
        raise DataError("reconstruction_mse needs at least one image, got an empty batch")
    device, dtype = placement(model)
    total = torch.zeros((), dtype=torch.float64, device=device)
    with evaluating(model):
        for batch in x.split(batch_size):
            batch = batch.to(device, dtype)
            x_hat = model.reconstruct(batch)
            if x_hat.shape != batch.shape:
                raise DataError(
                    f"reconstructions of shape {tuple(x_hat.shape)} do not match the images' "
                    f"shape {tuple(batch.shape)}"
                )
            # summed in float64: a mean of means would weigh a short last batch wrongly
            total += ((x_hat - batch) ** 2).sum(dtype=torch.float64)
    return float(total / x.numel())
