"""Classical, training-free restoration steps, one per degradation Control.

Every step takes a 2-D float32 image in ``[0, 1]`` and a ``strength`` in
``[0, 1]`` and returns a new image; strength 0 returns the input unchanged.
Every step gives a finite image in ``[0, 1]`` for any finite input in that range,
including constant (black, white) and tiny (1x1, 1xN) images.
:func:`restore_visible` and :func:`restore_infrared` apply the steps a Controls
asks for, in the reverse of the physical degradation order. Part of the core,
not of one engine: the ``classic`` engine restores with them, and the ``lite``
engine routes some kinds through them before its network.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import ndimage

from napari_textif.controls import Controls


def guided_filter(guide: np.ndarray, src: np.ndarray, *, radius: int, eps: float) -> np.ndarray:
    """Edge-preserving smoothing of ``src`` steered by ``guide`` (He, Sun & Tang, ECCV 2010).

    Examples
    --------
    >>> flat = np.full((16, 16), 0.5, np.float32)
    >>> np.allclose(guided_filter(flat, flat, radius=2, eps=1e-3), 0.5)
    True
    """
    size = 2 * radius + 1

    def box(x: np.ndarray) -> np.ndarray:
        return ndimage.uniform_filter(x, size, mode="reflect")

    mean_i, mean_p = box(guide), box(src)
    cov = box(guide * src) - mean_i * mean_p
    var = box(guide * guide) - mean_i * mean_i
    a = cov / (var + eps)
    b = mean_p - a * mean_i
    return (box(a) * guide + box(b)).astype(np.float32)


def _equalize(image: np.ndarray, clip_limit: float) -> np.ndarray:
    # scikit-image's exposure module pulls in scipy.stats (~1 s): import it on first use.
    from skimage import exposure

    return exposure.equalize_adapthist(image, clip_limit=clip_limit).astype(np.float32)


def _blend(original: np.ndarray, restored: np.ndarray, strength: float) -> np.ndarray:
    return np.clip((1.0 - strength) * original + strength * restored, 0.0, 1.0).astype(np.float32)


def _gamma_for_mean(image: np.ndarray, target: float) -> float:
    sample = np.clip(image[::4, ::4], 0.0, 1.0)
    low, high = 0.1, 1.0
    for _ in range(12):
        mid = 0.5 * (low + high)
        low, high = (mid, high) if np.power(sample, mid).mean() > target else (low, mid)
    return 0.5 * (low + high)


def brighten(image: np.ndarray, strength: float, *, target_mean: float = 0.45) -> np.ndarray:
    """Lift a dark image with a gamma chosen so its mean approaches ``target_mean``."""
    if strength <= 0 or image.mean() >= target_mean:
        return image
    gamma = _gamma_for_mean(image, target_mean)
    lifted = np.power(np.clip(image, 0, 1), 1.0 + np.sqrt(strength) * (gamma - 1.0))
    return _blend(lifted, _equalize(lifted, 0.008), 0.3 * strength)


def compress_highlights(image: np.ndarray, strength: float) -> np.ndarray:
    """Pull down glare and recover local contrast in bright, washed-out areas."""
    if strength <= 0:
        return image
    compressed = np.power(np.clip(image, 0, 1), 1.0 + 1.5 * strength)
    local = _equalize(compressed, 0.01)
    return _blend(compressed, local, 0.5 * strength)


def noise_sigma(image: np.ndarray) -> float:
    """Robust Gaussian noise sigma of a 2-D image (:func:`skimage.restoration.estimate_sigma`).

    scikit-image's wavelet estimate, made total: an image without any non-zero
    detail (a constant image) has sigma 0 instead of NaN, and its warnings about
    empty slices and about narrow images looking like colour channels are not
    passed on (the image is always one 2-D channel here).

    Parameters
    ----------
    image : ndarray
        ``(H, W)`` float image; any size from 1x1.

    Returns
    -------
    float
        A finite, non-negative sigma in the image's units.

    Examples
    --------
    >>> noise_sigma(np.zeros((8, 8), np.float32))
    0.0
    >>> sigma = noise_sigma(np.random.default_rng(0).normal(0.5, 0.05, (128, 128)))
    >>> bool(abs(sigma - 0.05) < 0.005)
    True
    """
    from skimage.restoration import estimate_sigma

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", UserWarning)
        sigma = float(estimate_sigma(np.asarray(image, np.float64), channel_axis=None))
    return sigma if np.isfinite(sigma) else 0.0


def denoise(image: np.ndarray, strength: float, *, impulse: bool = False) -> np.ndarray:
    """Remove sensor noise: a median for impulses, then guided self-filtering."""
    if strength <= 0:
        return image
    work = ndimage.median_filter(image, 3) if impulse else image
    sigma = noise_sigma(image) + 0.01 * strength
    smooth = guided_filter(work, work, radius=2, eps=(1.5 * sigma) ** 2)
    return _blend(image, smooth, min(1.0, 0.4 + strength))


def dehaze(image: np.ndarray, strength: float, *, patch: int = 15) -> np.ndarray:
    """Remove haze with the dark-channel prior (He, Sun & Tang, CVPR 2009) on luminance."""
    if strength <= 0:
        return image
    dark = ndimage.minimum_filter(image, patch)
    # The haziest 0.1 % of the dark channel; never an empty selection (the max always counts).
    haziest = image[dark >= min(float(np.percentile(dark, 99.9)), float(dark.max()))]
    airlight = max(float(np.percentile(haziest, 90)) if haziest.size else 1.0, 0.3)
    transmission = 1.0 - 0.95 * strength * dark / airlight
    transmission = guided_filter(image, transmission, radius=patch * 2, eps=1e-3)
    restored = (image - airlight) / np.maximum(transmission, 0.15) + airlight
    return np.clip(restored, 0.0, 1.0).astype(np.float32)


def derain(image: np.ndarray, strength: float) -> np.ndarray:
    """Suppress thin, bright, near-vertical rain streaks with a horizontal grey opening."""
    if strength <= 0:
        return image
    opened = ndimage.grey_opening(image, size=(1, 5))
    streaks = np.clip(image - opened, 0, None)
    mask = ndimage.gaussian_filter((streaks > 0.04).astype(np.float32), 1.0)
    return _blend(image, image - mask * streaks, strength)


def sharpen(image: np.ndarray, strength: float) -> np.ndarray:
    """Undo mild blur with an unsharp mask whose amount follows ``strength``."""
    if strength <= 0:
        return image
    blurred = ndimage.gaussian_filter(image, 1.5)
    return np.clip(image + 1.5 * strength * (image - blurred), 0.0, 1.0).astype(np.float32)


def stretch_contrast(image: np.ndarray, strength: float) -> np.ndarray:
    """Stretch a flat image between its 1st and 99th percentiles, then equalise locally."""
    if strength <= 0:
        return image
    lo, hi = np.percentile(image, (1, 99))
    stretched = np.clip((image - lo) / max(hi - lo, 1e-3), 0.0, 1.0)
    local = _equalize(stretched, 0.01)
    return _blend(image, (1 - 0.4 * strength) * stretched + 0.4 * strength * local, strength)


def destripe(image: np.ndarray, strength: float) -> np.ndarray:
    """Remove column fixed-pattern offsets: the per-column median of the horizontal high-pass."""
    if strength <= 0:
        return image
    highpass = image - ndimage.gaussian_filter1d(image, 3.0, axis=1)
    offsets = np.median(highpass, axis=0)
    return np.clip(image - strength * offsets[None, :], 0.0, 1.0).astype(np.float32)


def restore_visible(y: np.ndarray, c: Controls) -> np.ndarray:
    """Apply the visible-image restoration steps that ``c`` asks for."""
    y = denoise(y, c.vis_noise)
    y = brighten(y, c.vis_low_light)
    if c.vis_low_light > 0:
        y = denoise(y, 0.5 * c.vis_low_light)
    y = compress_highlights(y, c.vis_overexposure)
    y = sharpen(y, c.vis_blur)
    y = derain(y, c.vis_rain)
    return dehaze(y, c.vis_haze)


def restore_infrared(ir: np.ndarray, c: Controls) -> np.ndarray:
    """Apply the infrared restoration steps that ``c`` asks for."""
    ir = destripe(ir, c.ir_stripe_noise)
    ir = denoise(ir, c.ir_noise, impulse=True)
    return stretch_contrast(ir, c.ir_low_contrast)
