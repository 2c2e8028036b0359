"""The central square of an image, placed as torchvision's `center_crop` places it."""

from __future__ import annotations


def center_box(width: int, height: int, side: int) -> tuple[int, int, int, int]:
    """The (left, top, right, bottom) box of the central side×side square of a width×height
    image; the offsets round as torchvision's center_crop rounds them."""
    left = int(round((width - side) / 2.0))
    top = int(round((height - side) / 2.0))
    return left, top, left + side, top + side
