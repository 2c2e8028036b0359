"""Declaration of the VampPrior of Tomczak & Welling 2018 (arXiv:1705.07120)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from gaespec.spec.vocabulary import Declaration, Read, declare


@declare("prior")
class Vamp(Declaration):
    """p(z) = (1/K) Σ_k q(z | u_k): the uniform mixture of the posteriors of K learned
    pseudo-inputs u_k, which the model's own encoder and posterior head map to codes.

    Attributes:
        components: K, the number of pseudo-inputs (the paper's MNIST runs: 500; the study's: 50).
    """

    kind: Literal["vamp"] = "vamp"
    components: int = Field(50, gt=0)
    summary: ClassVar[str] = "VampPrior: mixture of the posteriors of K learned pseudo-inputs"
    has_density: ClassVar[bool] = True

    def uses(self, modules):
        # the pseudo-inputs go through the model's encoder and posterior head: their weights
        # are trained by the KL through the prior too
        return (Read("encoder", "kind"), Read("posterior", "kind"))

    def check(self, spec, key):
        if spec.latent.posterior.kind != "diag_gaussian":
            raise spec.error(
                f"the VampPrior mixes diagonal-Gaussian posteriors, but the posterior is "
                f"'{spec.latent.posterior.kind}'",
                f"{key}.kind",
                fix='use latent.posterior = { kind = "diag_gaussian" }',
            )
