"""Tests of gaespec.data.folder, the source folder:DIR, on digit images the tests write."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from image_folder import N, digit, write_digits
from PIL import Image

from gaespec.data import check_array, load_data, split_indices
from gaespec.data.folder import USAGE, ImageOptions, read_image
from gaespec.data.sources import read_source
from gaespec.errors import DataError


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """(the folder, [(path, label)] in the source's order) of write_digits."""
    root = tmp_path_factory.mktemp("digits")
    return root, write_digits(root)


@pytest.fixture(scope="module")
def raw(folder):
    return read_source(f"folder:{folder[0]}?size=16")


def pillow_png(path):
    """A PNG decoded independently: Pillow's pixels as NumPy, channels first."""
    return np.asarray(Image.open(path))[None]


def pillow_jpeg(path):
    """A 24×20 JPEG made a 16×16 sample by hand: shorter side 20 → 16, so the width 24 → 19
    (int(16 · 24 / 20)), then columns 2…17 (a left margin of round(3 / 2) = 2)."""
    image = Image.open(path).convert("L").resize((19, 16), Image.Resampling.BILINEAR)
    return np.asarray(image)[:, 2:18][None]


def test_every_image_is_read_in_sorted_order_with_its_class_label(folder, raw):
    root, files = folder
    assert raw.x.shape == (N, 1, 16, 16) and raw.x.dtype == np.uint8
    assert raw.y.tolist() == [label for _, label in files]
    assert len(files) == N  # README.txt and the hidden ._000.png and .cache/thumb.png are skipped
    assert [p.name for p, _ in files[:3]] == ["000.png", "010.png", "020.png"]


def test_png_samples_are_the_pixels_exactly(folder, raw):
    _, files = folder
    for i in (0, 1, 150, N - 1):
        path = files[i][0]
        assert path.suffix == ".png"
        assert np.array_equal(raw.x[i], pillow_png(path))
        assert np.array_equal(raw.x[i][0], digit(int(path.stem)))


def test_jpegs_of_another_size_are_resized_and_cropped(folder, raw):
    _, files = folder
    jpegs = [i for i, (path, _) in enumerate(files) if path.suffix.lower() != ".png"]
    assert len(jpegs) == N // 10
    assert {files[i][0].suffix for i in jpegs} == {".JPG", ".jpeg"}  # any case
    for i in jpegs[:5]:
        assert Image.open(files[i][0]).size == (24, 20)
        assert np.array_equal(raw.x[i], pillow_jpeg(files[i][0]))
    # the crop keeps the digit: within a few grey levels of the original, on average
    diff = raw.x[jpegs[0]][0].astype(float) - digit(int(files[jpegs[0]][0].stem))
    assert np.abs(diff).mean() < 40


def test_load_data_splits_the_folder_70_10_20(folder, raw):
    data = load_data(f"folder:{folder[0]}?size=16", seed=3)
    assert (len(data.train), len(data.validation), len(data.test)) == (210, 30, 60)
    assert data.shape == (1, 16, 16)
    x = check_array(raw.x, source="raw")
    for split, index in zip(
        (data.train, data.validation, data.test), split_indices(N, seed=3), strict=True
    ):
        assert torch.equal(split.x, torch.from_numpy(x[index]))
        assert split.y.tolist() == raw.y[index].tolist()
    assert data.train.x.max() == 1.0 and data.train.x.min() == 0.0


def test_colour_images_make_every_sample_rgb_unless_mode_says_grey(tmp_path):
    grey = digit(0)
    Image.fromarray(grey).save(tmp_path / "a.png")
    colour = np.stack([grey, 255 - grey, np.zeros_like(grey)], axis=-1)
    Image.fromarray(colour).save(tmp_path / "b.png")
    rgb = read_source(f"folder:{tmp_path}")
    assert rgb.x.shape == (2, 3, 16, 16) and rgb.y is None  # no class folders, no labels
    assert np.array_equal(rgb.x[0], np.stack([grey] * 3))
    assert np.array_equal(rgb.x[1], colour.transpose(2, 0, 1))
    grey_x = read_source(f"folder:{tmp_path}?mode=L").x
    assert grey_x.shape == (2, 1, 16, 16)
    assert np.array_equal(grey_x[1], np.asarray(Image.fromarray(colour).convert("L"))[None])
    assert read_source(f"folder:{tmp_path}?mode=rgb").x.shape == (2, 3, 16, 16)


def test_images_of_one_size_keep_it_and_crop_none_keeps_the_whole_image(tmp_path):
    pixels = np.arange(6 * 10, dtype=np.uint8).reshape(6, 10)  # 10 wide, 6 high
    for name in ("a.png", "b.png"):
        Image.fromarray(pixels).save(tmp_path / name)
    square = read_source(f"folder:{tmp_path}").x
    assert square.shape == (2, 1, 6, 6)
    assert np.array_equal(square[0, 0], pixels[:, 2:8])  # the central 6 of 10 columns
    whole = read_source(f"folder:{tmp_path}?crop=none").x
    assert np.array_equal(whole[0, 0], pixels)
    resized = read_source(f"folder:{tmp_path}?crop=none&size=4").x
    assert resized.shape == (2, 1, 4, 6)  # 6 → 4, 10 → int(4 · 10 / 6) = 6, not round's 7


def test_exif_orientation_turns_the_image_upright(tmp_path):
    pixels = (np.arange(8, dtype=np.uint8) * 30).reshape(2, 4)
    exif = Image.Exif()
    exif[0x0112] = 6  # stored turned: shown rotated 90° clockwise
    Image.fromarray(pixels).save(tmp_path / "a.png", exif=exif)
    x = read_source(f"folder:{tmp_path}?crop=none").x
    assert np.array_equal(x[0, 0], np.rot90(pixels, k=-1))


def test_labels_need_two_class_folders_and_no_loose_image(tmp_path):
    for where in ("cat", "dog", "dog/old"):
        (tmp_path / where).mkdir()
        Image.fromarray(digit(0)).save(tmp_path / where / "x.png")
    assert read_source(f"folder:{tmp_path}").y.tolist() == [0, 1, 1]  # dog/old is still a dog
    Image.fromarray(digit(0)).save(tmp_path / "loose.png")
    assert read_source(f"folder:{tmp_path}").y is None
    one = tmp_path / "dog"
    assert read_source(f"folder:{one}").y is None  # x.png and old/x.png: one folder, no classes
    assert read_source(f"folder:{tmp_path / 'cat'}").y is None  # no subfolder
    (tmp_path / "dog" / "x.png").unlink()
    assert read_source(f"folder:{one}").y is None  # one class folder, old/: no classes


def test_read_image_is_the_transform_of_both_paths(folder, raw):
    _, files = folder
    options = ImageOptions("L", 16, "center")
    for i in (0, 3, 13):
        assert np.array_equal(read_image(files[i][0], options), raw.x[i])


def message(source):
    with pytest.raises(DataError) as caught:
        read_source(source)
    return str(caught.value)


def test_images_of_different_sizes_need_the_size_option(folder):
    root, files = folder
    big = next(p for p, _ in files if p.suffix != ".png")
    assert message(f"folder:{root}") == (
        f"data source 'folder:{root}' holds images of 2 sizes, from 16×16 "
        f"('{files[0][0]}') to 24×20 ('{big}'), and no option size says which to make them; "
        f"fix: give the side to resize to, e.g. 'folder:{root}?size=16'"
    )


def test_bad_options_are_refused_naming_the_source_and_the_fix(folder):
    root = folder[0]
    src = f"'folder:{root}'"
    assert message(f"folder:{root}?size=16&mode=CMYK") == (
        f"data source {src}: option mode='CMYK' is not one of L, RGB; fix: write mode=L or mode=RGB"
    )
    assert message(f"folder:{root}?size=16&crop=left") == (
        f"data source {src}: option crop='left' is not one of center, none; "
        "fix: write crop=center or crop=none"
    )
    assert message(f"folder:{root}?size=0") == (
        f"data source {src}: option size='0' is not a positive whole number; "
        "fix: use e.g. size=1000"
    )
    assert message(f"folder:{root}?size=16&stream=maybe") == (
        f"data source {src}: option stream='maybe' is not a yes/no value; fix: use stream=1"
    )
    assert message(f"folder:{root}?size=16&stream=1&workers=-1") == (
        f"data source {src}: option workers='-1' is not a positive whole number; "
        "fix: use e.g. workers=1000"
    )
    assert message(f"folder:{root}?size=16&workers=2") == (
        f"data source {src}: option workers=2 reads batches in worker processes, which only a "
        f"streamed source does; fix: add stream=1: 'folder:{root}?stream=1&workers=2'"
    )
    assert message(f"folder:{root}?sise=16") == (
        f"data source 'folder:{root}?sise=16' does not fit '{USAGE}': got an unexpected keyword "
        f"argument 'sise'; fix: write it as {USAGE}"
    )


def test_a_missing_or_empty_folder_is_refused(tmp_path):
    assert message(f"folder:{tmp_path / 'nope'}") == (
        f"data source 'folder:{tmp_path / 'nope'}': the folder '{tmp_path / 'nope'}' does not "
        "exist; fix: give the folder that holds the images, e.g. folder:images"
    )
    (tmp_path / "notes.txt").write_text("no images here")
    assert message(f"folder:{tmp_path}") == (
        f"data source 'folder:{tmp_path}' finds no images in '{tmp_path}': no file ends in "
        ".png, .jpg, .jpeg (in any case); fix: put PNG or JPEG images in the folder or its "
        "subfolders, or check the path"
    )


def test_an_unreadable_or_16_bit_image_is_named(tmp_path):
    Image.fromarray(digit(0)).save(tmp_path / "a.png")
    (tmp_path / "b.png").write_text("not a PNG")
    assert message(f"folder:{tmp_path}") == (
        f"cannot read image '{tmp_path / 'b.png'}': cannot identify image file "
        f"'{tmp_path / 'b.png'}'; fix: repair or delete the file, or move it out of the folder"
    )
    Image.fromarray(digit(0).astype(np.uint16) * 256).save(tmp_path / "b.png")
    assert message(f"folder:{tmp_path}") == (
        f"image '{tmp_path / 'b.png'}' has Pillow mode 'I;16', not 8 bits per channel: "
        "converting it would clip its values; fix: save it with 8 bits per channel (grey or "
        "RGB), or move it out of the folder"
    )


def test_images_of_different_aspect_cannot_go_uncropped(tmp_path):
    Image.fromarray(np.zeros((4, 8), dtype=np.uint8)).save(tmp_path / "wide.png")
    Image.fromarray(np.zeros((8, 4), dtype=np.uint8)).save(tmp_path / "tall.png")
    assert read_source(f"folder:{tmp_path}?size=4").x.shape == (2, 1, 4, 4)
    assert message(f"folder:{tmp_path}?size=4&crop=none") == (
        f"data source 'folder:{tmp_path}' gives samples of 2 shapes with crop=none "
        "(1×4×8, 1×8×4): its images differ in aspect ratio; fix: crop them to squares with "
        "crop=center"
    )
