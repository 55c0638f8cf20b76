"""A second, foreign degradation simulator: for evaluation only.

**Rule (issue 13): this module is for evaluation only. It must never be used for
training, for choosing routing, or for tuning any parameter of the engines or of
the restoration steps.** Its purpose is to measure whether restoration holds on
degradations that the project's own simulator (``napari_textif.training.degrade``)
did not make, so nothing here may leak into what is being measured. It was
written without reading that module and shares none of its code or design.

Each degradation kind is one function ``f(image, severity, rng) -> image`` on a
float32 image in [0, 1]: visible kinds take an RGB ``(H, W, 3)`` or gray ``(H, W)``
image, infrared kinds a gray ``(H, W)`` image. ``severity`` is one of
:data:`SEVERITIES`; each maps to parameter ranges from which the function draws
with ``rng``. The input is never modified; the output is float32 in [0, 1] with the
input's shape. The models follow published work:

- ``vis_low_light``: the camera pipeline inverted ("unprocessing", Brooks et al.,
  CVPR 2019): inverse tone curve and gamma, inverse white balance, exposure
  scaling in linear light, heteroscedastic shot + read noise with the paper's
  log-linear read/shot relation, then the forward pipeline again.
- ``vis_noise``: signal-dependent Poisson-Gaussian noise (Foi et al., IEEE TIP
  2008) followed by JPEG at PIL quality 30-70.
- ``vis_haze``: the atmospheric scattering model ``I = J t + A (1 - t)``,
  ``t = exp(-beta(x) d(x))`` (Koschmieder; Narasimhan & Nayar 2002) with a depth
  proxy built from blurred luminance and a random smooth field, a coloured
  airlight and a spatially uneven extinction coefficient.
- ``vis_rain``: several layers of sparse drops motion-blurred into streaks at
  random angles and lengths, screen-composited, plus a veiling (rain
  accumulation) term (after Garg & Nayar 2006; Yang et al., CVPR 2017).
- ``vis_blur``: second-order blur as in Real-ESRGAN (Wang et al., ICCVW 2021): two
  passes, each a random defocus disk, linear motion or anisotropic Gaussian kernel.
- ``vis_overexposure``: exposure gain in linear light, sensor saturation at full
  well and bloom (the blurred clipped excess added back).
- ``ir_stripe_noise``: column and row fixed-pattern offsets, column gain
  non-uniformity and a low-frequency non-uniformity field (microbolometer FPN).
- ``ir_noise``: temporal Gaussian noise plus per-pixel fixed-pattern offsets and
  gains (DSNU/PRNU).
- ``ir_low_contrast``: automatic-gain-style compression into a narrow band with
  a slight tone nonlinearity, a spatial offset drift and 8-bit quantisation.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
from PIL import Image
from scipy import ndimage, signal

#: The severities every kind accepts, weakest first.
SEVERITIES = ("mild", "moderate", "severe")

Range = tuple[float, float]


# --------------------------------------------------------------------------- helpers


def _draw(rng: np.random.Generator, ranges: dict[str, Range], severity: str) -> float:
    """A uniform draw from the range of ``severity``."""
    if severity not in ranges:
        raise ValueError(f"severity must be one of {SEVERITIES}, not {severity!r}")
    lo, hi = ranges[severity]
    return float(rng.uniform(lo, hi))


def _start(image: np.ndarray) -> np.ndarray:
    """A float64 working copy (the input is never touched)."""
    data = np.asarray(image)
    if data.ndim not in (2, 3):
        raise ValueError(f"expected an (H, W) or (H, W, 3) image, got shape {data.shape}")
    return np.array(data, dtype=np.float64, copy=True)


def _finish(image: np.ndarray) -> np.ndarray:
    return np.clip(np.nan_to_num(image, nan=0.0), 0.0, 1.0).astype(np.float32)


def _luma(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return image
    return image[..., :3] @ np.array([0.2126, 0.7152, 0.0722])


def _per_pixel(field: np.ndarray, image: np.ndarray) -> np.ndarray:
    """Broadcast an (H, W) field over the channels of ``image``."""
    return field[..., None] if image.ndim == 3 else field


def _smooth_field(shape: tuple[int, int], rng: np.random.Generator, cells: int) -> np.ndarray:
    """A random smooth field in [0, 1]: a coarse random grid, cubic-interpolated up."""
    h, w = shape
    aspect = w / max(h, 1)
    gh, gw = max(2, cells), max(2, round(cells * aspect))
    grid = rng.standard_normal((gh + 2, gw + 2))
    up = ndimage.zoom(grid, ((h + 2 * h / gh) / (gh + 2), (w + 2 * w / gw) / (gw + 2)), order=3)
    oh, ow = (up.shape[0] - h) // 2, (up.shape[1] - w) // 2
    field = up[oh : oh + h, ow : ow + w]
    if field.shape != (h, w):  # rounding of zoom: pad by edge values
        field = np.pad(field, ((0, h - field.shape[0]), (0, w - field.shape[1])), mode="edge")[:h, :w]
    lo, hi = float(field.min()), float(field.max())
    return (field - lo) / max(hi - lo, 1e-12)


def _convolve(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Convolve every channel with ``kernel`` (normalised), reflecting at the borders."""
    kernel = kernel / kernel.sum()
    ph, pw = kernel.shape[0] // 2, kernel.shape[1] // 2
    planes = image[..., None] if image.ndim == 2 else image
    out = np.empty_like(planes)
    for c in range(planes.shape[-1]):
        padded = np.pad(planes[..., c], ((ph, ph), (pw, pw)), mode="reflect")
        full = signal.fftconvolve(padded, kernel, mode="same")
        out[..., c] = full[ph : ph + planes.shape[0], pw : pw + planes.shape[1]]
    return out[..., 0] if image.ndim == 2 else out


def _disk_kernel(radius: float) -> np.ndarray:
    """A defocus (pillbox) kernel with anti-aliased edge."""
    r = int(np.ceil(radius)) + 1
    y, x = np.mgrid[-r : r + 1, -r : r + 1]
    return np.clip(radius + 0.5 - np.hypot(x, y), 0.0, 1.0)


def _line_kernel(length: float, angle: float) -> np.ndarray:
    """A linear motion kernel of ``length`` pixels at ``angle`` radians (0: horizontal)."""
    r = int(np.ceil(length / 2)) + 1
    kernel = np.zeros((2 * r + 1, 2 * r + 1))
    for t in np.linspace(-length / 2, length / 2, max(int(4 * length), 2)):
        x, y = r + t * np.cos(angle), r - t * np.sin(angle)
        x0, y0 = int(np.floor(x)), int(np.floor(y))
        fx, fy = x - x0, y - y0
        for dy, wy in ((0, 1 - fy), (1, fy)):
            for dx, wx in ((0, 1 - fx), (1, fx)):
                if 0 <= y0 + dy < kernel.shape[0] and 0 <= x0 + dx < kernel.shape[1]:
                    kernel[y0 + dy, x0 + dx] += wy * wx
    return kernel


def _gaussian_kernel(sigma_x: float, sigma_y: float, angle: float) -> np.ndarray:
    """An anisotropic, rotated Gaussian kernel."""
    r = int(np.ceil(3 * max(sigma_x, sigma_y)))
    y, x = np.mgrid[-r : r + 1, -r : r + 1].astype(np.float64)
    c, s = np.cos(angle), np.sin(angle)
    u, v = c * x + s * y, -s * x + c * y
    return np.exp(-0.5 * ((u / sigma_x) ** 2 + (v / sigma_y) ** 2))


def _jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    """Round-trip through PIL's JPEG encoder at ``quality``."""
    data = (np.clip(image, 0, 1) * 255.0 + 0.5).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(data).save(buffer, format="JPEG", quality=int(quality))
    buffer.seek(0)
    return np.asarray(Image.open(buffer), dtype=np.float64) / 255.0


def _srgb_to_linear(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 1e-8) ** 2.2


def _linear_to_srgb(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 1e-8) ** (1 / 2.2)


# --------------------------------------------------------------------------- visible kinds


def vis_low_light(image: np.ndarray, severity: str, rng: np.random.Generator) -> np.ndarray:
    """Low light by unprocessing the image, darkening in linear light and re-processing.

    Parameters
    ----------
    image : numpy.ndarray
        Visible image, float32 in [0, 1], ``(H, W, 3)`` or ``(H, W)``.
    severity : str
        ``"mild"``, ``"moderate"`` or ``"severe"``: the exposure scale (0.25-0.4,
        0.08-0.18, 0.025-0.06) and the shot-noise level.
    rng : numpy.random.Generator
        Source of every random draw.

    Returns
    -------
    numpy.ndarray
        The degraded image, float32 in [0, 1], same shape.

    Notes
    -----
    Brooks et al., "Unprocessing images for learned raw denoising", CVPR 2019:
    inverse smoothstep tone curve, inverse gamma 2.2, inverse white balance, then
    ``y ~ N(x, shot * x + read)`` with ``log read = 2.18 log shot + 1.2 + N(0, 0.26)``.
    """
    x = _start(image)
    exposure = _draw(rng, {"mild": (0.25, 0.4), "moderate": (0.08, 0.18), "severe": (0.025, 0.06)}, severity)
    log_shot = _draw(rng, {"mild": (np.log(1e-4), np.log(4e-4)), "moderate": (np.log(4e-4), np.log(1.5e-3)),
                           "severe": (np.log(1.5e-3), np.log(5e-3))}, severity)
    shot = float(np.exp(log_shot))
    read = float(np.exp(2.18 * log_shot + 1.2 + rng.normal(0.0, 0.26)))
    # Inverse tone curve (inverse of 3x^2 - 2x^3) and inverse gamma.
    x = 0.5 - np.sin(np.arcsin(np.clip(1.0 - 2.0 * x, -1.0, 1.0)) / 3.0)
    x = _srgb_to_linear(x)
    gains = np.array([rng.uniform(1.9, 2.4), 1.0, rng.uniform(1.5, 1.9)]) if x.ndim == 3 else np.ones(1)
    x = x / gains * exposure
    x = x + rng.standard_normal(x.shape) * np.sqrt(shot * np.maximum(x, 0.0) + read)
    x = np.clip(x * gains, 0.0, 1.0)
    x = _linear_to_srgb(x)
    return _finish(3 * x**2 - 2 * x**3)


def vis_noise(image: np.ndarray, severity: str, rng: np.random.Generator) -> np.ndarray:
    """Signal-dependent Poisson-Gaussian sensor noise, then JPEG compression.

    Parameters
    ----------
    image : numpy.ndarray
        Visible image, float32 in [0, 1], ``(H, W, 3)`` or ``(H, W)``.
    severity : str
        ``"mild"``, ``"moderate"`` or ``"severe"``: photon scale, read-noise sigma
        and JPEG quality (70-60, 60-45, 45-30).
    rng : numpy.random.Generator
        Source of every random draw.

    Returns
    -------
    numpy.ndarray
        The degraded image, float32 in [0, 1], same shape.

    Notes
    -----
    ``y = a * Poisson(x / a) + N(0, b^2)`` (Foi et al., IEEE TIP 2008); a small
    cross-channel correlation imitates demosaicking.
    """
    x = _start(image)
    a = _draw(rng, {"mild": (0.002, 0.005), "moderate": (0.006, 0.014), "severe": (0.016, 0.035)}, severity)
    b = _draw(rng, {"mild": (0.008, 0.016), "moderate": (0.018, 0.032), "severe": (0.035, 0.06)}, severity)
    quality = round(_draw(rng, {"mild": (60, 70), "moderate": (45, 60), "severe": (30, 45)}, severity))
    y = a * rng.poisson(np.maximum(x, 0.0) / a)
    read = rng.standard_normal(x.shape) * b
    if x.ndim == 3:
        read = 0.75 * read + 0.25 * read.mean(axis=-1, keepdims=True)
    return _finish(_jpeg(np.clip(y + read, 0.0, 1.0), quality))


def vis_haze(image: np.ndarray, severity: str, rng: np.random.Generator) -> np.ndarray:
    """Haze by the atmospheric scattering model with a scene-dependent depth proxy.

    Parameters
    ----------
    image : numpy.ndarray
        Visible image, float32 in [0, 1], ``(H, W, 3)`` or ``(H, W)``.
    severity : str
        ``"mild"``, ``"moderate"`` or ``"severe"``: the mean extinction coefficient
        (0.5-0.9, 1.0-1.6, 1.8-2.6 over a depth in [0.25, 1]).
    rng : numpy.random.Generator
        Source of every random draw.

    Returns
    -------
    numpy.ndarray
        The degraded image, float32 in [0, 1], same shape.

    Notes
    -----
    Depth proxy: a heavy blur of the luminance (bright, flat regions such as sky read
    as far) mixed with a random smooth field; extinction varies in space (uneven
    density); the airlight has a random tint.
    """
    x = _start(image)
    h, w = x.shape[:2]
    beta = _draw(rng, {"mild": (0.5, 0.9), "moderate": (1.0, 1.6), "severe": (1.8, 2.6)}, severity)
    luma_far = ndimage.gaussian_filter(_luma(x), sigma=max(h, w) / 25.0)
    luma_far = (luma_far - luma_far.min()) / max(float(np.ptp(luma_far)), 1e-6)
    mix = rng.uniform(0.35, 0.65)
    depth = 0.25 + 0.75 * (mix * luma_far + (1 - mix) * _smooth_field((h, w), rng, int(rng.integers(2, 5))))
    density = 0.55 + 0.9 * _smooth_field((h, w), rng, int(rng.integers(3, 7)))
    t = np.exp(-beta * density * depth)
    level = rng.uniform(0.75, 0.95)
    if x.ndim == 3:
        tint = rng.normal(0.0, 0.05, 3)
        airlight = np.clip(level * (1.0 + tint - tint.mean()), 0.5, 1.0)
    else:
        airlight = np.array(level)
    t = _per_pixel(t, x)
    return _finish(x * t + airlight * (1.0 - t))


def vis_rain(image: np.ndarray, severity: str, rng: np.random.Generator) -> np.ndarray:
    """Rain as motion-blurred streak layers at random angles, with a veiling term.

    Parameters
    ----------
    image : numpy.ndarray
        Visible image, float32 in [0, 1], ``(H, W, 3)`` or ``(H, W)``.
    severity : str
        ``"mild"``, ``"moderate"`` or ``"severe"``: drop density, streak length,
        streak brightness and veiling.
    rng : numpy.random.Generator
        Source of every random draw.

    Returns
    -------
    numpy.ndarray
        The degraded image, float32 in [0, 1], same shape.
    """
    x = _start(image)
    h, w = x.shape[:2]
    density = _draw(rng, {"mild": (0.002, 0.004), "moderate": (0.005, 0.009), "severe": (0.010, 0.018)},
                    severity)
    length = _draw(rng, {"mild": (8, 14), "moderate": (14, 24), "severe": (22, 36)}, severity)
    bright = _draw(rng, {"mild": (0.35, 0.5), "moderate": (0.5, 0.7), "severe": (0.7, 0.9)}, severity)
    veil = _draw(rng, {"mild": (0.02, 0.06), "moderate": (0.06, 0.12), "severe": (0.12, 0.22)}, severity)
    base_angle = np.deg2rad(90.0 + rng.uniform(-35.0, 35.0))  # near vertical, random lean
    rain = np.zeros((h, w))
    for layer in range(int(rng.integers(2, 4))):
        depth_scale = 1.0 / (1 + layer)  # farther layers: shorter, fainter, denser
        drops = (rng.random((h, w)) < density * (1 + 0.5 * layer)).astype(np.float64)
        drops *= rng.uniform(0.5, 1.0, (h, w))
        drops = ndimage.gaussian_filter(drops, 0.6 + 0.4 * depth_scale)
        angle = base_angle + np.deg2rad(rng.normal(0.0, 6.0))
        streaks = _convolve(drops, _line_kernel(max(3.0, length * depth_scale), angle))
        streaks /= max(float(np.percentile(streaks, 99.9)), 1e-6)
        rain = 1.0 - (1.0 - rain) * (1.0 - np.clip(bright * depth_scale ** 0.5 * streaks, 0, 1))
    rain = _per_pixel(rain, x)
    out = 1.0 - (1.0 - x) * (1.0 - rain)  # screen composite: streaks brighten
    veil_colour = rng.uniform(0.75, 0.9)
    out = out * (1 - veil) + veil * veil_colour
    # Rain scatters light a little: a faint overall softening.
    soften = ndimage.gaussian_filter(out, (0.7, 0.7, 0) if out.ndim == 3 else 0.7)
    return _finish(0.7 * out + 0.3 * soften)


def _random_blur_kernel(rng: np.random.Generator, scale: float) -> np.ndarray:
    choice = rng.choice(["disk", "motion", "gaussian"])
    if choice == "disk":
        return _disk_kernel(rng.uniform(0.6, 1.0) * 3.0 * scale)
    if choice == "motion":
        return _line_kernel(max(2.0, rng.uniform(0.6, 1.0) * 9.0 * scale), rng.uniform(0, np.pi))
    sx = rng.uniform(0.5, 1.0) * 2.0 * scale
    sy = sx * rng.uniform(0.4, 1.0)
    return _gaussian_kernel(max(sx, 0.3), max(sy, 0.3), rng.uniform(0, np.pi))


def vis_blur(image: np.ndarray, severity: str, rng: np.random.Generator) -> np.ndarray:
    """Second-order blur: two passes of random defocus, motion or Gaussian kernels.

    Parameters
    ----------
    image : numpy.ndarray
        Visible image, float32 in [0, 1], ``(H, W, 3)`` or ``(H, W)``.
    severity : str
        ``"mild"``, ``"moderate"`` or ``"severe"``: the kernel size scale (the second
        pass is smaller than the first).
    rng : numpy.random.Generator
        Source of every random draw.

    Returns
    -------
    numpy.ndarray
        The degraded image, float32 in [0, 1], same shape.

    Notes
    -----
    The high-order degradation idea of Real-ESRGAN (Wang et al., ICCVW 2021); kernel
    families after its ``generate_kernel`` choices (isotropic/anisotropic Gaussian,
    plus defocus disks and linear motion).
    """
    x = _start(image)
    scale = _draw(rng, {"mild": (0.5, 0.8), "moderate": (0.9, 1.3), "severe": (1.5, 2.2)}, severity)
    x = _convolve(x, _random_blur_kernel(rng, scale))
    x = _convolve(x, _random_blur_kernel(rng, scale * rng.uniform(0.4, 0.7)))
    return _finish(x)


def vis_overexposure(image: np.ndarray, severity: str, rng: np.random.Generator) -> np.ndarray:
    """Overexposure: linear-light gain, sensor saturation and bloom of the clipped excess.

    Parameters
    ----------
    image : numpy.ndarray
        Visible image, float32 in [0, 1], ``(H, W, 3)`` or ``(H, W)``.
    severity : str
        ``"mild"``, ``"moderate"`` or ``"severe"``: exposure gain (1.3-1.7, 1.9-2.6,
        2.9-4) and bloom strength.
    rng : numpy.random.Generator
        Source of every random draw.

    Returns
    -------
    numpy.ndarray
        The degraded image, float32 in [0, 1], same shape.
    """
    x = _start(image)
    h, w = x.shape[:2]
    gain = _draw(rng, {"mild": (1.3, 1.7), "moderate": (1.9, 2.6), "severe": (2.9, 4.0)}, severity)
    bloom_amount = _draw(rng, {"mild": (0.1, 0.2), "moderate": (0.2, 0.35), "severe": (0.35, 0.55)},
                         severity)
    linear = _srgb_to_linear(x) * gain
    excess = np.maximum(linear - 1.0, 0.0)
    spill = excess.mean(axis=-1) if x.ndim == 3 else excess  # charge spills to all channels
    narrow = ndimage.gaussian_filter(spill, max(h, w) * rng.uniform(0.004, 0.008))
    wide = ndimage.gaussian_filter(spill, max(h, w) * rng.uniform(0.02, 0.04))
    bloom = _per_pixel(bloom_amount * (0.6 * narrow + 0.4 * wide), x)
    sensor = np.minimum(linear, 1.0) + bloom
    return _finish(_linear_to_srgb(np.minimum(sensor, 1.0)))


# --------------------------------------------------------------------------- infrared kinds


def ir_stripe_noise(image: np.ndarray, severity: str, rng: np.random.Generator) -> np.ndarray:
    """Column and row fixed-pattern noise with low-frequency non-uniformity.

    Parameters
    ----------
    image : numpy.ndarray
        Infrared image, float32 in [0, 1], ``(H, W)``.
    severity : str
        ``"mild"``, ``"moderate"`` or ``"severe"``: column offset sigma (0.01-0.02,
        0.025-0.045, 0.05-0.08); rows get 0.3-0.6 of it.
    rng : numpy.random.Generator
        Source of every random draw.

    Returns
    -------
    numpy.ndarray
        The degraded image, float32 in [0, 1], same shape.

    Notes
    -----
    Microbolometer readout: every column amplifier has its own offset and gain, and
    rows a weaker offset; offsets also cluster (a smooth component along the
    columns), and the lens/housing adds a low-frequency shading.
    """
    x = _start(image)
    h, w = x.shape[:2]
    sigma = _draw(rng, {"mild": (0.01, 0.02), "moderate": (0.025, 0.045), "severe": (0.05, 0.08)}, severity)
    columns = rng.normal(0.0, sigma, w)
    columns += ndimage.gaussian_filter1d(rng.normal(0.0, sigma * 2.0, w), 6.0)  # clustered offsets
    rows = rng.normal(0.0, sigma * rng.uniform(0.3, 0.6), h)
    column_gain = 1.0 + rng.normal(0.0, sigma * 0.8, w)
    shading = (_smooth_field((h, w), rng, 2) - 0.5) * sigma * rng.uniform(1.0, 2.5)
    out = x * _per_pixel(column_gain[None, :], x) + _per_pixel(columns[None, :] + rows[:, None] + shading, x)
    return _finish(out)


def ir_noise(image: np.ndarray, severity: str, rng: np.random.Generator) -> np.ndarray:
    """Temporal Gaussian noise plus per-pixel fixed-pattern offsets and gains.

    Parameters
    ----------
    image : numpy.ndarray
        Infrared image, float32 in [0, 1], ``(H, W)``.
    severity : str
        ``"mild"``, ``"moderate"`` or ``"severe"``: temporal sigma (0.015-0.03,
        0.035-0.06, 0.07-0.11); the fixed pattern is 0.3-0.6 of it.
    rng : numpy.random.Generator
        Source of every random draw.

    Returns
    -------
    numpy.ndarray
        The degraded image, float32 in [0, 1], same shape.
    """
    x = _start(image)
    sigma = _draw(rng, {"mild": (0.015, 0.03), "moderate": (0.035, 0.06), "severe": (0.07, 0.11)}, severity)
    fpn = sigma * rng.uniform(0.3, 0.6)
    offsets = rng.normal(0.0, fpn, x.shape[:2])
    offsets = 0.8 * offsets + 0.2 * ndimage.gaussian_filter(offsets, 1.0) * 3.0  # slight spatial texture
    gains = 1.0 + rng.normal(0.0, fpn, x.shape[:2])
    out = x * _per_pixel(gains, x) + _per_pixel(offsets, x) + rng.normal(0.0, sigma, x.shape)
    return _finish(out)


def ir_low_contrast(image: np.ndarray, severity: str, rng: np.random.Generator) -> np.ndarray:
    """Contrast compression into a narrow band with an offset drift.

    Parameters
    ----------
    image : numpy.ndarray
        Infrared image, float32 in [0, 1], ``(H, W)``.
    severity : str
        ``"mild"``, ``"moderate"`` or ``"severe"``: the band width (0.45-0.6,
        0.25-0.4, 0.12-0.22) and the drift amplitude.
    rng : numpy.random.Generator
        Source of every random draw.

    Returns
    -------
    numpy.ndarray
        The degraded image, float32 in [0, 1], same shape.

    Notes
    -----
    A badly set automatic gain control: the scene range is mapped into
    ``[offset, offset + width]`` after a mild tone nonlinearity, the offset drifts
    smoothly across the frame (non-uniform housing temperature) and the result is
    quantised to 8 bits as a camera would output it.
    """
    x = _start(image)
    h, w = x.shape[:2]
    width = _draw(rng, {"mild": (0.45, 0.6), "moderate": (0.25, 0.4), "severe": (0.12, 0.22)}, severity)
    drift = _draw(rng, {"mild": (0.01, 0.03), "moderate": (0.03, 0.05), "severe": (0.04, 0.07)}, severity)
    gamma = float(np.exp(rng.uniform(np.log(0.8), np.log(1.25))))
    lo, hi = np.percentile(x, (0.5, 99.5))
    normalised = np.clip((x - lo) / max(hi - lo, 1e-3), 0.0, 1.0) ** gamma
    offset = rng.uniform(0.15, 0.85 - width)
    field = _per_pixel((_smooth_field((h, w), rng, 2) - 0.5) * 2.0 * drift, x)
    out = offset + width * normalised + field
    return _finish(np.round(np.clip(out, 0, 1) * 255.0) / 255.0)


# --------------------------------------------------------------------------- registry

Degradation = Callable[[np.ndarray, str, np.random.Generator], np.ndarray]

#: kind -> (camera, function); the camera is ``"vis"`` or ``"ir"``.
KINDS: dict[str, tuple[str, Degradation]] = {
    "vis_low_light": ("vis", vis_low_light),
    "vis_overexposure": ("vis", vis_overexposure),
    "vis_noise": ("vis", vis_noise),
    "vis_haze": ("vis", vis_haze),
    "vis_rain": ("vis", vis_rain),
    "vis_blur": ("vis", vis_blur),
    "ir_low_contrast": ("ir", ir_low_contrast),
    "ir_noise": ("ir", ir_noise),
    "ir_stripe_noise": ("ir", ir_stripe_noise),
}


def degrade(
    infrared: np.ndarray, visible: np.ndarray, kind: str, severity: str, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Degrade the camera that ``kind`` belongs to; the other image is returned as a float32 copy.

    Parameters
    ----------
    infrared : numpy.ndarray
        ``(H, W)`` float32 in [0, 1].
    visible : numpy.ndarray
        ``(H, W, 3)`` or ``(H, W)`` float32 in [0, 1].
    kind : str
        A key of :data:`KINDS`.
    severity : str
        One of :data:`SEVERITIES`.
    rng : numpy.random.Generator
        Source of every random draw.

    Returns
    -------
    tuple of numpy.ndarray
        ``(infrared, visible)``, float32 in [0, 1].
    """
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; expected one of {sorted(KINDS)}")
    camera, fn = KINDS[kind]
    ir = np.array(infrared, dtype=np.float32, copy=True)
    vis = np.array(visible, dtype=np.float32, copy=True)
    if camera == "ir":
        return fn(ir, severity, rng), vis
    return ir, fn(vis, severity, rng)
