"""Declaration of the MS-SSIM reconstruction term: 1 − the multi-scale structural similarity of
Wang, Simoncelli & Bovik 2003 (Asilomar, doi:10.1109/ACSSC.2003.1292216), the loss of the
MS-SSIM VAE (Snell et al. 2017, arXiv:1511.06409)."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import AfterValidator, Field

from gaespec.spec.vocabulary import Declaration, Read, TensorName, declare

# Wang et al.'s exponents of the five scales, finest first (their Table 1 fit to human judgements)
WANG_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def _odd(size: int) -> int:
    if size % 2 == 0:
        raise ValueError(f"the window must have a centre pixel: give an odd size, not {size}")
    return size


@declare("term")
class MSSSIMReconstruction(Declaration):
    """1 − MS-SSIM(x̂, x) per image, averaged over the K samples and the batch.

    Each scale's SSIM statistics are Gaussian-weighted means over the positions where the whole
    window fits (no padding, as Wang et al.); scales are average-pooled by 2. Scale j < L gives
    its contrast-structure cs_j, the coarsest scale L its full SSIM; MS-SSIM = Π_j cs_j^{w_j} ·
    SSIM_L^{w_L}, each factor clamped at 0 first. L is the number of scales (at most
    len(weights)) whose smallest side is at least the window; with L < len(weights) the first L
    weights are rescaled to sum as all of them do. A colour image's MS-SSIM is the mean of its
    channels'.

    Attributes:
        window_size: side of the Gaussian window (odd); Pythae's default 11.
        sigma: the window's standard deviation, in pixels.
        k1, k2: the SSIM constants, C1 = (k1·data_range)², C2 = (k2·data_range)².
        data_range: max − min of the pixel values (1 for images in [0, 1]).
        weights: the exponents of the scales, finest first.
        target: the tensor reconstructed (the data `x`; no gradient flows into it).
        estimate: the tensor that reconstructs it (`x_hat`, K samples per input).
    """

    kind: Literal["msssim_reconstruction"] = "msssim_reconstruction"
    window_size: Annotated[int, Field(ge=3), AfterValidator(_odd)] = 11
    sigma: float = Field(1.5, gt=0)
    k1: float = Field(0.01, gt=0)
    k2: float = Field(0.03, gt=0)
    data_range: float = Field(1.0, gt=0)
    weights: tuple[Annotated[float, Field(gt=0)], ...] = Field(WANG_WEIGHTS, min_length=1)
    target: TensorName = "x"
    estimate: TensorName = "x_hat"
    summary: ClassVar[str] = "1 − MS-SSIM(x̂, x) per image (Gaussian window, up to 5 scales), mean"

    def reads(self, modules):
        return (Read(self.target, "target", detached=True), Read(self.estimate, "estimate"))

    def check(self, spec, key):
        if self.target != "x":
            return  # the shape of another tensor is known only once the graph is built
        shape = tuple(spec.input.shape)
        if len(shape) not in (3, 4):
            raise spec.error(
                "MS-SSIM compares images (c h w) or volumes (c d h w), but input.shape is "
                f"{list(shape)}",
                f"{key}.kind",
                fix='use a reconstruction of kind "reconstruction" for flat data',
            )
        if min(shape[1:]) < self.window_size:
            sides = "×".join(str(s) for s in shape[1:])
            raise spec.error(
                f"a window of {self.window_size} does not fit the {sides} images of input.shape "
                f"{list(shape)}: MS-SSIM needs even its finest scale at least as large as the "
                "window",
                f"{key}.window_size",
                fix=f"set {key}.window_size to an odd size of at most {min(shape[1:])} "
                "(the study used 3 on MNIST)",
            )
