"""Declarations of the penalties of the regularised autoencoders (Ghosh et al. 2020,
arXiv:1903.12436): the code's L2 norm, the L2 norm of a module's weights, and the gradient
penalty."""

from __future__ import annotations

from typing import ClassVar, Literal

from gaespec.spec.vocabulary import Declaration, Identifier, Read, declare


@declare("term")
class CodeL2(Declaration):
    """½‖z‖², summed over the code's dimensions, averaged over the samples and the batch: the
    RAE's L_z, which keeps the deterministic codes in a bounded region.

    Attributes:
        input: the code penalised (`z`).
    """

    kind: Literal["code_l2"] = "code_l2"
    input: Identifier = "z"
    summary: ClassVar[str] = "code penalty ½‖z‖², batch mean"

    def reads(self, modules):
        return (Read(self.input, "input"),)


@declare("term")
class WeightL2(Declaration):
    """‖θ‖², the sum of the squares of every parameter of one module: the RAE-L2's L_REG on
    the decoder (an L2 penalty in the loss; with Adam the same as `weight_decay` = 2 × weight).

    Attributes:
        module: the module whose parameters are penalised (`decoder`).
    """

    kind: Literal["weight_l2"] = "weight_l2"
    module: Identifier = "decoder"
    summary: ClassVar[str] = "weight penalty ‖θ‖² over one module's parameters"

    def uses(self, modules):
        return (Read(self.module, "module"),)


@declare("term")
class GradientPenalty(Declaration):
    """‖∂(Σ output)/∂wrt‖² per sample, averaged over the batch: the gradient penalty of RAE-GP
    (Ghosh et al. 2020, arXiv:1903.12436) with output = x_hat and wrt = z, as the paper takes
    it (Pythae differentiates by the image x instead).

    Attributes:
        output: the tensor differentiated. wrt: the tensor it is differentiated with respect to.
    """

    kind: Literal["gradient_penalty"] = "gradient_penalty"
    output: Identifier = "x_hat"
    wrt: Identifier = "z"
    summary: ClassVar[str] = "gradient penalty ‖∂output/∂wrt‖² (create_graph), batch mean"

    def reads(self, modules):
        return (Read(self.output, "output"), Read(self.wrt, "wrt"))

    def differentiates(self) -> tuple[str, str]:
        return self.output, self.wrt
