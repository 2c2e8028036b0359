"""Hand-written plain-PyTorch training steps of seven gaespec specs: the benchmark's baseline.

Column (c) of the performance benchmark (issue 15): ae, vae, iwae, vqvae, aae, beta_tc_vae and
vaegan (specs/models/<name>.toml), each on gaespec's `mlp` net or Pythae's MNIST ConvNet
(Chadebec et al. 2022, arXiv:2206.08309), written as a person writes a PyTorch training loop:
the layers, the loss written out, one Adam per objective, each objective's backward reaching
only its own parameters. No gaespec import: the numbers are checked against gaespec's model in
tests/benchmarks/test_hand_written.py.

The arithmetic is gaespec's (generated/<name>.py shows it), op for op wherever another order of
floating-point operations would change the result. What gaespec computes only to log it (IWAE's
recon and kl, VQ-VAE's perplexity, VAEGAN's pixel recon, …) is left out: a step needs only the
objectives. Reshapes are torch's `view`/`flatten` rather than einops (STYLE rule 2 yields here:
the baseline is plain torch, with no pattern parsing per call).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

NAMES = ("ae", "vae", "iwae", "vqvae", "aae", "beta_tc_vae", "vaegan")
NETS = ("mlp", "mnist_convnet")

IMAGE = (1, 28, 28)
LOG_2PI = math.log(2 * math.pi)
# every objective of the seven specs: Adam, lr 1e-3, torch's default betas
LR, BETAS = 1e-3, (0.9, 0.999)
FUSED_DEVICES = ("cpu", "cuda")  # where torch has a fused Adam kernel


# -- nets ----------------------------------------------------------------------------------------


def mlp_encoder() -> tuple[nn.Module, int]:
    """gaespec's mlp encoder at its defaults (hidden [512]), and its feature width."""
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU()), 512


def mlp_decoder(latent_dim: int) -> nn.Module:
    """gaespec's mlp decoder at its defaults (hidden [512], sigmoid output): (b d) → (b 1 28 28)."""
    return nn.Sequential(
        nn.Linear(latent_dim, 512),
        nn.ReLU(),
        nn.Linear(512, 784),
        nn.Sigmoid(),
        nn.Unflatten(1, IMAGE),
    )


def convnet_encoder() -> tuple[nn.Module, int]:
    """Pythae's MNIST ConvNet encoder: four Conv(k4 s2 p1) + BatchNorm + ReLU, 1×28×28 → 1024."""
    return (
        nn.Sequential(
            nn.Conv2d(1, 128, 4, 2, 1),
            nn.BatchNorm2d(128),
            nn.ReLU(),
            nn.Conv2d(128, 256, 4, 2, 1),
            nn.BatchNorm2d(256),
            nn.ReLU(),
            nn.Conv2d(256, 512, 4, 2, 1),
            nn.BatchNorm2d(512),
            nn.ReLU(),
            nn.Conv2d(512, 1024, 4, 2, 1),
            nn.BatchNorm2d(1024),
            nn.ReLU(),
            nn.Flatten(),
        ),
        1024,
    )


def convnet_decoder(latent_dim: int) -> nn.Module:
    """Pythae's MNIST ConvNet decoder: Linear to 1024×4×4, ConvTranspose 4 → 7 → 14 → 28."""
    return nn.Sequential(
        nn.Linear(latent_dim, 1024 * 4 * 4),
        nn.Unflatten(1, (1024, 4, 4)),
        nn.ConvTranspose2d(1024, 512, 3, 2, 1),
        nn.BatchNorm2d(512),
        nn.ReLU(),
        nn.ConvTranspose2d(512, 256, 3, 2, 1, output_padding=1),
        nn.BatchNorm2d(256),
        nn.ReLU(),
        nn.ConvTranspose2d(256, 1, 3, 2, 1, output_padding=1),
        nn.Sigmoid(),
    )


ENCODERS = {"mlp": mlp_encoder, "mnist_convnet": convnet_encoder}
DECODERS = {"mlp": mlp_decoder, "mnist_convnet": convnet_decoder}


# -- loss pieces -------------------------------------------------------------------------------


def squared_error(x_hat: Tensor, x: Tensor) -> Tensor:
    """Σ(x̂ − x)² over each image's (c h w): (... c h w) → (...)."""
    return ((x_hat - x) ** 2).flatten(-3).sum(-1)


def kl_standard_normal(mean: Tensor, log_var: Tensor) -> Tensor:
    """KL(N(μ, σ²) ‖ N(0, I)) per code, summed over latent dims: (b d) → (b)."""
    return -0.5 * (1 + log_var - mean**2 - log_var.exp()).sum(-1)


def bce(p: Tensor, target: float) -> Tensor:
    """Mean binary cross-entropy of probabilities p against a constant label."""
    return F.binary_cross_entropy(p, torch.full_like(p, target))


class Gaussian(nn.Module):
    """Encoder with two linear heads, mean and log-variance (the VAEs' q(z|x))."""

    def __init__(self, net: str, latent_dim: int):
        super().__init__()
        self.encoder, features = ENCODERS[net]()
        self.mean = nn.Linear(features, latent_dim)
        self.log_var = nn.Linear(features, latent_dim)

    def posterior(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(mean, log_var) of q(z|x), each (b d)."""
        h = self.encoder(x)
        return self.mean(h), self.log_var(h)


# -- models: forward gives each objective's loss ------------------------------------------------


class AE(nn.Module):
    """Autoencoder: Σ(x − x̂)² (scale 1)."""

    objectives = ("loss",)

    def __init__(self, net: str, latent_dim: int):
        super().__init__()
        self.encoder, features = ENCODERS[net]()
        self.mean = nn.Linear(features, latent_dim)
        self.decoder = DECODERS[net](latent_dim)

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        """(loss,) for a batch x (b 1 28 28)."""
        x_hat = self.decoder(self.mean(self.encoder(x)))
        return (squared_error(x_hat, x).mean(),)


class VAE(Gaussian):
    """VAE: ½·Σ(x − x̂)² + KL, one posterior sample."""

    objectives = ("loss",)

    def __init__(self, net: str, latent_dim: int):
        super().__init__(net, latent_dim)
        self.decoder = DECODERS[net](latent_dim)

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        """(loss,) for a batch x."""
        mean, log_var = self.posterior(x)
        z = mean + torch.exp(0.5 * log_var) * torch.randn_like(mean)
        x_hat = self.decoder(z)
        recon = (0.5 * squared_error(x_hat, x)).mean()
        return (recon + kl_standard_normal(mean, log_var).mean(),)


class IWAE(Gaussian):
    """IWAE bound with K = 5 samples; log p(x|z) = −½·Σ(x − x̂)²."""

    objectives = ("loss",)

    def __init__(self, net: str, latent_dim: int, samples: int = 5):
        super().__init__(net, latent_dim)
        self.decoder = DECODERS[net](latent_dim)
        self.samples = samples

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        """(loss,) for a batch x."""
        mean, log_var = self.posterior(x)
        k, (b, d) = self.samples, mean.shape
        z = mean + torch.exp(0.5 * log_var) * torch.randn(k, b, d, device=x.device)  # (k b d)
        x_hat = self.decoder(z.view(k * b, d)).view(k, b, *IMAGE)
        log_px = -(0.5 * squared_error(x_hat, x))  # (k b)
        log_pz = -0.5 * (LOG_2PI + z**2).sum(-1)
        log_qz = (-0.5 * (LOG_2PI + log_var + (z - mean) ** 2 / log_var.exp())).sum(-1)
        log_w = log_px + log_pz - log_qz
        return (-(torch.logsumexp(log_w, dim=0) - math.log(k)).mean(),)


class Codebook(nn.Module):
    """VQ codebook of K codewords of size d/g: each code is cut into g parts and each part
    replaced by its nearest codeword; a codeword idle for `restart_after` training passes
    restarts at a random part of the batch (the counts start there: the first pass initialises)."""

    def __init__(self, latent_dim: int, num_embeddings: int, groups: int, restart_after: int):
        super().__init__()
        self.groups, self.restart_after = groups, restart_after
        self.embeddings = nn.Embedding(num_embeddings, latent_dim // groups)
        nn.init.uniform_(self.embeddings.weight, -1 / num_embeddings, 1 / num_embeddings)
        self.register_buffer("idle", torch.full((num_embeddings,), restart_after))

    def forward(self, z: Tensor) -> tuple[Tensor, Tensor]:
        """(z_q, codes) for codes z (b d): z_q carries the codewords forward, z's gradient back."""
        parts = z.view(-1, z.shape[1] // self.groups)  # (b g) d/g
        with torch.no_grad():
            w = self.embeddings.weight
            distances = (parts**2).sum(1, keepdim=True) - 2 * parts @ w.T + (w**2).sum(1)
            indices = distances.argmin(1)
        codes = self.embeddings(indices).view_as(z)
        if self.training:
            with torch.no_grad():
                chosen = torch.zeros_like(self.idle, dtype=torch.bool)
                chosen[indices] = True
                self.idle.add_(1).masked_fill_(chosen, 0)
                dead = (self.idle >= self.restart_after).nonzero().squeeze(1)
                self.idle[dead] = 0
                pick = torch.randint(len(parts), (len(dead),), device=z.device)
                self.embeddings.weight[dead] = parts[pick]
        return z + (codes - z).detach(), codes


class VQVAE(nn.Module):
    """VQ-VAE: Σ(x − x̂)² + ‖sg(z) − e‖² + β‖z − sg(e)‖², codebook of 512 in 8 groups."""

    objectives = ("loss",)

    def __init__(self, net: str, latent_dim: int, beta: float = 0.25):
        super().__init__()
        if latent_dim % 8:
            raise ValueError(f"vqvae cuts the code into 8 parts: latent_dim {latent_dim}")
        self.encoder, features = ENCODERS[net]()
        self.mean = nn.Linear(features, latent_dim)
        self.codebook = Codebook(latent_dim, num_embeddings=512, groups=8, restart_after=20)
        self.decoder = DECODERS[net](latent_dim)
        self.beta = beta

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        """(loss,) for a batch x."""
        z = self.mean(self.encoder(x))
        z_q, codes = self.codebook(z)
        x_hat = self.decoder(z_q)
        recon = squared_error(x_hat, x).mean()
        codebook_loss = ((z.detach() - codes) ** 2).sum(-1).mean()
        commitment = ((z - codes.detach()) ** 2).sum(-1).mean()
        return (recon + codebook_loss + self.beta * commitment,)


class AAE(Gaussian):
    """AAE: ½·Σ(x − x̂)² + α·BCE(D(z), 1) for the autoencoder; BCE(D(z_p), 1) + BCE(D(sg z), 0)
    for the latent critic (256 hidden units)."""

    objectives = ("autoencoder", "critic")

    def __init__(self, net: str, latent_dim: int, alpha: float = 0.5):
        super().__init__(net, latent_dim)
        self.critic = nn.Sequential(
            nn.Linear(latent_dim, 256), nn.ReLU(), nn.Linear(256, 1), nn.Sigmoid()
        )
        self.decoder = DECODERS[net](latent_dim)
        self.alpha = alpha

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        """(autoencoder loss, critic loss) for a batch x."""
        mean, log_var = self.posterior(x)
        z = mean + torch.exp(0.5 * log_var) * torch.randn_like(mean)
        x_hat = self.decoder(z)
        recon = (0.5 * squared_error(x_hat, x)).mean()
        adversarial = bce(self.critic(z), 1.0)
        z_prior = torch.randn_like(mean)
        critic = bce(self.critic(z_prior), 1.0) + bce(self.critic(z.detach()), 0.0)
        return recon + self.alpha * adversarial, critic

    def parameter_groups(self) -> list[list[nn.Parameter]]:
        """The autoencoder's parameters (encoder, heads, decoder) and the critic's."""
        heads = [*self.mean.parameters(), *self.log_var.parameters()]
        autoencoder = [*self.encoder.parameters(), *heads, *self.decoder.parameters()]
        return [autoencoder, [*self.critic.parameters()]]


class BetaTCVAE(Gaussian):
    """β-TC-VAE: ½·Σ(x − x̂)² + α·MI + β·TC + γ·dim-KL, log q(z) by minibatch weighted sampling
    over a training set of `dataset_size` (Chen et al. 2018, arXiv:1802.04942)."""

    objectives = ("loss",)

    def __init__(
        self,
        net: str,
        latent_dim: int,
        dataset_size: int,
        alpha: float = 1.0,
        beta: float = 6.0,
        gamma: float = 1.0,
    ):
        super().__init__(net, latent_dim)
        self.decoder = DECODERS[net](latent_dim)
        self.dataset_size = dataset_size
        self.alpha, self.beta, self.gamma = alpha, beta, gamma

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        """(loss,) for a batch x."""
        mean, log_var = self.posterior(x)
        z = mean + torch.exp(0.5 * log_var) * torch.randn_like(mean)
        x_hat = self.decoder(z)
        recon = (0.5 * squared_error(x_hat, x)).mean()
        # log q(z_i,d | x_j): code i under posterior j, (i j d)
        log_q_ijd = -0.5 * (LOG_2PI + log_var + (z[:, None] - mean) ** 2 / log_var.exp())
        log_nm = math.log(self.dataset_size * len(x))
        log_qz = torch.logsumexp(log_q_ijd.sum(-1), dim=1) - log_nm
        log_qz_marginals = (torch.logsumexp(log_q_ijd, dim=1) - log_nm).sum(-1)
        log_qz_x = (-0.5 * (LOG_2PI + log_var + (z - mean) ** 2 / log_var.exp())).sum(-1)
        log_pz = -0.5 * (LOG_2PI + z**2).sum(-1)
        mi = (log_qz_x - log_qz).mean()
        tc = (log_qz - log_qz_marginals).mean()
        dim_kl = (log_qz_marginals - log_pz).mean()
        return (recon + self.alpha * mi + self.beta * tc + self.gamma * dim_kl,)


class Discriminator(nn.Module):
    """Pythae's MNIST ConvNet discriminator: Conv(k4 s2 p1) of 128, 256, 512, 1024 channels with
    ReLU, tanh, ReLU, ReLU, then Linear(→1) and a sigmoid; the third layer's output is the
    features the reconstruction is measured in."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 128, 4, 2, 1),
            nn.ReLU(),
            nn.Conv2d(128, 256, 4, 2, 1),
            nn.Tanh(),
            nn.Conv2d(256, 512, 4, 2, 1),
            nn.ReLU(),
        )
        self.head = nn.Sequential(
            nn.Conv2d(512, 1024, 4, 2, 1),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(1024, 1),
            nn.Sigmoid(),
        )

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(D(x) (b 1), layer-3 features (b 512 3 3))."""
        features = self.features(x)
        return self.head(features), features


class VAEGAN(Gaussian):
    """VAE/GAN (Larsen et al. 2016, arXiv:1512.09300): encoder KL + L_llike, decoder
    (1 − α)·L_llike − α·L_GAN, discriminator L_GAN; L_llike = ½·Σ(D_3(x) − D_3(x̂))²."""

    objectives = ("encoder", "decoder", "discriminator")

    def __init__(self, net: str, latent_dim: int, alpha: float = 0.5):
        super().__init__(net, latent_dim)
        self.discriminator = Discriminator()
        self.decoder = DECODERS[net](latent_dim)
        self.alpha = alpha

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        """(encoder loss, decoder loss, discriminator loss) for a batch x."""
        mean, log_var = self.posterior(x)
        z = mean + torch.exp(0.5 * log_var) * torch.randn_like(mean)
        x_hat = self.decoder(z)
        d_x, f_x = self.discriminator(x)
        z_p = torch.randn_like(mean)
        d_x_hat, f_x_hat = self.discriminator(x_hat)
        d_x_p, _ = self.discriminator(self.decoder(z_p))
        kl = kl_standard_normal(mean, log_var).mean()
        feature_recon = (0.5 * squared_error(f_x_hat, f_x)).mean()
        gan = bce(d_x, 1.0) + bce(d_x_hat, 0.0) + bce(d_x_p, 0.0)
        return kl + feature_recon, (1 - self.alpha) * feature_recon - self.alpha * gan, gan

    def parameter_groups(self) -> list[list[nn.Parameter]]:
        """The encoder's (with its heads), the decoder's and the discriminator's parameters."""
        encoder = [*self.encoder.parameters(), *self.mean.parameters(), *self.log_var.parameters()]
        return [encoder, [*self.decoder.parameters()], [*self.discriminator.parameters()]]


# -- the training step ---------------------------------------------------------------------------


class HandWritten:
    """A model and one Adam per objective: `step(x)` trains every objective on a batch,
    `losses(x)` gives each objective's loss (train mode, no step).

    Attributes:
        model: the nn.Module; its forward gives the objectives' losses in `model.objectives` order.
        groups: each objective's parameters, in the same order.
        optimizers: one Adam per objective, over that objective's parameters only.
    """

    def __init__(self, model: nn.Module, *, fused: bool):
        self.model = model
        several = len(model.objectives) > 1
        self.groups = model.parameter_groups() if several else [[*model.parameters()]]
        self.optimizers = [
            torch.optim.Adam(g, lr=LR, betas=BETAS, fused=fused) for g in self.groups
        ]

    def losses(self, x: Tensor) -> dict[str, Tensor]:
        """Each objective's loss for batch x, by the spec's objective name."""
        return dict(zip(self.model.objectives, self.model(x), strict=True))

    def step(self, x: Tensor) -> None:
        """One optimiser step of every objective on batch x."""
        several = len(self.optimizers) > 1
        step_objectives(self.model(x), self.optimizers, self.groups if several else [None])


def step_objectives(losses, optimizers: list, inputs: list) -> None:
    """What a training loop does with a batch's losses, one per objective: zero every gradient,
    backpropagate each loss to its own weights (`inputs`; None: to every weight, as one
    objective that trains them all does), then step every optimiser. The emitted file's column
    steps by this same function."""
    for optimizer in optimizers:
        optimizer.zero_grad()
    last = len(losses) - 1
    for i, (loss, params) in enumerate(zip(losses, inputs, strict=True)):
        loss.backward(inputs=params, retain_graph=i < last)
    for optimizer in optimizers:
        optimizer.step()


def make(
    name: str,
    net: str,
    *,
    latent_dim: int = 16,
    dataset_size: int,
    device: str | torch.device = "cpu",
    fused: bool | None = None,
) -> HandWritten:
    """The hand-written model `name` (one of NAMES) on `net` (one of NETS), in train mode on
    `device`, with its optimisers; `dataset_size` is N of β-TC-VAE's estimator.

    `fused`: torch's fused Adam kernel, or its default (for-loop on a CPU, foreach on a GPU);
    None takes the fused one where torch has it, as gaespec's trainer does, so that a benchmark
    compares the same update.
    """
    if net not in NETS:
        raise ValueError(f"unknown net {net!r}; known: {', '.join(NETS)}")
    models = {"ae": AE, "vae": VAE, "iwae": IWAE, "vqvae": VQVAE, "aae": AAE, "vaegan": VAEGAN}
    if name == "beta_tc_vae":
        model: nn.Module = BetaTCVAE(net, latent_dim, dataset_size)
    elif name in models:
        model = models[name](net, latent_dim)
    else:
        raise ValueError(f"unknown model {name!r}; known: {', '.join(NAMES)}")
    model = model.to(device).train()
    if fused is None:
        fused = torch.device(device).type in FUSED_DEVICES
    return HandWritten(model, fused=fused)
