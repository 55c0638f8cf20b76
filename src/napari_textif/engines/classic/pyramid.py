"""Laplacian pyramids and the multi-scale fusion built on them.

The classic engine fuses with these, and the metrics baselines use
:func:`laplacian_fusion` as the textbook reference (Burt & Adelson 1983;
Burt & Kolczynski 1993 for the max-abs selection rule).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

_SIGMA = 1.0


def _down(image: np.ndarray) -> np.ndarray:
    return ndimage.gaussian_filter(image, _SIGMA, mode="reflect")[::2, ::2]


def _up(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    zoom = (shape[0] / image.shape[0], shape[1] / image.shape[1])
    up = ndimage.zoom(image, zoom, order=1, mode="nearest", grid_mode=True)
    return up[: shape[0], : shape[1]]


def max_levels(shape: tuple[int, int], *, min_side: int = 8) -> int:
    """How many detail levels fit before the coarsest side drops below ``min_side``."""
    side, levels = min(shape), 0
    while side // 2 >= min_side:
        side //= 2
        levels += 1
    return levels


def build_laplacian(image: np.ndarray, levels: int) -> list[np.ndarray]:
    """Decompose a 2-D image into ``levels`` detail layers plus a low-pass residual.

    Examples
    --------
    >>> image = np.random.default_rng(0).random((40, 50))
    >>> np.allclose(collapse_laplacian(build_laplacian(image, 3)), image, atol=1e-6)
    True
    """
    pyramid = []
    current = np.asarray(image, np.float32)
    for _ in range(levels):
        low = _down(current)
        pyramid.append(current - _up(low, current.shape))
        current = low
    pyramid.append(current)
    return pyramid


def collapse_laplacian(pyramid: list[np.ndarray]) -> np.ndarray:
    """Inverse of :func:`build_laplacian`."""
    image = pyramid[-1]
    for detail in reversed(pyramid[:-1]):
        image = _up(image, detail.shape) + detail
    return image


def select_details(a: np.ndarray, b: np.ndarray, *, smooth: float = 1.0) -> np.ndarray:
    """Per pixel keep the detail coefficient with more local energy (smoothed choice)."""
    energy_a = ndimage.uniform_filter(a * a, 3)
    energy_b = ndimage.uniform_filter(b * b, 3)
    weight = ndimage.gaussian_filter((energy_a >= energy_b).astype(np.float32), smooth)
    return weight * a + (1.0 - weight) * b


def laplacian_fusion(a: np.ndarray, b: np.ndarray, *, levels: int | None = None) -> np.ndarray:
    """Fuse two registered grayscale images: average base, max-energy details.

    Parameters
    ----------
    a, b : ndarray
        2-D float images of the same shape.
    levels : int, optional
        Detail levels; default as many as leave a coarsest side of 8 pixels (at most 5).

    Returns
    -------
    ndarray
        float32 fused image, not clipped.
    """
    if a.shape != b.shape or a.ndim != 2:
        raise ValueError(f"a and b must be 2-D images of one shape, got {a.shape} and {b.shape}")
    levels = min(5, max_levels(a.shape)) if levels is None else levels
    pa, pb = build_laplacian(a, levels), build_laplacian(b, levels)
    fused = [select_details(da, db) for da, db in zip(pa[:-1], pb[:-1])]
    fused.append(0.5 * (pa[-1] + pb[-1]))
    return collapse_laplacian(fused)
