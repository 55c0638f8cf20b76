"""The lite engine: shipped weights, padding, tiling, progress, training protocol, controls."""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("safetensors")

import napari_textif  # noqa: E402
from napari_textif.controls import CONTROL_NAMES, Controls  # noqa: E402
from napari_textif.engines import FusionCancelled, default_engine, get_engine  # noqa: E402
from napari_textif.engines.lite.engine import (  # noqa: E402
    DEFAULT_WEIGHTS,
    LiteEngine,
    check_weights,
    load_model,
    save_weights,
    sidecar_path,
)
from napari_textif.io import file_sha256  # noqa: E402
from napari_textif.samples import synthetic_pair  # noqa: E402


@pytest.fixture(scope="module")
def scene() -> tuple[np.ndarray, np.ndarray]:
    return synthetic_pair(shape=(120, 160), seed=0)


def _spatial_frequency(gray: np.ndarray) -> float:
    g = gray.astype(np.float64) * 255.0
    return float(np.sqrt(np.mean(np.diff(g, axis=1) ** 2) + np.mean(np.diff(g, axis=0) ** 2)))


def test_shipped_weights_match_their_sha256():
    record = json.loads(sidecar_path(DEFAULT_WEIGHTS).read_text())
    assert file_sha256(DEFAULT_WEIGHTS) == record["sha256"]
    assert record["controls_names"] == list(CONTROL_NAMES)
    ok, reason, _ = check_weights(DEFAULT_WEIGHTS)
    assert ok, reason


def test_lite_is_the_default_engine_when_available():
    assert get_engine("lite").availability().available
    assert default_engine() == "lite"


def test_fuse_with_shipped_weights_keeps_shape_and_range(scene):
    ir, vis = scene
    result = napari_textif.fuse(ir, vis, "the visible image is dark", engine="lite", device="cpu")
    assert result.image.shape == vis.shape and result.image.dtype == np.float32
    assert 0.0 <= result.image.min() and result.image.max() <= 1.0
    assert result.provenance["weights_sha256"] == file_sha256(DEFAULT_WEIGHTS)
    assert result.device == "cpu"
    # a fused image is neither source: it carries the hot targets of the infrared image
    hot = ir > 0.8 * 255
    fused_y = result.image.mean(axis=2)
    assert fused_y[hot].mean() > vis.mean(axis=2)[hot].mean() / 255.0 + 0.1


def test_odd_sizes_and_grayscale_visible_are_padded_and_cropped():
    ir, vis = synthetic_pair(shape=(37, 53), seed=1)
    gray = vis.mean(axis=2).astype(np.uint8)
    assert napari_textif.fuse(ir, vis, engine="lite").image.shape == (37, 53, 3)
    assert napari_textif.fuse(ir, gray, engine="lite").image.shape == (37, 53)


def test_inputs_are_not_modified(scene):
    ir, vis = scene
    ir0, vis0 = ir.copy(), vis.copy()
    napari_textif.fuse(ir, vis, engine="lite")
    np.testing.assert_array_equal(ir, ir0)
    np.testing.assert_array_equal(vis, vis0)


def test_tiled_result_matches_untiled_without_seams():
    ir, vis = synthetic_pair(shape=(240, 272), seed=2)
    whole = napari_textif.fuse(ir, vis, engine="lite").image
    calls = []
    tiled = napari_textif.fuse(ir, vis, engine="lite", options={"tile_size": 192},
                               progress=lambda f, m: calls.append((f, m))).image
    assert sum("tile" in m for _, m in calls) >= 3
    # A seam would show as a line of differences of several grey levels. The blend leaves out
    # each inner tile edge that saw the tile's padding, so tiled and whole agree closely.
    diff = np.abs(whole - tiled) * 255
    assert diff.mean() < 0.01 and diff.max() < 0.5


def test_progress_callback_can_cancel_between_tiles():
    ir, vis = synthetic_pair(shape=(200, 400), seed=4)

    def cancel(fraction: float, message: str) -> None:
        if "tile" in message:
            raise FusionCancelled("stop")

    with pytest.raises(FusionCancelled):
        napari_textif.fuse(ir, vis, engine="lite", options={"tile_size": 192}, progress=cancel,
                           controls=Controls())


def test_missing_or_corrupt_weights_make_the_engine_unavailable(tmp_path):
    engine = LiteEngine()
    missing = engine.availability({"checkpoint": str(tmp_path / "nope.safetensors")})
    assert not missing.available and "missing" in missing.reason
    copy = tmp_path / "lite.safetensors"
    shutil.copy(DEFAULT_WEIGHTS, copy)
    shutil.copy(sidecar_path(DEFAULT_WEIGHTS), sidecar_path(copy))
    assert engine.availability({"checkpoint": str(copy)}).available
    data = bytearray(copy.read_bytes())
    data[-1] ^= 0xFF
    copy.write_bytes(bytes(data))
    broken = engine.availability({"checkpoint": str(copy)})
    assert not broken.available and "sha256" in broken.reason


def test_save_weights_round_trip(tmp_path):
    engine = LiteEngine()
    model = engine.create_model(engine.default_config())
    torch.manual_seed(0)
    for p in model.parameters():
        torch.nn.init.normal_(p, 0.0, 0.05)
    path = tmp_path / "w.safetensors"
    record = save_weights(model, path, training={"steps": 0})
    assert record["sha256"] == file_sha256(path)
    loaded, _ = load_model(path, "cpu")
    ir, vis, c = torch.rand(1, 1, 16, 24), torch.rand(1, 3, 16, 24), torch.rand(1, 11)
    with torch.no_grad():
        torch.testing.assert_close(loaded(ir, vis, c), model.eval()(ir, vis, c))


def test_train_forward_protocol_gives_gradients():
    engine = LiteEngine()
    model = engine.create_model(None)
    batch = {"ir": torch.rand(2, 1, 20, 28), "vis": torch.rand(2, 3, 20, 28),
             "ir_clean": torch.rand(2, 1, 20, 28), "vis_clean": torch.rand(2, 3, 20, 28),
             "controls": torch.rand(2, len(CONTROL_NAMES)), "prompt": ["", "dark"]}
    fused = engine.train_forward(model, batch)
    assert fused.shape == (2, 1, 20, 28)
    assert 0.0 <= float(fused.detach().min()) and float(fused.detach().max()) <= 1.0
    (fused - batch["ir_clean"]).abs().mean().backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


def test_create_model_rejects_unknown_config():
    with pytest.raises(ValueError, match="unknown keys"):
        LiteEngine().create_model({"depth": 3})


def test_thermal_emphasis_raises_hot_regions_monotonically(scene):
    ir, vis = scene
    hot = ir > 0.8 * 255
    means = []
    for te in (-1.0, -0.5, 0.0, 0.5, 1.0):
        fused = napari_textif.fuse(ir, vis, engine="lite", controls=Controls(thermal_emphasis=te)).image
        means.append(float(fused.mean(axis=2)[hot].mean()))
    assert all(b > a for a, b in itertools.pairwise(means)), means
    # The slider moves hot regions by a large step, not a few grey levels (net.thermal_shift).
    assert means[-1] - means[0] > 0.15, means


def test_thermal_shift_moves_only_where_the_infrared_is_brighter():
    from napari_textif.engines.lite.net import THERMAL_GAIN, thermal_shift

    gen = torch.Generator().manual_seed(3)
    fused, ir, y = (torch.rand(1, 1, 12, 16, generator=gen).repeat(5, 1, 1, 1) for _ in range(3))
    t = torch.tensor([-1.0, -0.5, 0.0, 0.5, 1.0])
    out = thermal_shift(fused, ir, y, t)
    warmer = ir > y
    assert torch.equal(out[2], fused[2])  # t = 0: the network's own output
    assert torch.equal(out[~warmer.expand_as(out)], fused[~warmer.expand_as(out)])
    assert torch.allclose(out[4], fused[4] + THERMAL_GAIN * (ir[4] - y[4]).clamp_min(0))
    assert torch.all(out >= torch.minimum(fused, y))  # never darker than the visible or the fusion
    lowered = warmer[0] & (fused[0] >= y[0]) & (fused[0] <= ir[0])
    assert torch.allclose(out[0][lowered], y[0][lowered])  # t = -1: down to the visible
    assert all(torch.all(low <= high + 1e-7) for low, high in itertools.pairwise(out))  # monotone in t


def test_detail_emphasis_raises_spatial_frequency_monotonically(scene):
    ir, vis = scene
    sfs = []
    for de in (-1.0, -0.5, 0.0, 0.5, 1.0):
        fused = napari_textif.fuse(ir, vis, engine="lite", controls=Controls(detail_emphasis=de)).image
        sfs.append(_spatial_frequency(fused.mean(axis=2)))
    assert all(b > a for a, b in itertools.pairwise(sfs)), sfs


def test_importing_the_engine_module_does_not_import_torch():
    code = "import sys, napari_textif.engines.lite.engine; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_threads_option_is_checked_and_restored(scene):
    ir, vis = scene
    before = torch.get_num_threads()
    napari_textif.fuse(ir, vis, engine="lite", device="cpu", options={"threads": 0})
    assert torch.get_num_threads() == before
    with pytest.raises(ValueError, match="threads"):
        napari_textif.fuse(ir, vis, engine="lite", device="cpu", options={"threads": -2})
    assert torch.get_num_threads() == before


def test_classic_restored_kinds_are_restored_first_and_hidden_from_the_network(scene):
    from napari_textif.engines.lite.engine import CLASSIC_RESTORED, restore_first

    ir, vis = (a.astype(np.float32) / 255 for a in scene)
    ir0, vis0 = ir.copy(), vis.copy()
    said = Controls(ir_stripe_noise=0.6, vis_noise=0.4, vis_rain=0.5, thermal_emphasis=0.3)
    ir_r, vis_r, rest, restored = restore_first(ir, vis, said, CLASSIC_RESTORED)
    assert restored == ["vis_noise", "ir_stripe_noise"]
    assert rest == Controls(vis_rain=0.5, thermal_emphasis=0.3)
    assert not np.array_equal(ir_r, ir) and not np.array_equal(vis_r, vis)
    np.testing.assert_array_equal(ir, ir0)
    np.testing.assert_array_equal(vis, vis0)
    same = restore_first(ir, vis, Controls(vis_rain=0.5), CLASSIC_RESTORED)
    assert same[0] is ir and same[1] is vis and same[3] == []
    result = napari_textif.fuse(scene[0], scene[1], "the infrared image has stripe noise", engine="lite")
    assert result.provenance["classic_restored"] == ["ir_stripe_noise"]
    assert any("ir_stripe_noise restored by the classic steps" in note for note in result.notes)
    off = napari_textif.fuse(scene[0], scene[1], "the infrared image has stripe noise", engine="lite",
                             options={"classic_restore": False})
    assert off.provenance["classic_restored"] == []


def test_stripe_prompt_brings_the_fusion_closer_to_the_clean_one():
    from napari_textif import metrics
    from napari_textif.training.degrade import degrade_pair

    ir, vis = (a.astype(np.float32) / 255 for a in synthetic_pair(shape=(160, 224), seed=6))
    clean = napari_textif.fuse(ir, vis, engine="lite").image
    ir_d, vis_d = degrade_pair(ir, vis, {"ir_stripe_noise": 0.5}, 3)
    neutral = napari_textif.fuse(ir_d, vis_d, engine="lite").image
    told = napari_textif.fuse(ir_d, vis_d, "the infrared image has stripe noise", engine="lite").image
    assert metrics.psnr(told, clean) > metrics.psnr(neutral, clean) + 1.0


def test_medical_weights_are_shipped_checked_and_used_for_medical_kinds():
    from napari_textif.engines.lite.engine import WEIGHTS_DIR
    from napari_textif.samples import synthetic_mri_pet

    weights = WEIGHTS_DIR / "lite_medical_v1.safetensors"
    ok, reason, record = check_weights(weights)
    assert ok, reason
    assert record["config"] == json.loads(sidecar_path(DEFAULT_WEIGHTS).read_text())["config"]
    assert LiteEngine.weights_path({}, "mri-ct") == weights
    assert LiteEngine.weights_path({}, "ivif") == DEFAULT_WEIGHTS
    mri, pet = synthetic_mri_pet(shape=(64, 64))
    result = napari_textif.fuse(mri, pet, kind="mri-pet", engine="lite", device="cpu")
    assert result.provenance["weights_sha256"] == file_sha256(weights)


def test_context_blocks_start_as_identity_and_keep_v2_configs_loadable():
    from napari_textif.engines.lite.net import LiteNet, LiteNetConfig

    v2 = LiteNetConfig.from_mapping(json.loads(sidecar_path(DEFAULT_WEIGHTS.with_name("lite_v2.safetensors"))
                                               .read_text())["config"])
    assert v2.context_blocks == 0 and v2.widths == (16, 24, 32)
    config = LiteNetConfig(widths=(8, 16, 24), context_blocks=2)
    net = LiteNet(config).eval()
    ir, vis, c = torch.rand(1, 1, 32, 48), torch.rand(1, 3, 32, 48), torch.zeros(1, len(CONTROL_NAMES))
    with torch.no_grad():
        features = torch.rand(1, 24, 4, 6)
        assert torch.equal(net.context(features), features)  # zero-initialised residuals
        assert net(ir, vis, c).shape == (1, 1, 32, 48)
    assert LiteNetConfig.from_mapping(config.to_dict()) == config


def test_widening_lite_v2_into_a_wider_net_keeps_its_function_exactly():
    from safetensors.torch import load_file

    from napari_textif.engines.lite.net import LiteNet, LiteNetConfig

    engine = LiteEngine()
    v2_path = DEFAULT_WEIGHTS.with_name("lite_v2.safetensors")
    record = json.loads(sidecar_path(v2_path).read_text())
    small = engine.create_model(record["config"])
    small.load_state_dict(load_file(str(v2_path)))
    wide = LiteNet(LiteNetConfig(widths=(20, 40, 72), context_blocks=2))
    engine.load_init(wide, load_file(str(v2_path)), record["config"])
    g = torch.Generator().manual_seed(0)
    ir, vis = torch.rand(2, 1, 48, 64, generator=g), torch.rand(2, 3, 48, 64, generator=g)
    controls = torch.rand(2, len(CONTROL_NAMES), generator=g) * 2 - 1
    with torch.no_grad():
        assert torch.allclose(small(ir, vis, controls), wide(ir, vis, controls), atol=1e-6)
    narrow = LiteNet(LiteNetConfig(widths=(8, 16, 24)))
    with pytest.raises(RuntimeError, match="cannot widen"):
        engine.load_init(narrow, load_file(str(v2_path)), record["config"])


def test_shipped_lite_v3_loads_by_checkpoint_and_tiles_with_its_wider_overlap(scene):
    from napari_textif.engines.lite.engine import tile_overlap

    ir, vis = scene
    v3_path = DEFAULT_WEIGHTS.with_name("lite_v3.safetensors")
    assert check_weights(v3_path)[0]
    v3 = napari_textif.fuse(ir, vis, engine="lite", options={"checkpoint": str(v3_path)})
    default = napari_textif.fuse(ir, vis, engine="lite")
    assert v3.provenance["weights"] == "lite_v3" and default.provenance["weights"] == "lite_v2"
    assert np.isfinite(v3.image).all() and np.abs(v3.image - default.image).mean() > 1e-3
    assert tile_overlap(v3_path) == 312 and tile_overlap(DEFAULT_WEIGHTS) == 96


def test_a_net_without_thermal_input_responds_to_the_slider_only_through_the_shift():
    from napari_textif.engines.lite.net import LiteNet, LiteNetConfig

    torch.manual_seed(0)
    seeing, blind = (LiteNet(LiteNetConfig(widths=(8, 8, 8), thermal_input=flag)).eval()
                     for flag in (True, False))
    for p in seeing.parameters():  # a non-zero head, so the MLP's response shows in the output
        p.data.normal_(0.0, 0.1)
    blind.load_state_dict(seeing.state_dict())
    ir, vis = torch.rand(1, 1, 32, 32), torch.rand(1, 3, 32, 32)
    thermal = CONTROL_NAMES.index("thermal_emphasis")
    neutral, warm = torch.zeros(1, len(CONTROL_NAMES)), torch.zeros(1, len(CONTROL_NAMES))
    warm[0, thermal] = 0.8
    cooler = ir <= vis[:, :1]  # where the explicit shift changes nothing
    with torch.no_grad():
        assert torch.equal(blind(ir, vis, neutral), seeing(ir, vis, neutral))  # same weights
        assert torch.equal(blind(ir, vis, warm)[cooler], blind(ir, vis, neutral)[cooler])
        assert (blind(ir, vis, warm) > blind(ir, vis, neutral)).any()  # the shift still acts
        # the MLP of the other net saw it
        assert not torch.equal(seeing(ir, vis, warm)[cooler], seeing(ir, vis, neutral)[cooler])
    assert warm[0, thermal] == 0.8  # the caller's Controls are not modified


def test_init_weights_load_whether_or_not_the_net_sees_thermal_emphasis():
    from napari_textif.engines.lite.net import LiteNet, LiteNetConfig

    source = LiteNetConfig(widths=(8, 8, 8))
    state = LiteNet(source).state_dict()
    target = LiteNet(LiteNetConfig(widths=(8, 8, 8), thermal_input=False))
    get_engine("lite").load_init(target, state, source.to_dict())
    assert all(torch.equal(target.state_dict()[k], v) for k, v in state.items())
