"""CelebA from its aligned images and official partition (Liu et al. 2015, "Deep Learning Face
Attributes in the Wild", mmlab.ie.cuhk.edu.hk/projects/CelebA.html).

The folder `img_align_celeba` holds 202,599 aligned faces, `000001.jpg` …, each 178×218 pixels;
`list_eval_partition.txt` gives each image's split, one `NAME SPLIT` line per image: 0 train
(162,770), 1 validation (19,867), 2 test (19,962). Each image is cropped to its central 148×148
square and resized to 64×64 with bilinear filtering: the usual CelebA-64 preprocessing
(torchvision's `CenterCrop(148)` then `Resize(64)`, as PyTorch-VAE writes it; the Pythae study says
CelebA-64 but not which crop, so this is gaespec's choice). The optional `list_attr_celeba.txt`
(a count, the 40 attribute names, then `NAME ±1 … ±1` per image) gives one attribute as labels.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from einops import rearrange

from gaespec.data.crop import center_box
from gaespec.errors import DataError

IMAGES = "img_align_celeba"
PARTITION = "list_eval_partition.txt"
ATTRIBUTES = "list_attr_celeba.txt"
SPLITS = ("train", "validation", "test")  # partition values 0, 1 and 2
ALIGNED = (178, 218)  # width, height of every aligned image
CROP = 148  # the central square kept
SIZE = 64  # the side it is resized to
PAGE = "https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html"


def _get_files(what: str) -> str:
    return (
        f"download {what} from the CelebA page {PAGE} (Google Drive: 'Img/img_align_celeba.zip', "
        "'Eval/list_eval_partition.txt', 'Anno/list_attr_celeba.txt') into the folder, and unzip "
        "the images there"
    )


def find_celeba(root: str | Path) -> Path:
    """The folder holding img_align_celeba/ and list_eval_partition.txt: `root`, or root/celeba
    (torchvision's layout)."""
    root = Path(root).expanduser()
    for where in (root, root / "celeba"):
        if (where / IMAGES).is_dir() and (where / PARTITION).is_file():
            return where
    for name, is_there in ((IMAGES, Path.is_dir), (PARTITION, Path.is_file)):
        if not any(is_there(where / name) for where in (root, root / "celeba")):
            raise DataError(
                f"CelebA {'folder' if name == IMAGES else 'file'} {name!r} is not in "
                f"{str(root)!r} nor in {str(root / 'celeba')!r}",
                fix=_get_files(name),
            )
    raise DataError(
        f"CelebA's {IMAGES!r} and {PARTITION!r} are not in the same folder under {str(root)!r}",
        fix=f"put both in {str(root)!r}",
    )


def read_partition(path: str | Path) -> dict[str, list[str]]:
    """Image names by split, in the file's order, from list_eval_partition.txt."""
    path = Path(path)
    splits: dict[str, list[str]] = {split: [] for split in SPLITS}
    text = path.read_text(encoding="utf-8", errors="replace")
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 2 or fields[1] not in ("0", "1", "2"):
            raise DataError(
                f"line {number} of {str(path)!r} reads {line.strip()[:60]!r}, expected an image "
                "name and its split 0 (train), 1 (validation) or 2 (test), e.g. '000001.jpg 0'",
                fix=_get_files(PARTITION) + " again",
            )
        splits[SPLITS[int(fields[1])]].append(fields[0])
    for split, names in splits.items():
        if not names:
            raise DataError(
                f"{str(path)!r} puts no image in the {split} split",
                fix=_get_files(PARTITION) + " again",
            )
    return splits


def read_attribute(path: str | Path, attribute: str, names: Sequence[str]) -> np.ndarray:
    """Labels 1 (the attribute is present) or 0 (absent) of the images `names`, from
    list_attr_celeba.txt."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"CelebA file {str(path)!r} does not exist", fix=_get_files(ATTRIBUTES))
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    header = lines[1].split() if len(lines) > 1 else []
    if attribute not in header:
        raise DataError(
            f"CelebA has no attribute {attribute!r} in {str(path)!r}",
            name=attribute,
            choices=header,
            fix=f"write one of {', '.join(header)}" if header else _get_files(ATTRIBUTES),
        )
    column = header.index(attribute) + 1
    values = {}
    for number, line in enumerate(lines[2:], start=3):
        fields = line.split()
        if len(fields) != len(header) + 1 or fields[column] not in ("1", "-1"):
            raise DataError(
                f"line {number} of {str(path)!r} does not hold an image name and "
                f"{len(header)} values 1 or -1",
                fix=_get_files(ATTRIBUTES) + " again",
            )
        values[fields[0]] = fields[column] == "1"
    missing = next((name for name in names if name not in values), None)
    if missing is not None:
        raise DataError(
            f"{str(path)!r} lists no attributes for the image {missing!r}",
            fix=_get_files(ATTRIBUTES) + " again",
        )
    return np.array([values[name] for name in names], dtype=np.int64)


def read_image(path: Path) -> np.ndarray:
    """One aligned CelebA image, its central 148×148 square resized to 64×64: uint8 (3, 64, 64)."""
    from PIL import Image, UnidentifiedImageError

    if not path.is_file():
        raise DataError(
            f"CelebA image {path.name!r}, listed in {PARTITION}, is not in {str(path.parent)!r}",
            fix=_get_files(IMAGES) + " again",
        )
    try:
        with Image.open(path) as image:
            if image.size != ALIGNED:
                raise DataError(
                    f"CelebA image {str(path)!r} is {image.size[0]}×{image.size[1]} pixels, "
                    f"expected the aligned {ALIGNED[0]}×{ALIGNED[1]} (img_align_celeba, not the "
                    "in-the-wild img_celeba)",
                    fix=_get_files(IMAGES) + " again",
                )
            square = image.convert("RGB").crop(center_box(*image.size, CROP))
            small = square.resize((SIZE, SIZE), Image.Resampling.BILINEAR)
    except (OSError, UnidentifiedImageError, SyntaxError) as error:  # truncated or not an image
        raise DataError(
            f"cannot read CelebA image {str(path)!r}: {error}",
            fix=_get_files(IMAGES) + " again",
        ) from None
    return rearrange(np.asarray(small, dtype=np.uint8), "h w c -> c h w")


def read_celeba(
    root: str | Path, *, limit: int | None = None, attribute: str | None = None
) -> tuple[np.ndarray, np.ndarray | None, tuple[int, int, int]]:
    """CelebA-64 in the official split: uint8 images (N, 3, 64, 64), train then validation then
    test, each in the partition file's order; labels of `attribute` (or None); the three sizes.

    `limit` keeps the first `limit` images of each split. All images are decoded into memory (the
    full set is 2.5 GB as uint8), with a progress bar on a terminal.
    """
    from tqdm.auto import tqdm

    folder = find_celeba(root)
    splits = read_partition(folder / PARTITION)
    names = {split: names[:limit] for split, names in splits.items()}
    order = [name for split in SPLITS for name in names[split]]
    x = np.empty((len(order), 3, SIZE, SIZE), dtype=np.uint8)
    for i, name in enumerate(tqdm(order, desc=f"CelebA {SIZE}×{SIZE}", unit="img", disable=None)):
        x[i] = read_image(folder / IMAGES / name)
    y = None if attribute is None else read_attribute(folder / ATTRIBUTES, attribute, order)
    sizes = tuple(len(names[split]) for split in SPLITS)
    return x, y, sizes
