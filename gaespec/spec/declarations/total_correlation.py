"""Declarations of the total-correlation components: β-TC-VAE's decomposition of the KL term
(Chen et al. 2018, arXiv:1802.04942) and FactorVAE's density-ratio critic (Kim & Mnih 2018,
arXiv:1802.05983)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from gaespec.spec.declarations.terms import _input_of
from gaespec.spec.vocabulary import Declaration, Identifier, Read, declare


class _MinibatchWeightedTerm(Declaration):
    """A term of β-TC-VAE's decomposition, estimated by minibatch weighted sampling (MWS): it
    reads the posterior q, its codes z and the training set's size N (the batch size M where
    the model is called outside the trainer)."""

    needs_prior: ClassVar[bool] = False

    def reads(self, modules):
        return (Read("q", "kind"), Read("z", "kind"), Read("dataset_size", "kind"))

    def uses(self, modules):
        return (Read("prior", "kind"),) if self.needs_prior else ()

    def check(self, spec, key):
        posterior = spec.latent.posterior.kind
        if posterior != "diag_gaussian":
            raise spec.error(
                f"minibatch weighted sampling needs the density of every code under every "
                f"posterior of the batch, dimension by dimension; the posterior '{posterior}' "
                "gives none",
                f"{key}.kind",
                fix='use latent.posterior = { kind = "diag_gaussian" }',
            )
        if self.needs_prior and not spec.prior.has_density:
            raise spec.error(
                f"the dimension-wise KL needs the density log p(z), but the prior "
                f"'{spec.prior.kind}' has none",
                f"{key}.kind",
                fix='use prior = { kind = "standard_normal" }',
            )


@declare("term")
class IndexCodeMI(_MinibatchWeightedTerm):
    """Index-code mutual information I(z; n) of Chen et al. 2018 (arXiv:1802.04942): the batch
    mean of log q(z|x) − log q(z), with log q(z) by minibatch weighted sampling."""

    kind: Literal["index_code_mi"] = "index_code_mi"
    summary: ClassVar[str] = "β-TC-VAE index-code MI: log q(z|x) − log q(z) (MWS), batch mean"


@declare("term")
class TotalCorrelation(_MinibatchWeightedTerm):
    """Total correlation KL(q(z) ‖ Π_d q(z_d)) of Chen et al. 2018 (arXiv:1802.04942): the batch
    mean of log q(z) − Σ_d log q(z_d), both by minibatch weighted sampling."""

    kind: Literal["total_correlation"] = "total_correlation"
    summary: ClassVar[str] = "β-TC-VAE total correlation: log q(z) − Σ_d log q(z_d) (MWS)"


@declare("term")
class DimensionWiseKL(_MinibatchWeightedTerm):
    """Dimension-wise KL Σ_d KL(q(z_d) ‖ p(z_d)) of Chen et al. 2018 (arXiv:1802.04942): the
    batch mean of Σ_d log q(z_d) − log p(z), with q(z_d) by minibatch weighted sampling."""

    kind: Literal["dimension_wise_kl"] = "dimension_wise_kl"
    summary: ClassVar[str] = "β-TC-VAE dimension-wise KL: Σ_d log q(z_d) − log p(z) (MWS)"
    needs_prior: ClassVar[bool] = True


@declare("module")
class DensityRatioCritic(Declaration):
    """FactorVAE's discriminator (Kim & Mnih 2018, arXiv:1802.05983): an MLP with LeakyReLU(0.2)
    after every hidden layer and two logits, class 0 for codes of q(z) and class 1 for codes
    permuted dimension by dimension (samples of Π_d q(z_d)).

    Attributes:
        input: the codes it judges (`z`).
        hidden: hidden widths; the paper's and Pythae's are five layers of 1000.
    """

    kind: Literal["density_ratio_critic"] = "density_ratio_critic"
    input: Identifier = "z"
    hidden: tuple[int, ...] = Field((1000,) * 5, min_length=1)
    summary: ClassVar[str] = "FactorVAE critic: MLP (LeakyReLU 0.2) → 2 logits, q(z) vs Π q(z_d)"
    provides: ClassVar[str] = "critic"

    def outputs(self) -> tuple[str, ...]:
        # a critic is no stage of the forward pass: the terms that use it call it on `input`
        return ()


@declare("term")
class DensityRatioTC(Declaration):
    """FactorVAE's total correlation (Kim & Mnih 2018, arXiv:1802.05983) by the density-ratio
    trick: the batch mean of log D(z)/(1 − D(z)) = logit₀ − logit₁ of the critic at the codes.

    Attributes:
        critic: the `density_ratio_critic` module.
    """

    kind: Literal["density_ratio_tc"] = "density_ratio_tc"
    critic: Identifier = "critic"
    summary: ClassVar[str] = "FactorVAE total correlation: critic logit₀ − logit₁ at z, batch mean"

    def reads(self, modules):
        return (Read(_input_of(modules, self.critic), "critic"),)

    def uses(self, modules):
        return (Read(self.critic, "critic", expects="critic"),)

    def check(self, spec, key):
        _check_two_logits(spec, key, self.critic)


@declare("term")
class PermutedCodeCE(Declaration):
    """FactorVAE's critic loss (Kim & Mnih 2018, arXiv:1802.05983, Algorithm 2): ½[CE(D(z), 0) +
    CE(D(z̃), 1)], z̃ the batch's codes with each dimension permuted independently across the
    batch. The codes are detached: this loss never moves the encoder.

    Attributes:
        critic: the `density_ratio_critic` module.
    """

    kind: Literal["permuted_code_ce"] = "permuted_code_ce"
    critic: Identifier = "critic"
    summary: ClassVar[str] = "FactorVAE critic loss: ½[CE(D(sg z), 0) + CE(D(permuted sg z), 1)]"

    def reads(self, modules):
        # the critic sees the codes detached: its loss never moves the encoder
        return (Read(_input_of(modules, self.critic), "critic", detached=True),)

    def uses(self, modules):
        return (Read(self.critic, "critic", expects="critic"),)

    def check(self, spec, key):
        _check_two_logits(spec, key, self.critic)


def _check_two_logits(spec, key: str, critic: str) -> None:
    """The FactorVAE terms read two logits: a critic of another kind gives other outputs."""
    decl = spec.modules.get(critic)
    if decl is not None and getattr(decl, "provides", "") == "critic":
        if decl.kind != "density_ratio_critic":
            raise spec.error(
                f"the critic '{critic}' is a '{decl.kind}'; this term reads the two logits of "
                "a 'density_ratio_critic'",
                f"{key}.critic",
                fix=f'set modules.{critic}.kind = "density_ratio_critic"',
            )
