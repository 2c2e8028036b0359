"""Declarations of every component kind; importing this package registers them all."""

from gaespec.spec.declarations import latent, modules, terms  # noqa: F401
