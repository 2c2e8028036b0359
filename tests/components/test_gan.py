"""The VAE/GAN's parts: the GAN loss against its formula, the discriminator's features, and the
three objectives' wiring."""

from __future__ import annotations

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
