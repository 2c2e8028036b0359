"""Declarations of normalizing-flow posteriors: planar and radial flows (Rezende & Mohamed 2015)
and inverse autoregressive flow (Kingma et al. 2016)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, PositiveInt

from gaespec.spec.vocabulary import Declaration, declare


@declare("posterior")
class NormalizingFlows(Declaration):
    """q(z_K|x): z_0 ~ N(μ(x), diag σ²(x)) pushed through planar and radial flows (Rezende &
    Mohamed 2015, arXiv:1505.05770); log q(z_K|x) = log N(z_0) − Σ log|det|, known at the
    posterior's own samples. Planar flows keep the paper's invertibility constraint (û).

    Attributes:
        flows: the flows applied to z_0, in order, each "planar" or "radial". The paper varies
            their number (2 to 80 planar flows); the default is Pythae's, two planar.
    """

    kind: Literal["normalizing_flows"] = "normalizing_flows"
    flows: tuple[Literal["planar", "radial"], ...] = Field(("planar", "planar"), min_length=1)
    summary: ClassVar[str] = (
        "Gaussian q(z|x) refined by planar/radial flows (density at its own samples)"
    )
    has_density: ClassVar[bool] = True


@declare("posterior")
class IAF(Declaration):
    """q(z_T|x): z_0 ~ N(μ(x), diag σ²(x)), then inverse autoregressive flow steps (Kingma et al.
    2016, arXiv:1606.04934), each a MADE conditioned on the encoder's features h giving m, s:
    z ← σ·z + (1 − σ)·m, σ = sigmoid(s); the order of the dims is reversed between steps.

    Attributes:
        blocks: the number of IAF steps (one MADE each); Pythae's default, 2.
        hidden: the hidden widths of each MADE; Pythae's default, three layers of 128.
    """

    kind: Literal["iaf"] = "iaf"
    blocks: int = Field(2, gt=0)
    hidden: tuple[PositiveInt, ...] = Field((128, 128, 128), min_length=1)
    summary: ClassVar[str] = (
        "Gaussian q(z|x) refined by an inverse autoregressive flow of MADEs given h"
    )
    has_density: ClassVar[bool] = True
