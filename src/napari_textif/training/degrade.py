"""Seeded, physically motivated simulation of the nine degradations of :class:`Controls`.

Every function takes and returns float32 images in ``[0, 1]``, ``(H, W)`` or
``(H, W, 3)``; strength ``0`` returns an unchanged copy and ``1`` is a severe
case. Spatial scales (blur radius, streak length, bloom) follow the image size
so a degradation looks alike on a 96-pixel crop's parent image and on a full
frame. Randomness comes only from the ``rng`` argument, so a seed reproduces a
sample exactly.

Compound degradations (:func:`degrade_pair`) apply in the order light meets
them: for the visible camera the atmosphere (haze, then rain in front of the
scene), the optics (blur), the exposure (low light or over-exposure) and last
the sensor (noise); for the thermal camera the scene's low contrast, then the
detector's column fixed pattern, then temporal and impulse noise.

Examples
--------
>>> import numpy as np
>>> image = np.full((32, 32), 0.5, np.float32)
>>> dark = degrade(image, "vis_low_light", 0.8, np.random.default_rng(0))
>>> bool(dark.mean() < image.mean())
True
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
from scipy import ndimage, signal

from napari_textif import imaging
from napari_textif.controls import DEGRADATIONS, Controls

#: Display gamma used to move between encoded pixel values and linear light.
GAMMA = 2.2
#: Visible degradations in physical order: atmosphere, optics, exposure, sensor.
VISIBLE_ORDER: tuple[str, ...] = (
    "vis_haze",
    "vis_rain",
    "vis_blur",
    "vis_low_light",
    "vis_overexposure",
    "vis_noise",
)
#: Infrared degradations in physical order: scene, detector pattern, readout noise.
INFRARED_ORDER: tuple[str, ...] = ("ir_low_contrast", "ir_stripe_noise", "ir_noise")

RngLike = np.random.Generator | int | None


def degrade(
    image: np.ndarray,
    kind: str,
    strength: float,
    rng: RngLike = None,
    *,
    reference_size: int | None = None,
) -> np.ndarray:
    """Apply one simulated degradation.

    Parameters
    ----------
    image : ndarray
        float ``(H, W)`` or ``(H, W, 3)`` in ``[0, 1]``; it is not modified.
    kind : str
        One of :data:`napari_textif.controls.DEGRADATIONS`.
    strength : float
        ``0..1``; 0 is the identity.
    rng : numpy.random.Generator or int or None
        Source of randomness (an int is used as a seed).
    reference_size : int, optional
        The larger side of the frame ``image`` was cropped from; spatial scales
        (blur radius, streak length, bloom) follow it so that a training crop is
        degraded as its full frame would be. Default: the larger side of ``image``.

    Returns
    -------
    ndarray
        float32 image of the input's shape in ``[0, 1]``.

    Examples
    --------
    >>> import numpy as np
    >>> ramp = np.tile(np.linspace(0, 1, 40, dtype=np.float32), (30, 1))
    >>> flat = degrade(ramp, "ir_low_contrast", 1.0, 0)
    >>> bool(flat.std() < ramp.std())
    True
    """
    data = _check_image(image, "image")
    if kind not in _KINDS:
        raise ValueError(f"kind must be one of {', '.join(DEGRADATIONS)}, got {kind!r}")
    strength = _check_strength(strength)
    generator = _generator(rng)
    size = float(max(data.shape[:2]) if reference_size is None else _check_size(reference_size))
    if strength == 0.0:
        return data
    out = _KINDS[kind](data, strength, generator, size)
    return np.clip(out, 0.0, 1.0).astype(np.float32, copy=False)


def degrade_pair(
    infrared: np.ndarray,
    visible: np.ndarray,
    controls: Controls | Mapping[str, float],
    rng: RngLike = None,
    *,
    reference_size: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Apply every non-zero degradation of ``controls`` to a pair, in physical order.

    Parameters
    ----------
    infrared, visible : ndarray
        float images in ``[0, 1]``; the ``ir_*`` controls act on ``infrared``,
        the ``vis_*`` controls on ``visible``.
    controls : Controls or mapping of str to float
        Degradation strengths (preferences are ignored here).
    rng : numpy.random.Generator or int or None
    reference_size : int, optional
        See :func:`degrade`.

    Returns
    -------
    infrared, visible : ndarray
        Degraded float32 copies.

    Examples
    --------
    >>> import numpy as np
    >>> ir, vis = np.full((16, 16), 0.5, np.float32), np.full((16, 16, 3), 0.5, np.float32)
    >>> ir2, vis2 = degrade_pair(ir, vis, Controls(vis_haze=0.5, ir_noise=0.5), 0)
    >>> ir2.shape, vis2.shape
    ((16, 16), (16, 16, 3))
    """
    if not isinstance(controls, Controls):
        if not isinstance(controls, Mapping):
            raise TypeError(f"controls must be Controls or a mapping, got {type(controls).__name__}")
        controls = Controls(**controls)
    generator = _generator(rng)
    ir = _check_image(infrared, "infrared")
    vis = _check_image(visible, "visible")
    for kind in VISIBLE_ORDER:
        vis = degrade(vis, kind, getattr(controls, kind), generator, reference_size=reference_size)
    for kind in INFRARED_ORDER:
        ir = degrade(ir, kind, getattr(controls, kind), generator, reference_size=reference_size)
    return ir, vis


# --- validation ---------------------------------------------------------------------------------


def _check_image(image: object, name: str) -> np.ndarray:
    array = np.asarray(image)
    if array.dtype.kind != "f":
        raise TypeError(f"{name} must be a float array in [0, 1], got dtype {array.dtype}")
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] != 3):
        raise ValueError(f"{name} must have shape (H, W) or (H, W, 3), got {array.shape}")
    if min(array.shape[:2]) < 2:
        raise ValueError(f"{name} must be at least 2x2 pixels, got shape {array.shape}")
    if not np.isfinite(array).all() or array.min() < -1e-6 or array.max() > 1 + 1e-6:
        raise ValueError(
            f"{name} must be finite and lie in [0, 1], got values in "
            f"[{np.nanmin(array):g}, {np.nanmax(array):g}]"
        )
    return np.clip(array, 0.0, 1.0).astype(np.float32)


def _check_strength(strength: object) -> float:
    if isinstance(strength, bool) or not isinstance(strength, (int, float, np.floating, np.integer)):
        raise TypeError(f"strength must be a number in [0, 1], got {type(strength).__name__}")
    if not 0.0 <= float(strength) <= 1.0:
        raise ValueError(f"strength must lie in [0, 1], got {strength!r}")
    return float(strength)


def _check_size(size: object) -> int:
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 2:
        raise ValueError(f"reference_size must be an int of at least 2 pixels, got {size!r}")
    return int(size)


def _generator(rng: RngLike) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or (isinstance(rng, (int, np.integer)) and not isinstance(rng, bool)):
        return np.random.default_rng(rng)
    raise TypeError(f"rng must be a numpy Generator, an int seed or None, got {type(rng).__name__}")


# --- helpers -------------------------------------------------------------------------------------


def _per_channel(image: np.ndarray, fn: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    if image.ndim == 2:
        return fn(image)
    return np.stack([fn(image[..., c]) for c in range(image.shape[2])], axis=-1)


def _convolve(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Convolve each channel with ``kernel`` after reflect padding (no dark borders)."""
    kh, kw = kernel.shape
    pad = ((kh // 2, kh - 1 - kh // 2), (kw // 2, kw - 1 - kw // 2))

    def one(channel: np.ndarray) -> np.ndarray:
        mode = "reflect" if min(channel.shape) > max(pad[0] + pad[1]) else "symmetric"
        padded = np.pad(channel, pad, mode=mode)
        return signal.fftconvolve(padded, kernel, mode="valid")

    return _per_channel(image, one).astype(np.float32)


def _line_kernel(length: float, angle_deg: float) -> np.ndarray:
    """An anti-aliased straight line of ``length`` pixels through the kernel centre, sum 1."""
    half = int(np.ceil(length / 2)) + 1
    size = 2 * half + 1
    kernel = np.zeros((size, size), np.float64)
    theta = np.deg2rad(angle_deg)
    for t in np.linspace(-length / 2, length / 2, max(int(length * 4), 2)):
        y, x = half + t * np.cos(theta), half + t * np.sin(theta)
        y0, x0 = int(np.floor(y)), int(np.floor(x))
        fy, fx = y - y0, x - x0
        kernel[y0, x0] += (1 - fy) * (1 - fx)
        kernel[y0 + 1, x0] += fy * (1 - fx)
        kernel[y0, x0 + 1] += (1 - fy) * fx
        kernel[y0 + 1, x0 + 1] += fy * fx
    return kernel / kernel.sum()


def _disk_kernel(radius: float) -> np.ndarray:
    """A defocus (pill-box) kernel with anti-aliased rim, sum 1."""
    radius = max(radius, 0.5)
    half = int(np.ceil(radius))
    sub = 5
    offsets = (np.arange(sub) + 0.5) / sub - 0.5
    grid = np.arange(-half, half + 1)
    yy = (grid[:, None, None, None] + offsets[None, None, :, None]) ** 2
    xx = (grid[None, :, None, None] + offsets[None, None, None, :]) ** 2
    kernel = ((yy + xx) <= radius**2).mean(axis=(2, 3))
    return kernel / kernel.sum()


def _smooth_field(shape: tuple[int, int], rng: np.random.Generator, cells: int = 4) -> np.ndarray:
    """A smooth random field in ``[0, 1]`` made by upsampling a coarse noise grid."""
    coarse = rng.standard_normal((min(cells, shape[0]), min(cells, shape[1])))
    zoom = (shape[0] / coarse.shape[0], shape[1] / coarse.shape[1])
    field = ndimage.zoom(coarse, zoom, order=3, mode="nearest")
    field = field[: shape[0], : shape[1]]
    if field.shape != shape:
        field = np.pad(field, [(0, shape[0] - field.shape[0]), (0, shape[1] - field.shape[1])], "edge")
    span = field.max() - field.min()
    return (field - field.min()) / span if span > 0 else np.zeros(shape)


# --- the nine kinds ------------------------------------------------------------------------------


def _low_light(image: np.ndarray, s: float, rng: np.random.Generator, size: float) -> np.ndarray:
    """Up to five stops less exposure in linear light, then shot + read noise (night capture)."""
    linear = image.astype(np.float64) ** GAMMA * 2.0 ** (-5.0 * s)
    shot, read = 1.5e-3 * s, 1.5e-3 * s
    sigma = np.sqrt(shot * linear + read**2)
    linear = np.clip(linear + sigma * rng.standard_normal(image.shape), 0.0, 1.0)
    return linear ** (1.0 / GAMMA)


def _overexposure(image: np.ndarray, s: float, rng: np.random.Generator, size: float) -> np.ndarray:
    """Too much gain in linear light, sensor clipping, bloom around highlights and veiling glare.

    The gain saturates about ``60 s`` % of the pixels, kept between 0.5 s and 3 s stops so
    that a bright day frame is not turned all white and a night frame still brightens.
    """
    linear = image.astype(np.float64) ** GAMMA
    quantile = float(np.quantile(imaging.to_gray(linear), 1.0 - 0.6 * s))
    stops = np.clip(-np.log2(max(quantile, 1e-6)), 0.5 * s, 3.0 * s) * rng.uniform(0.85, 1.0)
    linear = linear * 2.0**stops
    excess = np.maximum(imaging.to_gray(linear) - 1.0, 0.0)
    bloom = ndimage.gaussian_filter(excess, sigma=0.015 * size * s + 0.5)
    if image.ndim == 3:
        bloom = bloom[..., None]
    glare = 0.1 * s
    return (np.clip(linear + 0.6 * s * bloom, 0.0, 1.0) * (1.0 - glare) + glare) ** (1.0 / GAMMA)


def _haze(image: np.ndarray, s: float, rng: np.random.Generator, size: float) -> np.ndarray:
    """Koschmieder scattering I = J t + A (1 - t), t = exp(-beta d), with a depth proxy.

    The depth proxy grows towards the top of the frame (the horizon of a road or
    street scene) and is modulated by a smooth random field.
    """
    h, w = image.shape[:2]
    rows = np.linspace(1.0, 0.0, h)[:, None] * np.ones((1, w))
    depth = 0.2 + 0.8 * np.clip(0.6 * rows + 0.4 * _smooth_field((h, w), rng), 0.0, 1.0)
    transmission = np.exp(-2.6 * s * depth)
    airlight = rng.uniform(0.75, 0.95)
    if image.ndim == 3:
        transmission = transmission[..., None]
        airlight = airlight * np.array([0.96, 0.98, 1.0])
    return image * transmission + airlight * (1.0 - transmission)


def _rain_layer(
    shape: tuple[int, int], density: float, length: float, brightness: float, rng: np.random.Generator
) -> np.ndarray:
    angle = rng.uniform(-20.0, 20.0)
    drops = (rng.random(shape) < density) * rng.uniform(0.5, 1.0, shape)
    kernel = _line_kernel(length, angle)
    streaks = signal.fftconvolve(drops, kernel / kernel.max(), mode="same")
    streaks = ndimage.gaussian_filter(streaks, 0.6)
    return np.clip(brightness * streaks, 0.0, 1.0)


def _rain(image: np.ndarray, s: float, rng: np.random.Generator, size: float) -> np.ndarray:
    """Two streak layers (far: short, dense, faint; near: long, sparse, bright), screen-blended."""
    h, w = image.shape[:2]
    far = _rain_layer((h, w), 0.012 * s, max(3.0, 0.025 * size), 0.25 + 0.15 * s, rng)
    near = _rain_layer((h, w), 0.003 * s, max(5.0, 0.06 * size), 0.45 + 0.3 * s, rng)
    rain = 1.0 - (1.0 - far) * (1.0 - near)
    veil = 0.08 * s
    if image.ndim == 3:
        rain = rain[..., None]
    base = image * (1.0 - veil) + veil * 0.8
    return 1.0 - (1.0 - base) * (1.0 - rain)


def _blur(image: np.ndarray, s: float, rng: np.random.Generator, size: float) -> np.ndarray:
    """Defocus (disk) or camera-motion (line) blur; radius up to 1.2 % of the larger side."""
    radius = s * max(2.5, 0.012 * size)
    if rng.random() < 0.5:
        kernel = _disk_kernel(radius)
    else:
        kernel = _line_kernel(2.0 * radius + 1.0, rng.uniform(0.0, 180.0))
    return _convolve(image, kernel)


def _visible_noise(image: np.ndarray, s: float, rng: np.random.Generator, size: float) -> np.ndarray:
    """Poisson photon noise (peak 120 / s photons) plus Gaussian read noise (sigma 0.06 s)."""
    peak = 120.0 / s
    photons = rng.poisson(image.astype(np.float64) * peak) / peak
    return photons + 0.06 * s * rng.standard_normal(image.shape)


def _ir_low_contrast(image: np.ndarray, s: float, rng: np.random.Generator, size: float) -> np.ndarray:
    """Range compression towards the mean (thermal crossover): contrast falls by up to 85 %."""
    mean = float(image.mean())
    gain = 1.0 - 0.85 * s
    offset = rng.uniform(-0.05, 0.05) * s
    return mean + offset + (image - mean) * gain


def _ir_noise(image: np.ndarray, s: float, rng: np.random.Generator, size: float) -> np.ndarray:
    """Gaussian readout noise (sigma 0.07 s) plus impulse noise on up to 4 % of pixels."""
    noisy = image + 0.07 * s * rng.standard_normal(image.shape)
    hit = rng.random(image.shape[:2]) < 0.04 * s
    values = (rng.random(image.shape[:2]) < 0.5).astype(np.float64)
    if image.ndim == 3:
        hit, values = hit[..., None], values[..., None]
    return np.where(hit, values, noisy)


def _ir_stripe_noise(image: np.ndarray, s: float, rng: np.random.Generator, size: float) -> np.ndarray:
    """Column fixed-pattern noise of a microbolometer: per-column offsets and gains."""
    w = image.shape[1]
    offsets = 0.06 * s * rng.standard_normal(w) + 0.03 * s * (_smooth_field((1, w), rng, 6)[0] - 0.5)
    gains = 1.0 + 0.08 * s * rng.standard_normal(w)
    if image.ndim == 3:
        offsets, gains = offsets[:, None], gains[:, None]
    return image * gains + offsets


#: kind -> fn(image, strength, rng, size); ``size`` is the frame's larger side in pixels.
_KINDS: dict[str, Callable[[np.ndarray, float, np.random.Generator, float], np.ndarray]] = {
    "vis_low_light": _low_light,
    "vis_overexposure": _overexposure,
    "vis_noise": _visible_noise,
    "vis_haze": _haze,
    "vis_rain": _rain,
    "vis_blur": _blur,
    "ir_low_contrast": _ir_low_contrast,
    "ir_noise": _ir_noise,
    "ir_stripe_noise": _ir_stripe_noise,
}
assert set(_KINDS) == set(DEGRADATIONS)
