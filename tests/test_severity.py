"""The words say what is wrong, the images say how much: severity.calibrate and fuse(severity=...)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from napari_textif import fuse, interpret
from napari_textif.controls import Controls
from napari_textif.severity import FLOOR, FLOORS, calibrate, strength_for


def _hazy(visible: np.ndarray, amount: float) -> np.ndarray:
    """The scattering model with a uniform transmission ``1 - amount`` and a grey airlight."""
    vis = visible.astype(np.float32) / 255.0
    return (vis * (1.0 - amount) + 0.85 * amount).astype(np.float32)


@pytest.fixture(scope="module")
def floats(pair):
    ir, vis = pair
    return ir.astype(np.float32) / 255.0, vis.astype(np.float32) / 255.0


def test_thin_haze_gets_weaker_restoration_than_thick(pair, floats):
    ir, _ = floats
    strengths = [calibrate(interpret("hazy"), ir, _hazy(pair[1], a))[1]["vis_haze"].strength
                 for a in (0.25, 0.45, 0.7)]
    assert strengths[0] < strengths[1] < strengths[2]
    assert strengths[2] >= 0.6


def test_hazy_said_about_a_clear_image_does_little(floats):
    _, found = calibrate(interpret("the visible image is hazy"), *floats)
    assert found["vis_haze"].strength <= 2 * FLOOR


def test_words_scale_within_the_measured_severity(pair, floats):
    hazy = _hazy(pair[1], 0.25)
    values = [calibrate(interpret(p), floats[0], hazy)[0].controls.vis_haze
              for p in ("slightly hazy", "hazy", "very hazy")]
    assert values[0] < values[1] < values[2]


def test_strength_for_floor_and_clip():
    assert strength_for(0.6, 0.0) == FLOOR
    assert strength_for(0.3, 0.0) == FLOOR / 2
    assert strength_for(1.0, 1.0) == 1.0
    assert strength_for(0.6, 0.42) == 0.42


def test_blurry_said_about_a_sharp_image_changes_nothing(pair, floats):
    calibrated, found = calibrate(interpret("the visible image is blurry"), *floats)
    assert found["vis_blur"].measured == 0.0 and calibrated.controls.vis_blur == 0.0
    assert strength_for(0.6, 0.0, floor=FLOORS["vis_blur"]) == 0.0
    prompted = fuse(*pair, "the visible image is blurry", engine="classic").image
    assert np.array_equal(prompted, fuse(*pair, engine="classic").image)


def test_rainy_said_where_no_streaks_read_changes_nothing(pair, floats):
    calibrated, found = calibrate(interpret("the visible image is rainy"), *floats)
    assert found["vis_rain"].measured == 0.0 and calibrated.controls.vis_rain == 0.0
    result = fuse(*pair, "the visible image is rainy")
    assert np.array_equal(result.image, fuse(*pair).image)
    assert any("vis_rain 0.00" in n and "not restored: the images show none" in n for n in result.notes)


def test_only_named_degradations_change(floats):
    said = interpret("noisy infrared; keep people bright")
    calibrated, found = calibrate(said, *floats)
    assert set(found) == {"ir_noise"}
    assert calibrated.controls.thermal_emphasis == said.controls.thermal_emphasis
    assert calibrated.phrases == said.phrases


def test_tiny_images_keep_the_words_value():
    ir, vis = np.full((6, 6), 0.5, np.float32), np.full((6, 6, 3), 0.5, np.float32)
    calibrated, found = calibrate(interpret("very noisy visible image"), ir, vis)
    assert found["vis_noise"].measured is None
    assert calibrated.controls.vis_noise == interpret("very noisy visible image").controls.vis_noise


def test_inputs_untouched(floats):
    ir, vis = (a.copy() for a in floats)
    calibrate(interpret("hazy and dark, noisy infrared"), ir, vis)
    np.testing.assert_array_equal(ir, floats[0])
    np.testing.assert_array_equal(vis, floats[1])


def test_fuse_reports_measured_severity(pair):
    result = fuse(*pair, "the visible image is hazy", engine="classic")
    record = result.provenance["severity"]["vis_haze"]
    assert record["strength"] == result.controls.vis_haze
    assert record["said"] == interpret("the visible image is hazy").controls.vis_haze
    assert any(n.startswith("severity from the images: vis_haze") for n in result.notes)


def test_neutral_prompt_and_explicit_controls_are_not_calibrated(pair):
    plain = fuse(*pair, "", engine="classic")
    words = fuse(*pair, "", engine="classic", severity="words")
    np.testing.assert_array_equal(plain.image, words.image)
    assert "severity" not in plain.provenance
    explicit = fuse(*pair, engine="classic", controls=Controls(vis_haze=0.6))
    assert explicit.controls.vis_haze == 0.6 and "severity" not in explicit.provenance


def test_severity_words_is_the_words_alone(pair):
    result = fuse(*pair, "the visible image is hazy", engine="classic", severity="words")
    assert result.controls.vis_haze == interpret("the visible image is hazy").controls.vis_haze


def test_bad_severity_is_refused(pair):
    with pytest.raises(ValueError, match="severity must be 'images' or 'words'"):
        fuse(*pair, "hazy", engine="classic", severity="pictures")


def test_simulator_units_are_monotonic_and_pass_uncalibrated_kinds():
    from napari_textif.severity import CALIBRATION, to_simulator_units

    for control in CALIBRATION:
        values = [to_simulator_units(control, m) for m in np.linspace(0, 1, 21)]
        assert values[0] == 0.0 and values[-1] <= 1.0
        assert all(b >= a for a, b in itertools.pairwise(values))
    assert to_simulator_units("ir_noise", 0.37) == 0.37


@pytest.mark.parametrize("engine", ["lite", "classic", "textif"])
def test_best_strength_is_monotonic_and_passes_each_engines_points(engine):
    from napari_textif.engines import get_engine
    from napari_textif.severity import RESPONSE_STRENGTHS, best_strength

    response = get_engine(engine).strength_response
    for control, curve in response.items():
        values = [best_strength(control, s, response) for s in np.linspace(0, 1, 21)]
        assert values[0] == 0.0 and 0.0 <= values[-1] <= 1.0
        assert all(b >= a for a, b in itertools.pairwise(values)), control
        assert [best_strength(control, s, response) for s in RESPONSE_STRENGTHS] == list(curve)
    assert best_strength("vis_low_light", 0.37, response) == 0.37


def test_mild_overexposure_is_restored_below_its_simulated_strength():
    """On our simulator both engines over-correct mild overexposure told its true strength."""
    from napari_textif.engines import get_engine
    from napari_textif.severity import best_strength

    for engine in ("lite", "classic"):
        response = get_engine(engine).strength_response
        mild, moderate = (best_strength("vis_overexposure", s, response) for s in (0.3, 0.6))
        assert mild < 0.3 < moderate


def test_fuse_reads_the_engines_own_strength_response(floats):
    """The same measured rain gets the network's low strength and the classic opening's full one."""
    from napari_textif.training.degrade import degrade_pair

    ir_d, vis_d = degrade_pair(*floats, {"vis_rain": 0.6}, 3)
    strengths = {engine: fuse(ir_d, vis_d, "the visible image is rainy", engine=engine).controls.vis_rain
                 for engine in ("lite", "classic")}
    assert strengths["lite"] < strengths["classic"]


def test_the_images_are_measured_once_per_fusion(pair, monkeypatch):
    """Severity and auto-detection share one measurement; a prompt of preferences only needs none."""
    from napari_textif import detection, severity

    calls = []
    original = detection.measure
    counted = lambda *a, **k: calls.append(1) or original(*a, **k)  # noqa: E731
    monkeypatch.setattr(detection, "measure", counted)
    monkeypatch.setattr(severity, "measure", counted)  # severity's own name for it
    for prompt, auto, expected in [("hazy", True, 1), ("hazy", False, 1), ("keep people bright", False, 0)]:
        calls.clear()
        fuse(*pair, prompt, engine="classic", auto=auto)
        assert len(calls) == expected, (prompt, auto)


def _jpeg_noisy(visible: np.ndarray, sigma: float, quality: int) -> np.ndarray:
    from conftest import jpeg_round_trip

    rng = np.random.default_rng(5)
    noisy = np.clip(visible.astype(np.float32) / 255.0 + rng.normal(0, sigma, visible.shape), 0, 1)
    return jpeg_round_trip(noisy, quality)


def test_named_noise_is_read_at_half_resolution_too(pair, floats):
    from napari_textif.detection import detect

    ir, _ = floats
    vis = _jpeg_noisy(pair[1], 0.05, 50)
    unprompted = detect(ir, vis).controls.vis_noise
    _, found = calibrate(interpret("the visible image is noisy"), ir, vis)
    assert found["vis_noise"].statistic == "vis_noise_named"
    assert found["vis_noise"].measured >= 0.6 > unprompted
