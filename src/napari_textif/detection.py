"""Degradation detection: no-reference estimates from the images that propose Controls.

Each of the nine degradations has one statistic measured on the pair
(:func:`measure`) and a calibrated ramp that maps it to a strength in
``[0, 1]`` (:data:`RAMPS`, :func:`detect`). The statistics are:

========================  =========================================================
control                   statistic
========================  =========================================================
``vis_low_light``         exposure index: geometric mean of the 99th percentile and
                          twice the mean of the visible luminance (a well exposed frame
                          has near-white highlights and a mid-grey mean; a night frame
                          with a few street lights still has a dark mean)
``vis_overexposure``      fraction of saturated (white) luminance pixels
``vis_noise``             robust noise sigma (median of Haar diagonal details),
                          plus 0.5 x the fraction of impulse (salt-and-pepper) pixels;
                          when the prompt names it, the larger of the full- and the
                          half-resolution sigmas (:data:`NAMED_RAMPS`)
``vis_haze``              mean dark channel (min over colour and a 15 px window),
                          damped by the relative contrast std / mean; when the prompt
                          names it, the median dark channel of the image over its
                          airlight (:data:`NAMED_RAMPS`, :func:`airlight`)
``vis_rain``              excess of thin bright near-vertical lines over thin bright
                          horizontal ones (oriented top-hat residuals)
``vis_blur``              gradient energy kept after an extra Gaussian blur
                          (an already blurred image loses little)
``ir_low_contrast``       0.1..99.9 percentile range of the infrared image
``ir_noise``              robust noise sigma plus 15 x the impulse-pixel fraction of the
                          infrared image
``ir_stripe_noise``       robust spread of the per-column median of horizontal
                          differences (column fixed-pattern offsets)
========================  =========================================================

The spatial statistics (noise, haze, rain, blur, stripes) need an image of at
least :data:`MIN_MEASURE_SIDE` pixels on each side; on a smaller or thinner pair
they are skipped, their controls stay 0 and the notes say so. The exposure,
saturation and infrared range are measured at any size.

The ramps were calibrated on the real pairs of the project's data folder and
on simulated degradations of them (``benchmarks/detection_table.py`` prints the
calibration table; ``docs/prompts.md`` discusses it).

Examples
--------
>>> from napari_textif.samples import synthetic_pair
>>> ir, vis = synthetic_pair(shape=(120, 160), dark=0.9)
>>> found = detect(ir, vis)
>>> found.controls.vis_low_light > 0.5
True
>>> suggest_prompt(found).startswith("the visible image is")
True
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy import ndimage

from napari_textif import imaging
from napari_textif.controls import DEGRADATIONS, Controls
from napari_textif.interpretation import Interpretation

#: Global statistics are measured at most this many pixels on the long side
#: (block-mean downsampling), so that spatial scales follow the frame size.
WORK_SIDE = 640
#: Noise and stripes are measured at full resolution on a central crop of this size.
NOISE_CROP = 512
#: The spatial statistics need at least this many pixels on each side (the haze window is
#: 15 px); downsampling never makes a side shorter than this when the image has it.
MIN_MEASURE_SIDE = 16
#: The statistics that look at spatial structure, skipped on images below MIN_MEASURE_SIDE.
SPATIAL_STATISTICS = (
    "vis_noise", "vis_noise_named", "ir_noise", "vis_haze", "vis_haze_named", "vis_rain", "vis_blur",
    "ir_stripes",
)


@dataclasses.dataclass(frozen=True)
class Ramp:
    """Maps a statistic linearly to a strength: ``low`` -> 0, ``high`` -> 1 (``low > high`` inverts)."""

    statistic: str
    low: float
    high: float

    def __call__(self, value: float) -> float:
        fraction = (value - self.low) / (self.high - self.low)
        return float(np.clip(fraction, 0.0, 1.0))


#: The calibrated map from statistics to strengths.
RAMPS: dict[str, Ramp] = {
    "vis_low_light": Ramp("vis_exposure", 0.75, 0.3),
    "vis_overexposure": Ramp("vis_white", 0.005, 0.15),
    "vis_noise": Ramp("vis_noise", 0.011, 0.035),
    "vis_haze": Ramp("vis_haze", 0.2, 0.6),
    "vis_rain": Ramp("vis_rain", 0.001, 0.01),
    "vis_blur": Ramp("vis_blur", 0.65, 0.82),
    "ir_low_contrast": Ramp("ir_range", 0.73, 0.4),
    "ir_noise": Ramp("ir_noise", 0.012, 0.04),
    "ir_stripe_noise": Ramp("ir_stripes", 0.006, 0.03),
}

#: Ramps used instead of :data:`RAMPS` when the prompt names the degradation
#: (:func:`strengths_from` with ``named=True``, as :mod:`napari_textif.severity` does).
#: A global noise estimate cannot tell dense fine texture (foliage, gravel) from noise
#: that a camera's JPEG smoothed: both show at half resolution and not at the finest
#: scale. Unprompted detection therefore reads the finest scale only (no false alarms
#: on textured clean frames), and a named visible noise reads both scales.
#: A named haze reads the dark-channel prior's own haze estimate, the median of
#: ``dark(I / A)``, which the colour dehazing step removes: its ramp was fitted on the
#: selection set (``benchmarks/restoration_selection.py``) directly to the strength that
#: step restores best with, so it is not mapped through ``severity.CALIBRATION``.
NAMED_RAMPS: dict[str, Ramp] = {
    "vis_noise": Ramp("vis_noise_named", 0.011, 0.035),
    "vis_haze": Ramp("vis_haze_named", 0.36, 0.73),
}

#: How much one unit of impulse-pixel fraction adds to the noise sigma. Isolated
#: outliers are rare in clean thermal images but common in visible night scenes
#: (point lights), so they count far more in the infrared.
_IMPULSE_WEIGHT = {"vis": 0.5, "ir": 15.0}

#: Words used by :func:`suggest_prompt` for each control.
_WORDS = {
    "vis_low_light": "dark",
    "vis_overexposure": "overexposed",
    "vis_noise": "noisy",
    "vis_haze": "hazy",
    "vis_rain": "rainy",
    "vis_blur": "blurry",
    "ir_low_contrast": "low in contrast",
    "ir_noise": "noisy",
    "ir_stripe_noise": "striped",
}
_DESCRIPTIONS = {
    "vis_exposure": "visible exposure index {:.2f} (1 = well exposed)",
    "vis_white": "{:.1%} of visible pixels saturated white",
    "vis_noise": "visible noise sigma {:.4f} (impulses included)",
    "vis_noise_named": "visible noise sigma {:.4f} at full or half resolution (impulses included)",
    "vis_haze": "haze index {:.3f} (bright dark channel, low relative contrast)",
    "vis_haze_named": "median dark channel {:.3f} of the visible image over its airlight",
    "vis_rain": "rain streak index {:.4f} (thin bright near-vertical lines)",
    "vis_blur": "blur index {:.3f} (gradient kept after re-blurring)",
    "ir_range": "infrared uses {:.0%} of the intensity range (0.1-99.9 percentiles)",
    "ir_noise": "infrared noise sigma {:.4f} (impulses included)",
    "ir_stripes": "infrared column-stripe index {:.4f}",
}


def measure(infrared: object, visible: object) -> dict[str, float]:
    """Measure the no-reference statistics behind :func:`detect`.

    Parameters
    ----------
    infrared : array_like
        ``(H, W)`` thermal image, any supported dtype.
    visible : array_like
        ``(H, W)`` or ``(H, W, 3)`` visible image of the same size.

    Returns
    -------
    dict of str to float
        One finite entry per statistic named in :data:`RAMPS`, plus helpers
        (percentiles, sigmas and impulse fractions, dark channel, black level...).
        On images under :data:`MIN_MEASURE_SIDE` pixels on a side the
        :data:`SPATIAL_STATISTICS` and their helpers are absent.

    Examples
    --------
    >>> from napari_textif.samples import synthetic_pair
    >>> stats = measure(*synthetic_pair(shape=(64, 80)))
    >>> 0.0 <= stats["vis_mean"] <= 1.0
    True
    """
    ir, vis, _ = imaging.prepare_pair(infrared, visible)
    luma = imaging.to_gray(vis)
    small_vis, small_luma, small_ir = (_downsample(a) for a in (vis, luma, ir))
    stats = _light_stats(small_vis, small_luma)
    stats.update(_contrast_stats(small_ir))
    if min(ir.shape[:2]) >= MIN_MEASURE_SIDE:
        stats.update(_noise_stats(imaging.centre_crop(luma, NOISE_CROP), "vis"))
        stats.update(_noise_stats(imaging.centre_crop(ir, NOISE_CROP), "ir"))
        stats.update(_haze_stats(small_vis, small_luma))
        stats["vis_rain"] = _rain_index(small_luma)
        stats["vis_blur"] = _blur_index(small_luma)
        stats["ir_stripes"] = _stripe_index(imaging.centre_crop(ir, NOISE_CROP, rows_only=True))
    bad = sorted(k for k, v in stats.items() if not np.isfinite(v))
    if bad:  # a bug, never a property of the user's images
        raise RuntimeError(f"detection measured non-finite statistics {bad}; please report this")
    return stats


def detect(infrared: object, visible: object, *, stats: dict[str, float] | None = None) -> Interpretation:
    """Estimate, from the images alone, which degradations a pair suffers from.

    Parameters
    ----------
    infrared : array_like
        ``(H, W)`` thermal image, any supported dtype.
    visible : array_like
        ``(H, W)`` or ``(H, W, 3)`` visible image of the same size.
    stats : dict, optional
        :func:`measure` of this very pair, when the caller has it already.

    Returns
    -------
    Interpretation
        Detected degradation strengths as :class:`~napari_textif.controls.Controls`
        (preferences stay 0); ``phrases`` holds the measurement behind each
        non-zero control; ``notes`` says what is uncertain, and which estimates
        were skipped on an image under :data:`MIN_MEASURE_SIDE` pixels on a side.

    Examples
    --------
    >>> from napari_textif.samples import synthetic_pair
    >>> ir, vis = synthetic_pair(shape=(96, 128))
    >>> detect(ir, vis).controls.ir_stripe_noise
    0.0
    >>> ir[:, ::2] //= 2  # every other column much darker: fixed-pattern stripes
    >>> detect(ir, vis).controls.ir_stripe_noise
    1.0
    """
    stats = measure(infrared, visible) if stats is None else stats
    values, skipped = strengths_from(stats)
    phrases = {
        name: _DESCRIPTIONS[RAMPS[name].statistic].format(stats[RAMPS[name].statistic])
        for name, value in values.items()
        if value > 0
    }
    notes = []
    if skipped:
        h, w = np.shape(infrared)[:2]
        notes.append(
            f"detection: the images ({h}x{w} px) are too small to estimate {', '.join(skipped)} "
            f"(these need at least {MIN_MEASURE_SIDE} px on each side); they were left at 0"
        )
    if values["vis_low_light"] > 0 and values["vis_noise"] > 0:
        notes.append("noise in a dark image is expected; it is restored together with the light")
    return Interpretation(Controls(**values), phrases, tuple(notes))


def strengths_from(stats: dict[str, float], *, named: bool = False) -> tuple[dict[str, float], list[str]]:
    """The strength of every degradation from :func:`measure`'s statistics (its ramp, explained away).

    Parameters
    ----------
    stats : dict of str to float
        :func:`measure`'s statistics.
    named : bool
        The degradations are named by the prompt: use :data:`NAMED_RAMPS` where they differ.

    Returns
    -------
    values : dict of str to float
        One strength in ``[0, 1]`` per degradation, rounded to 0.01; 0 where skipped.
    skipped : list of str
        The degradations whose statistic is absent (an image too small to measure it).

    Examples
    --------
    >>> values, skipped = strengths_from({"vis_white": 0.5, "ir_range": 0.9})
    >>> values["vis_overexposure"], values["ir_low_contrast"], "vis_haze" in skipped
    (1.0, 0.0, True)
    """
    ramps = ramps_for(named=named)
    skipped = [name for name, ramp in ramps.items() if ramp.statistic not in stats]
    values = {
        name: round(ramp(stats[ramp.statistic]), 2) if name not in skipped else 0.0
        for name, ramp in ramps.items()
    }
    return _explain_away(values, stats), skipped


def ramps_for(*, named: bool = False) -> dict[str, Ramp]:
    """:data:`RAMPS`, with :data:`NAMED_RAMPS` in place where ``named``."""
    return {**RAMPS, **NAMED_RAMPS} if named else dict(RAMPS)


def _explain_away(values: dict[str, float], stats: dict[str, float]) -> dict[str, float]:
    """Remove the side effects one degradation has on another statistic."""
    out = dict(values)
    if out["vis_overexposure"] > 0:
        out["vis_haze"] = max(0.0, out["vis_haze"] - out["vis_overexposure"])
    return out


def suggest_prompt(interpretation: Interpretation, *, threshold: float = 0.25) -> str:
    """Turn detected (or any) Controls into a prompt sentence that :func:`interpret` reads back.

    Parameters
    ----------
    interpretation : Interpretation
        Usually the result of :func:`detect`.
    threshold : float, optional
        Degradations weaker than this are left out.

    Returns
    -------
    str
        For example ``"the visible image is very dark and noisy; the infrared image is
        striped"``; an empty string when nothing passes the threshold.

    Examples
    --------
    >>> from napari_textif.controls import Controls
    >>> found = Interpretation(Controls(vis_low_light=0.9, ir_stripe_noise=0.5))
    >>> suggest_prompt(found)
    'the visible image is very dark; the infrared image is striped'
    """
    if not isinstance(interpretation, Interpretation):
        raise TypeError(f"interpretation must be an Interpretation, got {type(interpretation).__name__}")
    controls = interpretation.controls
    clauses = []
    for camera, label in (("vis", "the visible image"), ("ir", "the infrared image")):
        words = [
            _intensity_word(getattr(controls, name)) + _WORDS[name]
            for name in DEGRADATIONS
            if name.startswith(camera + "_") and getattr(controls, name) >= threshold
        ]
        if words:
            listed = ", ".join(words[:-1]) + " and " + words[-1] if len(words) > 1 else words[0]
            clauses.append(f"{label} is {listed}")
    return "; ".join(clauses)


def _intensity_word(value: float) -> str:
    if value >= 0.85:
        return "very "
    if value < 0.45:
        return "slightly "
    return ""


# --- statistics ----------------------------------------------------------------------------------


def _downsample(image: np.ndarray) -> np.ndarray:
    """Block-mean to at most WORK_SIDE on the long side, never below MIN_MEASURE_SIDE on the short one."""
    factor = int(np.ceil(max(image.shape[:2]) / WORK_SIDE))
    factor = min(factor, max(1, min(image.shape[:2]) // MIN_MEASURE_SIDE))
    return imaging.block_mean(image, factor)


def _light_stats(vis: np.ndarray, luma: np.ndarray) -> dict[str, float]:
    p50, p99 = np.percentile(luma, (50, 99))
    chroma = vis.max(axis=2) - vis.min(axis=2) if vis.ndim == 3 else np.zeros_like(luma)
    return {
        "vis_mean": float(luma.mean()),
        "vis_p50": float(p50),
        "vis_p99": float(p99),
        "vis_exposure": float(np.sqrt(p99 * min(2.0 * luma.mean(), 1.0))),
        "vis_clipped": float(np.mean(luma >= 0.97)),
        "vis_white": float(np.mean(luma >= 0.995)),
        "vis_std": float(luma.std()),
        "vis_chroma": float(chroma.mean()),
    }


def _contrast_stats(ir: np.ndarray) -> dict[str, float]:
    p01, p1, p99, p999 = np.percentile(ir, (0.1, 1, 99, 99.9))
    return {
        "ir_spread": float(p99 - p1),
        "ir_range": float(p999 - p01),
        "ir_p1": float(p1),
        "ir_p99": float(p99),
        "ir_std": float(ir.std()),
    }


def _haar_sigma(image: np.ndarray) -> float:
    """Robust sigma from the finest Haar diagonal band (median absolute value / 0.6745)."""
    h, w = (image.shape[0] // 2) * 2, (image.shape[1] // 2) * 2
    x = image[:h, :w].astype(np.float64)
    diagonal = (x[0::2, 0::2] - x[0::2, 1::2] - x[1::2, 0::2] + x[1::2, 1::2]) / 2.0
    return float(np.median(np.abs(diagonal)) / 0.6745) if diagonal.size else 0.0


def _noise_stats(image: np.ndarray, prefix: str) -> dict[str, float]:
    """Robust sigma and the impulse-pixel fraction.

    For the visible image also ``vis_noise_named``: the larger of the full- and the
    half-resolution sigmas (2 x 2 block means halve white noise), which sees noise a
    camera's JPEG smoothed (:data:`NAMED_RAMPS`, :func:`napari_textif.restoration.noise_sigma`).
    """
    sigma = _haar_sigma(image)
    median = ndimage.median_filter(image, size=3, mode="reflect")
    impulse = float(np.mean(np.abs(image - median) > 0.35))
    stats = {
        f"{prefix}_sigma": sigma,
        f"{prefix}_impulse": impulse,
        f"{prefix}_noise": sigma + _IMPULSE_WEIGHT[prefix] * impulse,
    }
    if prefix == "vis":
        both = max(sigma, 2.0 * _haar_sigma(imaging.block_mean(image, 2)))
        stats["vis_noise_named"] = both + _IMPULSE_WEIGHT[prefix] * impulse
    return stats


def dark_channel(image: np.ndarray, *, patch: int = 15, airlight: np.ndarray | float = 1.0) -> np.ndarray:
    """The dark channel of ``image / airlight``: its minimum over colour and a ``patch`` window.

    Near 0 in a haze-free patch, near 1 where the patch is all haze
    (He, Sun & Tang, CVPR 2009). A 2-D image is its own minimum over colour.

    Examples
    --------
    >>> bright = np.full((20, 20, 3), (0.2, 0.6, 0.8), np.float32)
    >>> round(float(dark_channel(bright).max()), 2)
    0.2
    """
    scaled = image / airlight
    darkest = scaled.min(axis=2) if image.ndim == 3 else scaled
    return ndimage.minimum_filter(darkest, patch)


def airlight(image: np.ndarray, *, patch: int = 15, dark: np.ndarray | None = None) -> np.ndarray:
    """The haze colour (per channel of a colour image) for the dark-channel prior.

    The 90th percentile of the pixels under the haziest 0.1 % of the :func:`dark_channel`,
    at least 0.3 (He, Sun & Tang, CVPR 2009). ``dark`` is ``dark_channel(image, patch=patch)``
    when the caller already has it.

    Examples
    --------
    >>> hazy = np.full((32, 32, 3), (0.7, 0.8, 0.9), np.float32)
    >>> [round(float(v), 2) for v in airlight(hazy)]
    [0.7, 0.8, 0.9]
    """
    dark = dark_channel(image, patch=patch) if dark is None else dark
    haziest = image[dark >= min(float(np.percentile(dark, 99.9)), float(dark.max()))]
    found = np.percentile(haziest, 90, axis=0) if haziest.size else np.ones(image.shape[2:])
    return np.maximum(found, 0.3).astype(np.float32)


def _haze_stats(vis: np.ndarray, luma: np.ndarray) -> dict[str, float]:
    dark = dark_channel(vis)
    mean_dark = float(dark.mean())
    relative_contrast = float(luma.std()) / max(float(luma.mean()), 1e-3)
    return {
        "vis_dark_channel": mean_dark,
        "vis_black": float(np.percentile(luma, 1)),
        "vis_haze": mean_dark * (1.0 - min(relative_contrast / 0.5, 1.0)),
        "vis_haze_named": float(np.median(dark_channel(vis, airlight=airlight(vis, dark=dark)))),
    }


def _rain_index(luma: np.ndarray) -> float:
    """Thin bright near-vertical lines minus thin bright near-horizontal lines."""
    vertical = luma - ndimage.grey_opening(luma, size=(1, 5))
    horizontal = luma - ndimage.grey_opening(luma, size=(5, 1))
    return float(vertical.mean() - horizontal.mean())


def _blur_index(luma: np.ndarray) -> float:
    """Gradient energy kept after a Gaussian blur (sigma 1.5); close to 1 for a blurred image."""
    def energy(image: np.ndarray) -> float:
        gy, gx = np.gradient(image)
        return float(np.mean(np.hypot(gx, gy)))

    sharp = energy(luma)
    return energy(ndimage.gaussian_filter(luma, 1.5)) / sharp if sharp > 1e-6 else 1.0


def _stripe_index(image: np.ndarray) -> float:
    """Robust spread of the column profile of median horizontal differences."""
    if image.shape[1] < 3:
        return 0.0
    profile = np.median(np.diff(image.astype(np.float64), axis=1), axis=0)
    return float(1.4826 * np.median(np.abs(profile - np.median(profile))))
