"""The public fuse() contract, the engine registry and the classic engine."""

from __future__ import annotations

import subprocess
import sys
from typing import ClassVar

import numpy as np
import pytest

import napari_textif
from napari_textif import Controls, fuse
from napari_textif.engines import (
    Engine,
    EngineOutput,
    EngineUnavailable,
    FusionCancelled,
    default_engine,
    get_engine,
    list_engines,
    register_engine,
)


def test_import_is_light():
    code = (
        "import sys, napari_textif; napari_textif.__version__;"
        "heavy = ('torch', 'napari', 'magicgui', 'qtpy', 'PyQt6', 'open_clip');"
        "print([m for m in heavy if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_classic_runs_without_importing_torch():
    code = (
        "import sys; from napari_textif import fuse; from napari_textif.samples import synthetic_pair;"
        "ir, vis = synthetic_pair(shape=(32, 48)); fuse(ir, vis, 'dark', engine='classic');"
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_result_contract_rgb(pair):
    ir, vis = pair
    result = fuse(ir, vis, "the visible image is dark", engine="classic")
    assert result.image.shape == vis.shape and result.image.dtype == np.float32
    assert 0.0 <= result.image.min() and result.image.max() <= 1.0
    assert result.engine == "classic" and result.device == "cpu"
    assert result.controls.vis_low_light > 0
    assert result.interpretation is not None
    assert set(result.timings) >= {"prepare", "engine", "compose", "total"}
    meta = result.metadata()
    assert meta["engine"] == "classic" and meta["controls"]["vis_low_light"] > 0
    assert meta["napari_textif_version"] == napari_textif.__version__


def test_gray_visible_gives_gray_result(pair):
    ir, vis = pair
    result = fuse(ir, vis.mean(axis=2).astype(np.uint8), engine="classic")
    assert result.image.shape == ir.shape


def test_explicit_controls_take_precedence(pair):
    ir, vis = pair
    controls = Controls(ir_noise=0.3)
    result = fuse(ir, vis, "very dark", engine="classic", controls=controls)
    assert result.controls == controls and result.interpretation is None


@pytest.mark.parametrize("dtype", ["uint16", "int16", "float64", "bool"])
def test_any_dtype_and_rgba_inputs(pair, dtype):
    ir, vis = pair
    ir_in = (ir > 128) if dtype == "bool" else (ir.astype(np.float64) / 255 if dtype == "float64"
                                                 else ir.astype(dtype) * 100)
    rgba = np.dstack([vis, np.full(ir.shape, 255, np.uint8)])
    result = fuse(ir_in, rgba, engine="classic")
    assert result.image.shape == vis.shape


def test_infrared_as_three_equal_channels_equals_single_channel(pair):
    ir, vis = pair
    a = fuse(ir, vis, engine="classic").image
    b = fuse(np.dstack([ir] * 3), vis, engine="classic").image
    np.testing.assert_array_equal(a, b)


def test_inputs_are_never_modified(pair):
    ir, vis = pair
    ir_before, vis_before = ir.copy(), vis.copy()
    fuse(ir, vis, "dark, noisy, hazy, striped infrared, low contrast", engine="classic")
    np.testing.assert_array_equal(ir, ir_before)
    np.testing.assert_array_equal(vis, vis_before)


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


def test_classic_keeps_hot_targets_and_visible_edges(pair):
    from scipy import ndimage

    ir, vis = pair
    fused = napari_textif.imaging.to_gray(fuse(ir, vis, engine="classic").image)
    vis_y = napari_textif.imaging.to_gray(vis / 255.0)
    hot = ir > 0.85 * 255
    assert hot.sum() > 20
    assert fused[hot].mean() > vis_y[hot].mean() + 0.2
    assert fused[hot].mean() > np.percentile(fused, 90)
    grad_fused = np.hypot(ndimage.sobel(fused, 0), ndimage.sobel(fused, 1))
    grad_vis = np.hypot(ndimage.sobel(vis_y, 0), ndimage.sobel(vis_y, 1))
    assert _corr(grad_fused, grad_vis) > 0.5
    assert _corr(fused, ir / 255.0) > 0.5


def test_classic_brightens_a_dark_visible_image_when_asked(dark_pair):
    ir, vis = dark_pair
    plain = fuse(ir, vis, engine="classic").image
    slightly = fuse(ir, vis, "the visible image is slightly dark", engine="classic").image
    bright = fuse(ir, vis, "the visible image is very dark", engine="classic").image
    # The dark regions (where the visible image carries the scene) are lifted, more for "very".
    shadows = plain.mean(axis=-1) < np.percentile(plain.mean(axis=-1), 30)
    assert bright[shadows].mean() > slightly[shadows].mean() > plain[shadows].mean()
    assert bright[shadows].mean() > plain[shadows].mean() + 0.03


def test_thermal_emphasis_raises_hot_regions(pair):
    ir, vis = pair
    hot = ir > 0.85 * 255
    low = fuse(ir, vis, engine="classic", controls=Controls(thermal_emphasis=-1)).image.mean(axis=2)
    high = fuse(ir, vis, engine="classic", controls=Controls(thermal_emphasis=1)).image.mean(axis=2)
    assert high[hot].mean() > low[hot].mean()


@pytest.mark.parametrize("engine", ["classic", "lite"])
def test_dehazed_result_keeps_the_colour_that_dehazing_restored(pair, engine):
    from napari_textif.imaging import rgb_to_ycbcr
    from napari_textif.restoration import restore_visible_color

    ir, vis = pair
    airlight = np.array([0.8, 0.85, 0.95], np.float32)  # a bluish veil
    hazy = ((vis / 255.0) * 0.6 + airlight * 0.4).astype(np.float32)
    before = hazy.copy()
    result = fuse(ir, hazy, "the visible image is hazy", engine=engine)
    np.testing.assert_array_equal(hazy, before)
    assert result.provenance["colour"] == "restored with the visible image"
    assert fuse(ir, hazy, engine=engine).provenance["colour"] == "the input's"
    dehazed = restore_visible_color(hazy, Controls(vis_haze=result.controls.vis_haze))
    chroma = rgb_to_ycbcr(result.image)[..., 1:]
    # The chroma is the dehazed image's (up to gamut clipping), not the veiled input's.
    assert np.abs(chroma - rgb_to_ycbcr(dehazed)[..., 1:]).mean() < 0.004
    assert np.abs(chroma - rgb_to_ycbcr(hazy)[..., 1:]).mean() > 0.01


@pytest.mark.parametrize("engine", ["classic", "lite"])
@pytest.mark.parametrize(("controls", "options", "restored"), [
    (Controls(), {}, False),
    (Controls(vis_blur=0.5, ir_noise=0.5), {}, False),
    (Controls(vis_noise=0.5), {}, True),
    (Controls(vis_low_light=0.5, vis_haze=0.4), {}, True),
    pytest.param(Controls(vis_noise=0.5), {"classic_restore": False}, False, id="network-only"),
])
def test_engines_return_a_restored_colour_only_when_a_step_restored_it(pair, engine, controls, options,
                                                                       restored):
    from napari_textif.engines import FusionRequest

    options = options if engine == "lite" else {}  # the classic engine has no options
    restored = restored or (engine == "classic" and controls.vis_noise > 0)  # it always restores
    ir, vis = pair[0] / np.float32(255), pair[1] / np.float32(255)
    before = vis.copy()
    output = get_engine(engine).run(FusionRequest(ir, vis, controls, "", "cpu", options, None))
    np.testing.assert_array_equal(vis, before)
    assert (output.colour is not None) == restored
    if restored:
        assert output.colour.shape == vis.shape and not np.may_share_memory(output.colour, vis)


class _EchoColour(Engine):
    name = "echo-colour"
    description = "test engine giving the request's own visible image as its colour"
    seen: ClassVar[list] = []

    def run(self, request):
        self.seen.append((request.visible, request.visible.copy()))
        return EngineOutput(request.visible.mean(axis=2), colour=request.visible)


def test_a_colour_that_is_the_request_visible_is_not_written_into(pair):
    register_engine("echo-colour", _EchoColour)
    result = fuse(*pair, engine="echo-colour")
    visible, before = _EchoColour.seen[-1]
    np.testing.assert_array_equal(visible, before)
    assert np.isfinite(result.image).all() and result.image.shape == visible.shape


@pytest.mark.parametrize("engine", ["classic", "lite"])
def test_real_hazy_scenes_come_closer_to_the_reference_colours(engine):
    from conftest import require_shared
    from napari_textif.imaging import rgb_to_ycbcr
    from napari_textif.io import read_image

    base = require_shared("ivif", "degraded_pairs", "train")
    errors = []
    for hazy_path in sorted((base / "VI").glob("*_haze.png"))[:3]:
        scene = hazy_path.name.removesuffix("_haze.png")
        ir, hazy = read_image(base / "IR" / f"{scene}_Norm.png"), read_image(hazy_path)
        reference = fuse(read_image(base / "IR_enhanced" / f"{scene}.png"),
                         read_image(base / "VI_enhanced" / f"{scene}.png"), engine=engine).image
        h, w = (min(a, b) for a, b in zip(hazy.shape[:2], reference.shape[:2]))
        clean = rgb_to_ycbcr(reference[:h, :w])[..., 1:]
        for prompt in ("", "the visible image is hazy"):
            image = fuse(ir[:h, :w], hazy[:h, :w], prompt, engine=engine).image
            errors.append(float(np.abs(rgb_to_ycbcr(image)[..., 1:] - clean).mean()))
    plain, dehazed = np.array(errors[0::2]), np.array(errors[1::2])
    assert len(plain) == 3 and np.all(dehazed < plain) and dehazed.mean() < 0.85 * plain.mean()


def test_classic_destripes_infrared(pair):
    ir, vis = pair
    ir_f = ir.astype(np.float32) / 255
    stripes = np.tile(np.random.default_rng(1).normal(0, 0.08, ir.shape[1]), (ir.shape[0], 1))
    striped = np.clip(ir_f + stripes, 0, 1).astype(np.float32)
    gray = vis.mean(axis=2).astype(np.uint8)
    plain = fuse(striped, gray, engine="classic").image
    fixed = fuse(striped, gray, "the infrared has stripe noise", engine="classic").image

    def column_roughness(x):
        return float(np.std(np.diff(x.mean(axis=0))))

    assert column_roughness(fixed) < 0.6 * column_roughness(plain)


def test_progress_is_reported_and_cancel_stops(pair):
    ir, vis = pair
    seen = []
    fuse(ir, vis, engine="classic", progress=lambda f, m: seen.append(f))
    assert seen[0] == 0.0 and seen[-1] == 1.0

    def cancel(fraction, message):
        raise FusionCancelled

    with pytest.raises(FusionCancelled):
        fuse(ir, vis, engine="classic", progress=cancel)


def test_registry_lists_engines_with_availability():
    rows = {row.name: row for row in list_engines()}
    assert rows["classic"].availability.available
    assert rows["classic"].output == "luminance"
    assert default_engine() in rows
    for row in rows.values():
        assert row.availability.available or row.availability.reason


def test_unknown_engine_lists_known_ones(pair):
    with pytest.raises(ValueError, match="classic") as info:
        fuse(*pair, engine="nope")
    assert "nope" in str(info.value)


class _Unavailable(Engine):
    name = "needs-magic"
    description = "test engine that is never available"
    needs = ("a unicorn",)

    def availability(self, options=None):
        return napari_textif.engines.Availability(False, "needs a unicorn (test)")

    def run(self, request):  # pragma: no cover - never reached
        return EngineOutput(request.infrared)


class _WrongShape(Engine):
    name = "wrong-shape"
    description = "test engine returning a cropped image"

    def run(self, request):
        return EngineOutput(request.infrared[:-1])


def test_unavailable_engine_says_what_it_needs(pair):
    register_engine("needs-magic", _Unavailable)
    with pytest.raises(EngineUnavailable, match="unicorn"):
        fuse(*pair, engine="needs-magic")


def test_engine_returning_wrong_shape_is_caught(pair):
    register_engine("wrong-shape", _WrongShape)
    assert isinstance(get_engine("wrong-shape"), _WrongShape)
    with pytest.raises(RuntimeError, match="shape"):
        fuse(*pair, engine="wrong-shape")


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"prompt": 3}, TypeError, "prompt"),
        ({"controls": {"vis_noise": 1}}, TypeError, "controls"),
        ({"device": None}, TypeError, "device"),
    ],
)
def test_bad_options_name_the_argument(pair, kwargs, error, words):
    with pytest.raises(error, match=words):
        fuse(*pair, engine="classic", **kwargs)


def test_auto_adds_detected_degradations_the_prompt_did_not_mention(dark_pair):
    ir, vis = dark_pair
    said = fuse(ir, vis, "keep people bright", engine="classic")
    auto = fuse(ir, vis, "keep people bright", engine="classic", auto=True)
    assert said.controls.vis_low_light == 0
    assert auto.controls.vis_low_light > 0.5
    assert auto.controls.thermal_emphasis == said.controls.thermal_emphasis > 0
    assert auto.interpretation.phrases["vis_low_light"].startswith("detected")


def test_auto_respects_what_the_prompt_rules_out(dark_pair):
    ir, vis = dark_pair
    result = fuse(ir, vis, "the visible image is not dark", engine="classic", auto=True)
    assert result.controls.vis_low_light == 0


def test_auto_and_explicit_controls_conflict(pair):
    with pytest.raises(ValueError, match="auto"):
        fuse(*pair, engine="classic", controls=Controls(), auto=True)


def test_unknown_engine_option_is_named(pair):
    with pytest.raises(ValueError, match=r"\['checkpoint'\].*'classic'"):
        fuse(*pair, engine="classic", options={"checkpoint": "x.pth"})


def test_bad_pairs(pair):
    ir, vis = pair
    with pytest.raises(ValueError, match="same height and width"):
        fuse(ir, vis[:-2], engine="classic")
    with pytest.raises(ValueError, match="infrared"):
        fuse(np.zeros((2, 3, 96, 128)), vis, engine="classic")
    with pytest.raises(TypeError, match="visible"):
        fuse(ir, vis.astype(np.complex64), engine="classic")
