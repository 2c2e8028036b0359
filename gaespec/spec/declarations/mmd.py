"""Declaration of the maximum mean discrepancy term, Gretton et al. 2012 (JMLR 13), as the
Wasserstein autoencoder (Tolstikhin et al. 2018, arXiv:1711.01558) and InfoVAE (Zhao, Song &
Ermon 2019, arXiv:1706.02262) use it: MMD² between the codes and as many prior samples."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field, model_validator

from gaespec.spec.vocabulary import Declaration, Read, declare

# Pythae's scales of the IMQ kernel (those of the WAE authors' code as well)
IMQ_SCALES = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)


@declare("term")
class MMD(Declaration):
    """MMD²(q(z), p(z)) by the unbiased U-statistic over the n = K·B codes z and n prior samples.

    With C = 2·d·bandwidth², the kernels are IMQ k(a, b) = Σ_s s·C / (s·C + ‖a − b‖²) and RBF
    k(a, b) = exp(−‖a − b‖² / C), as in Pythae's WAE_MMD and INFOVAE_MMD.

    Attributes:
        kernel: "imq" (inverse multiquadratic, summed over `scales`) or "rbf" (Gaussian).
        bandwidth: σ in C = 2·d·σ²; the WAE paper takes σ² as the prior's variance (1).
        scales: (IMQ only) the factors s of C whose kernels are summed; by default Pythae's
            [0.1, 0.2, 0.5, 1, 2, 5, 10] for the IMQ kernel, none for the RBF kernel.
    """

    kind: Literal["mmd"] = "mmd"
    kernel: Literal["imq", "rbf"] = "imq"
    bandwidth: float = Field(1.0, gt=0)
    scales: tuple[Annotated[float, Field(gt=0)], ...] | None = Field(None, min_length=1)
    summary: ClassVar[str] = "unbiased MMD² between codes and prior samples, IMQ or RBF kernel"

    @model_validator(mode="before")
    @classmethod
    def _default_scales(cls, data):
        # the IMQ kernel's scales are filled in here, not as the field's default, so that an RBF
        # term has none and a resolved spec shows exactly the scales in use
        imq = isinstance(data, dict) and data.get("kernel", "imq") == "imq"
        if imq and data.get("scales") is None:
            return {**data, "scales": IMQ_SCALES}
        return data

    def reads(self, modules):
        return (Read("z", "kind"),)

    def uses(self, modules):
        return (Read("prior", "kind"),)

    def check(self, spec, key):
        if self.kernel == "rbf" and self.scales is not None:
            raise spec.error(
                "the RBF kernel has one scale, C = 2·d·bandwidth²: `scales` is for the IMQ kernel",
                f"{key}.scales",
                fix='remove scales and set bandwidth, or use kernel = "imq"',
            )
