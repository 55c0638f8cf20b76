"""Classical, training-free restoration steps, one per degradation Control.

Every step takes a 2-D float32 image in ``[0, 1]`` and a ``strength`` in
``[0, 1]`` and returns a new image; strength 0 returns the input unchanged.
Every step gives a finite image in ``[0, 1]`` for any finite input in that range,
including constant (black, white) and tiny (1x1, 1xN) images.
:func:`restore_visible` and :func:`restore_infrared` apply the steps a Controls
asks for, in the reverse of the physical degradation order. Part of the core,
not of one engine: the ``classic`` engine restores with them, and the ``lite``
engine routes some kinds through them before its network.

Each step separates what it must know about the *whole* image (noise sigma,
airlight, exposure, percentiles, stripe offsets: measured once, on a strided
sample of at most :data:`SAMPLE_SIDE` pixels where a sample suffices) from its
local work (filters), which runs on overlapping tiles of :data:`TILE` pixels
blended like the networks' tiles (:func:`napari_textif.imaging.tiled`), so an
8192 x 8192 image is restored in bounded memory and with the same result as in
one piece up to the blending of the overlaps.

The filters come from OpenCV (non-local means, guided filter) and SciPy.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Callable, Iterator

import numpy as np
from scipy import ndimage

from napari_textif import detection, imaging
from napari_textif.controls import Controls

#: Local work runs on tiles of this side (whole image when it is not larger).
TILE = 1024
#: Tile overlap; wider than the largest filter support (the dehazing guided filter, 30 px).
TILE_OVERLAP = 64
#: Global statistics are read from a strided sample at most this many pixels on a side.
SAMPLE_SIDE = 1024
#: Non-local means filter strength per unit of estimated noise sigma.
NLM_H = 1.2
#: Stops of linear-light exposure that a low-light strength of 1 makes up for (at most).
LOW_LIGHT_STOPS = 5.0
#: Visible kinds whose restoration changes the colour, not only the luminance (:func:`recolour`,
#: :func:`dehaze_color`): an engine's result keeps the restored image's chroma for them.
COLOUR_KINDS = frozenset({"vis_low_light", "vis_noise", "vis_haze"})
#: Brightening raises the chroma by this power of the luminance gain (1 would keep the
#: saturation of a pure exposure gain, 0 the dark image's muted colour). Chosen on the 9 real
#: low-light *training* scenes of ``degraded_pairs``: the mean chroma distance to the reference
#: is 9.55 (1/255) with the input's chroma and 7.57 / 6.95 / 6.42 / 6.07 / 6.00 at powers
#: 0.3-0.7; 0.6 keeps the three MSRS night scenes closer than 0.7 does.
CHROMA_GAIN_POWER = 0.6
#: Guided filter (radius in pixels, eps) that removes the chroma noise of a noisy or brightened
#: image, steered by its restored luminance. Chosen on the 27 real noisy and low-light training
#: scenes of ``degraded_pairs``: mean chroma distance to the reference 13.28 (1/255) with the
#: input's chroma, 5.30 / 5.06 / 5.20 at radius 2 / 4 / 8 (eps 1e-3), 5.21 / 5.07 at eps 1e-4 / 1e-2.
CHROMA_FILTER = (4, 1e-3)
#: Largest contrast gain of the infrared stretch (at strength 1; ``1 + s (g - 1)`` below). The
#: real low-contrast infrared training scenes of ``degraded_pairs`` were compressed by 1.3-2.4x
#: (their references are naturally narrow-range thermal images), so a full stretch of a narrow
#: band to 0.02-0.98 (up to 4x there) over-brightened them. Chosen on the selection set, as the
#: gain whose worst column (mild / moderate / severe / real) is best: 1.5 / 1.75 / 2 / 2.25 /
#: 2.5 / 3 / none give worst columns -0.05 / +0.05 / **+0.15** / +0.07 / -0.06 / -0.32 / -0.95.
IR_MAX_GAIN = 2.0
#: Floor of the transmission that the colour dehazing divides the *chroma* by (the luminance
#: keeps the floor 0.15). Where the haze is thick, or a bright sky lies close to the airlight,
#: the transmission is small and dividing by it multiplies the chroma's small deviations from the
#: airlight's colour into vivid false colour. Chosen on the selection set (our simulator's haze on
#: 4 training pairs at 0.3 / 0.6 / 0.9, and the 4 real hazy training scenes;
#: ``restoration_selection.py --kinds vis_haze --chroma``) by the mean chroma gain (1/255),
#: mild / moderate / severe / real: floor 0.15 (none) -0.12 +1.65 -1.01 +1.41; 0.3 -0.08 +2.86
#: -0.34 +1.41; **0.4 +0.28 +3.00 -0.16 +1.41**; 0.5 +0.70 +2.42 -0.07 +1.33; 0.6 +1.01 +1.68
#: -0.00 +1.18; 0.7 +1.06 +1.11 +0.02 +0.94. The SSIM gains do not change.
CHROMA_TRANSMISSION_FLOOR = 0.4


def _cv2():  # type: ignore[no-untyped-def]
    import cv2  # imported on first use: ~0.1 s, and the core must import cheaply

    return cv2


@contextlib.contextmanager
def _one_cv2_thread() -> Iterator[None]:
    """Run OpenCV on the calling thread only, restoring its setting afterwards.

    The steps already run inside the engines' and dask's thread budgets (one task
    per tile or frame); OpenCV's own pool on top oversubscribes the cores. One thread
    costs under 10 % at 640x480.
    """
    cv2 = _cv2()
    before = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        yield
    finally:
        cv2.setNumThreads(before)


def guided_filter(guide: np.ndarray, src: np.ndarray, *, radius: int, eps: float) -> np.ndarray:
    """Edge-preserving smoothing of ``src`` steered by ``guide`` (He, Sun & Tang, ECCV 2010).

    OpenCV's ``ximgproc.guidedFilter`` on float32 images.

    Examples
    --------
    >>> flat = np.full((16, 16), 0.5, np.float32)
    >>> np.allclose(guided_filter(flat, flat, radius=2, eps=1e-3), 0.5)
    True
    """
    g = np.ascontiguousarray(guide, np.float32)
    with _one_cv2_thread():
        return _cv2().ximgproc.guidedFilter(g, np.ascontiguousarray(src, np.float32), radius, eps, -1)


def _sample(image: np.ndarray) -> np.ndarray:
    step = max(1, math.ceil(max(image.shape[:2]) / SAMPLE_SIDE))
    return image[::step, ::step]


def _tiled(fn: Callable[..., np.ndarray], image: np.ndarray, *more: np.ndarray) -> np.ndarray:
    """``fn`` on the whole image(s) when they fit one tile, else on blended overlapping tiles."""
    if max(image.shape[:2]) <= TILE:
        return np.asarray(fn(image, *more), np.float32)
    return imaging.tiled(fn, (image, *more), tile=TILE, overlap=TILE_OVERLAP)


def _blend(original: np.ndarray, restored: np.ndarray, strength: float) -> np.ndarray:
    return np.clip((1.0 - strength) * original + strength * restored, 0.0, 1.0).astype(np.float32)


def _soft_clip(image: np.ndarray, knee: float = 0.8) -> np.ndarray:
    """Identity below ``knee``, then a smooth shoulder that approaches 1 (no hard clipping)."""
    over = np.maximum(image - knee, 0.0)
    return np.where(image > knee, knee + (1.0 - knee) * np.tanh(over / (1.0 - knee)), image)


def _exposure_gain(image: np.ndarray, target_mean: float) -> float:
    """The gain that moves the mean of ``image`` to ``target_mean`` (within 1/16..16)."""
    return float(np.clip(target_mean / max(float(_sample(image).mean()), 1e-3), 1 / 16, 16.0))


def brighten(image: np.ndarray, strength: float, *, target_mean: float = 0.4) -> np.ndarray:
    """Undo under-exposure: a gain towards ``target_mean``, with a soft shoulder for the highlights.

    Under-exposure scales the light (Brooks et al., CVPR 2019), so its inverse is an
    exposure gain, not a tone curve; ``strength`` sets the fraction of it in stops
    (``gain ** strength``). The order of brightness is kept (no local equalisation);
    the noise the lift reveals is removed afterwards by :func:`restore_visible`.
    """
    if strength <= 0 or image.mean() >= target_mean:
        return image
    gain = min(_exposure_gain(image, target_mean), 2.0 ** (LOW_LIGHT_STOPS * strength / 2.2))
    return np.clip(_soft_clip(image * gain), 0.0, 1.0).astype(np.float32)


def compress_highlights(image: np.ndarray, strength: float, *, target_mean: float = 0.45) -> np.ndarray:
    """Undo over-exposure: remove the veiling offset (1st percentile), then a gain below 1.

    The gain moves the mean towards ``target_mean``; ``strength`` sets the fraction
    of both in stops. Clipped highlights cannot come back; their surroundings do.
    """
    if strength <= 0 or image.mean() <= target_mean:
        return image
    black = strength * float(np.percentile(_sample(image), 1))
    lifted = (image - black) / max(1.0 - black, 1e-3)
    gain = _exposure_gain(lifted, target_mean) ** strength
    return np.clip(lifted * gain, 0.0, 1.0).astype(np.float32)


def _wavelet_sigma(image: np.ndarray) -> float:
    from skimage.restoration import estimate_sigma

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", UserWarning)
        sigma = float(estimate_sigma(np.asarray(image, np.float64), channel_axis=None))
    return sigma if np.isfinite(sigma) else 0.0


def noise_sigma(image: np.ndarray, *, correlated: bool = False) -> float:
    """Robust noise sigma of a 2-D image; ``correlated`` also looks at half resolution.

    scikit-image's wavelet estimate (:func:`skimage.restoration.estimate_sigma`)
    reads the finest scale only. Noise that a visible camera's demosaicking and JPEG
    have smoothed is spatially correlated and hardly shows there (at JPEG quality 50
    the finest scale reads a fifth of the true sigma), but it does at half
    resolution: averaging 2 x 2 blocks halves white noise, so twice the sigma of the
    block-mean image estimates the same sigma. With ``correlated`` the larger of the
    two is returned. (Infrared noise is left to the finest scale: there the half
    resolution estimate lost on the selection set, reading structure as noise.)
    An image without any non-zero detail has sigma 0 instead of NaN, and
    scikit-image's warnings about empty slices and narrow images are not passed on.

    Parameters
    ----------
    image : ndarray
        ``(H, W)`` float image; any size from 1x1.
    correlated : bool
        Also estimate at half resolution and return the larger sigma.

    Returns
    -------
    float
        A finite, non-negative sigma in the image's units.

    Examples
    --------
    >>> noise_sigma(np.zeros((8, 8), np.float32))
    0.0
    >>> sigma = noise_sigma(np.random.default_rng(0).normal(0.5, 0.05, (128, 128)), correlated=True)
    >>> bool(abs(sigma - 0.05) < 0.005)
    True
    """
    fine = _wavelet_sigma(image)
    if not correlated or min(image.shape[:2]) < 4:
        return fine
    return max(fine, 2.0 * _wavelet_sigma(imaging.block_mean(image, 2)))


def _nl_means(image: np.ndarray, h: float) -> np.ndarray:
    """OpenCV's non-local means on 8 bits; the input's sub-8-bit remainder is kept."""
    quantised = np.clip(np.rint(image * 255.0), 0, 255).astype(np.uint8)
    with _one_cv2_thread():
        smooth = _cv2().fastNlMeansDenoising(quantised, h=float(h * 255.0), templateWindowSize=5,
                                             searchWindowSize=11)
    return (image + (smooth.astype(np.float32) - quantised) / 255.0).astype(np.float32)


def _remove_impulses(image: np.ndarray) -> np.ndarray:
    """Replace isolated outliers (further than 0.2 from their 3x3 median) by that median."""
    median = ndimage.median_filter(image, 3, mode="reflect")
    return np.where(np.abs(image - median) > 0.2, median, image).astype(np.float32)


def denoise(
    image: np.ndarray, strength: float, *, impulse: bool = False, correlated: bool = False
) -> np.ndarray:
    """Remove sensor noise by non-local means with a strength set by the estimated sigma.

    The sigma (:func:`noise_sigma`, on a central crop) sets the filter, so a clean
    image is barely touched; ``strength`` blends towards the filtered image
    (fully from 0.5). ``impulse`` first replaces isolated outliers by their median;
    ``correlated`` estimates sigma for noise a camera pipeline smoothed (visible images).
    """
    if strength <= 0:
        return image
    sigma = noise_sigma(imaging.centre_crop(image, 512), correlated=correlated)
    work = _tiled(_remove_impulses, image) if impulse else image
    if sigma <= 0:
        return work
    smooth = _tiled(lambda tile: _nl_means(tile, NLM_H * sigma), work)
    return _blend(work, smooth, min(1.0, 2.0 * strength))


def dehaze(image: np.ndarray, strength: float, *, patch: int = 15) -> np.ndarray:
    """Remove haze with the dark-channel prior (He, Sun & Tang, CVPR 2009) on luminance.

    The airlight is measured once on the whole image; the transmission
    ``1 - 0.95 strength dark / airlight`` is refined by a guided filter and floored at 0.15.
    """
    if strength <= 0:
        return image
    airlight = float(detection.airlight(_sample(image), patch=patch))

    def local(tile: np.ndarray) -> np.ndarray:
        dark = detection.dark_channel(tile, patch=patch)
        transmission = 1.0 - 0.95 * strength * dark / airlight
        transmission = guided_filter(tile, transmission, radius=patch * 2, eps=1e-3)
        return (tile - airlight) / np.maximum(transmission, 0.15) + airlight

    return np.clip(_tiled(local, image), 0.0, 1.0).astype(np.float32)


def dehaze_color(rgb: np.ndarray, strength: float, *, patch: int = 15) -> np.ndarray:
    """Remove haze from a colour image with the dark-channel prior (He, Sun & Tang, CVPR 2009).

    The prior as published: the dark channel is the minimum over the three channels
    (each divided by its airlight) and a ``patch`` window, so a tinted haze is removed
    with its tint and a saturated colour is not mistaken for haze, which a dark channel
    of the luminance alone (:func:`dehaze`) cannot do. The airlight colour is measured
    once on the whole image; the transmission ``1 - 0.95 strength dark`` is refined by a
    guided filter on the luminance and floored at 0.15 for the luminance and at
    :data:`CHROMA_TRANSMISSION_FLOOR` for the chroma, so thick haze and bright sky do not turn
    into vivid false colour. A 2-D image goes to :func:`dehaze`.

    Parameters
    ----------
    rgb : ndarray
        ``(H, W, 3)`` float32 image in ``[0, 1]`` (or ``(H, W)``).
    strength : float
        In ``[0, 1]``; 0 returns the input.
    patch : int
        Side of the dark-channel window in pixels.

    Returns
    -------
    ndarray
        A new float32 image in ``[0, 1]`` of the input's shape.

    Examples
    --------
    >>> hazy = np.full((32, 32, 3), 0.8, np.float32)
    >>> hazy[8:24, 8:24] = (0.5, 0.6, 0.7)
    >>> clear = dehaze_color(hazy, 1.0)
    >>> bool(clear[16, 16].std() > hazy[16, 16].std())
    True
    """
    if strength <= 0:
        return rgb
    if rgb.ndim == 2:
        return dehaze(rgb, strength, patch=patch)
    airlight = detection.airlight(_sample(rgb), patch=patch)

    def local(tile: np.ndarray) -> np.ndarray:
        dark = detection.dark_channel(tile, patch=patch, airlight=airlight)
        transmission = guided_filter(imaging.to_gray(tile), 1.0 - 0.95 * strength * dark,
                                     radius=patch * 2, eps=1e-3)
        haze = tile - airlight
        restored = np.clip(haze / np.maximum(transmission, 0.15)[..., None] + airlight, 0.0, 1.0)
        colour = haze / np.maximum(transmission, CHROMA_TRANSMISSION_FLOOR)[..., None] + airlight
        return np.clip(imaging.with_luminance(np.clip(colour, 0.0, 1.0), imaging.to_gray(restored)), 0.0, 1.0)

    # Clipped per tile (a blend of values in [0, 1] stays there): no full-size copies at 8192 px.
    return _tiled(local, rgb)


def derain(image: np.ndarray, strength: float) -> np.ndarray:
    """Suppress thin, bright, near-vertical rain streaks with a horizontal grey opening."""
    if strength <= 0:
        return image

    def local(tile: np.ndarray) -> np.ndarray:
        streaks = np.clip(tile - ndimage.grey_opening(tile, size=(1, 5)), 0, None)
        mask = ndimage.gaussian_filter((streaks > 0.04).astype(np.float32), 1.0)
        return tile - mask * streaks

    return _blend(image, _tiled(local, image), strength)


def sharpen(image: np.ndarray, strength: float) -> np.ndarray:
    """Undo mild blur with an unsharp mask whose amount follows ``strength``.

    (Wiener deconvolution with a Gaussian kernel sized from the strength was tried
    and lost to this on the selection set: ``benchmarks/restoration_selection.py``.)
    """
    if strength <= 0:
        return image

    def local(tile: np.ndarray) -> np.ndarray:
        return tile + 1.5 * strength * (tile - ndimage.gaussian_filter(tile, 1.5))

    return np.clip(_tiled(local, image), 0.0, 1.0).astype(np.float32)


def stretch_contrast(image: np.ndarray, strength: float, *, target: tuple[float, float] = (0.02, 0.98),
                     max_gain: float = IR_MAX_GAIN) -> np.ndarray:
    """Widen a flat image by one global monotonic (linear) map of its 0.5-99.5 percentiles.

    The low percentile moves towards ``target[0]`` (the lifted black level is removed) and the
    range widens towards ``target``, by a gain of at most ``1 + strength * (max_gain - 1)``;
    at strength 1 without that limit the percentiles land on ``target``. Brightness order and
    the image's own tones are kept (no local equalisation); the map never narrows the range,
    though its top may clip. Since the map is pinned at the low end, a bright narrow band
    also gets darker (the real low-contrast references are dark thermal images).
    """
    if strength <= 0:
        return image
    lo, hi = (float(v) for v in np.percentile(_sample(image), (0.5, 99.5)))
    new_lo, new_hi = lo + strength * (target[0] - lo), hi + strength * (target[1] - hi)
    scale = min((new_hi - new_lo) / max(hi - lo, 1e-3), 1.0 + strength * (max_gain - 1.0))
    return np.clip(new_lo + (image - lo) * max(scale, 1.0), 0.0, 1.0).astype(np.float32)


def _offsets(image: np.ndarray, axis: int) -> np.ndarray:
    """Per-column (axis 0) or per-row (axis 1) median of the high-pass across that line."""
    highpass = image - ndimage.gaussian_filter1d(image, 3.0, axis=1 - axis)
    return np.median(highpass, axis=axis)


def destripe(image: np.ndarray, strength: float) -> np.ndarray:
    """Remove fixed-pattern stripes: per-column, then per-row offsets (median of the high-pass).

    ``strength`` scales the removal (fully from 0.5).
    """
    if strength <= 0:
        return image
    amount = min(1.0, 2.0 * strength)
    out = image - amount * _offsets(image, 0)[None, :]
    out = out - amount * _offsets(out, 1)[:, None]
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def restore_visible(y: np.ndarray, c: Controls) -> np.ndarray:
    """Apply the visible-image restoration steps that ``c`` asks for."""
    y = denoise(y, c.vis_noise, correlated=True)
    y = brighten(y, c.vis_low_light)
    if c.vis_low_light > 0:
        y = denoise(y, 0.5 * c.vis_low_light, correlated=True)
    y = compress_highlights(y, c.vis_overexposure)
    y = sharpen(y, c.vis_blur)
    y = derain(y, c.vis_rain)
    return dehaze(y, c.vis_haze)


def restore_visible_color(visible: np.ndarray, c: Controls, *, restored: np.ndarray | None = None
                          ) -> np.ndarray:
    """:func:`restore_visible` for a colour image: the steps on its luminance, the chroma
    restored with them (:func:`recolour`), then haze removed in colour (:func:`dehaze_color`).
    A 2-D image is restored as luminance. ``restored`` is the luminance steps' result
    (``restore_visible`` of the gray, haze left out) when the caller already has it."""
    if visible.ndim == 2:
        return restore_visible(visible, c)
    luminance_steps = c.replace(vis_haze=0.0)
    if any(k.startswith("vis_") for k in luminance_steps.active()):
        visible = _restore_luminance(visible, luminance_steps, restored)  # temporaries freed first
    return dehaze_color(visible, c.vis_haze)


def _restore_luminance(visible: np.ndarray, c: Controls, restored: np.ndarray | None) -> np.ndarray:
    gray = imaging.to_gray(visible)
    return recolour(visible, gray, restore_visible(gray, c) if restored is None else restored, c)


def recolour(visible: np.ndarray, luminance: np.ndarray, restored: np.ndarray, c: Controls) -> np.ndarray:
    """The colour image ``visible`` with its ``luminance`` replaced by ``restored``, and its
    chroma restored as the steps of ``c`` ask.

    Brightening (``vis_low_light``) raises the chroma by :data:`CHROMA_GAIN_POWER` of the
    luminance gain, so the lifted colours are not left grey; brightening and denoising
    (``vis_noise``) then remove the chroma noise with a guided filter (:data:`CHROMA_FILTER`)
    steered by the restored luminance. Other steps keep the chroma as it is.

    Parameters
    ----------
    visible : ndarray
        ``(H, W, 3)`` float32 RGB in ``[0, 1]``; not modified.
    luminance, restored : ndarray
        ``(H, W)``: the luminance of ``visible`` and its restored version.
    c : Controls
        The visible steps that produced ``restored``.

    Returns
    -------
    ndarray
        A new ``(H, W, 3)`` float32 RGB image in ``[0, 1]`` whose luminance is ``restored``
        (up to gamut clipping).

    Examples
    --------
    >>> from napari_textif.imaging import rgb_to_ycbcr, to_gray
    >>> dark = np.zeros((32, 32, 3), np.float32)
    >>> dark[..., 0], dark[..., 2] = 0.12, 0.04  # a dim red
    >>> lifted = recolour(dark, to_gray(dark), to_gray(dark) * 4, Controls(vis_low_light=0.8))
    >>> bool(rgb_to_ycbcr(lifted)[..., 2].mean() - 0.5 > 2 * (rgb_to_ycbcr(dark)[..., 2].mean() - 0.5))
    True
    """
    if c.vis_low_light <= 0 and c.vis_noise <= 0:
        return imaging.with_luminance(visible, restored)
    radius, eps = CHROMA_FILTER

    def local(rgb: np.ndarray, before: np.ndarray, after: np.ndarray) -> np.ndarray:
        ycbcr = imaging.rgb_to_ycbcr(rgb)
        chroma = ycbcr[..., 1:] - 0.5
        if c.vis_low_light > 0:
            gain = np.clip(after / np.maximum(before, 1e-3), 1.0, 8.0) ** CHROMA_GAIN_POWER
            chroma *= gain[..., None]
        for i in range(2):
            ycbcr[..., 1 + i] = guided_filter(after, chroma[..., i], radius=radius, eps=eps) + 0.5
        ycbcr[..., 0] = after
        return imaging.ycbcr_to_rgb(ycbcr)

    return _tiled(local, visible, luminance, restored)


def restore_infrared(ir: np.ndarray, c: Controls) -> np.ndarray:
    """Apply the infrared restoration steps that ``c`` asks for."""
    ir = destripe(ir, c.ir_stripe_noise)
    ir = denoise(ir, c.ir_noise, impulse=True)
    return stretch_contrast(ir, c.ir_low_contrast)
