"""Declarations of extra modules: codebooks that transform z, critics that judge it."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from gaespec.spec.vocabulary import Declaration, Identifier, Read, declare


@declare("module")
class VQCodebook(Declaration):
    """A vector-quantisation codebook with a straight-through estimator (van den Oord 2017).

    Attributes:
        input: the tensor it quantises (the encoder's code `z`).
        output: the name of the quantised tensor it writes (read by the decoder).
        num_embeddings: the number of codewords K.
        groups: the code is cut into this many parts of equal width, each quantised against
            the one codebook, as the paper quantises each position of a feature map (1: the
            whole code is one codeword; Pythae's MNIST VQ-VAE is a 16-d code in 16 parts).
        restart_after: a codeword no code has chosen for this many training passes moves onto a
            code of the batch drawn at random (Dhariwal et al. 2020's random restarts); the first
            training pass so also sets the codewords it leaves unchosen onto the data's codes.
            0 (the paper's and Pythae's): never.
    """

    kind: Literal["vq_codebook"] = "vq_codebook"
    input: Identifier = "z"
    output: Identifier = "z_q"
    num_embeddings: int = Field(512, gt=0)
    groups: int = Field(1, gt=0)
    restart_after: int = Field(0, ge=0)
    summary: ClassVar[str] = "VQ codebook: nearest codeword, straight-through gradient"
    provides: ClassVar[str] = "codebook"
    # the output's gradient passes to the input unchanged and never reaches the codewords
    straight_through: ClassVar[bool] = True

    def reads(self, modules):
        return (Read(self.input, "input"),)

    def outputs(self) -> tuple[str, ...]:
        return (self.output,)

    def check(self, spec, key):
        # a codebook keeps its input's width: every code it can read is latent.dim wide
        if spec.latent.dim % self.groups:
            raise spec.error(
                f"{self.groups} groups do not cut the {spec.latent.dim}-d code into parts of "
                "equal width",
                f"{key}.groups",
                fix=f"use a divisor of latent.dim = {spec.latent.dim}",
            )

    def writes(self, name: str) -> tuple[str, ...]:
        # the codewords chosen and their indices, for the VQ terms and for inspection
        return (self.output, f"{name}.codes", f"{name}.indices")


@declare("module")
class MLPDiscriminator(Declaration):
    """A critic D(z) ∈ (0, 1): Linear+ReLU per hidden width, then Linear and a sigmoid.

    Attributes:
        input: the tensor it judges (`z`); prior samples of the same shape are judged too.
        hidden: hidden widths; Pythae's AAE default is one layer of 256.
    """

    kind: Literal["mlp_discriminator"] = "mlp_discriminator"
    input: Identifier = "z"
    hidden: tuple[int, ...] = (256,)
    summary: ClassVar[str] = "MLP critic D(z) with a sigmoid output"
    provides: ClassVar[str] = "critic"

    def outputs(self) -> tuple[str, ...]:
        # a critic is no stage of the forward pass: the terms that use it call it on `input`
        return ()
