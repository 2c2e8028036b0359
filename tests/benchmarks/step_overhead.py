"""Framework tax: gaespec's training step against a hand-written loop of the same model.

Both train Pythae's MNIST ConvNet VAE (latent 16, batch 64, Adam 1e-3) on in-memory tensors;
the hand-written loop is plain torch with the loss written out. Prints images per second of each.
Run: .venv/bin/python tests/benchmarks/step_overhead.py [--batches 20] (a benchmark, not a test)
"""

from __future__ import annotations

import argparse
import time

import torch
from einops import rearrange
from torch import nn

import gaespec
from gaespec.graph.lower import lower
from gaespec.training.trainer import Trainer


def hand_written_vae(d: int = 16) -> nn.Module:
    """The same layers as gaespec's mnist_convnet VAE, written by hand."""

    class VAE(nn.Module):
        def __init__(self):
            super().__init__()
            chans = [1, 128, 256, 512, 1024]
            self.enc = nn.Sequential(
                *[
                    m
                    for a, b in zip(chans[:-1], chans[1:], strict=True)
                    for m in (nn.Conv2d(a, b, 4, 2, 1), nn.BatchNorm2d(b), nn.ReLU())
                ]
            )
            self.mu, self.logvar = nn.Linear(1024, d), nn.Linear(1024, d)
            self.fc = nn.Linear(d, 1024 * 16)
            self.dec = nn.Sequential(
                nn.ConvTranspose2d(1024, 512, 3, 2, 1),
                nn.BatchNorm2d(512),
                nn.ReLU(),
                nn.ConvTranspose2d(512, 256, 3, 2, 1, output_padding=1),
                nn.BatchNorm2d(256),
                nn.ReLU(),
                nn.ConvTranspose2d(256, 1, 3, 2, 1, output_padding=1),
                nn.Sigmoid(),
            )

        def forward(self, x):
            h = self.enc(x).flatten(1)
            mu, logvar = self.mu(h), self.logvar(h)
            z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
            x_hat = self.dec(rearrange(self.fc(z), "b (c h w) -> b c h w", c=1024, h=4))
            recon = 0.5 * ((x_hat - x) ** 2).flatten(1).sum(1)
            kl = -0.5 * (1 + logvar - mu**2 - logvar.exp()).sum(1)
            return (recon + kl).mean()

    return VAE()


def images_per_second(step, x: torch.Tensor, batches: int, batch: int) -> float:
    step(x[:batch])  # warm-up
    started = time.perf_counter()
    for i in range(batches):
        step(x[i * batch : (i + 1) * batch])
    return batches * batch / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=20)
    args = parser.parse_args()
    batch = 64
    x = torch.rand(batch * (args.batches + 1), 1, 28, 28)

    torch.manual_seed(0)
    model = hand_written_vae()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    def hand_step(xb):
        loss = model(xb)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    torch.manual_seed(0)
    graph = lower(gaespec.load_spec("specs/models/vae.toml"))
    data = type("D", (), {})()
    trainer = Trainer(
        gaespec.build(graph), graph.objectives, data, batch_size=batch, progress=False
    )
    trainer.model.train()

    for name, step in (("hand-written", hand_step), ("gaespec", trainer.train_step)) * 2:
        rate = images_per_second(step, x, args.batches, batch)
        print(f"{name:<13} {rate:6.1f} images/s  ({args.batches} batches of {batch})", flush=True)


if __name__ == "__main__":
    main()
