"""Declarations of loss terms: each is a per-batch scalar, averaged over the batch."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from gaespec.spec.vocabulary import Declaration, Identifier, Read, TensorName, declare


def _input_of(modules, name: str) -> str:
    """The tensor that module `name` reads, or `z` when the name is unknown (reported elsewhere)."""
    module = modules.get(name)
    return getattr(module, "input", "z")


@declare("term")
class Reconstruction(Declaration):
    """−log p(x|z) up to a constant, summed over pixels and averaged over the batch.

    Attributes:
        likelihood: "gaussian" gives scale·‖x − x̂‖², "bernoulli" gives scale·BCE(x̂, x).
        scale: the factor in front; Pythae uses ½ in the variational models and 1 in the AE family.
        target: the tensor reconstructed (the data `x`; no gradient flows into it).
        estimate: the tensor that reconstructs it (`x_hat`, K samples per input).
    """

    kind: Literal["reconstruction"] = "reconstruction"
    likelihood: Literal["gaussian", "bernoulli"] = "gaussian"
    scale: float = Field(1.0, gt=0)
    target: TensorName = "x"
    estimate: TensorName = "x_hat"
    summary: ClassVar[str] = "reconstruction: scale·Σ(x − x̂)² (gaussian) or scale·ΣBCE (bernoulli)"

    def reads(self, modules):
        return (Read(self.target, "target", detached=True), Read(self.estimate, "estimate"))

    def check(self, spec, key):
        if self.likelihood == "bernoulli" and spec.decoder.options.get("output") == "identity":
            raise spec.error(
                "a bernoulli likelihood needs probabilities, but the decoder's output is "
                "'identity'",
                f"{key}.likelihood",
                fix='set decoder.output = "sigmoid", or use likelihood = "gaussian"',
            )


@declare("term")
class KL(Declaration):
    """KL(q(z|x) ‖ p(z)), analytic, summed over latent dimensions, averaged over the batch."""

    kind: Literal["kl"] = "kl"
    summary: ClassVar[str] = "analytic KL(q(z|x) ‖ p(z))"
    # (posterior kind, prior kind) pairs with a closed form; gaespec.components.divergences
    # implements exactly these (a test holds the two together)
    ANALYTIC: ClassVar[frozenset] = frozenset({("diag_gaussian", "standard_normal")})

    def reads(self, modules):
        return (Read("q", "kind"),)

    def uses(self, modules):
        return (Read("prior", "kind"),)

    def check(self, spec, key):
        pair = (spec.latent.posterior.kind, spec.prior.kind)
        if pair not in self.ANALYTIC:
            raise spec.error(
                f"no analytic KL between the posterior '{pair[0]}' and the prior '{pair[1]}'",
                f"{key}.kind",
                fix="use a posterior and prior with a closed-form KL ("
                + ", ".join(f"{q} with {p}" for q, p in sorted(self.ANALYTIC))
                + '), or estimate it: kind = "monte_carlo_kl"',
            )


@declare("term")
class MonteCarloKL(Declaration):
    """KL(q(z|x) ‖ p(z)) estimated at the posterior's own samples: log q(z|x) − log p(z),
    averaged over the K samples and the batch. Needs a density for both sides; any posterior
    and prior that have one (flows, mixtures) work where no closed form exists."""

    kind: Literal["monte_carlo_kl"] = "monte_carlo_kl"
    summary: ClassVar[str] = "Monte Carlo KL: log q(z|x) − log p(z) at the samples z, batch mean"

    def reads(self, modules):
        return (Read("q", "kind"), Read("z", "kind"))

    def uses(self, modules):
        return (Read("prior", "kind"),)

    def check(self, spec, key):
        for role, decl in (("posterior", spec.latent.posterior), ("prior", spec.prior)):
            if not decl.has_density:
                raise spec.error(
                    f"a Monte Carlo KL needs the density of the {role}, but the {role} "
                    f"'{decl.kind}' has none",
                    f"{key}.kind",
                    fix="use a posterior and a prior with a density (e.g. diag_gaussian and "
                    "standard_normal)",
                )


@declare("term")
class IWAEBound(Declaration):
    """The negative importance-weighted bound of Burda et al. 2016 (arXiv:1509.00519).

    −log (1/K) Σ_k p(x|z_k) p(z_k) / q(z_k|x) over the K posterior samples (`latent.samples`),
    averaged over the batch; log p(x|z) is −(the named reconstruction term's value for each
    sample), with its scale, its target and its estimate: the program computes those values once
    for both terms.

    Attributes:
        reconstruction: the name of the reconstruction term that gives log p(x|z).
    """

    kind: Literal["iwae_bound"] = "iwae_bound"
    reconstruction: Identifier = "recon"
    summary: ClassVar[str] = "negative IWAE bound over latent.samples posterior samples"

    def reads(self, modules):  # x and x̂ through the reconstruction term
        return (Read("q", "kind"), Read("z", "kind"))

    def uses(self, modules):
        return (Read("prior", "kind"),)

    def check(self, spec, key):
        if not spec.latent.posterior.has_density:
            raise spec.error(
                f"the IWAE bound needs the density log q(z|x), but the posterior "
                f"'{spec.latent.posterior.kind}' has none",
                f"{key}.kind",
                fix='use latent.posterior = { kind = "diag_gaussian" }',
            )


@declare("term")
class CodebookLoss(Declaration):
    """‖sg(z_e) − e‖²: moves the chosen codewords toward the encoder outputs (van den Oord 2017)."""

    kind: Literal["codebook_loss"] = "codebook_loss"
    codebook: Identifier = "codebook"
    summary: ClassVar[str] = "VQ codebook loss ‖sg(z_e) − e‖², summed over dims, batch mean"

    def reads(self, modules):
        return (
            Read(_input_of(modules, self.codebook), "codebook", detached=True),
            Read(f"{self.codebook}.codes", "codebook"),
        )

    def uses(self, modules):
        return (Read(self.codebook, "codebook", expects="codebook", argument=False),)

    def check(self, spec, key):
        codebook = spec.modules.get(self.codebook)  # an unknown name is reported with the uses
        if getattr(codebook, "provides", "") == "codebook" and not codebook.has_parameters:
            raise spec.error(
                f"codebook '{self.codebook}' ({codebook.kind}) has no parameters: its codewords "
                "follow moving averages of the codes, and a codebook loss would train nothing",
                f"{key}.kind",
                fix="remove the term (the commitment loss trains the encoder), or use "
                'kind = "vq_codebook"',
            )


@declare("term")
class CommitmentLoss(Declaration):
    """‖z_e − sg(e)‖²: keeps the encoder committed to its codewords (van den Oord 2017)."""

    kind: Literal["commitment_loss"] = "commitment_loss"
    codebook: Identifier = "codebook"
    summary: ClassVar[str] = "VQ commitment loss ‖z_e − sg(e)‖², summed over dims, batch mean"

    def reads(self, modules):
        return (
            Read(_input_of(modules, self.codebook), "codebook"),
            Read(f"{self.codebook}.codes", "codebook", detached=True),
        )

    def uses(self, modules):
        return (Read(self.codebook, "codebook", detached=True, expects="codebook", argument=False),)


@declare("term")
class AdversarialGenerator(Declaration):
    """−log D(z): the encoder's aggregate posterior tries to pass as the prior (Makhzani 2016)."""

    kind: Literal["adversarial_generator"] = "adversarial_generator"
    critic: Identifier = "critic"
    summary: ClassVar[str] = "AAE generator loss BCE(D(z), 1), batch mean"

    def reads(self, modules):
        return (Read(_input_of(modules, self.critic), "critic"),)

    def uses(self, modules):
        return (Read(self.critic, "critic", expects="critic"),)


@declare("term")
class AdversarialCritic(Declaration):
    """−log D(z_p) − log(1 − D(sg(z))): the critic tells prior samples from codes (Makhzani)."""

    kind: Literal["adversarial_critic"] = "adversarial_critic"
    critic: Identifier = "critic"
    summary: ClassVar[str] = "AAE critic loss BCE(D(z_prior), 1) + BCE(D(sg z), 0), batch mean"

    def reads(self, modules):
        # the critic sees the codes detached: its loss never moves the encoder
        return (Read(_input_of(modules, self.critic), "critic", detached=True),)

    def uses(self, modules):
        return (Read(self.critic, "critic", expects="critic"), Read("prior", "kind"))
