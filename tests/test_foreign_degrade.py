"""The evaluation-only foreign simulator (benchmarks/foreign_degrade.py) and the benchmark's gain."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from napari_textif.samples import synthetic_pair

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import foreign_degrade
import restoration as restoration_benchmark

CASES = [(kind, severity) for kind in foreign_degrade.KINDS for severity in foreign_degrade.SEVERITIES]


@pytest.fixture(scope="module")
def pair() -> tuple[np.ndarray, np.ndarray]:
    ir, vis = synthetic_pair(shape=(72, 96), seed=3)
    return ir.astype(np.float32) / 255.0, vis.astype(np.float32) / 255.0


def _input(pair: tuple[np.ndarray, np.ndarray], kind: str) -> np.ndarray:
    ir, vis = pair
    return ir if foreign_degrade.KINDS[kind][0] == "ir" else vis


@pytest.mark.parametrize(("kind", "severity"), CASES)
def test_every_kind_and_severity(pair, kind: str, severity: str) -> None:
    image = _input(pair, kind)
    before = image.copy()
    fn = foreign_degrade.KINDS[kind][1]
    out = fn(image, severity, np.random.default_rng(5))
    assert out.dtype == np.float32 and out.shape == image.shape
    assert np.all(np.isfinite(out)) and out.min() >= 0.0 and out.max() <= 1.0
    np.testing.assert_array_equal(image, before)  # input untouched
    again = fn(image, severity, np.random.default_rng(5))
    np.testing.assert_array_equal(out, again)  # reproducible for a fixed seed
    assert float(np.abs(out - image).mean()) > 0.01, f"{kind}/{severity} barely moves the image"


@pytest.mark.parametrize("kind", [k for k, (camera, _) in foreign_degrade.KINDS.items() if camera == "vis"])
def test_visible_kinds_accept_gray(pair, kind: str) -> None:
    gray = pair[1].mean(axis=-1).astype(np.float32)
    out = foreign_degrade.KINDS[kind][1](gray, "moderate", np.random.default_rng(0))
    assert out.shape == gray.shape and out.dtype == np.float32


def test_degrade_touches_only_its_camera(pair) -> None:
    ir, vis = pair
    ir_d, vis_d = foreign_degrade.degrade(ir, vis, "ir_noise", "mild", np.random.default_rng(1))
    np.testing.assert_array_equal(vis_d, vis)
    assert not np.array_equal(ir_d, ir)
    with pytest.raises(ValueError, match="severity"):
        foreign_degrade.vis_haze(vis, "extreme", np.random.default_rng(0))


def test_severity_orders_the_damage(pair) -> None:
    ir = pair[0]
    moved = [float(np.abs(foreign_degrade.ir_noise(ir, s, np.random.default_rng(2)) - ir).mean())
             for s in foreign_degrade.SEVERITIES]
    assert moved[0] < moved[1] < moved[2]


def test_gain_formula_on_a_toy_case() -> None:
    gain = restoration_benchmark.normalized_ssim_gain
    assert gain(0.9, 0.8) == pytest.approx(0.5)
    assert gain(1.0, 0.6) == pytest.approx(1.0)
    assert gain(0.6, 0.6) == pytest.approx(0.0)
    assert gain(0.5, 0.75) == pytest.approx(-1.0)
    clean = np.tile(np.linspace(0, 1, 32, dtype=np.float32), (32, 1))
    neutral = np.clip(clean + np.random.default_rng(0).normal(0, 0.1, clean.shape), 0, 1)
    result = restoration_benchmark.gains(clean.copy(), neutral, clean)
    assert result["ssim_gain"] == pytest.approx(1.0)  # a perfect restoration recovers everything
    assert result["psnr_gain"] > 0
    result = restoration_benchmark.gains(neutral, neutral, clean)
    assert result["ssim_gain"] == pytest.approx(0.0) and result["psnr_gain"] == pytest.approx(0.0)


def test_spread_pairs_the_engine_with_the_baseline() -> None:
    engine = [{"ssim_gain": g} for g in (0.5, 0.7, 0.3)]
    baseline = [{"ssim_gain": g} for g in (0.4, 0.6, 0.2)]
    out = restoration_benchmark.spread(engine, baseline)
    assert out["difference"] == pytest.approx(0.1)
    assert out["difference_se"] == pytest.approx(0.0, abs=1e-12)  # the same lead on every pair
    assert out["engine_se"] == pytest.approx(0.2 / np.sqrt(3))
    single = restoration_benchmark.spread(engine[:1], baseline[:1])
    assert single["engine_se"] == 0.0 and single["difference_se"] == 0.0
    with pytest.raises(ValueError):
        restoration_benchmark.spread(engine, baseline[:2])
