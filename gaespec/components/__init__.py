"""Torch implementations of the spec's vocabulary; importing this package registers them all."""

from gaespec.components import (  # noqa: F401
    adversarial,
    codebooks,
    divergences,
    flows,
    gan,
    iwae,
    mmd,
    msssim,
    penalties,
    posteriors,
    priors,
    reconstructions,
    total_correlation,
    vamp,
)
