"""The GMM sampler: a full-covariance Gaussian mixture fitted ex post on the training codes.

As in Ghosh et al. 2020, "From Variational to Deterministic Autoencoders" (arXiv:1903.12436), and
the Pythae study (Chadebec et al. 2022, arXiv:2206.08309): 10 components unless told, and EM for
at most 2,000 iterations as Pythae's sampler (scikit-learn's default stops at 100).
"""

from __future__ import annotations

import torch
from einops import einsum
from torch import nn

from gaespec.errors import SamplerError
from gaespec.samplers import options
from gaespec.samplers.base import Sampler
from gaespec.samplers.registry import sampler


@sampler("gmm")
class GMMSampler(Sampler):
    """Codes from a Gaussian mixture (sklearn's GaussianMixture, full covariance) on the codes.

    Attributes:
        n_components: the number of mixture components (10 in the papers).
        seed: the random_state of the mixture's fit (k-means initialisation).
        embedding: fit on posterior means ("mean", the default) or samples ("sample").
        weights, means, covariances: the fitted mixture, float64 on the CPU: (k), (k d), (k d d).
    """

    def __init__(self, n_components: int = 10, seed: int = 0, embedding: str = "mean"):
        self.n_components = options.positive_int("gmm", "n_components", n_components)
        self.seed = options.seed("gmm", seed)
        self.embedding = options.embedding("gmm", embedding)

    def fit_codes(self, codes: torch.Tensor) -> None:
        from sklearn.mixture import GaussianMixture

        n, k = len(codes), self.n_components
        if n < k:
            raise SamplerError(
                f"the gmm sampler needs at least {k} training codes to fit {k} components, got {n}",
                fix="pass more training images or a smaller n_components",
            )
        if not torch.isfinite(codes).all():
            raise SamplerError(
                "the gmm sampler cannot fit non-finite training codes (NaN or inf)",
                fix="check the model's encoder on this data",
            )
        mixture = GaussianMixture(
            n_components=k, covariance_type="full", max_iter=2000, random_state=self.seed
        )
        mixture.fit(codes.detach().to("cpu", torch.float64).numpy())
        self.report = {
            "converged": bool(mixture.converged_),
            "iterations": int(mixture.n_iter_),
            "lower_bound": float(mixture.lower_bound_),
            "codes": n,
        }
        self.load_state(
            {
                "weights": torch.from_numpy(mixture.weights_),
                "means": torch.from_numpy(mixture.means_),
                "covariances": torch.from_numpy(mixture.covariances_),
            },
            self.model,
        )

    def state(self) -> dict[str, torch.Tensor]:
        return {"weights": self.weights, "means": self.means, "covariances": self.covariances}

    def load_state(self, state: dict[str, torch.Tensor], model: nn.Module) -> None:
        self.weights, self.means = state["weights"], state["means"]
        self.covariances = state["covariances"]
        self._scales = torch.linalg.cholesky(self.covariances)  # (k d d), Σ = L Lᵀ

    def codes(self, n: int, generator: torch.Generator | None) -> torch.Tensor:
        if not hasattr(self, "means"):
            raise SamplerError("the gmm sampler is not fitted yet", fix="call .fit(model, x_train)")
        device = generator.device if generator is not None else torch.device("cpu")
        weights, means, scales = (t.to(device) for t in (self.weights, self.means, self._scales))
        if n == 0:  # multinomial refuses to draw nothing
            return means[:0]
        component = torch.multinomial(weights, n, replacement=True, generator=generator)  # (n)
        eps = torch.randn(n, means.shape[1], generator=generator, dtype=means.dtype, device=device)
        return means[component] + einsum(scales[component], eps, "n d e, n e -> n d")
