"""The degradation simulator: identity at 0, the right statistic moves with strength, seeded."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from napari_textif.controls import DEGRADATIONS, Controls
from napari_textif.training.degrade import INFRARED_ORDER, VISIBLE_ORDER, degrade, degrade_pair

STRENGTHS = (0.0, 0.3, 0.6, 1.0)


@pytest.fixture(scope="module")
def images(pair) -> dict[str, np.ndarray]:
    ir, vis = pair
    return {"ir": ir.astype(np.float32) / 255, "vis": vis.astype(np.float32) / 255}


def _source(images: dict[str, np.ndarray], kind: str) -> np.ndarray:
    return images["ir"] if kind.startswith("ir_") else images["vis"]


def _gray(image: np.ndarray) -> np.ndarray:
    return image if image.ndim == 2 else image @ np.array([0.299, 0.587, 0.114], np.float32)


def _high_pass_std(image: np.ndarray) -> float:
    gray = _gray(image).astype(np.float64)
    return float(np.std(gray - ndimage.median_filter(gray, 3)))


def _column_pattern(image: np.ndarray) -> float:
    means = _gray(image).astype(np.float64).mean(axis=0)
    return float(np.var(np.diff(means)))


def _brightened(clean: np.ndarray):
    return lambda image: float(np.mean(np.maximum(_gray(image) - _gray(clean), 0.0)))


#: kind -> (statistic, +1 if it must rise with strength, -1 if it must fall)
STATISTICS = {
    "vis_low_light": (lambda im: float(_gray(im).mean()), -1),
    "vis_overexposure": (lambda im: float(_gray(im).mean()), +1),
    "vis_noise": (_high_pass_std, +1),
    "vis_haze": (lambda im: float(_gray(im).std()), -1),
    "vis_rain": (None, +1),  # brightening by streaks, needs the clean image
    "vis_blur": (lambda im: float(ndimage.laplace(_gray(im).astype(np.float64)).var()), -1),
    "ir_low_contrast": (lambda im: float(im.std()), -1),
    "ir_noise": (_high_pass_std, +1),
    "ir_stripe_noise": (_column_pattern, +1),
}


@pytest.mark.parametrize("kind", DEGRADATIONS)
def test_strength_zero_is_identity(images, kind):
    clean = _source(images, kind)
    out = degrade(clean, kind, 0.0, np.random.default_rng(0))
    np.testing.assert_array_equal(out, clean)
    assert out is not clean and out.dtype == np.float32


@pytest.mark.parametrize("kind", DEGRADATIONS)
def test_statistic_moves_with_strength(images, kind):
    clean = _source(images, kind)
    statistic, direction = STATISTICS[kind]
    statistic = statistic or _brightened(clean)
    values = [statistic(degrade(clean, kind, s, np.random.default_rng(5))) for s in STRENGTHS]
    steps = np.diff(values) * direction
    assert (steps > 0).all(), f"{kind}: {values} should {'rise' if direction > 0 else 'fall'}"


@pytest.mark.parametrize("kind", DEGRADATIONS)
def test_seeded_and_input_untouched(images, kind):
    clean = _source(images, kind)
    before = clean.copy()
    a = degrade(clean, kind, 0.7, np.random.default_rng(11))
    b = degrade(clean, kind, 0.7, 11)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(clean, before)
    assert a.shape == clean.shape and a.dtype == np.float32
    assert 0.0 <= a.min() and a.max() <= 1.0


@pytest.mark.parametrize("kind", [k for k in DEGRADATIONS if k != "vis_blur"])
def test_other_seed_other_sample(images, kind):
    clean = _source(images, kind)
    assert not np.array_equal(degrade(clean, kind, 0.7, 1), degrade(clean, kind, 0.7, 2))


@pytest.mark.parametrize("kind", DEGRADATIONS)
def test_grayscale_and_rgb_both_work(images, kind):
    gray = images["ir"]
    rgb = np.repeat(gray[..., None], 3, axis=2)
    assert degrade(gray, kind, 0.5, 0).shape == gray.shape
    assert degrade(rgb, kind, 0.5, 0).shape == rgb.shape


def test_reference_size_scales_blur(images):
    crop = images["vis"][:48, :48]
    small = degrade(crop, "vis_blur", 1.0, 3)
    large = degrade(crop, "vis_blur", 1.0, 3, reference_size=2000)
    lap = STATISTICS["vis_blur"][0]
    assert lap(large) < lap(small)


def test_degrade_pair_applies_in_physical_order(images):
    ir, vis = images["ir"], images["vis"]
    controls = Controls(vis_haze=1.0, vis_low_light=1.0, ir_low_contrast=0.5, ir_noise=0.4)
    ir_out, vis_out = degrade_pair(ir, vis, controls, np.random.default_rng(9))
    rng = np.random.default_rng(9)
    expected_vis, expected_ir = vis, ir
    for kind in VISIBLE_ORDER:
        expected_vis = degrade(expected_vis, kind, getattr(controls, kind), rng)
    for kind in INFRARED_ORDER:
        expected_ir = degrade(expected_ir, kind, getattr(controls, kind), rng)
    np.testing.assert_array_equal(vis_out, expected_vis)
    np.testing.assert_array_equal(ir_out, expected_ir)
    # The exposure drop comes after the haze: a dark hazy night, not a bright veil over darkness.
    assert _gray(vis_out).mean() < 0.5 * _gray(vis).mean()
    assert set(VISIBLE_ORDER + INFRARED_ORDER) == set(DEGRADATIONS)


def test_degrade_pair_accepts_a_mapping(images):
    ir_out, vis_out = degrade_pair(images["ir"], images["vis"], {"ir_stripe_noise": 0.5}, 0)
    np.testing.assert_array_equal(vis_out, images["vis"])
    assert not np.array_equal(ir_out, images["ir"])


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"kind": "fog"}, ValueError, "kind must be one of"),
        ({"strength": 1.5}, ValueError, "strength must lie in"),
        ({"strength": "high"}, TypeError, "strength must be a number"),
        ({"rng": "seed"}, TypeError, "rng must be"),
        ({"image": np.zeros((8, 8), np.uint8)}, TypeError, "image must be a float array"),
        ({"image": np.full((8, 8), 2.0)}, ValueError, "lie in \\[0, 1\\]"),
        ({"image": np.zeros((8, 8, 4))}, ValueError, "shape"),
    ],
)
def test_bad_input_is_named(kwargs, error, words):
    args = {"image": np.zeros((8, 8), np.float32), "kind": "vis_noise", "strength": 0.5, "rng": 0}
    args.update(kwargs)
    with pytest.raises(error, match=words):
        degrade(args["image"], args["kind"], args["strength"], args["rng"])


def test_cli_degrade_writes_a_seeded_copy(tmp_path, pair):
    from napari_textif.cli import main
    from napari_textif.io import read_image, write_image

    source = write_image(tmp_path / "vis.png", pair[1].astype(np.float32) / 255)
    for name in ("a.png", "b.png"):
        code = main(["degrade", str(source), str(tmp_path / name), "--kind", "vis_low_light",
                     "--strength", "0.8", "--seed", "4"])
        assert code == 0
    a, b = read_image(tmp_path / "a.png"), read_image(tmp_path / "b.png")
    np.testing.assert_array_equal(a, b)
    assert a.shape == pair[1].shape and a.mean() < 0.6 * pair[1].mean()


def test_cli_degrade_rejects_bad_strength(tmp_path, pair, capsys):
    from napari_textif.cli import main
    from napari_textif.io import write_image

    source = write_image(tmp_path / "ir.png", pair[0].astype(np.float32) / 255)
    code = main(["degrade", str(source), str(tmp_path / "o.png"), "--kind", "ir_noise", "--strength", "3"])
    assert code == 2 and "strength must lie in [0, 1]" in capsys.readouterr().err
