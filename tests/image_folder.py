"""A folder of a few hundred small digit images, written as a user would keep them: one subfolder
per class, mostly 16×16 PNG, every tenth a 24×20 JPEG (to be resized and cropped)."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.datasets import load_digits

N = 300
JPEG_SIZE = (24, 20)  # width, height


@functools.cache
def _digits():
    return load_digits()


def digit(i: int) -> np.ndarray:
    """scikit-learn's digit i, each pixel doubled to 16×16, as uint8 0…255."""
    image = _digits().images[i]
    return np.round(np.kron(image, np.ones((2, 2))) * 255 / 16).astype(np.uint8)


def write_digits(root: Path, n: int = N) -> list[tuple[Path, int]]:
    """Digits 0…n-1 as root/<label>/<i>.png (or .JPG / .jpeg for i % 10 == 3, 24×20), plus files
    the source must skip; returns (path, label) of each image in the order the source reads them
    (class folder, then name)."""
    labels = _digits().target
    written = []
    for i in range(n):
        folder = root / str(labels[i])
        folder.mkdir(parents=True, exist_ok=True)
        image = Image.fromarray(digit(i))
        if i % 10 == 3:
            path = folder / f"{i:03d}.{'JPG' if i % 20 == 3 else 'jpeg'}"
            image.resize(JPEG_SIZE, Image.Resampling.BILINEAR).save(path, quality=95)
        else:
            path = folder / f"{i:03d}.png"
            image.save(path)
        written.append((path, int(labels[i])))
    (root / "README.txt").write_text("not an image")
    (root / "0" / "._000.png").write_text("a macOS resource fork: hidden, skipped")
    (root / ".cache").mkdir()
    (root / ".cache" / "thumb.png").write_text("in a hidden folder: skipped")
    return sorted(written, key=lambda pair: (pair[0].parent.name, pair[0].name))
