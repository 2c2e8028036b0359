"""Tests of gaespec.data.celeba and the celeba:DIR source, on a few 178×218 images that the tests
write with a partition file."""

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import transforms

from gaespec.data import load_data
from gaespec.data.celeba import read_image
from gaespec.errors import DataError

PAGE = "https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html"
FILES = (
    "(Google Drive: 'Img/img_align_celeba.zip', 'Eval/list_eval_partition.txt', "
    "'Anno/list_attr_celeba.txt') into the folder, and unzip the images there"
)
# image i's split: not in blocks, to show that each split keeps the file's order
PARTITION = [0, 0, 1, 0, 2, 1, 0, 2, 2]
ATTRIBUTES = ["5_o_Clock_Shadow", "Smiling", "Young"]


def face(i):
    """Image i: the colour (10 i, 20 i, 255 - 10 i) inside the central 148×148 square that the
    crop keeps (columns 15–162, rows 35–182), black outside it."""
    pixels = np.zeros((218, 178, 3), dtype=np.uint8)
    pixels[35:183, 15:163] = (10 * i, 20 * i, 255 - 10 * i)
    return pixels


def write_celeba(root, partition=PARTITION, ext="png"):
    """img_align_celeba/00000i.png (lossless) and list_eval_partition.txt, in CelebA's layout."""
    (root / "img_align_celeba").mkdir(parents=True)
    lines = []
    for i, split in enumerate(partition, start=1):
        name = f"{i:06d}.{ext}"
        Image.fromarray(face(i)).save(root / "img_align_celeba" / name)
        lines.append(f"{name} {split}\n")
    (root / "list_eval_partition.txt").write_text("".join(lines))
    # every third image smiles
    rows = [
        f"{i:06d}.{ext} -1  {1 if i % 3 == 0 else -1:2d}  1\n" for i in range(1, len(partition) + 1)
    ]
    text = f"{len(partition)}\n{' '.join(ATTRIBUTES)}\n" + "".join(rows)
    (root / "list_attr_celeba.txt").write_text(text)


def colours(split):
    """The index i of each image of a split, read back from its colour (10 i in red)."""
    return (split.x[:, 0, 32, 32] * 255 / 10).round().long().tolist()


def test_the_crop_keeps_exactly_the_central_148_square(tmp_path):
    # black outside the square the crop should keep: one column or row off, and black would
    # bleed into the bilinear average of an edge pixel
    write_celeba(tmp_path)
    out = read_image(tmp_path / "img_align_celeba" / "000003.png")
    assert out.shape == (3, 64, 64) and out.dtype == np.uint8
    for c, value in enumerate((30, 60, 225)):
        assert (out[c] == value).all()


def test_crop_and_resize_equal_torchvision_center_crop_148_then_resize_64(tmp_path):
    pixels = np.random.default_rng(0).integers(0, 256, size=(218, 178, 3), dtype=np.uint8)
    for name in ("noise.png", "noise.jpg"):
        Image.fromarray(pixels).save(tmp_path / name)
        with Image.open(tmp_path / name) as image:
            pipeline = transforms.Compose([transforms.CenterCrop(148), transforms.Resize(64)])
            reference = np.asarray(pipeline(image.convert("RGB"))).transpose(2, 0, 1)
        assert reference.shape == (3, 64, 64)
        np.testing.assert_array_equal(read_image(tmp_path / name), reference)


def test_source_keeps_the_official_partition_in_file_order(tmp_path):
    write_celeba(tmp_path)
    data = load_data(f"celeba:{tmp_path}", seed=5)
    assert data.shape == (3, 64, 64) and data.train.y is None
    assert [len(data.train), len(data.validation), len(data.test)] == [4, 2, 3]
    assert colours(data.train) == [1, 2, 4, 7]
    assert colours(data.validation) == [3, 6]
    assert colours(data.test) == [5, 8, 9]
    # exact: uint8 / 255 in float32
    expected = torch.tensor(face(8)[100, 100], dtype=torch.uint8).float() / 255
    assert torch.equal(data.test.x[1, :, 7, 50], expected)
    data.check((3, 64, 64), low=0, high=1, why="sigmoid")


def test_torchvision_layout_limit_and_an_attribute_as_labels(tmp_path):
    write_celeba(tmp_path / "celeba")
    data = load_data(f"celeba:{tmp_path}?limit=2&attribute=Smiling")
    assert colours(data.train) == [1, 2] and colours(data.validation) == [3, 6]
    assert colours(data.test) == [5, 8]
    assert data.train.y.tolist() == [0, 0] and data.validation.y.tolist() == [1, 1]
    assert data.test.y.tolist() == [0, 0]


def test_missing_images_folder_says_where_to_get_it(tmp_path):
    with pytest.raises(DataError) as error:
        load_data(f"celeba:{tmp_path}")
    assert str(error.value) == (
        f"CelebA folder 'img_align_celeba' is not in '{tmp_path}' nor in '{tmp_path}/celeba'; "
        f"fix: download img_align_celeba from the CelebA page {PAGE} {FILES}"
    )


def test_missing_partition_file_says_where_to_get_it(tmp_path):
    write_celeba(tmp_path)
    (tmp_path / "list_eval_partition.txt").unlink()
    with pytest.raises(DataError) as error:
        load_data(f"celeba:{tmp_path}")
    assert str(error.value) == (
        f"CelebA file 'list_eval_partition.txt' is not in '{tmp_path}' nor in "
        f"'{tmp_path}/celeba'; fix: download list_eval_partition.txt from the CelebA page "
        f"{PAGE} {FILES}"
    )


def test_a_missing_image_is_named(tmp_path):
    write_celeba(tmp_path)
    (tmp_path / "img_align_celeba" / "000005.png").unlink()
    with pytest.raises(DataError) as error:
        load_data(f"celeba:{tmp_path}")
    assert str(error.value) == (
        f"CelebA image '000005.png', listed in list_eval_partition.txt, is not in "
        f"'{tmp_path}/img_align_celeba'; fix: download img_align_celeba from the CelebA page "
        f"{PAGE} {FILES} again"
    )


def test_an_image_of_the_wrong_size_is_named_with_the_expected_size(tmp_path):
    write_celeba(tmp_path)
    path = tmp_path / "img_align_celeba" / "000002.png"
    Image.fromarray(np.zeros((250, 200, 3), dtype=np.uint8)).save(path)
    with pytest.raises(DataError) as error:
        load_data(f"celeba:{tmp_path}")
    assert str(error.value) == (
        f"CelebA image '{path}' is 200×250 pixels, expected the aligned 178×218 "
        "(img_align_celeba, not the in-the-wild img_celeba); fix: download img_align_celeba "
        f"from the CelebA page {PAGE} {FILES} again"
    )


def test_a_truncated_jpeg_is_named(tmp_path):
    write_celeba(tmp_path, ext="jpg")
    path = tmp_path / "img_align_celeba" / "000004.jpg"
    path.write_bytes(path.read_bytes()[:400])
    with pytest.raises(DataError, match=rf"^cannot read CelebA image '{path}': .*; fix: download"):
        load_data(f"celeba:{tmp_path}")


def test_a_bad_partition_line_is_located(tmp_path):
    write_celeba(tmp_path)
    with open(tmp_path / "list_eval_partition.txt", "a") as f:
        f.write("000010.png 3\n")
    with pytest.raises(DataError) as error:
        load_data(f"celeba:{tmp_path}")
    assert str(error.value).startswith(
        f"line 10 of '{tmp_path}/list_eval_partition.txt' reads '000010.png 3', expected an "
        "image name and its split 0 (train), 1 (validation) or 2 (test), e.g. '000001.jpg 0'; "
    )


def test_an_empty_split_is_refused(tmp_path):
    write_celeba(tmp_path, partition=[0, 0, 2])
    with pytest.raises(
        DataError, match=r"list_eval_partition.txt' puts no image in the validation"
    ):
        load_data(f"celeba:{tmp_path}")


def test_an_unknown_attribute_names_the_closest(tmp_path):
    write_celeba(tmp_path)
    with pytest.raises(DataError) as error:
        load_data(f"celeba:{tmp_path}?attribute=Smilling")
    assert str(error.value) == (
        f"CelebA has no attribute 'Smilling' in '{tmp_path}/list_attr_celeba.txt'; closest "
        "valid choice: 'Smiling'; fix: write one of 5_o_Clock_Shadow, Smiling, Young"
    )


@pytest.mark.parametrize("limit", ["0", "-3", "ten"])
def test_a_bad_limit_is_refused(tmp_path, limit):
    with pytest.raises(DataError) as error:
        load_data(f"celeba:{tmp_path}?limit={limit}")
    assert str(error.value) == (
        f"option limit='{limit}' is not a positive whole number; fix: use e.g. limit=1000"
    )
