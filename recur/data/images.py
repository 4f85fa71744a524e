"""Images and clips of users' files: image files listed in a table or a folder, arrays in .npz.

Pixels become float32 tensors in [0, 1]: integer arrays (uint8 PNG/JPEG pixels, uint16 TIFF ...)
are divided by their type's maximum, float arrays are kept as they are (they must be finite).
Files are read with ``matplotlib.image.imread`` (PNG natively; JPEG, BMP, GIF, TIFF through
Pillow, which matplotlib depends on); a file that cannot be decoded is a :class:`DataError`
naming it.

Channels (C) are converted to what the model reads, ``channels`` 1 (grey) or 3 (RGB):

    grey from RGB   Y = 0.299 R + 0.587 G + 0.114 B        (ITU-R BT.601 luma)
    RGB from grey   R = G = B = Y
    alpha           dropped (RGBA → RGB, grey+alpha → grey)

Images are not resized: every image of a data set must have the training images' height and
width, and one that does not is an error naming the file (or row), its size and the expected one.
Resizing would silently change what the model sees; the user can resize once, knowingly.

Example::

    images, places, size = read_image_column(table, "image", channels=1)   # (N, 1, H, W)
    arrays = load_npz("clips.npz", required=("clips", "labels"), optional=("lengths",))
"""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from recur.data.tables import DataError, Table, where

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def unit_range(array: np.ndarray, place: str) -> np.ndarray:
    """``array`` as float32 in [0, 1] (integers scaled by their type's maximum); DataError for
    booleans, strings, objects and non-finite values."""
    if array.dtype == np.bool_:
        return array.astype(np.float32)
    if np.issubdtype(array.dtype, np.integer):
        info = np.iinfo(array.dtype)
        if info.min < 0 and array.size and array.min() < 0:
            raise DataError(f"{place}: negative pixel values in an integer array")
        return (array / info.max).astype(np.float32)
    if not np.issubdtype(array.dtype, np.floating):
        raise DataError(f"{place}: expected numbers, got an array of dtype {array.dtype}")
    array = array.astype(np.float32)
    if not np.isfinite(array).all():
        index = tuple(int(i) for i in np.argwhere(~np.isfinite(array))[0])
        raise DataError(f"{place}: non-finite value {array[index]} at index {index}")
    return array


def to_channels(image: np.ndarray, channels: int, place: str) -> np.ndarray:
    """(C, H, W) pixels (C in 1..4) converted to ``channels`` (1 or 3), see the module docstring."""
    have = image.shape[0]
    if have not in (1, 2, 3, 4):
        raise DataError(f"{place}: {have} channels; expected 1 (grey), 2 (+alpha), 3 or 4 (RGBA)")
    if have in (2, 4):  # drop alpha
        image, have = image[: have - 1], have - 1
    if have == channels:
        return image
    if channels == 1:
        return np.tensordot(LUMA, image, axes=1)[None].astype(np.float32)
    return np.repeat(image, 3, axis=0)


def read_image(path: Path, channels: int, place: str) -> np.ndarray:
    """One image file as (channels, H, W) float32 in [0, 1]; DataError naming ``place``."""
    import matplotlib.image  # imported here: matplotlib is slow to import

    if not path.is_file():
        raise DataError(f"{place}: image file {path} does not exist")
    try:
        pixels = np.asarray(matplotlib.image.imread(path))
    except Exception as error:  # PIL and matplotlib raise many kinds for undecodable files
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise DataError(f"{place}: cannot read image {path} ({reason})") from None
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    if pixels.ndim != 3 or 0 in pixels.shape:
        raise DataError(f"{place}: image {path} has shape {pixels.shape}, not (H, W[, C])")
    pixels = unit_range(pixels, f"{place}: image {path}")
    return to_channels(pixels.transpose(2, 0, 1), channels, f"{place}: image {path}")


def check_size(image: np.ndarray, size: tuple[int, int] | None, place: str) -> tuple[int, int]:
    """The image's (H, W), which must equal ``size`` when given."""
    got = (int(image.shape[-2]), int(image.shape[-1]))
    if size is not None and got != tuple(size):
        raise DataError(
            f"{place}: image is {got[0]}x{got[1]} (height x width), expected {size[0]}x{size[1]} "
            "like the training images (resize them all to one size)"
        )
    return got


def stack_images(
    paths: Sequence[Path], places: Sequence[str], channels: int, size=None
) -> tuple[Tensor, tuple[int, int]]:
    """(N, channels, H, W) of image files, all of ``size`` (default: the first one's)."""
    images = []
    for path, place in zip(paths, places):
        image = read_image(path, channels, place)
        size = check_size(image, size, f"{place}: {path.name}")
        images.append(image)
    return torch.from_numpy(np.stack(images)), size


def read_image_column(
    table: Table, column: str, channels: int, size=None
) -> tuple[Tensor, list[str], tuple[int, int]]:
    """The images named in ``column`` of a table (paths relative to the table's folder), their
    places ("data: FILE line N") and their common (H, W)."""
    names = table.column(column)
    places = [where(table.path, line) for line in table.lines]
    paths = []
    for name, place in zip(names, places):
        if not name.strip():
            raise DataError(f"{place}: column {column!r} is empty (expected an image file)")
        path = Path(name.strip())
        paths.append(path if path.is_absolute() else table.path.parent / path)
    images, size = stack_images(paths, places, channels, size)
    return images, places, size


def read_image_folder(folder: Path, channels: int, size=None) -> tuple[Tensor, list[str], list]:
    """Every image file of a folder (by suffix, in name order): (images, places, file names)."""
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise DataError(f"{where(folder)}: no image files ({', '.join(IMAGE_SUFFIXES)})")
    places = [where(p) for p in paths]
    images, _ = stack_images(paths, places, channels, size)
    return images, places, [p.name for p in paths]


def load_npz(
    path: str | Path, required: Sequence[str], optional: Sequence[str] = ()
) -> dict[str, np.ndarray]:
    """The named arrays of a .npz file (no pickled objects); DataError naming the keys present
    when a required one is missing."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{where(path)} does not exist or is not a file")
    try:
        with np.load(path, allow_pickle=False) as archive:
            present = list(archive.files)
            missing = [key for key in required if key not in present]
            if missing:
                shown = ", ".join(present) or "none"
                raise DataError(f"{where(path)}: no array {missing[0]!r} (arrays: {shown})")
            return {key: archive[key] for key in (*required, *optional) if key in present}
    except DataError:
        raise
    except ValueError as error:  # object arrays need pickle
        if "pickle" in str(error):
            raise DataError(
                f"{where(path)}: holds object arrays (pickled); save strings as a fixed-width "
                "unicode array, e.g. np.array(captions, dtype=str)"
            ) from None
        raise DataError(f"{where(path)}: not a readable .npz file ({error})") from None
    except (OSError, zipfile.BadZipFile, EOFError) as error:
        raise DataError(f"{where(path)}: not a readable .npz file ({error})") from None


def npz_images(array: np.ndarray, path: Path, key: str, channels: int | None, size=None):
    """(N, H, W) or (N, C, H, W) pixels as (N, C', H, W) float32 in [0, 1]; C' = ``channels``
    (None: keep C). Returns (images, (H, W))."""
    if array.ndim == 3:
        array = array[:, None]
    if array.ndim != 4 or 0 in array.shape:
        raise DataError(
            f"{where(path)}: array {key!r} has shape {array.shape}; expected (N, H, W) or "
            "(N, C, H, W) with no empty axis"
        )
    place = f"{where(path)}: array {key!r}"
    pixels = unit_range(array, place)
    if channels is not None:
        pixels = np.stack([to_channels(image, channels, place) for image in pixels])
    got = (int(pixels.shape[2]), int(pixels.shape[3]))
    if size is not None and got != tuple(size):
        raise DataError(
            f"{place}: images are {got[0]}x{got[1]} (height x width), expected "
            f"{size[0]}x{size[1]} like the training images"
        )
    return torch.from_numpy(np.ascontiguousarray(pixels)), got


def strings(array: np.ndarray, path: Path, key: str, count: int) -> list[str]:
    """A (N,) array of strings or integers as a list of ``count`` strings."""
    if array.ndim != 1:
        raise DataError(
            f"{where(path)}: array {key!r} has shape {array.shape}; expected ({count},)"
        )
    if len(array) != count:
        raise DataError(
            f"{where(path)}: array {key!r} has {len(array)} entries but there are {count} items"
        )
    if array.dtype.kind not in "USiub":
        raise DataError(
            f"{where(path)}: array {key!r} has dtype {array.dtype}; expected strings or integers"
        )
    return [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in array.tolist()]
