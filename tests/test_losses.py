"""Fusion losses: the metric SSIM, the paper's weight table, preferences and shapes."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from napari_textif import metrics  # noqa: E402
from napari_textif.controls import CONTROL_NAMES, DEGRADATIONS, Controls  # noqa: E402
from napari_textif.training.losses import (  # noqa: E402
    COLOR_WEIGHT,
    KIND_WEIGHTS,
    NEUTRAL_WEIGHTS,
    fusion_loss,
    intensity_target,
    loss_weights,
    luminance,
    sobel,
    ssim,
)


def _controls(**values: float) -> torch.Tensor:
    return torch.tensor([Controls(**values).to_vector()], dtype=torch.float32)


def _batch(seed: int = 0, size: int = 24):
    g = torch.Generator().manual_seed(seed)
    ir = torch.rand(2, 1, size, size, generator=g)
    vis = torch.rand(2, 3, size, size, generator=g)
    return ir, vis


def test_ssim_equals_the_metric():
    # Whole grey levels, which the metric works on, so both see the same numbers.
    g = torch.Generator().manual_seed(1)
    x = torch.randint(0, 256, (3, 1, 20, 26), generator=g).double()
    y = (x + torch.randint(0, 80, x.shape, generator=g)).clamp(0, 255) / 255
    x = x / 255
    ours = ssim(x, y).numpy()
    expected = [metrics.ssim(x[i, 0].numpy(), y[i, 0].numpy(), data_range=255.0) for i in range(3)]
    np.testing.assert_allclose(ours, expected, rtol=1e-10)
    assert float(ssim(x, x)[0]) == pytest.approx(1.0)


def test_sobel_matches_the_metric_kernels():
    image = torch.rand(1, 1, 9, 11, dtype=torch.float64)
    gx, gy = sobel(image)
    from scipy import ndimage

    padded = np.pad(image[0, 0].numpy(), 1, mode="edge")
    ref_x = np.abs(ndimage.correlate(padded, np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]))[1:-1, 1:-1])
    ref_y = np.abs(ndimage.correlate(padded, np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]]))[1:-1, 1:-1])
    np.testing.assert_allclose(gx[0, 0].numpy(), ref_x, atol=1e-12)
    np.testing.assert_allclose(gy[0, 0].numpy(), ref_y, atol=1e-12)


@pytest.mark.parametrize("kind", DEGRADATIONS)
def test_one_kind_at_full_strength_gets_its_table_row(kind):
    weights = loss_weights(_controls(**{kind: 1.0}))
    assert [float(weights[k]) for k in ("intensity", "ssim", "gradient")] == list(KIND_WEIGHTS[kind])
    assert float(weights["color"]) == COLOR_WEIGHT


def test_paper_table_and_neutral_weights():
    assert KIND_WEIGHTS["vis_low_light"] == (8, 1, 10)
    assert KIND_WEIGHTS["vis_overexposure"] == (4, 0, 2)
    assert KIND_WEIGHTS["ir_low_contrast"] == (8, 1, 10)
    assert KIND_WEIGHTS["ir_noise"] == (6, 1, 10)
    weights = loss_weights(_controls())
    assert [float(weights[k]) for k in ("intensity", "ssim", "gradient")] == list(NEUTRAL_WEIGHTS)


def test_weights_mix_linearly_and_never_go_negative():
    half = loss_weights(_controls(vis_overexposure=0.5))
    assert float(half["intensity"]) == pytest.approx((NEUTRAL_WEIGHTS[0] + 4.0) / 2)
    both = loss_weights(_controls(vis_overexposure=1.0, vis_noise=1.0, vis_rain=1.0))
    assert all(float(v) >= 0 for v in both.values())
    assert float(both["gradient"]) == 0.0  # 10 - 8 - 4 - 2, clipped


def test_perfect_fusion_of_identical_sources_costs_nothing():
    ir, _ = _batch()
    vis = ir.repeat(1, 3, 1, 1)
    total, _ = fusion_loss(ir.clone(), ir, vis, torch.zeros(2, len(CONTROL_NAMES)))
    assert float(total) == pytest.approx(0.0, abs=1e-6)
    total_rgb, _ = fusion_loss(vis.clone(), ir, vis, torch.zeros(2, len(CONTROL_NAMES)))
    assert float(total_rgb) == pytest.approx(0.0, abs=1e-6)


def test_intensity_targets_the_brighter_source():
    ir, vis = _batch()
    controls = torch.zeros(2, len(CONTROL_NAMES))
    _, at_max = fusion_loss(torch.maximum(ir, luminance(vis)), ir, vis, controls)
    _, at_mean = fusion_loss(0.5 * (ir + luminance(vis)), ir, vis, controls)
    assert float(at_max["intensity"]) == 0.0 and float(at_mean["intensity"]) > 0.5


def test_thermal_emphasis_moves_the_intensity_target_where_the_infrared_is_brighter():
    ir, vis = _batch()
    y = luminance(vis)
    hot = ir > y
    targets = {t: intensity_target(ir, y, torch.full((2,), t)) for t in (-1.0, -0.5, 0.0, 0.5, 1.0)}
    assert torch.allclose(targets[-1.0], y.where(hot, torch.maximum(ir, y)))
    assert torch.equal(targets[0.0], torch.maximum(ir, y))
    for low, high in ((-1.0, -0.5), (-0.5, 0.0), (0.0, 0.5), (0.5, 1.0)):
        assert torch.all(targets[low][hot] <= targets[high][hot])
        assert torch.equal(targets[low][~hot], targets[high][~hot])
    assert float((targets[1.0] - targets[0.0])[hot].mean()) > 0.01
    # The loss follows its target: the visible image alone is best at -1, the maximum at 0.
    costs = {t: float(fusion_loss(y, ir, vis, _controls(thermal_emphasis=t).repeat(2, 1))[1]["intensity"])
             for t in (-1.0, 0.0)}
    assert costs[-1.0] == pytest.approx(0.0, abs=1e-6) and costs[0.0] > 0.01


def test_detail_emphasis_scales_the_target_gradients():
    ir, vis = _batch()
    y = luminance(vis)
    sharper = torch.maximum(ir, y)
    values = {}
    for d in (-1.0, 0.0, 1.0):
        controls = _controls(detail_emphasis=d).repeat(2, 1)
        values[d] = float(fusion_loss(torch.full_like(ir, 0.5), ir, vis, controls)[1]["gradient"])
    # A flat image misses all target gradient: its cost is proportional to 1 + 0.5 d.
    assert values[-1.0] == pytest.approx(0.5 * values[0.0], rel=1e-5)
    assert values[1.0] == pytest.approx(1.5 * values[0.0], rel=1e-5)
    # An image with twice the gradients of the sources is closer to the emphasised target.
    doubled = (2.0 * sharper - sharper.mean()).clamp(0, 1)
    cost = {d: float(fusion_loss(doubled, ir, vis, _controls(detail_emphasis=d).repeat(2, 1))[1]["gradient"])
            for d in (-1.0, 1.0)}
    assert cost[1.0] / 1.5 < cost[-1.0] / 0.5


def test_color_term_only_for_rgb_outputs():
    ir, vis = _batch()
    controls = torch.zeros(2, len(CONTROL_NAMES))
    assert float(fusion_loss(luminance(vis), ir, vis, controls)[1]["color"]) == 0.0
    assert float(fusion_loss(vis, ir, vis, controls)[1]["color"]) == 0.0
    gray = luminance(vis).repeat(1, 3, 1, 1)
    assert float(fusion_loss(gray, ir, vis, controls)[1]["color"]) > 0.1


def test_loss_has_gradients_and_per_sample_weights():
    ir, vis = _batch()
    fused = torch.full_like(ir, 0.5, requires_grad=True)
    controls = torch.cat([_controls(vis_overexposure=1.0), _controls(vis_blur=1.0)])
    total, _ = fusion_loss(fused, ir, vis, controls)
    total.backward()
    assert torch.isfinite(fused.grad).all() and fused.grad.abs().sum() > 0
    one, _ = fusion_loss(fused[:1], ir[:1], vis[:1], controls[:1])
    two, _ = fusion_loss(fused[1:], ir[1:], vis[1:], controls[1:])
    assert float(total) == pytest.approx((float(one) + float(two)) / 2, rel=1e-5)


@pytest.mark.parametrize(
    ("fused_shape", "controls_shape", "words"),
    [
        ((2, 2, 24, 24), (2, 11), "1 or 3 channels"),
        ((2, 1, 20, 24), (2, 11), "to match fused"),
        ((2, 1, 24, 24), (2, 9), r"controls must have shape \(B, 11\)"),
        ((2, 1, 24, 24), (3, 11), "one per sample"),
    ],
)
def test_shape_errors_are_named(fused_shape, controls_shape, words):
    ir, vis = _batch()
    with pytest.raises(ValueError, match=words):
        fusion_loss(torch.rand(fused_shape), ir, vis, torch.zeros(controls_shape))


def test_gradient_scales_add_coarser_targets():
    ir, vis = _batch()
    controls = torch.zeros(2, len(CONTROL_NAMES))
    target = torch.maximum(ir, luminance(vis))
    flat = torch.full_like(ir, float(target.mean()))
    one = float(fusion_loss(flat, ir, vis, controls)[1]["gradient"])
    three = float(fusion_loss(flat, ir, vis, controls, gradient_scales=(1, 2, 4))[1]["gradient"])
    assert three > one
    # Sources with equal gradients at every scale give zero at every scale.
    same = float(fusion_loss(ir, ir, ir.repeat(1, 3, 1, 1), controls, gradient_scales=(1, 2))[1]["gradient"])
    assert same == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(ValueError, match="gradient_scales"):
        fusion_loss(flat, ir, vis, controls, gradient_scales=(64,))


def test_correlation_term_is_the_complement_of_scd():
    ir, vis = _batch()
    y = luminance(vis)
    controls = torch.zeros(2, len(CONTROL_NAMES))
    additive = ir + y - 0.5  # F - Y is IR and F - IR is Y (up to constants): both correlations are 1
    assert float(fusion_loss(additive, ir, vis, controls, correlation_weight=1.0)[1]["correlation"]) == (
        pytest.approx(0.0, abs=1e-5))
    off = fusion_loss(torch.maximum(ir, y), ir, vis, controls)[1]["correlation"]
    assert float(off) == 0.0
    fused = torch.maximum(ir, y)
    one = float(fusion_loss(fused, ir, vis, controls, correlation_weight=1.0)[1]["correlation"])
    two = float(fusion_loss(fused, ir, vis, controls, correlation_weight=2.0)[1]["correlation"])
    assert one > 0.1 and two == pytest.approx(2 * one)
    # It matches the SCD metric on the same images (one sample, 8-bit data).
    f8, ir8, y8 = ((t[0, 0] * 255).round() for t in (fused, ir, y))
    scd = metrics.scd(f8.numpy().astype(np.uint8), ir8.numpy().astype(np.uint8), y8.numpy().astype(np.uint8))
    as_batch = [(t / 255)[None, None] for t in (f8, ir8, y8)]
    terms = fusion_loss(as_batch[0], as_batch[1], as_batch[2].repeat(1, 3, 1, 1), controls[:1],
                        correlation_weight=1.0)[1]
    deficit = float(terms["correlation"])
    assert deficit == pytest.approx(2 - scd, abs=1e-4)


def test_contrast_term_asks_for_the_larger_local_contrast_of_the_sources():
    from napari_textif.training.losses import local_std

    ir, vis = _batch(size=32)
    y = luminance(vis)
    controls = torch.zeros(2, len(CONTROL_NAMES))
    assert float(fusion_loss(ir, ir, vis, controls)[1]["contrast"]) == 0.0  # off by default
    flat = torch.full_like(ir, 0.5)
    on = lambda f: float(fusion_loss(f, ir, vis, controls, contrast_weight=1.0)[1]["contrast"])  # noqa: E731
    # A flat image has no contrast and costs the most; a source scaled up to more contrast than
    # either source costs less than the flat one, and the term scales with its weight.
    assert on(flat) > on(0.5 + 0.5 * (y - 0.5)) > 0.0
    assert float(fusion_loss(flat, ir, vis, controls, contrast_weight=3.0)[1]["contrast"]) == (
        pytest.approx(3 * on(flat)))
    # local_std of a constant is ~0, of a checkerboard 0.5-ish.
    board = (torch.arange(16)[:, None] + torch.arange(16)[None]) % 2
    assert float(local_std(board[None, None].float(), 3).mean()) == pytest.approx(0.5, abs=0.03)
    assert float(local_std(flat).max()) < 1e-3


def test_contrast_scales_set_the_contrast_pyramid_apart_from_the_gradient_one():
    ir, vis = _batch(size=32)
    controls = torch.zeros(2, len(CONTROL_NAMES))
    flat = torch.full_like(ir, 0.5)
    term = lambda **kw: float(fusion_loss(flat, ir, vis, controls, contrast_weight=1.0,  # noqa: E731
                                          gradient_scales=(1, 2, 4), **kw)[1]["contrast"])
    # None follows gradient_scales; fewer coarse factors leave less of the flat image's deficit.
    assert term(contrast_scales=None) == pytest.approx(term(contrast_scales=(1, 2, 4)))
    assert term(contrast_scales=(1,)) < term(contrast_scales=(1, 2)) < term(contrast_scales=None)
    with pytest.raises(ValueError, match="contrast_scales"):
        term(contrast_scales=(16,))


def test_preference_weight_holds_preference_samples_to_their_targets_harder():
    ir, vis = _batch(size=32)
    fused = luminance(vis)
    for name, term in (("thermal_emphasis", "intensity"), ("detail_emphasis", "gradient")):
        controls = torch.zeros(2, len(CONTROL_NAMES))
        controls[:, CONTROL_NAMES.index(name)] = -0.5
        plain = fusion_loss(fused, ir, vis, controls)[1]
        held = fusion_loss(fused, ir, vis, controls, preference_weight=2.0)[1]
        assert float(held[term]) == pytest.approx(2.0 * float(plain[term]), rel=1e-5)  # 1 + 2 * 0.5
        other = "gradient" if term == "intensity" else "intensity"
        assert float(held[other]) == pytest.approx(float(plain[other]))
