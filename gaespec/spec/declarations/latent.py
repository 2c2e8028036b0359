"""Declarations of posteriors q(z|x) and priors p(z)."""

from __future__ import annotations

from typing import ClassVar, Literal

from gaespec.spec.vocabulary import Declaration, declare


@declare("posterior")
class DiagGaussian(Declaration):
    """q(z|x) = N(μ(x), diag σ²(x)), reparameterised (Kingma & Welling 2014)."""

    kind: Literal["diag_gaussian"] = "diag_gaussian"
    summary: ClassVar[str] = "diagonal Gaussian q(z|x): heads for mean and log-variance"
    has_density: ClassVar[bool] = True


@declare("posterior")
class Deterministic(Declaration):
    """z = μ(x): a point mass, as in plain autoencoders."""

    kind: Literal["deterministic"] = "deterministic"
    summary: ClassVar[str] = "deterministic code z = f(x), one linear head"
    has_density: ClassVar[bool] = False


@declare("prior")
class StandardNormal(Declaration):
    """p(z) = N(0, I)."""

    kind: Literal["standard_normal"] = "standard_normal"
    summary: ClassVar[str] = "standard normal prior N(0, I)"
    has_parameters: ClassVar[bool] = False
    has_density: ClassVar[bool] = True
