"""The two-stage VAE sampler (Dai & Wipf 2019, "Diagnosing and Enhancing VAE Models",
arXiv:1903.05789): a second VAE fitted on the training codes z; a code is drawn from the second
VAE, u ~ N(0, I) then z ~ p(z|u) = N(μ(u), γ I), as the paper generates.

The second decoder is Gaussian with one learned variance γ, as in the paper: −log p(z|u) =
‖z − μ(u)‖²/(2γ) + (d/2)·log(2πγ), whose log γ term lets γ shrink as the fit improves (Pythae adds
γ·ε to the decoder's output and trains on the squared error alone). The second latent space has
the codes' dimension, as in the paper. Nets: Pythae's, two hidden layers of 1,024 with ReLU. The
paper fits samples of the first posterior (embedding="sample"); gaespec's default is its means.
"""

from __future__ import annotations

import torch
from einops import rearrange
from torch import nn

from gaespec.components.distributions import DiagGaussian, StandardNormalDistribution
from gaespec.components.divergences import kl_diag_gaussian_standard_normal
from gaespec.components.posteriors import DiagGaussianPosterior
from gaespec.errors import SamplerError
from gaespec.inference import placement
from gaespec.nets.mlp import MLPDecoder, MLPEncoder
from gaespec.samplers import options
from gaespec.samplers.base import private_rng
from gaespec.samplers.fitting import FittedByGradient, check_codes, fit_by_loss
from gaespec.samplers.registry import sampler


class SecondStageVAE(nn.Module):
    """A VAE on codes (n d): MLP encoder and decoder of `depth` hidden layers of `width`, a
    d-dimensional latent u with prior N(0, I), and p(z|u) = N(μ(u), γ I) with γ learned."""

    def __init__(self, dim: int, depth: int, width: int):
        super().__init__()
        hidden = (width,) * depth
        self.encoder = MLPEncoder((dim,), hidden)
        self.posterior = DiagGaussianPosterior(width, dim)
        self.decoder = MLPDecoder(dim, (dim,), hidden, output="identity")
        self.log_gamma = nn.Parameter(torch.zeros(()))  # γ = 1 to begin with

    def negative_elbo(self, z: torch.Tensor) -> torch.Tensor:
        """−ELBO (n) of codes z (n d): KL(q(u|z) ‖ N(0, I)) − log p(z|u) at one u ~ q(u|z)."""
        q = self.posterior(self.encoder(z))
        u = rearrange(q.rsample(1), "1 n d -> n d")
        likelihood = DiagGaussian(self.decoder(u), self.log_gamma.expand_as(z))
        prior = StandardNormalDistribution(z.shape[-1])
        return kl_diag_gaussian_standard_normal(q, prior) - likelihood.log_prob(z)


@sampler("two_stage")
class TwoStageSampler(FittedByGradient):
    """Codes z ~ N(μ(u), γ I), u ~ N(0, I), from a second VAE fitted on the training codes.

    Attributes:
        depth, width: the second VAE's hidden layers (Pythae: 2 of 1,024).
        epochs, lr, batch_size, validation, patience: how it is fitted (`Fitting`), on the
            negative ELBO averaged over codes.
        embedding: fit on posterior means ("mean", the default) or samples ("sample").
        seed: the seed of the fit (initialisation, split, batches, u's noise, posterior samples).
        device: where the second VAE is fitted and run; None: the model's device.
        vae: once fitted, the second VAE. report: what fitting did.
    """

    def __init__(
        self,
        depth: int = 2,
        width: int = 1024,
        epochs: int = 100,
        lr: float = 1e-4,
        batch_size: int = 64,
        validation: float = 0.1,
        patience: int = 10,
        embedding: str = "mean",
        seed: int = 0,
        device: str | None = None,
    ):
        self.depth = options.positive_int("two_stage", "depth", depth)
        self.width = options.positive_int("two_stage", "width", width)
        self.set_fitting(
            epochs=epochs,
            lr=lr,
            batch_size=batch_size,
            validation=validation,
            patience=patience,
            embedding=embedding,
            seed=seed,
            device=device,
        )

    def fit_codes(self, codes: torch.Tensor) -> None:
        check_codes(self.name, codes)
        device = self.placed(codes.device)
        codes = codes.detach().to(device)
        with private_rng(self.seed, device):
            self.vae = SecondStageVAE(codes.shape[-1], self.depth, self.width)
            self.vae.to(device, codes.dtype)
            self.report = fit_by_loss(
                self.name, self.vae, lambda z: self.vae.negative_elbo(z).mean(), codes, self.fitting
            )
        self.report["gamma"] = self.vae.log_gamma.exp().item()
        self.vae.requires_grad_(False)

    def state(self) -> dict[str, torch.Tensor]:
        return dict(self.vae.state_dict())

    def load_state(self, state: dict[str, torch.Tensor], model: nn.Module) -> None:
        device = self.placed(placement(model)[0])
        dim = state["posterior.mean.weight"].shape[0]
        self.vae = SecondStageVAE(dim, self.depth, self.width)
        self.vae.load_state_dict(state)
        self.vae.to(device, state["log_gamma"].dtype).requires_grad_(False).eval()

    def codes(self, n: int, generator: torch.Generator | None) -> torch.Tensor:
        if not hasattr(self, "vae"):
            raise SamplerError(
                "the two_stage sampler is not fitted yet", fix="call .fit(model, x_train)"
            )
        weight = self.vae.log_gamma
        device = generator.device if generator is not None else torch.device("cpu")
        dim = self.vae.posterior.mean.out_features
        u = torch.randn(n, dim, generator=generator, device=device, dtype=weight.dtype)
        eps = torch.randn(n, dim, generator=generator, device=device, dtype=weight.dtype)
        with torch.no_grad():
            mean = self.vae.decoder(u.to(weight.device))
            return mean + torch.exp(0.5 * self.vae.log_gamma) * eps.to(weight.device)
