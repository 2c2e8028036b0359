import pytest
import torch
from tiny import tiny_vae
from torch import nn

from gaespec.errors import DataError
from gaespec.metrics import reconstruction_mse


class HalfModel(nn.Module):
    """reconstruct(x) = x / 2, so the MSE is mean(x²) / 4; records each batch and mode."""

    def __init__(self):
        super().__init__()
        self.calls: list[tuple[int, bool, bool]] = []

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        self.calls.append((len(x), self.training, torch.is_grad_enabled()))
        return x * 0.5


def test_matches_hand_computation_over_uneven_batches():
    # pixels k/256: halves, differences and squares are exact in float32, their float64 sum is
    # exact in any order (multiples of 2⁻¹⁸ below 2³⁶), so both sides round once, in the ÷ n
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 257, (1234, 1, 28, 28), generator=g) / 256
    model = HalfModel().train()
    assert reconstruction_mse(model, x) == float((x.double() ** 2).sum() / 4 / x.numel())
    assert model.calls == [(500, False, False), (500, False, False), (234, False, False)]
    assert model.training


def test_batch_size_does_not_change_the_number():
    x = torch.rand(37, 3, 4, 4, generator=torch.Generator().manual_seed(1))
    assert reconstruction_mse(HalfModel(), x, batch_size=5) == pytest.approx(
        reconstruction_mse(HalfModel(), x, batch_size=100), rel=1e-12
    )


def test_tiny_vae_equals_mean_of_squared_error_of_reconstruct():
    model = tiny_vae().eval()
    x = torch.rand(12, 1, 28, 28, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        expected = float(((model.decode(model.encode(x).mean) - x) ** 2).mean())
    assert reconstruction_mse(model, x, batch_size=5) == pytest.approx(expected, rel=1e-5)


def test_empty_data_and_mismatched_shapes():
    with pytest.raises(DataError) as e:
        reconstruction_mse(HalfModel(), torch.rand(0, 1, 2, 2))
    assert str(e.value) == "reconstruction_mse needs at least one image, got an empty batch"

    class Flat(HalfModel):
        def reconstruct(self, x):
            return x.flatten(1)

    with pytest.raises(DataError) as e:
        reconstruction_mse(Flat(), torch.rand(2, 1, 2, 2))
    assert str(e.value) == (
        "reconstructions of shape (2, 4) do not match the images' shape (2, 1, 2, 2)"
    )
