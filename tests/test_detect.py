"""Degradation detection, the suggested prompt, the CLI commands, and never-raise properties."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from napari_textif.controls import CONTROL_NAMES, DEGRADATIONS, Controls
from napari_textif.detection import RAMPS, Ramp, detect, measure, suggest_prompt
from napari_textif.interpretation import Interpretation, interpret
from napari_textif.samples import synthetic_pair


def _float_pair(shape: tuple[int, int] = (120, 160), seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    ir, vis = synthetic_pair(shape=shape, seed=seed)
    return ir.astype(np.float32) / 255.0, vis.astype(np.float32) / 255.0


def test_ramp_maps_both_directions() -> None:
    up, down = Ramp("x", 0.1, 0.3), Ramp("x", 0.3, 0.1)
    assert [up(v) for v in (0.0, 0.2, 0.5)] == pytest.approx([0.0, 0.5, 1.0])
    assert [down(v) for v in (0.5, 0.2, 0.0)] == pytest.approx([0.0, 0.5, 1.0])


def test_every_degradation_has_a_ramp_on_a_measured_statistic() -> None:
    assert set(RAMPS) == set(DEGRADATIONS)
    stats = measure(*_float_pair())
    assert {ramp.statistic for ramp in RAMPS.values()} <= set(stats)
    assert all(np.isfinite(v) for v in stats.values())


def test_clean_synthetic_pair_has_no_strong_detection() -> None:
    found = detect(*synthetic_pair(shape=(120, 160), seed=3))
    assert max(found.controls.to_vector()) <= 0.5, found.explain()
    assert found.controls.thermal_emphasis == 0.0 and found.controls.detail_emphasis == 0.0


@pytest.mark.parametrize("kind", DEGRADATIONS)
def test_simulated_degradation_moves_its_statistic_towards_detection(kind: str) -> None:
    from napari_textif.training.degrade import degrade

    ir, vis = _float_pair((240, 320))
    vis = np.clip(vis * 1.6, 0.0, 1.0)  # the synthetic scene is dim; give it highlights
    ramp = RAMPS[kind]
    before = measure(ir, vis)[ramp.statistic]
    if kind.startswith("vis_"):
        vis = degrade(vis, kind, 0.8, 1)
    else:
        ir = degrade(ir, kind, 0.8, 1)
    after = measure(ir, vis)[ramp.statistic]
    moved = (after - before) / (ramp.high - ramp.low)
    assert moved > 0.5, (kind, before, after)


@pytest.mark.parametrize(
    "kind", ["vis_low_light", "vis_noise", "ir_noise", "ir_stripe_noise", "ir_low_contrast"]
)
def test_strong_simulated_degradation_is_the_top_detection(kind: str) -> None:
    from napari_textif.training.degrade import degrade

    ir, vis = _float_pair((240, 320))
    vis = np.clip(vis * 1.6, 0.0, 1.0)
    if kind.startswith("vis_"):
        vis = degrade(vis, kind, 0.8, 1)
    else:
        ir = degrade(ir, kind, 0.8, 1)
    found = detect(ir, vis).controls.active()
    assert max(found, key=found.get) == kind, found


def test_dark_noisy_pair_is_detected_and_phrased(dark_pair: tuple[np.ndarray, np.ndarray]) -> None:
    found = detect(*dark_pair)
    assert found.controls.vis_low_light > 0.5
    assert "visible exposure index" in found.phrases["vis_low_light"]
    assert set(found.phrases) == set(found.controls.active())


def test_detect_does_not_modify_inputs() -> None:
    ir, vis = _float_pair()
    ir_copy, vis_copy = ir.copy(), vis.copy()
    detect(ir, vis)
    np.testing.assert_array_equal(ir, ir_copy)
    np.testing.assert_array_equal(vis, vis_copy)


def test_detect_validates_like_fuse() -> None:
    ir, vis = _float_pair()
    with pytest.raises(ValueError, match="same height and width"):
        detect(ir, vis[:-1])
    with pytest.raises(TypeError, match="visible"):
        detect(ir, None)


def test_suggest_prompt_wording() -> None:
    found = Interpretation(Controls(vis_low_light=0.9, vis_noise=0.5, vis_haze=0.3, ir_stripe_noise=0.6))
    assert suggest_prompt(found) == (
        "the visible image is very dark, noisy and slightly hazy; the infrared image is striped"
    )
    assert suggest_prompt(Interpretation(Controls(vis_rain=0.1))) == ""
    with pytest.raises(TypeError, match="interpretation must be an Interpretation"):
        suggest_prompt(Controls())  # type: ignore[arg-type]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from([0.0, 0.0, 0.3, 0.5, 0.7, 0.95]), min_size=9, max_size=9))
def test_suggested_prompt_reads_back_to_the_same_degradations(values: list[float]) -> None:
    detected = Interpretation(Controls(**dict(zip(DEGRADATIONS, values))))
    understood = interpret(suggest_prompt(detected)).controls
    expected = {k for k, v in zip(DEGRADATIONS, values) if v >= 0.25}
    assert set(understood.active()) == expected
    for name in expected:
        assert abs(getattr(understood, name) - getattr(detected.controls, name)) <= 0.3


# --- never raise ---------------------------------------------------------------------------------

_VOCABULARY = [
    "dark", "very", "no", "not", "infrared", "IR", "visible", "RGB", "noise", "noisy", "haze", "and",
    "but", ",", ".", ";", "the", "is", "fine", "keep", "people", "bright", "more", "less", "thermal",
    "stripes", "low", "contrast", "0.5", "80", "%", "without", "slightly", "both", "texture", "nor",
    "except", "highlight", "blurry", "rain", "glare", "brighten", "visible and infrared", "free",
]


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_interpret_never_raises_on_any_text(prompt: str) -> None:
    _check_interpretation(interpret(prompt), prompt)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_VOCABULARY), max_size=30).map(" ".join))
def test_interpret_never_raises_on_word_salad(prompt: str) -> None:
    _check_interpretation(interpret(prompt), prompt)


def _check_interpretation(result: Interpretation, prompt: str) -> None:
    assert isinstance(result.controls, Controls)
    assert set(result.phrases) == set(result.controls.active())
    assert set(result.excluded).isdisjoint(result.controls.active())
    for phrase in [*result.phrases.values(), *result.excluded.values()]:
        assert " ".join(phrase.split()) in " ".join(prompt.split())


_DTYPES = st.sampled_from([np.uint8, np.uint16, np.float32, np.float64, np.bool_])


@st.composite
def _pairs(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    h, w = draw(st.integers(2, 40)), draw(st.integers(2, 40))
    channels = draw(st.sampled_from([None, 1, 3, 4]))
    vis_shape = (h, w) if channels is None else (h, w, channels)
    ir_shape = draw(st.sampled_from([(h, w), (h, w, 3)]))
    return _array(draw, ir_shape), _array(draw, vis_shape)


def _array(draw: st.DrawFn, shape: tuple[int, ...]) -> np.ndarray:
    dtype = np.dtype(draw(_DTYPES))
    if dtype.kind == "f":
        elements = st.floats(-1e6, 1e6, allow_nan=False, width=32)
    elif dtype.kind == "b":
        elements = st.booleans()
    else:
        elements = st.integers(0, np.iinfo(dtype).max)
    return draw(hnp.arrays(dtype, shape, elements=elements))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_pairs())
def test_detect_never_raises_on_a_valid_pair(pair: tuple[np.ndarray, np.ndarray]) -> None:
    result = detect(*pair)
    vector = result.controls.to_vector()
    assert all(np.isfinite(vector))
    assert result.controls.thermal_emphasis == 0.0
    suggest_prompt(result)


@settings(max_examples=20, deadline=None)
@given(st.floats(0.0, 1.0), st.floats(0.0, 1.0))
def test_constant_images_give_finite_results(ir_value: float, vis_value: float) -> None:
    ir = np.full((16, 24), ir_value, np.float32)
    vis = np.full((16, 24, 3), vis_value, np.float32)
    vector = detect(ir, vis).controls.to_vector()
    assert len(vector) == len(CONTROL_NAMES) and all(np.isfinite(vector))


# --- command line --------------------------------------------------------------------------------


def test_cli_interpret(capsys: pytest.CaptureFixture[str]) -> None:
    from napari_textif.cli import main

    assert main(["interpret", "the visible image is very dark; no haze"]) == 0
    out = capsys.readouterr().out
    assert "controls: vis_low_light=0.80" in out
    assert "vis_haze excluded  <- 'no haze'" in out


def test_cli_analyze(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    import json

    from napari_textif.cli import main
    from napari_textif.io import write_image

    ir, vis = _float_pair()
    write_image(tmp_path / "ir.png", ir)
    write_image(tmp_path / "vis.png", vis * 0.15)
    assert main(["analyze", str(tmp_path / "ir.png"), str(tmp_path / "vis.png")]) == 0
    out = capsys.readouterr().out
    assert "vis_low_light" in out and "suggested prompt: 'the visible image is" in out
    assert main(["analyze", "--json", str(tmp_path / "ir.png"), str(tmp_path / "vis.png")]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["controls"]["vis_low_light"] > 0.5
    assert record["suggested_prompt"].startswith("the visible image is")
    assert main(["analyze", str(tmp_path / "missing.png"), str(tmp_path / "vis.png")]) == 2
