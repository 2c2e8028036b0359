"""The VAE/GAN's parts: the GAN loss against its formula, the discriminator's features, and the
three objectives' wiring."""

from __future__ import annotations

from itertools import pairwise

import pytest
import torch

import gaespec
from gaespec.components.gan import ConvDiscriminator, GANLossTerm
from gaespec.errors import GaespecError

SMALL = (
    "modules.discriminator.channels=[8, 8]",
    "modules.discriminator.activations=['relu', 'tanh']",
)


def test_gan_loss_is_the_binary_cross_entropy_of_real_and_fake():
    real = torch.tensor([0.9, 0.6], dtype=torch.float64)
    fake_a = torch.tensor([[0.2, 0.3]], dtype=torch.float64)
    fake_b = torch.tensor([[0.5, 0.1]], dtype=torch.float64)
    expected = (
        -(torch.log(real)).mean() - torch.log(1 - fake_a).mean() - torch.log(1 - fake_b).mean()
    )
    torch.testing.assert_close(GANLossTerm(real=1)(real, fake_a, fake_b), expected)
    # with no real judgement, every one is fake
    torch.testing.assert_close(
        GANLossTerm(real=0)(fake_a), -torch.log(1 - fake_a).mean(), rtol=1e-12, atol=0
    )


def test_discriminator_features_are_the_named_layers_output():
    torch.manual_seed(0)
    d = ConvDiscriminator((1, 28, 28), (4, 6, 8, 10), ("relu", "tanh", "relu", "relu"), 3)
    x = torch.rand(5, 1, 28, 28)
    judged, features = d(x)
    assert judged.shape == (5,) and features.shape == (5, 8, 3, 3)  # 28 → 14 → 7 → 3
    assert ((judged > 0) & (judged < 1)).all()
    by_hand = x
    for layer in list(d.convolutions)[:3]:
        by_hand = layer(by_hand)
    assert torch.equal(features, by_hand)  # the same operations, in the same order
    # the last layer (the linear one) gives its logit as the features
    d.feature_layer = 5
    judged, logit = d(x)
    torch.testing.assert_close(judged, torch.sigmoid(logit[:, 0]), rtol=0, atol=0)


def test_a_discriminator_too_deep_for_the_images_is_refused():
    spec = gaespec.load_spec(
        "vaegan",
        [
            "input.shape=[1, 6, 6]",
            "encoder.arch=mlp",
            "decoder.arch=mlp",
            "modules.discriminator.channels=[4, 4, 4, 4]",
        ],
    )
    with pytest.raises(GaespecError) as error:
        gaespec.build(spec)
    assert (
        "modules.discriminator.channels: 4 stride-2 convolutions shrink the input [1, 6, 6] to "
        "nothing" in str(error.value)
    )


def test_feature_layer_beyond_the_network_is_refused():
    with pytest.raises(GaespecError) as error:
        gaespec.load_spec("vaegan", ["modules.discriminator.feature_layer=6"])
    assert (
        "feature_layer must be at most 5 (the convolutions, then the linear layer), got 6"
        in str(error.value)
    )


def test_the_three_objectives_read_what_the_paper_says(tiny_model):
    torch.manual_seed(0)
    model = tiny_model("vaegan", *SMALL).double()
    x = torch.rand(4, 1, 6, 6, dtype=torch.float64)
    torch.manual_seed(1)
    out = model(x)
    t = out.tensors
    # the reconstruction in the discriminator's features, ½ Σ (D_l(x) − D_l(x̂))²
    _, features_x = model.discriminator(x)
    _, features_hat = model.discriminator(t["x_hat"][0])
    by_hand = 0.5 * ((features_x - features_hat) ** 2).flatten(1).sum(1).mean()
    torch.testing.assert_close(out.terms["feature_recon"], by_hand, rtol=1e-12, atol=0)
    # the GAN loss judges data as real, reconstructions and decoded prior samples as fake
    judge = lambda images: model.discriminator(images)[0]  # noqa: E731
    gan = (
        -torch.log(judge(x)).mean()
        - torch.log(1 - judge(t["x_hat"][0])).mean()
        - torch.log(1 - judge(model.decoder(t["z_p"][0]))).mean()
    )
    torch.testing.assert_close(out.terms["gan"], gan, rtol=1e-12, atol=0)
    alpha = model.graph.spec.params["alpha"]
    torch.testing.assert_close(
        out.losses["decoder"], (1 - alpha) * by_hand - alpha * gan, rtol=1e-12, atol=0
    )
    torch.testing.assert_close(out.losses["encoder"], out.terms["kl"] + by_hand, rtol=1e-12, atol=0)
    assert [o.params for o in model.graph.objectives] == [
        ("encoder", "posterior"),
        ("decoder",),
        ("discriminator",),
    ]


# Pythae's discriminators (reference §6): MNIST and CIFAR-10 without batch norm, CelebA with it
PYTHAE = {"channels": (128, 256, 512, 1024), "activations": ("relu", "tanh", "relu", "relu")}


@pytest.mark.parametrize(
    ("shape", "batch_norm", "side", "total"),
    [
        # Σ Conv(4×4) weights and biases, BatchNorm's scale and shift, Linear(1024·side², 1)
        ((1, 28, 28), False, 1, 2_176 + 524_544 + 2_097_664 + 8_389_632 + 1_025),
        ((3, 32, 32), False, 2, 6_272 + 524_544 + 2_097_664 + 8_389_632 + 4_097),
        ((3, 64, 64), True, 4, 6_272 + 524_544 + 2_097_664 + 8_389_632 + 3_840 + 16_385),
    ],
    ids=["mnist", "cifar", "celeba"],
)
def test_pythaes_three_discriminators_layer_by_layer(shape, batch_norm, side, total):
    widths = [shape[0], 128, 256, 512, 1024]
    by_hand = sum(a * b * 16 + b + (2 * b if batch_norm else 0) for a, b in pairwise(widths)) + (
        1024 * side * side + 1
    )
    assert by_hand == total
    d = ConvDiscriminator(shape, **PYTHAE, feature_layer=3, batch_norm=batch_norm)
    assert sum(p.numel() for p in d.parameters()) == total
    norm = ["BatchNorm2d"] if batch_norm else []
    assert [[type(m).__name__ for m in block] for block in d.convolutions] == [
        ["Conv2d", *norm, activation] for activation in ("ReLU", "Tanh", "ReLU", "ReLU")
    ]
    torch.manual_seed(0)
    x = torch.rand(2, *shape)
    judged, features = d(x)
    third = {1: 3, 2: 4, 4: 8}[side]  # 28 → 14 → 7 → 3; 32 → … → 4; 64 → … → 8
    assert judged.shape == (2,) and features.shape == (2, 512, third, third)
    assert ((judged > 0) & (judged < 1)).all()


def test_a_vaegan_spec_on_celeba_takes_the_batch_normed_discriminator():
    spec = gaespec.load_spec(
        "vaegan",
        [
            "input.shape=[3, 64, 64]",
            "encoder.arch=resnet",
            "decoder.arch=resnet",
            "modules.discriminator.batch_norm=true",
        ],
    )
    torch.manual_seed(0)
    model = gaespec.build(spec)
    assert type(model.discriminator.convolutions[0][1]).__name__ == "BatchNorm2d"
    out = model(torch.rand(2, 3, 64, 64))
    assert out.tensors["d_x.features"].shape == (2, 512, 8, 8)
    assert all(torch.isfinite(loss) for loss in out.losses.values())
