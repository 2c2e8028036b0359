"""The VampPrior of Tomczak & Welling 2018 (arXiv:1705.07120): the prior as the uniform mixture
of the posteriors of K learned pseudo-inputs."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from gaespec.components.distributions import DiagGaussian
from gaespec.components.noise import batch_draw
from gaespec.components.registry import ModuleRef, implements


@dataclass
class GaussianMixture:
    """The uniform mixture of K diagonal Gaussians; mean and log_var are (K d)."""

    mean: torch.Tensor
    log_var: torch.Tensor

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """log (1/K) Σ_k N(z; μ_k, σ_k²), summed over d: (... d) → (...)."""
        components = DiagGaussian(self.mean, self.log_var).log_prob(z.unsqueeze(-2))
        return torch.logsumexp(components, dim=-1) - math.log(self.mean.shape[0])

    def sample(self, n: int, *, device=None, dtype=None) -> torch.Tensor:
        """n samples (n d): a component drawn uniformly for each, then its Gaussian."""
        mean = self.mean
        k = batch_draw(lambda shape: torch.randint(mean.shape[0], shape, device=mean.device), n)
        eps = batch_draw(
            lambda shape: torch.randn(shape, device=mean.device, dtype=mean.dtype),
            n,
            mean.shape[1],
        )
        z = self.mean[k] + torch.exp(0.5 * self.log_var[k]) * eps
        return z.to(device=device, dtype=dtype)


def _vamp_arguments(decl, wiring) -> dict:
    return {
        "components": decl.components,
        "input_shape": wiring.input_shape,
        "encoder": ModuleRef("encoder"),
        "posterior": ModuleRef("posterior"),
    }


@implements("prior", "vamp", _vamp_arguments)
class VampPrior(nn.Module):
    """K pseudo-inputs u = hardtanh₀¹(W·I_K), as Pythae makes them (a linear map of one-hot
    vectors, clipped to the data's range [0, 1]); called, it encodes them with the model's
    encoder and posterior head and returns their uniform mixture. Unlike Pythae's, the pass
    leaves the encoder's batch-norm statistics to the data (with them mixed, the model
    reconstructed twice as badly in evaluation)."""

    def __init__(self, components: int, input_shape: tuple, encoder, posterior):
        super().__init__()
        self.input_shape = tuple(input_shape)
        self.pseudo_inputs = nn.Linear(components, math.prod(self.input_shape), bias=False)
        # the model owns the encoder and the posterior head: a tuple keeps them out of this
        # module's parameters and state dict
        self.encoding = (encoder, posterior)

    def pseudo_input_images(self) -> torch.Tensor:
        """The K pseudo-inputs as images (K ...)."""
        eye = torch.eye(
            self.pseudo_inputs.in_features,
            device=self.pseudo_inputs.weight.device,
            dtype=self.pseudo_inputs.weight.dtype,
        )
        u = F.hardtanh(self.pseudo_inputs(eye), 0.0, 1.0)
        return u.reshape(-1, *self.input_shape)

    def forward(self) -> GaussianMixture:
        encoder, posterior = self.encoding
        # the encoder's batch norms judge the pseudo-inputs by the data's running statistics
        # and leave them as they are: the prior is then one function of the weights, in training
        # as in evaluation, and the statistics evaluation uses are the data's alone
        norms = [m for m in encoder.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        modes = [m.training for m in norms]
        for m in norms:
            m.train(False)
        try:
            q = posterior(encoder(self.pseudo_input_images()))
        finally:
            for m, mode in zip(norms, modes, strict=True):
                m.train(mode)
        return GaussianMixture(q.mean, q.log_var)
