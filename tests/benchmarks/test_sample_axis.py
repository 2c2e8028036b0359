"""The forwards of benchmarks/sample_axis.py compute the emitted VAE's loss: drawn from the same
random numbers, each gives the loss of the forward as emitted."""

from __future__ import annotations

import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
import sample_axis  # noqa: E402
from perf import digits  # noqa: E402


def test_each_rewritten_forward_gives_the_emitted_loss():
    x = digits(16)
    emitted, *rewritten, hand = sample_axis.columns(x, 16, torch.device("cpu"))
    assert [c.name for c in rewritten] == list(sample_axis.FORWARDS)
    assert hand.name == "hand"
    torch.manual_seed(3)
    expected = emitted.model(x)
    for column in rewritten:
        column.model.load_state_dict(emitted.model.state_dict())
        torch.manual_seed(3)
        got = column.model(x)
        for part in ("terms", "losses"):
            for key, value in getattr(expected, part).items():
                # the same arithmetic up to the order of a sum: float32 rounding
                torch.testing.assert_close(
                    getattr(got, part)[key], value, rtol=1e-5, atol=1e-5, msg=column.name
                )
