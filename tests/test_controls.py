"""The Controls contract: ranges, vector layout and version, summary, dict/JSON round trip."""

from __future__ import annotations

import json

import numpy as np
import pytest

from napari_textif.controls import (
    CONTROL_NAMES,
    CONTROLS_VERSION,
    DEGRADATIONS,
    PREFERENCES,
    Controls,
    control_range,
)


def test_layout_is_stable() -> None:
    # Trained weights depend on this order: changing it needs a new CONTROLS_VERSION.
    assert CONTROLS_VERSION == 1
    assert CONTROL_NAMES == (
        "vis_low_light", "vis_overexposure", "vis_noise", "vis_haze", "vis_rain", "vis_blur",
        "ir_low_contrast", "ir_noise", "ir_stripe_noise", "thermal_emphasis", "detail_emphasis",
    )
    assert CONTROL_NAMES == DEGRADATIONS + PREFERENCES


def test_defaults_are_neutral() -> None:
    controls = Controls()
    assert controls.is_neutral
    assert controls.to_vector() == [0.0] * len(CONTROL_NAMES)
    assert controls.summary() == "neutral (plain fusion)"
    assert controls.active() == {}


def test_ranges() -> None:
    assert control_range("vis_haze") == (0.0, 1.0)
    assert control_range("thermal_emphasis") == (-1.0, 1.0)
    with pytest.raises(KeyError, match="unknown control 'haze'"):
        control_range("haze")
    Controls(vis_haze=1.0, thermal_emphasis=-1.0, detail_emphasis=1.0)


@pytest.mark.parametrize(
    ("field", "value"),
    [("vis_haze", -0.1), ("vis_haze", 1.5), ("thermal_emphasis", -1.01), ("ir_noise", float("nan")),
     ("ir_noise", float("inf"))],
)
def test_out_of_range_values_are_refused_with_the_field_name(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=rf"Controls\.{field} must lie in"):
        Controls(**{field: value})


@pytest.mark.parametrize("value", ["0.5", None, True, [0.5]])
def test_non_numbers_are_refused(value: object) -> None:
    with pytest.raises(TypeError, match=r"Controls\.vis_blur must be a number"):
        Controls(vis_blur=value)  # type: ignore[arg-type]


def test_numpy_numbers_become_python_floats() -> None:
    controls = Controls(vis_noise=np.float32(0.25), ir_noise=np.int64(1))
    assert controls.vis_noise == 0.25 and type(controls.vis_noise) is float
    assert controls.ir_noise == 1.0 and type(controls.ir_noise) is float


def test_frozen() -> None:
    with pytest.raises(AttributeError):
        Controls().vis_haze = 0.5  # type: ignore[misc]


def test_summary_is_one_readable_line() -> None:
    controls = Controls(vis_low_light=0.8, ir_stripe_noise=0.25, thermal_emphasis=-0.5)
    assert controls.summary() == "vis_low_light=0.80, ir_stripe_noise=0.25, thermal_emphasis=-0.50"
    assert "\n" not in controls.summary()


def test_vector_round_trip_and_version() -> None:
    controls = Controls(vis_haze=0.3, ir_noise=0.7, detail_emphasis=0.2)
    vector = controls.to_vector()
    assert vector[CONTROL_NAMES.index("ir_noise")] == 0.7
    assert Controls.from_vector(vector) == controls
    assert Controls.from_vector(np.asarray(vector, np.float64)) == controls
    with pytest.raises(ValueError, match="version must be 1"):
        Controls.from_vector(vector, version=2)
    with pytest.raises(ValueError, match="values must have 11 entries"):
        Controls.from_vector(vector[:-1])


def test_dict_and_json_round_trip() -> None:
    controls = Controls(vis_rain=0.4, thermal_emphasis=0.9)
    data = controls.to_dict()
    assert data["version"] == CONTROLS_VERSION
    assert set(data) == {"version", *CONTROL_NAMES}
    assert Controls.from_dict(data) == controls
    text = controls.to_json()
    assert json.loads(text)["vis_rain"] == 0.4
    assert Controls.from_json(text) == controls


def test_from_dict_missing_controls_are_zero_and_unknown_are_refused() -> None:
    assert Controls.from_dict({"vis_blur": 0.5}) == Controls(vis_blur=0.5)
    with pytest.raises(ValueError, match="unknown controls \\['fog'\\]"):
        Controls.from_dict({"fog": 0.5})
    with pytest.raises(ValueError, match="version"):
        Controls.from_dict({"version": 99, "vis_blur": 0.5})
    with pytest.raises(TypeError, match="data must be a mapping"):
        Controls.from_dict([("vis_blur", 0.5)])  # type: ignore[arg-type]


def test_replace_validates() -> None:
    controls = Controls(vis_haze=0.2)
    assert controls.replace(vis_haze=0.6).vis_haze == 0.6
    assert controls.vis_haze == 0.2
    with pytest.raises(ValueError, match="vis_haze"):
        controls.replace(vis_haze=2.0)
