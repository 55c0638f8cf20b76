"""Procedurally generated, registered pairs that need no download.

:func:`synthetic_pair`: a night scene with a sky, a textured ground, buildings with
windows, trees, a road and warm targets (people, a car's engine) that are bright in the
infrared image and low-contrast in the visible one, so fusion has real work to do.

:func:`synthetic_mri_pet`: a brain-like phantom, an MRI slice (folded cortex, white matter,
ventricles) and a PET slice in pseudo-colour (uptake in the cortex and a hot lesion) on
the same grid.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def _fractal_noise(shape: tuple[int, int], rng: np.random.Generator, octaves: int = 5) -> np.ndarray:
    out = np.zeros(shape, np.float32)
    for octave in range(octaves):
        step = max(1, int(max(shape) / (8 * 2**octave)))
        coarse = rng.standard_normal((shape[0] // step + 2, shape[1] // step + 2)).astype(np.float32)
        coarse = ndimage.gaussian_filter(coarse, 1.0)
        layer = ndimage.zoom(coarse, step, order=1)[: shape[0], : shape[1]]
        out += layer / (layer.std() + 1e-8) / 2**octave
    return (out - out.min()) / (np.ptp(out) + 1e-8)


def _scene_layout(shape: tuple[int, int], rng: np.random.Generator) -> dict[str, np.ndarray]:
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    horizon = 0.45 * h
    masks = {"sky": yy < horizon, "road": (yy > 0.7 * h) & (np.abs(xx - 0.5 * w) < 0.25 * w + (yy - 0.7 * h))}
    buildings = np.zeros(shape, bool)
    windows = np.zeros(shape, bool)
    for x0 in rng.integers(0, int(0.8 * w), size=4):
        bw, bh = int(rng.integers(w // 10, w // 5)), int(rng.integers(h // 6, h // 3))
        rows, cols = slice(max(int(horizon) - bh, 0), int(horizon)), slice(x0, x0 + bw)
        buildings[rows, cols] = True
        windows[rows, cols] |= ((yy[rows, cols] // 4) % 3 == 0) & ((xx[rows, cols] // 4) % 3 == 0)
    masks["buildings"], masks["windows"] = buildings, windows
    people = np.zeros(shape, bool)
    for _ in range(3):
        cy, cx = rng.uniform(0.6, 0.85) * h, rng.uniform(0.1, 0.9) * w
        ry, rx = 0.09 * h, 0.02 * w + 1
        people |= ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 < 1
    masks["people"] = people
    cy, cx = 0.8 * h, 0.3 * w
    masks["car"] = (np.abs(yy - cy) < 0.05 * h) & (np.abs(xx - cx) < 0.1 * w)
    return masks


def synthetic_pair(
    shape: tuple[int, int] = (480, 640),
    *,
    seed: int = 0,
    dark: float = 0.0,
    haze: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Make a registered infrared/visible pair.

    Parameters
    ----------
    shape : tuple of int
        ``(H, W)``, at least 16 pixels each side.
    seed : int
        The scene is a deterministic function of the seed.
    dark : float
        ``0..1``; darkens the visible image like a night capture (with noise).
    haze : float
        ``0..1``; adds atmospheric haze to the visible image.

    Returns
    -------
    infrared : ndarray
        uint8 ``(H, W)``.
    visible : ndarray
        uint8 ``(H, W, 3)``.

    Examples
    --------
    >>> ir, vis = synthetic_pair(shape=(32, 40))
    >>> ir.shape, vis.shape, vis.dtype
    ((32, 40), (32, 40, 3), dtype('uint8'))
    """
    if len(shape) != 2 or min(shape) < 16:
        raise ValueError(f"shape must be (H, W) with both at least 16, got {shape!r}")
    rng = np.random.default_rng(seed)
    m = _scene_layout(tuple(shape), rng)
    texture = _fractal_noise(tuple(shape), rng)
    fine = ndimage.gaussian_filter(rng.standard_normal(shape).astype(np.float32), 0.8)
    visible = _visible(shape, m, texture, fine)
    infrared = _infrared(m, texture)
    visible = _degrade_visible(visible, dark, haze, rng)
    return _to_uint8(infrared), _to_uint8(visible)


def _visible(
    shape: tuple[int, int], m: dict[str, np.ndarray], texture: np.ndarray, fine: np.ndarray
) -> np.ndarray:
    h = shape[0]
    yy = np.mgrid[0:h, 0 : shape[1]][0].astype(np.float32) / h
    rgb = np.empty((*shape, 3), np.float32)
    ground = 0.25 + 0.35 * texture + 0.08 * fine
    rgb[...] = np.stack([ground * 0.8, ground * 0.95, ground * 0.6], -1)
    sky = 0.55 + 0.35 * yy
    rgb[m["sky"]] = np.stack([sky * 0.6, sky * 0.75, sky * 0.98], -1)[m["sky"]]
    rgb[m["road"]] = (0.3 + 0.1 * texture[m["road"]] + 0.06 * fine[m["road"]])[:, None]
    rgb[m["buildings"]] = np.array([0.55, 0.45, 0.4]) * (0.8 + 0.3 * texture[m["buildings"]])[:, None]
    rgb[m["windows"]] = [0.2, 0.25, 0.3]
    rgb[m["car"]] = [0.5, 0.1, 0.1]
    rgb[m["people"]] = (0.3 + 0.05 * fine[m["people"]])[:, None]
    return np.clip(rgb, 0, 1)


def _infrared(m: dict[str, np.ndarray], texture: np.ndarray) -> np.ndarray:
    ir = 0.3 + 0.25 * texture
    ir[m["sky"]] = 0.08 + 0.1 * texture[m["sky"]]
    ir[m["road"]] = 0.42 + 0.08 * texture[m["road"]]
    ir[m["buildings"]] = 0.38 + 0.12 * texture[m["buildings"]]
    ir[m["windows"]] = 0.55
    ir[m["car"]] = 0.75
    ir[m["people"]] = 0.95
    return np.clip(ndimage.gaussian_filter(ir, 1.2), 0, 1)


def _degrade_visible(rgb: np.ndarray, dark: float, haze: float, rng: np.random.Generator) -> np.ndarray:
    for name, value in (("dark", dark), ("haze", haze)):
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must lie in [0, 1], got {value!r}")
    if haze > 0:
        rgb = rgb * (1 - 0.7 * haze) + 0.8 * 0.7 * haze
    if dark > 0:
        rgb = rgb ** (1 + 2 * dark) * (1 - 0.85 * dark)
        rgb = rgb + rng.normal(0, 0.02 * dark, rgb.shape).astype(np.float32)
    return np.clip(rgb, 0, 1)


def _to_uint8(image: np.ndarray) -> np.ndarray:
    return np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)


def synthetic_mri_pet(shape: tuple[int, int] = (256, 256), *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Make a registered MRI/PET pair of a brain-like phantom.

    Parameters
    ----------
    shape : tuple of int
        ``(H, W)``, at least 32 pixels each side.
    seed : int
        The phantom is a deterministic function of the seed.

    Returns
    -------
    mri : ndarray
        uint8 ``(H, W)``: grey cortex, bright white matter, dark ventricles, a bright skull.
    pet : ndarray
        uint8 ``(H, W, 3)``: smooth uptake (cortex and a lesion) in pseudo-colour, blue to red
        with the uptake, black outside the brain.

    Examples
    --------
    >>> mri, pet = synthetic_mri_pet(shape=(64, 64))
    >>> mri.shape, pet.shape, pet.dtype
    ((64, 64), (64, 64, 3), dtype('uint8'))
    """
    from skimage.color import hsv2rgb

    if len(shape) != 2 or min(shape) < 32:
        raise ValueError(f"shape must be (H, W) with both at least 32, got {shape!r}")
    rng = np.random.default_rng(seed)
    radius, folds = _head(tuple(shape), rng)
    brain = radius < 0.82
    white = brain & (folds > 0.15) & (radius < 0.7)
    ventricles = (np.abs(folds) < 0.08) & (radius < 0.3)
    mri = np.where(brain, 0.45 + 0.1 * folds, 0.0) + 0.35 * white - 0.4 * ventricles
    mri = np.where((radius >= 0.86) & (radius < 0.95), 0.85, mri)
    uptake = ndimage.gaussian_filter((brain & ~white & ~ventricles).astype(np.float32), 3.0) * brain
    lesion = np.exp(-(((np.indices(shape) - np.array(shape)[:, None, None] * 0.4) ** 2).sum(0))
                    / (0.004 * shape[0] * shape[1]))
    uptake = np.clip(0.8 * uptake + 0.9 * lesion * brain, 0.0, 1.0)
    hsv = np.stack([0.66 * (1.0 - uptake), np.ones(shape), np.clip(1.6 * uptake, 0, 1)], axis=-1)
    return _to_uint8(mri), _to_uint8(hsv2rgb(hsv))


def _head(shape: tuple[int, int], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Normalised elliptic radius of a head, and a folded field in ``[-1, 1]`` for the gyri."""
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float32)
    cy, cx = (shape[0] - 1) / 2, (shape[1] - 1) / 2
    radius = np.hypot((yy - cy) / (0.46 * shape[0]), (xx - cx) / (0.38 * shape[1]))
    folds = np.sin(40.0 * _fractal_noise(shape, rng, octaves=4) + 10.0 * radius)
    return radius, folds.astype(np.float32)
