"""Small custom nets that the tests name by import path, as a user's package would."""

import math

import torch
from einops import rearrange
from torch import nn


class TinyEncoder(nn.Module):
    """Flatten and one Linear layer of `width` features."""

    def __init__(self, input_shape, width=3):
        super().__init__()
        self.features = width
        self.fc = nn.Linear(math.prod(input_shape), width)

    def forward(self, x):
        return self.fc(rearrange(x, "b ... -> b (...)"))


class TinyDecoder(nn.Module):
    """One Linear layer reshaped to output_shape."""

    def __init__(self, latent_dim, output_shape):
        super().__init__()
        self.output_shape = tuple(output_shape)
        self.fc = nn.Linear(latent_dim, math.prod(output_shape))

    def forward(self, z):
        return self.fc(z).reshape(z.shape[0], *self.output_shape)


def not_a_module(input_shape):
    """A factory that forgets to return a module."""
    return torch.zeros(input_shape)


class HalfDecoder(nn.Module):
    """A decoder that gets the output shape wrong: half the pixels of each row."""

    def __init__(self, latent_dim, output_shape):
        super().__init__()
        c, h, w = output_shape
        self.shape = (c, h, w // 2)
        self.fc = nn.Linear(latent_dim, c * h * (w // 2))

    def forward(self, z):
        return self.fc(z).reshape(z.shape[0], *self.shape)
