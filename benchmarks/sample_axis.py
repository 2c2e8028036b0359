"""Where the emitted file's tax goes: the MLP VAE's emitted forward, rewritten step by step.

Every column here is the emitted VAE on gaespec's `mlp` net (columns.py's column (b)), stepped
by the hand-written loop's own function; only its forward differs:
- `emitted`: as `gaespec build` writes it;
- `emitted, no sample axis`: one sample z (b d) and the decoder called on it directly, with no
  sample axis to add and fold away; the terms as emitted (the reconstruction on x̂ viewed as
  (1 b ...));
- `emitted, op for op`: the hand-written VAE's arithmetic (hand_written.VAE) on the emitted
  module's own layers, its Output returned.
Their ratios to the hand-written loop split the emitted file's tax into what the sample axis
costs (every model carries its K samples first, (k b ...), a one-sample model included) and
the rest (module boundaries, the terms as objects, the output's dictionaries).
tests/benchmarks/test_sample_axis.py checks that the three forwards give the same loss.
"""

from __future__ import annotations

import sys
import types

import torch

import columns as cols
import hand_written

NAME, NET = "vae", "mlp"


def _no_sample_axis(self, x: torch.Tensor):
    q = self.posterior(self.encoder(x))
    z = q.mean + torch.exp(0.5 * q.log_var) * torch.randn_like(q.mean)  # (b d)
    x_hat = self.decoder(z)
    recon = self.recon(x, x_hat.unsqueeze(0))  # the term as emitted: (1 b ...)
    kl = self.kl(q, self.prior)
    return _output(self)({"recon": recon, "kl": kl}, {"loss": recon + kl})


def _op_for_op(self, x: torch.Tensor):
    h = self.encoder.layers(x)
    mean, log_var = self.posterior.mean(h), self.posterior.log_var(h)
    z = mean + torch.exp(0.5 * log_var) * torch.randn_like(mean)
    x_hat = self.decoder.layers(z)
    recon = (0.5 * hand_written.squared_error(x_hat, x)).mean()
    kl = hand_written.kl_standard_normal(mean, log_var).mean()
    return _output(self)({"recon": recon, "kl": kl}, {"loss": recon + kl})


def _output(model):
    """The emitted file's own Output class."""
    return sys.modules[type(model).__module__].Output


FORWARDS = {"emitted, no sample axis": _no_sample_axis, "emitted, op for op": _op_for_op}


def columns(x: torch.Tensor, batch_size: int, device: torch.device) -> list[cols.Column]:
    """The emitted VAE as written, then with each forward of FORWARDS, then the hand loop."""
    found = [cols.emitted_column(NAME, NET, x, batch_size, device)]
    for name, forward in FORWARDS.items():
        column = cols.emitted_column(NAME, NET, x, batch_size, device)
        column.model.forward = types.MethodType(forward, column.model)
        column.name = name
        found.append(column)
    return [*found, cols.hand_column(NAME, NET, x, batch_size, device)]
