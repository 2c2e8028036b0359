"""Maximum mean discrepancy, Gretton et al. 2012 (JMLR 13): kernels and the unbiased estimator
of MMD², and the term of WAE-MMD (Tolstikhin et al. 2018, arXiv:1711.01558) and InfoVAE
(Zhao, Song & Ermon 2019, arXiv:1706.02262) that measures it between codes and prior samples.

The kernels and the estimator are plain callables that any component may reuse.
"""

from __future__ import annotations

import torch

from gaespec.components.registry import Construct, implements


def pairwise_squared_distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """‖a_i − b_j‖² for every pair: (n d), (m d) → (n m)."""
    # differences rather than ‖a‖² + ‖b‖² − 2ab: exact zeros on the diagonal, and no
    # cancellation in float32
    difference = a.unsqueeze(1) - b.unsqueeze(0)  # (n 1 d) - (1 m d)
    return (difference**2).sum(-1)  # (n m d) -> (n m)


class IMQKernel:
    """Inverse multiquadratic kernel summed over scales: k(a, b) = Σ_s s·C / (s·C + ‖a − b‖²),
    C = 2·d·bandwidth² (Tolstikhin et al. 2018; Pythae's WAE_MMD)."""

    def __init__(self, bandwidth: float, scales: tuple[float, ...]):
        self.bandwidth = bandwidth
        self.scales = scales

    def __call__(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """The Gram matrix k(a_i, b_j): (n d), (m d) → (n m)."""
        c = 2 * a.shape[-1] * self.bandwidth**2
        distances = pairwise_squared_distances(a, b)
        return sum(s * c / (s * c + distances) for s in self.scales)


class RBFKernel:
    """Gaussian (RBF) kernel k(a, b) = exp(−‖a − b‖² / C), C = 2·d·bandwidth² (Pythae's)."""

    def __init__(self, bandwidth: float):
        self.bandwidth = bandwidth

    def __call__(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """The Gram matrix k(a_i, b_j): (n d), (m d) → (n m)."""
        c = 2 * a.shape[-1] * self.bandwidth**2
        return torch.exp(-pairwise_squared_distances(a, b) / c)


def mmd_u_statistic(a: torch.Tensor, b: torch.Tensor, kernel) -> torch.Tensor:
    """Unbiased MMD² between samples a (n d) and b (m d) (MMD²_u of Gretton et al. 2012):
    Σ_{i≠j} k(a_i, a_j)/(n(n−1)) + Σ_{i≠j} k(b_i, b_j)/(m(m−1)) − 2·Σ_{i,j} k(a_i, b_j)/(nm)."""
    n, m = a.shape[0], b.shape[0]
    if min(n, m) < 2:
        raise ValueError(f"the unbiased MMD² needs at least 2 samples on each side, got {n}, {m}")
    k_aa, k_bb = kernel(a, a), kernel(b, b)
    within_a = (k_aa.sum() - k_aa.diagonal().sum()) / (n * (n - 1))
    within_b = (k_bb.sum() - k_bb.diagonal().sum()) / (m * (m - 1))
    return within_a + within_b - 2 * kernel(a, b).mean()


def _mmd_arguments(decl, wiring) -> dict:
    if decl.kernel == "imq":
        kernel = Construct(IMQKernel, {"bandwidth": decl.bandwidth, "scales": decl.scales})
    else:
        kernel = Construct(RBFKernel, {"bandwidth": decl.bandwidth})
    return {"kernel": kernel}


@implements("term", "mmd", _mmd_arguments)
class MMDTerm:
    """MMD² between the codes z (k b d, as n = k·b codes) and n samples of the prior, by the
    unbiased estimator with `kernel`; one batch-level scalar, as in Pythae."""

    def __init__(self, kernel):
        self.kernel = kernel

    def __call__(self, z: torch.Tensor, prior) -> torch.Tensor:
        codes = z.flatten(0, 1)  # (k b d) -> ((k b) d)
        z_prior = prior().sample(codes.shape[0], device=codes.device, dtype=codes.dtype)
        return mmd_u_statistic(codes, z_prior, self.kernel)
