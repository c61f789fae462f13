"""Decoding image files and arrays with Pillow into float arrays of one size and channel count.

Every image becomes an (H, W, C) float32 array in [0, 1]. A file Pillow cannot decode, or whose mode
is not a grey or colour one, is a :class:`BadImage` carrying a one-line reason; the loaders turn it
into a :class:`~autosft.errors.DataError` naming the file, or skip it when the study says so.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

__all__ = [
    "COLOUR_MODES",
    "GREY_MODES",
    "BadImage",
    "DecodeSpec",
    "convert_stack",
    "decode_file",
    "decode_files",
    "describe_shape",
    "odd_one_out",
]

#: Pillow modes read as greyscale; the 16- and 32-bit integer ones are scaled by 1/65535.
GREY_MODES: tuple[str, ...] = ("1", "L", "LA", "I;16", "I;16L", "I;16B", "I")
#: Pillow modes read as colour (alpha is dropped, palettes expanded).
COLOUR_MODES: tuple[str, ...] = ("RGB", "RGBA", "P")
_WIDE_MODES = frozenset({"I;16", "I;16L", "I;16B", "I"})


class BadImage(Exception):
    """An image that cannot become an input; ``str()`` is a one-line reason without the file name."""


@dataclass(frozen=True)
class DecodeSpec:
    """Target geometry: a square ``size`` (``None`` keeps the stored one) and ``channels`` (``None`` keeps them)."""

    size: int | None
    channels: int | None


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


def decode_file(path: Path, spec: DecodeSpec) -> np.ndarray:
    """Decode, convert and resize one file; raises :class:`BadImage` with the reason."""
    if not path.is_file():
        raise BadImage("does not exist")
    try:
        with Image.open(path) as image:
            image.load()  # Image.open is lazy: truncation only shows when the pixels are read
            return _to_array(image, spec)
    except BadImage:
        raise
    # Pillow raises many types on malformed bytes (OSError, SyntaxError, EOFError, struct.error,
    # ValueError, ...); any of them means this one file is unusable, which is what the user must hear.
    except Exception as error:
        raise BadImage(f"cannot be decoded ({_one_line(error)})") from None


def _to_array(image: Image.Image, spec: DecodeSpec) -> np.ndarray:
    if image.mode in GREY_MODES:
        stored = 1
    elif image.mode in COLOUR_MODES:
        stored = 3
    else:
        supported = ", ".join((*GREY_MODES, *COLOUR_MODES))
        raise BadImage(f"has unsupported mode {image.mode!r}; supported modes: {supported}")
    channels = spec.channels or stored
    if image.mode in _WIDE_MODES:
        # 16-bit scans: keep their depth through the resize by working in float mode "F".
        wide = np.clip(np.asarray(image, dtype=np.float32), 0, 65535) / 65535.0
        grey = Image.fromarray(wide)
        if spec.size is not None and grey.size != (spec.size, spec.size):
            grey = grey.resize((spec.size, spec.size), Image.Resampling.BILINEAR)
        array = np.asarray(grey, dtype=np.float32)[:, :, None]
    else:
        converted = image.convert("L" if channels == 1 else "RGB")
        if spec.size is not None and converted.size != (spec.size, spec.size):
            converted = converted.resize((spec.size, spec.size), Image.Resampling.BILINEAR)
        array = np.asarray(converted, dtype=np.float32).reshape(converted.size[1], converted.size[0], -1) / 255.0
    if array.shape[2] != channels:  # only grey → 3 reaches here (a wide-mode scan asked for colour)
        array = np.repeat(array, channels, axis=2)
    return np.ascontiguousarray(array, dtype=np.float32)


def decode_files(paths: Sequence[Path], spec: DecodeSpec) -> list[np.ndarray | BadImage]:
    """Decode many files in threads (Pillow releases the GIL while decoding); order is kept."""

    def one(path: Path) -> np.ndarray | BadImage:
        try:
            return decode_file(path, spec)
        except BadImage as bad:
            return bad

    workers = min(8, (os.cpu_count() or 1) * 2, max(1, len(paths)))
    if workers == 1:
        return [one(path) for path in paths]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(one, paths))


def convert_stack(images: np.ndarray, spec: DecodeSpec) -> np.ndarray:
    """Stored images (N, H, W, C) float32 in [0, 1] converted to ``spec``'s channels and size.

    Channel conversion is vectorized (grey from colour with the ITU-R 601 luma weights Pillow uses);
    resizing goes image by image through Pillow's float mode, as decoding files does.
    """
    if spec.channels == 1 and images.shape[3] == 3:
        images = images @ np.array([0.299, 0.587, 0.114], dtype=np.float32)[:, None]
    elif spec.channels == 3 and images.shape[3] == 1:
        images = np.repeat(images, 3, axis=3)
    if spec.size is None or images.shape[1:3] == (spec.size, spec.size):
        return np.ascontiguousarray(images, dtype=np.float32)
    resized = np.empty((len(images), spec.size, spec.size, images.shape[3]), dtype=np.float32)
    for row, image in enumerate(images):
        for channel in range(images.shape[3]):
            plane = Image.fromarray(np.ascontiguousarray(image[:, :, channel], dtype=np.float32))
            resized[row, :, :, channel] = np.asarray(plane.resize((spec.size, spec.size), Image.Resampling.BILINEAR))
    return np.clip(resized, 0.0, 1.0)


def odd_one_out(arrays: Sequence[np.ndarray]) -> tuple[tuple[int, ...], list[int]]:
    """The most common (H, W, C) shape and the positions of arrays of any other shape."""
    shapes = Counter(array.shape for array in arrays)
    common = shapes.most_common(1)[0][0]
    return common, [index for index, array in enumerate(arrays) if array.shape != common]


def describe_shape(shape: tuple[int, ...]) -> str:
    """``28x28 grey`` / ``64x48 RGB``: width x height, as image viewers show it."""
    kind = "grey" if shape[2] == 1 else "RGB"
    return f"{shape[1]}x{shape[0]} {kind}"
