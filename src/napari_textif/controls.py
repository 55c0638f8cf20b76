"""The interpretable semantic request that steers every Controls-driven engine.

A :class:`Controls` holds nine degradation strengths in ``[0, 1]`` and two
preferences in ``[-1, 1]``. Trained weights depend on the order of
:data:`CONTROL_NAMES`, so the vector layout carries :data:`CONTROLS_VERSION`;
adding a field means bumping the version.
"""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

CONTROLS_VERSION = 1

DEGRADATIONS: tuple[str, ...] = (
    "vis_low_light",
    "vis_overexposure",
    "vis_noise",
    "vis_haze",
    "vis_rain",
    "vis_blur",
    "ir_low_contrast",
    "ir_noise",
    "ir_stripe_noise",
)
PREFERENCES: tuple[str, ...] = ("thermal_emphasis", "detail_emphasis")
CONTROL_NAMES: tuple[str, ...] = DEGRADATIONS + PREFERENCES


def control_range(name: str) -> tuple[float, float]:
    """Return the allowed ``(low, high)`` range of the control ``name``."""
    if name in DEGRADATIONS:
        return (0.0, 1.0)
    if name in PREFERENCES:
        return (-1.0, 1.0)
    raise KeyError(f"unknown control {name!r}; known controls: {', '.join(CONTROL_NAMES)}")


@dataclasses.dataclass(frozen=True)
class Controls:
    """Degradation strengths and fusion preferences.

    Parameters
    ----------
    vis_low_light, vis_overexposure, vis_noise, vis_haze, vis_rain, vis_blur : float
        Strength in ``[0, 1]`` of each visible-image degradation to undo.
    ir_low_contrast, ir_noise, ir_stripe_noise : float
        Strength in ``[0, 1]`` of each infrared degradation to undo.
    thermal_emphasis : float
        ``-1..1``; positive keeps hot infrared targets bright, negative favours the
        visible intensities.
    detail_emphasis : float
        ``-1..1``; positive favours texture and edges, negative a smoother result.

    Examples
    --------
    >>> c = Controls(vis_low_light=0.8, thermal_emphasis=0.5)
    >>> c.summary()
    'vis_low_light=0.80, thermal_emphasis=+0.50'
    >>> Controls.from_vector(c.to_vector()) == c
    True
    """

    vis_low_light: float = 0.0
    vis_overexposure: float = 0.0
    vis_noise: float = 0.0
    vis_haze: float = 0.0
    vis_rain: float = 0.0
    vis_blur: float = 0.0
    ir_low_contrast: float = 0.0
    ir_noise: float = 0.0
    ir_stripe_noise: float = 0.0
    thermal_emphasis: float = 0.0
    detail_emphasis: float = 0.0

    def __post_init__(self) -> None:
        for name in CONTROL_NAMES:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise TypeError(f"Controls.{name} must be a number, got {type(value).__name__}")
            low, high = control_range(name)
            if not math.isfinite(float(value)) or not low <= float(value) <= high:
                raise ValueError(f"Controls.{name} must lie in [{low:g}, {high:g}], got {value!r}")
            object.__setattr__(self, name, float(value))

    @property
    def is_neutral(self) -> bool:
        """True when every control is zero (plain fusion, no restoration)."""
        return all(getattr(self, n) == 0.0 for n in CONTROL_NAMES)

    def active(self) -> dict[str, float]:
        """Return the non-zero controls in layout order."""
        return {n: getattr(self, n) for n in CONTROL_NAMES if getattr(self, n) != 0.0}

    def summary(self) -> str:
        """Return a readable one-line summary of the non-zero controls."""
        parts = []
        for name, value in self.active().items():
            fmt = "{:+.2f}" if name in PREFERENCES else "{:.2f}"
            parts.append(f"{name}={fmt.format(value)}")
        return ", ".join(parts) if parts else "neutral (plain fusion)"

    def to_vector(self) -> list[float]:
        """Return the values in the versioned layout :data:`CONTROL_NAMES`."""
        return [getattr(self, n) for n in CONTROL_NAMES]

    @classmethod
    def from_vector(cls, values: Sequence[float], *, version: int = CONTROLS_VERSION) -> Controls:
        """Build Controls from a vector in the layout of ``version``."""
        if version != CONTROLS_VERSION:
            raise ValueError(
                f"version must be {CONTROLS_VERSION} (this package's Controls layout), got {version}"
            )
        if len(values) != len(CONTROL_NAMES):
            raise ValueError(
                f"values must have {len(CONTROL_NAMES)} entries ({', '.join(CONTROL_NAMES)}), "
                f"got {len(values)}"
            )
        return cls(**{n: float(v) for n, v in zip(CONTROL_NAMES, values)})

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict that includes the layout version."""
        return {"version": CONTROLS_VERSION, **dataclasses.asdict(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Controls:
        """Build Controls from :meth:`to_dict` output; missing controls are zero."""
        if not isinstance(data, Mapping):
            raise TypeError(f"data must be a mapping of control names to numbers, got {type(data).__name__}")
        fields = {k: v for k, v in data.items() if k != "version"}
        unknown = sorted(set(fields) - set(CONTROL_NAMES))
        if unknown:
            raise ValueError(f"data has unknown controls {unknown}; known: {', '.join(CONTROL_NAMES)}")
        version = data.get("version", CONTROLS_VERSION)
        if version != CONTROLS_VERSION:
            raise ValueError(f"data['version'] must be {CONTROLS_VERSION}, got {version!r}")
        return cls(**fields)

    def to_json(self) -> str:
        """Return the JSON form of :meth:`to_dict`."""
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, text: str) -> Controls:
        """Inverse of :meth:`to_json`."""
        return cls.from_dict(json.loads(text))

    def replace(self, **changes: float) -> Controls:
        """Return a copy with some controls changed (validated)."""
        return dataclasses.replace(self, **changes)
