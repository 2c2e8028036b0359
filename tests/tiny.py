"""Small, fast versions of the built-in specs, for tests: MLP nets on 8×8 digits."""

from __future__ import annotations

import gaespec

MODELS = ("ae", "vae", "beta_vae", "iwae", "vqvae", "aae")

# small MLP nets on 1×8×8 inputs: a training step costs milliseconds
TINY = (
    "input.shape=[1,8,8]",
    "encoder.arch=mlp",
    "decoder.arch=mlp",
    "encoder.hidden=[64]",
    "decoder.hidden=[64]",
    "latent.dim=4",
    "train.batch_size=32",
)


def tiny_spec(name: str, *extra: str):
    """The built-in spec `name` with small MLP nets for 1×8×8 digits, plus `extra` overrides."""
    return gaespec.load_spec(name, [*TINY, *extra])
