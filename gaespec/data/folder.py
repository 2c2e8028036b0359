"""The data source `folder:DIR`: a user's own PNG and JPEG images, of any size, as uint8 samples.

Every file under DIR (recursively; hidden files and folders, whose names start with '.', are
skipped) whose name ends in .png, .jpg or .jpeg (any case) is a sample, in the order of the sorted
paths. Each image is turned upright by its EXIF orientation, converted to grey (`mode=L`) or colour
(`mode=RGB`; by default RGB unless every image is greyscale), resized with bilinear filtering so
that its shorter side is `size`, then cropped to its central size×size square (`crop=center`, the
default) or left whole (`crop=none`). Without `size`, images that all share one size keep it (the
crop then keeps the central square of the shorter side); images of different sizes need `size`.
The crop and the resized length of the longer side round as torchvision's `CenterCrop` and
`Resize(size)` do. Only 8-bit images are read: 16-bit and float images are refused.

Labels follow torchvision's `ImageFolder`: when every image lies under one of two or more
subfolders of DIR (DIR/cat/…, DIR/dog/…), its label is the index of its subfolder among their
sorted names; otherwise there are none.

`?stream=1` reads nothing but the headers up front: each batch is decoded when it is needed, by
`workers` DataLoader processes (gaespec.data.streamed), for data too large for memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from einops import rearrange

from gaespec.data.checks import shape_text
from gaespec.data.crop import center_box
from gaespec.data.sources import Raw, _count, _flag, source
from gaespec.data.streamed import Stream
from gaespec.errors import DataError

EXTENSIONS = (".png", ".jpg", ".jpeg")
MODES = ("L", "RGB")
CROPS = ("center", "none")
GREY = ("1", "L", "LA")  # Pillow's 8-bit (or 1-bit) greyscale modes
EIGHT_BIT = (*GREY, "P", "PA", "RGB", "RGBA", "RGBX", "CMYK", "YCbCr", "LAB", "HSV")
ORIENTATION = 0x0112  # the EXIF tag
TURNED = (5, 6, 7, 8)  # the EXIF orientations that swap width and height
USAGE = "folder:DIR[?size=N&crop=center|none&mode=L|RGB&stream=1&workers=K]"


def _name(text: str) -> str:
    return f"data source {text!r}"


def _option(parse, value: str, option: str, text: str):
    """`parse(value, option=option)` (sources._count or _flag), its error naming the source."""
    try:
        return parse(value, option=option)
    except DataError as error:
        raise DataError(f"{_name(text)}: {error.message}", fix=error.fix) from None


def _choice(value: str, option: str, choices: Sequence[str], text: str) -> str:
    """`value` as the one of `choices` it names (any case); else DataError."""
    found = next((c for c in choices if c.lower() == value.lower()), None)
    if found is None:
        raise DataError(
            f"{_name(text)}: option {option}={value!r} is not one of {', '.join(choices)}",
            name=value,
            choices=choices,
            fix=f"write {' or '.join(f'{option}={c}' for c in choices)}",
        )
    return found


@dataclass(frozen=True)
class ImageOptions:
    """How each image becomes a sample.

    Attributes:
        mode: "L" (grey, one channel) or "RGB" (three channels).
        size: the shorter side after resizing, or None to keep each image's size.
        crop: "center" (the central square of the shorter side) or "none" (the whole image).
    """

    mode: str
    size: int | None
    crop: str

    def resized(self, width: int, height: int) -> tuple[int, int]:
        """The (width, height) an image of `width`×`height` is resized to: its shorter side
        `size`, the longer one scaled and truncated, as torchvision's Resize(size)."""
        if self.size is None:
            return width, height
        if width <= height:
            return self.size, int(self.size * height / width)
        return int(self.size * width / height), self.size

    def crop_box(self, width: int, height: int) -> tuple[int, int, int, int] | None:
        """The (left, top, right, bottom) box that the crop keeps of a resized image, or None;
        offsets rounded as torchvision's center_crop rounds them."""
        if self.crop == "none":
            return None
        return center_box(width, height, min(width, height))

    def shape(self, width: int, height: int) -> tuple[int, int, int]:
        """The (C, H, W) of the sample made from an upright image of `width`×`height`."""
        width, height = self.resized(width, height)
        box = self.crop_box(width, height)
        if box is not None:
            width, height = box[2] - box[0], box[3] - box[1]
        return len(self.mode), height, width


def read_image(path: str | Path, options: ImageOptions) -> np.ndarray:
    """One image file as a sample: upright, converted, resized and cropped: uint8 (C, H, W).

    The one transform of both the in-memory and the streamed path."""
    from PIL import Image, ImageOps

    try:
        with Image.open(path) as image:
            if image.getexif().get(ORIENTATION, 1) != 1:
                image = ImageOps.exif_transpose(image)
            image = image.convert(options.mode)  # decodes the pixels
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise DataError(
            f"cannot read image {str(path)!r}: {error}",
            fix="repair or delete the file, or move it out of the folder",
        ) from None
    size = options.resized(*image.size)
    if size != image.size:
        image = image.resize(size, Image.Resampling.BILINEAR)
    box = options.crop_box(*image.size)
    if box is not None and box != (0, 0, *image.size):
        image = image.crop(box)
    pixels = np.array(image, dtype=np.uint8)  # a copy: Pillow's own buffer is read-only
    if pixels.ndim == 2:
        return rearrange(pixels, "h w -> 1 h w")
    return np.ascontiguousarray(rearrange(pixels, "h w c -> c h w"))


@dataclass(frozen=True)
class ImageFiles:
    """A folder's image files and how each becomes a sample, read one at a time.

    Attributes:
        paths: the files, in the source's order.
        options: the transform of each (read_image).
        shape: the (C, H, W) of every sample.
    """

    paths: tuple[str, ...]
    options: ImageOptions
    shape: tuple[int, int, int]

    def __len__(self) -> int:
        return len(self.paths)

    def read(self, i: int) -> np.ndarray:
        """Sample i: uint8 (C, H, W)."""
        return read_image(self.paths[i], self.options)


def find_images(root: Path) -> tuple[list[Path], np.ndarray | None]:
    """The image files under `root`, sorted by path, and their labels by class folder (or None)."""
    found = []
    for path in root.rglob("*"):
        parts = path.relative_to(root).parts
        if path.suffix.lower() in EXTENSIONS and not any(p.startswith(".") for p in parts):
            if path.is_file():
                found.append(parts)
    found.sort()
    paths = [root.joinpath(*parts) for parts in found]
    classes = sorted({parts[0] for parts in found if len(parts) > 1})
    if len(classes) < 2 or any(len(parts) == 1 for parts in found):
        return paths, None
    index = {name: i for i, name in enumerate(classes)}
    return paths, np.array([index[parts[0]] for parts in found], dtype=np.int64)


def _header(path: Path) -> tuple[str, int, int]:
    """(Pillow mode, upright width, upright height) of an image, from its header alone."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            mode, (width, height) = image.mode, image.size
            turned = image.getexif().get(ORIENTATION, 1) in TURNED
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise DataError(
            f"cannot read image {str(path)!r}: {error}",
            fix="repair or delete the file, or move it out of the folder",
        ) from None
    if mode not in EIGHT_BIT:
        raise DataError(
            f"image {str(path)!r} has Pillow mode {mode!r}, not 8 bits per channel: converting "
            "it would clip its values",
            fix="save it with 8 bits per channel (grey or RGB), or move it out of the folder",
        )
    return (mode, height, width) if turned else (mode, width, height)


def _options(
    text: str,
    headers: list[tuple[str, int, int]],
    paths: list[Path],
    *,
    size: str | None,
    crop: str,
    mode: str | None,
) -> ImageOptions:
    """The transform the options ask for, its defaults chosen from the images' headers."""
    crop = _choice(crop, "crop", CROPS, text)
    if mode is None:
        mode = "L" if all(m in GREY for m, _, _ in headers) else "RGB"
    else:
        mode = _choice(mode, "mode", MODES, text)
    side = None if size is None else _option(_count, size, "size", text)
    sizes = {(w, h) for _, w, h in headers}
    if side is None and len(sizes) > 1:
        least = min(range(len(headers)), key=lambda i: headers[i][1] * headers[i][2])
        most = max(range(len(headers)), key=lambda i: headers[i][1] * headers[i][2])
        shown = [f"{headers[i][1]}×{headers[i][2]} ({str(paths[i])!r})" for i in (least, most)]
        raise DataError(
            f"{_name(text)} holds images of {len(sizes)} sizes, from {shown[0]} to {shown[1]}, "
            "and no option size says which to make them",
            fix=f"give the side to resize to, e.g. '{text}?size="
            f"{min(min(w, h) for w, h in sizes)}'",
        )
    options = ImageOptions(mode, side, crop)
    shapes = {options.shape(w, h) for _, w, h in headers}
    if len(shapes) > 1:
        raise DataError(
            f"{_name(text)} gives samples of {len(shapes)} shapes with crop=none "
            f"({', '.join(sorted(shape_text(s) for s in shapes)[:3])}): its images differ in "
            "aspect ratio",
            fix="crop them to squares with crop=center",
        )
    return options


@source("folder", usage=USAGE)
def folder(
    directory: str,
    size: str | None = None,
    crop: str = "center",
    mode: str | None = None,
    stream: str = "0",
    workers: str | None = None,
) -> Raw:
    """The PNG and JPEG images under `directory` as uint8 (N, C, H, W), labelled by class folder
    when there are class folders; with `stream`, a Stream that decodes them batch by batch."""
    text = f"folder:{directory}"
    root = Path(directory).expanduser()
    if not root.is_dir():
        raise DataError(
            f"{_name(text)}: the folder {directory!r} does not exist"
            if not root.exists()
            else f"{_name(text)}: {directory!r} is not a folder",
            fix="give the folder that holds the images, e.g. folder:images",
        )
    streamed = _option(_flag, stream, "stream", text)
    if workers is not None and not streamed:
        raise DataError(
            f"{_name(text)}: option workers={workers} reads batches in worker processes, which "
            "only a streamed source does",
            fix=f"add stream=1: '{text}?stream=1&workers={workers}'",
        )
    processes = 0 if workers in (None, "0") else _option(_count, workers, "workers", text)
    paths, labels = find_images(root)
    if not paths:
        raise DataError(
            f"{_name(text)} finds no images in {str(root)!r}: no file ends in "
            f"{', '.join(EXTENSIONS)} (in any case)",
            fix="put PNG or JPEG images in the folder or its subfolders, or check the path",
        )
    headers = [_header(path) for path in paths]
    options = _options(text, headers, paths, size=size, crop=crop, mode=mode)
    files = ImageFiles(tuple(str(p) for p in paths), options, options.shape(*headers[0][1:]))
    if streamed:
        return Raw(Stream(files, workers=processes), labels)
    from tqdm.auto import tqdm

    x = np.empty((len(files), *files.shape), dtype=np.uint8)
    for i in tqdm(range(len(files)), desc=text, unit="img", disable=None):
        x[i] = files.read(i)
    return Raw(x, labels)
