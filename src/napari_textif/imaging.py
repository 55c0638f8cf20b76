"""Imaging conventions shared by every engine, the CLI and the widget.

Inside the package images are float32 in ``[0, 1]``. Visible RGB is fused in
luminance and gets its chroma back (full-range BT.601 YCbCr); grayscale stays
grayscale; RGBA drops alpha; an infrared image stored as three equal channels
becomes one. Sizes are padded (reflect) to an engine's multiple and cropped
back, never resized. Large images are processed in overlapping tiles blended
with a smooth window.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable
from typing import Any

import numpy as np

SUPPORTED_DTYPES = ("bool", "uint8", "uint16", "int16", "float32", "float64")
#: A 16-bit image whose 0.1..99.9 percentile spread covers less than this
#: fraction of the dtype range is normalised robustly by percentiles.
NARROW_RANGE_FRACTION = 0.25
ROBUST_PERCENTILES = (0.5, 99.5)
MIN_SIDE = 2
#: Rows converted at once when recombining colour (bounds temporary memory on huge images).
_ROW_BLOCK = 512


@dataclasses.dataclass(frozen=True)
class Prepared:
    """An image converted to the package conventions.

    Attributes
    ----------
    data : ndarray
        float32 in ``[0, 1]``, ``(H, W)`` or ``(H, W, 3)``.
    note : str or None
        How the intensities were scaled when that is worth telling the user.
    """

    data: np.ndarray
    note: str | None = None

    @property
    def is_rgb(self) -> bool:
        """True for a colour image."""
        return self.data.ndim == 3


def check_image(image: object, name: str) -> np.ndarray:
    """Validate one 2-D image (grayscale, RGB or RGBA) and return it as an array.

    Parameters
    ----------
    image : array_like
        ``(H, W)``, ``(H, W, 1)``, ``(H, W, 3)`` or ``(H, W, 4)``, one of
        :data:`SUPPORTED_DTYPES`.
    name : str
        The argument's name, used in error messages.

    Returns
    -------
    ndarray
        The same data as an ndarray (never a copy that is written to later).

    Raises
    ------
    TypeError
        For a non-array or an unsupported dtype.
    ValueError
        For a wrong number of dimensions or channels, a tiny image, NaN/Inf, or a masked
        array with masked values (a mask that masks nothing is accepted: no value is lost).
    """
    if image is None:
        raise TypeError(f"{name} must be an image array, got None")
    if isinstance(image, np.ma.MaskedArray) and np.ma.getmaskarray(image).any():
        masked = int(np.count_nonzero(np.ma.getmaskarray(image)))
        raise ValueError(
            f"{name} is a masked array with {masked} masked values; fusion would ignore the mask "
            f"and use the hidden values, so fill them first (e.g. {name}.filled(0)) or pass {name}.data"
        )
    array = np.asarray(image)
    if array.dtype.name not in SUPPORTED_DTYPES:
        raise TypeError(
            f"{name} must have one of the dtypes {', '.join(SUPPORTED_DTYPES)}, got {array.dtype}"
        )
    _check_layout(array, name)
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        bad = int(array.size - np.count_nonzero(np.isfinite(array)))
        raise ValueError(f"{name} contains {bad} NaN or infinite values; clean or mask them first")
    return array


def _check_layout(array: np.ndarray, name: str) -> None:
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (1, 3, 4)):
        raise ValueError(
            f"{name} must be a 2-D image (H, W) or (H, W, C) with C in 1, 3, 4, got shape "
            f"{array.shape}; for stacks, fuse one 2-D slice at a time"
        )
    if min(array.shape[:2]) < MIN_SIDE:
        raise ValueError(
            f"{name} must be at least {MIN_SIDE}x{MIN_SIDE} pixels, got shape {array.shape}"
        )


def to_float01(array: np.ndarray, *, name: str = "image") -> tuple[np.ndarray, str | None]:
    """Scale any supported dtype to float32 ``[0, 1]``.

    Integers scale by their dtype range, except 16-bit images that use a
    narrow part of it, which are stretched between robust percentiles.
    Floats already in ``[0, 1]`` are kept; other floats are min-max scaled,
    in float64 and after an exact power-of-two rescale, so that any finite
    values (float64 beyond the float32 range, float32 spanning
    ``-3.4e38..3.4e38``) scale without overflow.

    Parameters
    ----------
    array : ndarray
        Finite values of one of :data:`SUPPORTED_DTYPES` (see :func:`check_image`).
    name : str, optional
        The argument's name, used in notes and errors.

    Returns
    -------
    data : ndarray
        float32 copy in ``[0, 1]``.
    note : str or None
        A sentence saying how the data was scaled when it was not by dtype range.

    Examples
    --------
    >>> to_float01(np.array([[0, 255]], dtype=np.uint8))[0]
    array([[0., 1.]], dtype=float32)
    >>> to_float01(np.array([[-1e300, 1e300]]))[0]
    array([[0., 1.]], dtype=float32)
    """
    if array.dtype == bool:
        return array.astype(np.float32), None
    if array.dtype.kind in "ui":
        return _int_to_float01(array, name)
    return _float_to_float01(array, name)


def _float_to_float01(array: np.ndarray, name: str) -> tuple[np.ndarray, str | None]:
    low, high = float(array.min()), float(array.max())  # exact in float64 for any float dtype
    if not (np.isfinite(low) and np.isfinite(high)):
        raise ValueError(f"{name} must contain only finite values, got values in [{low:g}, {high:g}]")
    if low >= 0.0 and high <= 1.0:
        return array.astype(np.float32), None
    note = f"{name}: float values in [{low:g}, {high:g}] were min-max scaled to [0, 1]"
    if high <= low:
        return np.zeros(array.shape, np.float32), f"{name}: constant float image ({low:g}), shown as black"
    # An exact power-of-two rescale keeps high - low finite even for -1e308..1e308.
    exponent = int(np.frexp(max(abs(low), abs(high)))[1])
    data = np.ldexp(array.astype(np.float64), -exponent)
    lo, span = float(data.min()), float(data.max()) - float(data.min())
    scaled = np.clip((data - lo) / span, 0.0, 1.0).astype(np.float32)
    return scaled, note


def _int_to_float01(array: np.ndarray, name: str) -> tuple[np.ndarray, str | None]:
    info = np.iinfo(array.dtype)
    span = float(info.max) - float(info.min)
    if array.dtype.itemsize == 2:
        p_lo, p_hi = np.percentile(array, (0.1, 99.9))
        if (p_hi - p_lo) < NARROW_RANGE_FRACTION * span:
            return _robust_scale(array, name)
    data = array.astype(np.float32)
    if info.min:
        data -= info.min
    data /= span
    return data, None


def _robust_scale(array: np.ndarray, name: str) -> tuple[np.ndarray, str | None]:
    lo, hi = np.percentile(array, ROBUST_PERCENTILES)
    if hi <= lo:
        lo, hi = float(array.min()), float(array.max())
    if hi <= lo:
        return np.zeros(array.shape, np.float32), f"{name}: constant {array.dtype} image"
    data = np.clip((array.astype(np.float32) - lo) / (hi - lo), 0.0, 1.0)
    note = (
        f"{name}: {array.dtype} data uses a narrow part of its range, normalised robustly "
        f"between the {ROBUST_PERCENTILES[0]:g} and {ROBUST_PERCENTILES[1]:g} percentiles "
        f"({lo:g}..{hi:g})"
    )
    return data.astype(np.float32), note


def normalize_channels(data: np.ndarray) -> np.ndarray:
    """Drop alpha, squeeze a single channel and collapse three equal channels.

    Examples
    --------
    >>> normalize_channels(np.zeros((4, 5, 4), np.float32)).shape
    (4, 5)
    """
    if data.ndim == 2:
        return data
    if data.shape[2] == 1:
        return data[:, :, 0]
    rgb = data[:, :, :3]
    if np.array_equal(rgb[:, :, 0], rgb[:, :, 1]) and np.array_equal(rgb[:, :, 0], rgb[:, :, 2]):
        return rgb[:, :, 0]
    return rgb


def prepare(image: object, *, name: str) -> Prepared:
    """Validate and convert one image to the package conventions."""
    array = check_image(image, name)
    data, note = to_float01(array, name=name)
    return Prepared(np.ascontiguousarray(normalize_channels(data)), note)


def check_same_size(
    infrared: np.ndarray, visible: np.ndarray, *, names: tuple[str, str] = ("infrared", "visible")
) -> None:
    """Raise a helpful error when two images do not share height and width (``names``: theirs)."""
    if infrared.shape[:2] != visible.shape[:2]:
        first, second = names
        raise ValueError(
            f"{first} and {second} must have the same height and width, got {first} "
            f"{infrared.shape[:2]} and {second} {visible.shape[:2]}; register or resample "
            "one image onto the other's grid first"
        )


def prepare_pair(
    infrared: object, visible: object, *, names: tuple[str, str] = ("infrared", "visible")
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Validate and convert a pair: infrared ``(H, W)``, visible ``(H, W)`` or ``(H, W, 3)``.

    ``names`` are the images' names in messages (e.g. ``("ct", "mri")``).

    Returns
    -------
    infrared, visible : ndarray
        float32 copies in ``[0, 1]``.
    notes : list of str
        How intensities were scaled, when worth saying.
    """
    ir = prepare(infrared, name=names[0])
    vis = prepare(visible, name=names[1])
    check_same_size(ir.data, vis.data, names=names)
    notes = [n for n in (ir.note, vis.note) if n]
    ir_data = ir.data
    if ir.is_rgb:
        ir_data = to_gray(ir_data)
        notes.append(f"{names[0]}: colour image, fused through its luminance")
    return ir_data, vis.data, notes


def to_gray(image: np.ndarray) -> np.ndarray:
    """Return BT.601 luma ``0.299 R + 0.587 G + 0.114 B`` (grayscale passes through)."""
    if image.ndim == 2:
        return image
    return (image[..., 0] * 0.299 + image[..., 1] * 0.587 + image[..., 2] * 0.114).astype(
        image.dtype, copy=False
    )


def rgb_to_ycbcr(rgb: np.ndarray) -> np.ndarray:
    """Full-range BT.601 RGB -> YCbCr for float images in ``[0, 1]``.

    Examples
    --------
    >>> rgb_to_ycbcr(np.full((1, 1, 3), 0.5, np.float32)).round(3).ravel().tolist()
    [0.5, 0.5, 0.5]
    """
    y = to_gray(rgb)
    cb = (rgb[..., 2] - y) * 0.564 + 0.5
    cr = (rgb[..., 0] - y) * 0.713 + 0.5
    return np.stack([y, cb, cr], axis=-1).astype(np.float32)


def ycbcr_to_rgb(ycbcr: np.ndarray) -> np.ndarray:
    """Inverse of :func:`rgb_to_ycbcr`, clipped to ``[0, 1]``."""
    y, cb, cr = ycbcr[..., 0], ycbcr[..., 1] - 0.5, ycbcr[..., 2] - 0.5
    r = y + 1.403 * cr
    g = y - 0.714 * cr - 0.344 * cb
    b = y + 1.773 * cb
    return np.clip(np.stack([r, g, b], axis=-1), 0.0, 1.0).astype(np.float32)


def tensor_luminance(image: Any) -> Any:
    """BT.601 luma ``(B, 1, H, W)`` of a ``(B, 3, H, W)`` torch RGB tensor; one channel passes through.

    The torch form of :func:`to_gray`, shared by the ``lite`` engine and the losses.
    """
    if image.shape[1] == 1:
        return image
    r, g, b = image[:, 0:1], image[:, 1:2], image[:, 2:3]
    return 0.299 * r + 0.587 * g + 0.114 * b


def tensor_chroma(image: Any) -> Any:
    """Full-range BT.601 ``(Cb, Cr)``, ``(B, 2, H, W)``, of a torch RGB tensor, as :func:`rgb_to_ycbcr`."""
    import torch

    y = tensor_luminance(image)
    return torch.cat([(image[:, 2:3] - y) * 0.564 + 0.5, (image[:, 0:1] - y) * 0.713 + 0.5], 1)


def tensor_rgb_to_ycbcr(rgb: Any) -> Any:
    """:func:`rgb_to_ycbcr` of ``(B, 3, H, W)`` torch RGB; gray ``(B, 1, H, W)`` gets neutral chroma."""
    import torch

    if rgb.shape[1] == 1:
        return torch.cat([rgb, torch.full_like(rgb, 0.5), torch.full_like(rgb, 0.5)], 1)
    return torch.cat([tensor_luminance(rgb), tensor_chroma(rgb)], 1)


def with_luminance(visible: np.ndarray, luminance: np.ndarray, *, out: np.ndarray | None = None
                   ) -> np.ndarray:
    """Put ``luminance`` into the visible image, keeping its chroma (or return it, if gray).

    ``out`` (float32, the visible image's shape) receives the result; it may be ``visible``
    itself, which is then overwritten a block of rows at a time (no second full-size image).
    """
    luminance = np.clip(luminance, 0.0, 1.0).astype(np.float32)
    if visible.ndim == 2:
        return luminance
    out = np.empty(visible.shape, np.float32) if out is None else out
    for start in range(0, visible.shape[0], _ROW_BLOCK):
        rows = slice(start, start + _ROW_BLOCK)
        ycbcr = rgb_to_ycbcr(visible[rows])
        ycbcr[..., 0] = luminance[rows]
        out[rows] = ycbcr_to_rgb(ycbcr)
    return out


def pad_to_multiple(image: np.ndarray, multiple: int) -> tuple[np.ndarray, tuple[int, int]]:
    """Reflect-pad the first two axes up to a multiple of ``multiple``.

    Returns
    -------
    padded : ndarray
    shape : tuple of int
        The original ``(H, W)`` to give to :func:`crop_to`.

    Examples
    --------
    >>> padded, shape = pad_to_multiple(np.zeros((5, 7)), 4)
    >>> padded.shape, shape
    ((8, 8), (5, 7))
    """
    h, w = image.shape[:2]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph == 0 and pw == 0:
        return image, (h, w)
    pad = [(0, ph), (0, pw)] + [(0, 0)] * (image.ndim - 2)
    mode = "reflect" if h > 1 and w > 1 else "edge"
    return np.pad(image, pad, mode=mode), (h, w)


def crop_to(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Crop the first two axes back to ``shape``."""
    return image[: shape[0], : shape[1]]


def block_mean(image: np.ndarray, factor: int) -> np.ndarray:
    """Mean over ``factor`` x ``factor`` blocks (a remainder of rows or columns is dropped).

    Examples
    --------
    >>> block_mean(np.arange(16.0).reshape(4, 4), 2)
    array([[ 2.5,  4.5],
           [10.5, 12.5]])
    """
    if factor <= 1:
        return image
    h, w = (image.shape[0] // factor) * factor, (image.shape[1] // factor) * factor
    blocks = image[:h, :w].reshape(h // factor, factor, w // factor, factor, *image.shape[2:])
    return blocks.mean(axis=(1, 3))


def centre_crop(image: np.ndarray, side: int, *, rows_only: bool = False) -> np.ndarray:
    """The central ``side`` x ``side`` window (a view; the whole image where it is smaller).

    ``rows_only`` keeps every column: a band of ``side`` rows across the image.

    Examples
    --------
    >>> centre_crop(np.zeros((10, 20)), 4).shape, centre_crop(np.zeros((10, 20)), 4, rows_only=True).shape
    ((4, 4), (4, 20))
    """
    h, w = image.shape[:2]
    top = max((h - side) // 2, 0)
    if rows_only:
        return image[top : top + side]
    left = max((w - side) // 2, 0)
    return image[top : top + side, left : left + side]


@dataclasses.dataclass(frozen=True)
class Tile:
    """A tile's window in the image, as slices of rows and columns."""

    rows: slice
    cols: slice


@dataclasses.dataclass(frozen=True)
class Tiling:
    """How an engine cuts a large image: tile side, minimum overlap, start alignment and the
    blend margin (pixels; see :func:`tiled`)."""

    tile: int
    overlap: int
    align: int = 1
    margin: int = 0


def tile_grid(shape: tuple[int, int], tile: int, overlap: int, *, align: int = 1) -> list[Tile]:
    """Cover ``shape`` with ``tile``-sized windows that overlap by at least ``overlap``.

    Window starts are multiples of ``align``, so a network whose strides
    multiply to ``align`` sees every tile on the same pixel grid as the whole
    image; the last window in each direction stretches to the border.
    """
    rows, cols = _grid_axes(shape, tile, overlap, align)
    return [Tile(r, c) for r in rows for c in cols]


def _grid_axes(shape: tuple[int, int], tile: int, overlap: int, align: int
               ) -> tuple[list[slice], list[slice]]:
    """The row windows and the column windows of :func:`tile_grid` (the grid is their product)."""
    if tile <= overlap:
        raise ValueError(f"tile must be larger than overlap, got tile={tile}, overlap={overlap}")
    return _windows(shape[0], tile, overlap, align), _windows(shape[1], tile, overlap, align)


def _windows(length: int, tile: int, overlap: int, align: int) -> list[slice]:
    starts = [s // align * align for s in _starts(length, tile, min(overlap + align - 1, tile - 1))]
    ends = [min(s + tile, length) for s in starts[:-1]] + [length]
    return [slice(s, e) for s, e in zip(starts, ends, strict=True)]


def _starts(length: int, tile: int, overlap: int) -> list[int]:
    if length <= tile:
        return [0]
    stride = tile - overlap
    count = int(np.ceil((length - tile) / stride)) + 1
    return [round(i * (length - tile) / (count - 1)) for i in range(count)]


def _tile_window(tile: Tile, shape: tuple[int, int], overlap: int, margin: int) -> np.ndarray:
    """The weight of ``tile`` in an image of ``shape``: the outer product of its two axes' weights."""
    return np.outer(_axis_weights(tile.rows, shape[0], overlap, margin),
                    _axis_weights(tile.cols, shape[1], overlap, margin))


def _ramp(n: int, overlap: int, margin: int, ends: tuple[bool, bool]) -> np.ndarray:
    """One axis of a tile's weight: 1 inside; at each end in ``ends``, ``margin`` pixels of
    weight 1e-6, then a raised cosine (never 0) over the rest of ``overlap``."""
    w = np.ones(n, np.float32)
    k = min(overlap, n // 2)
    m = min(margin, k - 1) if k > 0 else 0
    if k > 0:  # in float64 and floored: a pixel at the border, under one tile only, keeps a weight
        t = (np.arange(k - m, dtype=np.float64) + 0.5) / (k - m)
        rise = np.concatenate([np.full(m, 1e-6), np.maximum(0.5 - 0.5 * np.cos(np.pi * t), 1e-6)])
        if ends[0]:
            w[:k] = rise
        if ends[1]:
            w[n - k :] = rise[::-1]
    return w


def _axis_weights(window: slice, length: int, overlap: int, margin: int) -> np.ndarray:
    """:func:`_ramp` of one window of an axis of ``length``: no ramp at the image's own border,
    where the tile's output is the whole image's."""
    return _ramp(window.stop - window.start, overlap, margin, (window.start > 0, window.stop < length))


def _coverage(windows: list[slice], length: int, overlap: int, margin: int = 0) -> np.ndarray:
    """Sum of the weights of every window along one axis (never 0 on a covered axis)."""
    total = np.zeros(length, np.float32)
    for window in windows:
        total[window] += _axis_weights(window, length, overlap, margin)
    return total


def tiled(
    fn: Callable[..., np.ndarray],
    images: tuple[np.ndarray, ...],
    *,
    tile: int,
    overlap: int,
    progress: Callable[[int, int], None] | None = None,
    align: int = 1,
    margin: int = 0,
) -> np.ndarray:
    """Apply ``fn`` to overlapping tiles of ``images`` and blend the outputs.

    ``fn`` takes one tile of each image and returns an array whose first two
    axes match the tile. Each tile is weighted by a raised-cosine window over
    its overlap at the edges inside the image, so the blended result shows no
    seams; the first ``margin`` pixels of such an edge get (almost) no weight, so
    that what a network computed from the tile's padding there is not kept.

    Parameters
    ----------
    fn : callable
    images : tuple of ndarray
        Images of equal height and width.
    tile, overlap : int
        Tile side and minimum overlap in pixels.
    progress : callable, optional
        Called as ``progress(done, total)`` after each tile; it may raise to cancel.
    align : int, optional
        Tile starts are multiples of this (see :func:`tile_grid`).
    margin : int, optional
        Pixels at each inner tile edge left out of the blend, 0 to ``overlap // 2`` (0: the
        raised cosine spans the whole overlap; below ``overlap // 2`` a cross-fade remains).
    """
    if not 0 <= margin <= overlap // 2:
        raise ValueError(f"margin must be between 0 and overlap // 2 = {overlap // 2}, got {margin}")
    shape = images[0].shape[:2]
    rows, cols = _grid_axes(shape, tile, overlap, align)
    # The window is separable and the grid a product of row and column windows, so the sum
    # of the weights is an outer product of two 1-D sums: no full-size weight image.
    row_sum = _coverage(rows, shape[0], overlap, margin)
    col_sum = _coverage(cols, shape[1], overlap, margin)
    out: np.ndarray | None = None
    for i, (r, c) in enumerate(itertools.product(rows, cols)):
        result = fn(*(im[r, c] for im in images))
        if out is None:
            out = np.zeros(shape + result.shape[2:], np.float32)
        w = _tile_window(Tile(r, c), shape, overlap, margin)
        out[r, c] += result * (w if result.ndim == 2 else w[..., None])
        if progress is not None:
            progress(i + 1, len(rows) * len(cols))
    assert out is not None
    for start in range(0, shape[0], _ROW_BLOCK):  # in place, a block of rows at a time
        block = slice(start, start + _ROW_BLOCK)
        weight = np.outer(row_sum[block], col_sum)
        out[block] /= weight if out.ndim == 2 else weight[..., None]
    return out


def blend_tile(out: np.ndarray, weight: np.ndarray, result: np.ndarray, tile: Tile, overlap: int,
               *, shape: tuple[int, int], origin: tuple[int, int] = (0, 0), margin: int = 0) -> None:
    """Add one tile's ``result`` to the running sums in place, weighted as :func:`tiled` weights
    it in an image of ``shape`` (no ramp at the image border, ``margin`` pixels left out at
    inner edges).

    Parameters
    ----------
    out, weight : ndarray
        Sums of weighted results and of weights over a region of the image whose first pixel
        is ``origin``; the part of ``tile`` outside the region is ignored (so a region can be
        one chunk of a larger image, as :func:`napari_textif.fuse_stack` blends them).
    result : ndarray
        The tile's output, first two axes of the tile's size.
    tile : Tile
        Where ``result`` lies in the whole image.
    overlap : int
    shape : tuple of int
        The whole image's height and width.
    origin : tuple of int, optional
    margin : int, optional
    """
    spans = [_clip_span(s, o, n) for s, o, n in zip((tile.rows, tile.cols), origin, weight.shape)]
    if any(span is None for span in spans):
        return
    (dst_r, src_r), (dst_c, src_c) = spans  # type: ignore[misc]
    w = _tile_window(tile, shape, overlap, margin)[src_r, src_c]
    part = result[src_r, src_c]
    out[dst_r, dst_c] += part * (w if part.ndim == 2 else w[..., None])
    weight[dst_r, dst_c] += w


def _clip_span(window: slice, origin: int, length: int) -> tuple[slice, slice] | None:
    """(where in the region, where in the tile) the tile's ``window`` meets ``origin..origin+length``."""
    start, stop = max(window.start, origin), min(window.stop, origin + length)
    if start >= stop:
        return None
    return slice(start - origin, stop - origin), slice(start - window.start, stop - window.start)


def finish_blend(out: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Divide the weighted sums of :func:`blend_tile` by the weights (in place) and return ``out``."""
    out /= weight if out.ndim == 2 else weight[..., None]
    return out
