"""gaespec: generative autoencoders compiled from declarative TOML specs.

spec = gaespec.load_spec("specs/models/beta_vae.toml", overrides={"params.beta": 4})
model = gaespec.build(spec)
run = gaespec.train(spec, data="mnist5k", epochs=10, out="runs/beta_vae")
model = gaespec.load_run("runs/beta_vae")
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["build", "load_run", "load_spec", "lower", "train", "GaespecError"]

from gaespec.errors import GaespecError
from gaespec.spec.load import load_spec


def __getattr__(name: str):
    # torch-using entry points load on first use, so `import gaespec` stays torch-free
    if name == "build":
        from gaespec.compose import build

        return build
    if name == "lower":
        from gaespec.graph.lower import lower

        return lower
    if name == "train":
        from gaespec.training.run import train

        return train
    if name == "load_run":
        from gaespec.runs import load_run

        return load_run
    raise AttributeError(f"module 'gaespec' has no attribute '{name}'")
