"""How much restoration a named degradation gets: the words say *what*, the images say *how much*.

A prompt names degradations ("hazy", "the infrared is noisy") and may say how
strongly ("slightly", "very"). :func:`calibrate` measures each named degradation
on the images (:func:`napari_textif.detection.measure` and its calibrated ramps),
maps that severity to the strength the engine restores it best with
(:func:`best_strength`) and scales it by the words (:func:`strength_for`): "hazy"
dehazes thin haze lightly and thick haze fully, and "hazy" said about a clear image
does little. Degradations the prompt does not name stay untouched, so a neutral
prompt gives exactly the plain fusion;
explicit Controls (the widget's sliders, ``fuse(controls=...)``) are never
calibrated.

Examples
--------
>>> strength_for(0.6, 0.25)  # plain "hazy" on thin haze
0.25
>>> strength_for(0.8, 1.0)  # "very hazy" on thick haze
1.0
>>> strength_for(0.6, 0.0)  # "hazy" about a clear image
0.1
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np

from napari_textif.controls import DEGRADATIONS
from napari_textif.detection import measure, ramps_for, strengths_from
from napari_textif.interpretation import DEFAULT_STRENGTH, Interpretation

#: Simulator strengths at which :data:`CALIBRATION` was measured.
CALIBRATION_STRENGTHS = (0.15, 0.3, 0.6, 0.9)
#: Mean measured severity (detection's ramps) of each kind at :data:`CALIBRATION_STRENGTHS` of
#: our simulator, on training pairs (``benchmarks/severity_calibration.py`` prints it). The
#: engines were trained with Controls in simulator units, so a measurement is mapped back
#: through this curve. Kinds left out keep the ramp's value: ``ir_noise``'s ramp saturates
#: at the mildest strength; for ``vis_noise``, ``vis_blur`` and ``ir_stripe_noise`` (measured
#: 0.33-0.97, 0.26-0.84, 0.37-1.00) the map lost on the selection set
#: (``benchmarks/restoration_selection.py``), their steps being driven by their own estimates.
#: ``vis_haze``'s named ramp is fitted to the strength its step restores best with
#: (:data:`napari_textif.detection.NAMED_RAMPS`), so it is not mapped either.
CALIBRATION: dict[str, tuple[float, ...]] = {
    "vis_low_light": (0.19, 0.36, 0.81, 1.00),
    "vis_overexposure": (0.24, 0.42, 0.73, 0.90),
    "vis_rain": (0.22, 0.50, 0.87, 0.98),
    "ir_low_contrast": (0.04, 0.15, 0.84, 1.00),
}


def to_simulator_units(control: str, measured: float) -> float:
    """Map a measured severity to the simulator strength that measures the same (:data:`CALIBRATION`).

    Piecewise linear through ``(0, 0)``, the calibration points (where a plateau repeats
    a value, its first strength) and ``(1, 1)`` when the curve stays below 1.

    Examples
    --------
    >>> to_simulator_units("vis_overexposure", 0.42)
    0.3
    >>> to_simulator_units("ir_noise", 0.7)  # not calibrated: the ramp's value
    0.7
    """
    curve = CALIBRATION.get(control)
    if curve is None:
        return measured
    xs, ys = [0.0], [0.0]
    for x, y in zip(curve, CALIBRATION_STRENGTHS):
        if x > xs[-1]:
            xs.append(x)
            ys.append(y)
    if xs[-1] < 1.0:
        xs.append(1.0)
        ys.append(1.0)
    return round(float(np.interp(measured, xs, ys)), 2)


#: Simulator strengths at which the engines' ``strength_response`` curves were measured
#: (:func:`best_strength`).
RESPONSE_STRENGTHS = (0.3, 0.6, 0.9)


def best_strength(control: str, simulated: float, response: Mapping[str, tuple[float, ...]]) -> float:
    """The strength to restore a degradation of simulator strength ``simulated`` with.

    ``response`` is an engine's ``strength_response``: per kind, the best strength at each
    of :data:`RESPONSE_STRENGTHS`. Piecewise linear through ``(0, 0)`` and those points,
    continued to 1 with the last segment's slope (clipped to ``[0, 1]``); a kind it leaves
    out is given ``simulated``.

    Examples
    --------
    >>> best_strength("vis_overexposure", 0.3, {"vis_overexposure": (0.1, 0.4, 0.6)})
    0.1
    >>> best_strength("vis_low_light", 0.42, {})  # restored best at its own strength
    0.42
    """
    curve = response.get(control)
    if curve is None:
        return simulated
    xs = (0.0, *RESPONSE_STRENGTHS, 1.0)
    slope = (curve[-1] - curve[-2]) / (xs[-2] - xs[-3])
    ys = (0.0, *curve, curve[-1] + slope * (1.0 - xs[-2]))
    return round(float(np.clip(np.interp(simulated, xs, ys), 0.0, 1.0)), 2)


#: A named degradation is restored at least this much (times the word factor), because
#: detection can miss a real degradation; small enough that restoring a clean image
#: changes little.
FLOOR = 0.1
#: Kinds restored as zero where their statistic reads none, because there the restorer made
#: the real *training* scenes worse (``restoration_selection.py``, normalised SSIM / PSNR gain):
#: ``vis_blur``: the frames whose blur index reads under its ramp were made worse by the
#: unsharp mask (real -0.08 -> -0.02 without the floor, clean pairs 0.989 -> 1.000, mild
#: 0.32 -> 0.30). ``vis_rain``: the faint slanted streaks of the 18 real rainy scenes read
#: under the rain ramp (a detection miss), and the network restoring them at the floor lost
#: PSNR on all 18 (real +0.03 / -0.77 dB -> +0.00 / -0.04 dB, clean pairs 0.983 -> 0.988,
#: simulated columns unchanged).
FLOORS: dict[str, float] = {"vis_blur": 0.0, "vis_rain": 0.0}


@dataclasses.dataclass(frozen=True)
class Severity:
    """One named degradation: what the words said, what the images showed, what was used.

    Attributes
    ----------
    control : str
        The degradation, e.g. ``"vis_haze"``.
    said : float
        The strength the words alone gave (``"slightly"`` 0.3, plain 0.6, ``"very"`` 0.8...).
    statistic : str
        The detection statistic measured (``"vis_haze"``: the haze index).
    value : float or None
        Its value on the images; None when the images are too small to measure it.
    measured : float or None
        The severity it maps to in ``[0, 1]``, in simulator units (the ramp of
        :data:`napari_textif.detection.RAMPS` or its ``NAMED_RAMPS``, then :func:`to_simulator_units`).
    strength : float
        The strength the engine receives.
    """

    control: str
    said: float
    statistic: str
    value: float | None
    measured: float | None
    strength: float

    def describe(self) -> str:
        """One line for notes and the widget, e.g. ``"vis_haze 0.28 (haze index 0.31, ...)"``."""
        if self.measured is None:
            return f"{self.control} {self.strength:.2f} (too small to measure; the words' value)"
        unrestored = "; not restored: the images show none, a slider restores it anyway"
        return (f"{self.control} {self.strength:.2f} (measured {self.statistic} {self.value:.4g} "
                f"-> severity {self.measured:.2f}; the words gave {self.said:.2f}"
                f"{unrestored if self.strength == 0 < self.said else ''})")


def strength_for(said: float, measured: float, *, floor: float = FLOOR) -> float:
    """The strength for a degradation the words gave ``said`` and the images ``measured``.

    The measured severity (floored at ``floor``, :data:`FLOOR` unless the kind is in
    :data:`FLOORS`), times the words' factor ``said / DEFAULT_STRENGTH`` (1 for a plain
    word, 0.5 for "slightly", 1.33 for "very"), clipped to ``[0, 1]`` and rounded to 0.01.
    """
    factor = said / DEFAULT_STRENGTH
    return round(float(np.clip(max(measured, floor) * factor, 0.0, 1.0)), 2)


def calibrate(
    said: Interpretation, infrared: np.ndarray, visible: np.ndarray, *,
    stats: dict[str, float] | None = None, response: Mapping[str, tuple[float, ...]] | None = None,
) -> tuple[Interpretation, dict[str, Severity]]:
    """Set the strength of every degradation ``said`` names from the images.

    Parameters
    ----------
    said : Interpretation
        What the prompt asked for (:func:`napari_textif.interpret`).
    infrared, visible : ndarray
        The prepared pair (float in ``[0, 1]``).
    stats : dict, optional
        :func:`napari_textif.detection.measure` of this very pair, when the caller has it.
    response : mapping, optional
        The engine's ``strength_response`` (:func:`best_strength`); none: every kind is
        given its measured severity.

    Returns
    -------
    Interpretation
        The same, with each named degradation's strength from :func:`strength_for`
        (the words' value where the images are too small to measure it).
    dict of str to Severity
        What was measured and used, per named degradation (empty when none is named).

    Examples
    --------
    >>> from napari_textif import interpret
    >>> from napari_textif.samples import synthetic_pair
    >>> ir, vis = synthetic_pair(shape=(96, 128))
    >>> calibrated, found = calibrate(interpret("slightly hazy"), ir, vis)
    >>> found["vis_haze"].strength <= 0.3
    True
    """
    named = {k: v for k, v in said.controls.active().items() if k in DEGRADATIONS and v > 0}
    if not named:
        return said, {}
    stats = measure(infrared, visible) if stats is None else stats
    response = {} if response is None else response
    measured, skipped = strengths_from(stats, named=True)
    ramps = ramps_for(named=True)
    found = {}
    for control, value in named.items():
        statistic = ramps[control].statistic
        known = control not in skipped
        severity = to_simulator_units(control, measured[control]) if known else None
        best = None if severity is None else best_strength(control, severity, response)
        strength = value if best is None else strength_for(value, best, floor=FLOORS.get(control, FLOOR))
        found[control] = Severity(control, value, statistic, stats.get(statistic) if known else None,
                                  severity, strength)
    controls = said.controls.replace(**{k: s.strength for k, s in found.items()})
    return dataclasses.replace(said, controls=controls), found
