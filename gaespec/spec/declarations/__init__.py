"""Declarations of every component kind; importing this package registers them all."""

from gaespec.spec.declarations import (  # noqa: F401
    codebooks,
    flows,
    gan,
    latent,
    mmd,
    modules,
    msssim,
    penalties,
    terms,
    total_correlation,
    vamp,
)
