"""How two napari image layers line up, and which 2-D frames of them to fuse.

Pure numpy: a layer is read through a few duck-typed attributes (``data``,
``rgb``, ``ndim``, ``multiscale``, ``data_level``, ``downsample_factors``,
``scale``, ``translate``, ``rotate``, ``shear``, ``affine``, ``units``,
``axis_labels``, ``data_to_world``, ``world_to_data``), so this module never
imports napari. The last two non-channel axes of a layer are its image plane;
any axes before them (time, z) are frames.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from napari_textif import imaging

#: Fraction of the visible image that must fall inside the infrared image.
MIN_OVERLAY = 0.5
_OVERLAY_SAMPLES = 24


class GeometryError(ValueError):
    """The two layers cannot be fused as they are (said before anything runs)."""


@dataclasses.dataclass(frozen=True)
class LayerView:
    """One resolution level of a layer, snapshot on the GUI thread.

    Attributes
    ----------
    name : str
    data : array_like
        The level's array (numpy, dask, zarr...); frames are read lazily.
    rgb : bool
        Whether the last axis holds colour channels.
    world : ndarray
        ``(n + 1, n + 1)`` homogeneous data-to-world matrix of this level.
    level, levels : int
        The level used and how many the layer has (1 when not multiscale).
    factors : ndarray
        Downsampling of this level relative to level 0, per non-channel axis.
    """

    name: str
    data: Any
    rgb: bool
    world: np.ndarray
    level: int = 0
    levels: int = 1
    factors: np.ndarray = dataclasses.field(default_factory=lambda: np.ones(2))

    @property
    def ndim(self) -> int:
        """Number of non-channel axes."""
        return self.world.shape[0] - 1

    @property
    def leading_shape(self) -> tuple[int, ...]:
        """Shape of the frame axes (empty for a 2-D image)."""
        return tuple(int(s) for s in self.data.shape[: self.ndim - 2])

    @property
    def plane_shape(self) -> tuple[int, int]:
        """``(H, W)`` of one frame."""
        h, w = self.data.shape[self.ndim - 2 : self.ndim]
        return int(h), int(w)

    @property
    def plane_world(self) -> np.ndarray:
        """``3 x 3`` data-to-world matrix of the image plane."""
        keep = [self.ndim - 2, self.ndim - 1, self.ndim]
        return self.world[np.ix_(keep, keep)]

    def frame(self, index: tuple[int, ...]) -> np.ndarray:
        """Read one 2-D frame (``index`` over the frame axes) into memory."""
        return np.asarray(self.data[tuple(index)])


def world_matrix(layer: Any) -> np.ndarray:
    """The level-0 data-to-world transform of ``layer`` as a homogeneous matrix."""
    n = int(layer.ndim)
    origin = np.asarray(layer.data_to_world(np.zeros(n)), float)
    matrix = np.eye(n + 1)
    matrix[:n, n] = origin
    for axis in range(n):
        unit = np.zeros(n)
        unit[axis] = 1.0
        matrix[:n, axis] = np.asarray(layer.data_to_world(unit), float) - origin
    return matrix


def snapshot(layer: Any) -> LayerView:
    """Take the displayed level of ``layer`` (level 0 when not multiscale)."""
    n = int(layer.ndim)
    if getattr(layer, "multiscale", False):
        level = int(layer.data_level)
        data, levels = layer.data[level], len(layer.data)
        factors = np.asarray(layer.downsample_factors[level], float)
    else:
        level, data, levels, factors = 0, layer.data, 1, np.ones(n)
    world = world_matrix(layer) @ np.diag([*factors, 1.0])
    return LayerView(str(layer.name), data, bool(layer.rgb), world, level, levels, factors)


def displayed_index(layer: Any, view: LayerView, world_point: Any) -> tuple[int, ...]:
    """The frame of ``view`` shown at the viewer's ``world_point``."""
    n_lead = view.ndim - 2
    if n_lead == 0:
        return ()
    coords = np.asarray(layer.world_to_data(np.asarray(world_point, float)), float)[:n_lead]
    coords = coords / view.factors[:n_lead]
    top = np.asarray(view.leading_shape) - 1
    return tuple(int(i) for i in np.clip(np.round(coords), 0, top))


def check_dtype(view: LayerView, role: str) -> None:
    """Raise :class:`GeometryError` for a dtype the fusion cannot read."""
    dtype = np.dtype(view.data.dtype)
    if dtype.name not in imaging.SUPPORTED_DTYPES:
        raise GeometryError(
            f"{role} layer {view.name!r} has dtype {dtype}; supported: "
            f"{', '.join(imaging.SUPPORTED_DTYPES)}"
        )


def infrared_to_visible(infrared: LayerView, visible: LayerView) -> np.ndarray | None:
    """Matrix from visible to infrared pixel coordinates, or None when the grids are equal.

    Raises
    ------
    GeometryError
        When less than :data:`MIN_OVERLAY` of the visible image falls inside the infrared one.
    """
    mapping = np.linalg.inv(infrared.plane_world) @ visible.plane_world
    if infrared.plane_shape == visible.plane_shape and np.allclose(mapping, np.eye(3), atol=1e-6):
        return None
    fraction = overlay_fraction(mapping, visible.plane_shape, infrared.plane_shape)
    if fraction < MIN_OVERLAY:
        raise GeometryError(
            f"the infrared layer {infrared.name!r} and the visible layer {visible.name!r} do not "
            f"overlay in world coordinates: only {fraction:.0%} of the visible image falls inside "
            "the infrared one; check their scale and translate"
        )
    return mapping


def overlay_fraction(mapping: np.ndarray, shape: tuple[int, int], target: tuple[int, int]) -> float:
    """Share of a ``shape`` grid that ``mapping`` sends inside a ``target`` grid."""
    ys = np.linspace(0, shape[0] - 1, _OVERLAY_SAMPLES)
    xs = np.linspace(0, shape[1] - 1, _OVERLAY_SAMPLES)
    yy, xx = np.meshgrid(ys, xs, indexing="ij")
    points = np.stack([yy.ravel(), xx.ravel(), np.ones(yy.size)])
    mapped = mapping @ points
    inside = (
        (mapped[0] >= -0.5) & (mapped[0] <= target[0] - 0.5)
        & (mapped[1] >= -0.5) & (mapped[1] <= target[1] - 0.5)
    )
    return float(inside.mean())


def resample(image: np.ndarray, mapping: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Bilinearly resample ``image`` onto a grid of ``shape`` (``mapping``: output -> input).

    Integer images stay in their dtype so the package's dtype-aware scaling still applies.

    Examples
    --------
    >>> small = np.arange(4, dtype=np.float32).reshape(2, 2)
    >>> resample(small, np.diag([0.5, 0.5, 1.0]), (4, 4)).shape
    (4, 4)
    """
    from scipy import ndimage  # imported here: the widget must open fast

    linear, offset = mapping[:2, :2], mapping[:2, 2]
    planes = [image] if image.ndim == 2 else [image[..., c] for c in range(image.shape[-1])]
    out = [
        ndimage.affine_transform(
            p.astype(np.float32), linear, offset, output_shape=shape, order=1, mode="nearest"
        )
        for p in planes
    ]
    result = out[0] if image.ndim == 2 else np.stack(out, axis=-1)
    if image.dtype.kind in "uib":
        info = np.iinfo(image.dtype) if image.dtype.kind != "b" else None
        result = np.round(result)
        if info is not None:
            result = np.clip(result, info.min, info.max)
        return result.astype(image.dtype)
    return result.astype(image.dtype, copy=False)


def infrared_frame_index(infrared: LayerView, visible: LayerView, index: tuple[int, ...]) -> tuple[int, ...]:
    """The infrared frame that pairs with visible frame ``index`` in a whole-stack run."""
    if not infrared.leading_shape:
        return ()
    if infrared.leading_shape != visible.leading_shape:
        raise GeometryError(
            f"the infrared layer {infrared.name!r} has frames {infrared.leading_shape} and the "
            f"visible layer {visible.name!r} has {visible.leading_shape}; a whole-stack run needs "
            "the same frames (or a single 2-D infrared image)"
        )
    return index


def result_transform(layer: Any, view: LayerView, frame: tuple[int, ...] | None) -> dict[str, Any]:
    """Layer keyword arguments that place a result exactly over ``layer``.

    ``frame`` is None for a result with the layer's full frame shape, or the frame index
    for a single-frame result whose frame axes have length 1.
    """
    scale = np.asarray(layer.scale, float) * view.factors
    translate = np.asarray(layer.translate, float)
    if frame:
        physical = np.linalg.inv(np.asarray(layer.affine.affine_matrix, float)) @ world_matrix(layer)
        offset = np.zeros(view.ndim)
        offset[: len(frame)] = np.asarray(frame, float) * view.factors[: len(frame)]
        translate = translate + physical[: view.ndim, : view.ndim] @ offset
    return {
        "scale": scale,
        "translate": translate,
        "rotate": layer.rotate,
        "shear": layer.shear,
        "affine": layer.affine,
        "units": getattr(layer, "units", None),
        "axis_labels": getattr(layer, "axis_labels", None),
    }
