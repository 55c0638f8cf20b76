"""The ``textif`` engine: configuration, CLIP features, end-to-end fusion, seamless tiling."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from napari_textif import fuse, imaging
from napari_textif.engines import FusionRequest, get_engine
from napari_textif.engines.textif import engine as textif_engine
from napari_textif.engines.textif.net import TextIFConfig, TextIFNet
from napari_textif.io import file_sha256
from napari_textif.samples import synthetic_pair
from textif_helpers import write_authors_checkpoint


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path):
    """No checkpoint from the user's environment or config; one torch thread."""
    monkeypatch.delenv(textif_engine.ENV_CHECKPOINT, raising=False)
    monkeypatch.setenv(textif_engine.ENV_CONFIG_DIR, str(tmp_path / "config"))
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    torch.set_num_threads(1)
    torch.manual_seed(0)
    fusion = TextIFNet().state_dict()  # PyTorch's default init: outputs spread around [0, 1]
    return write_authors_checkpoint(tmp_path_factory.mktemp("textif") / "text_fusion.pth", fusion)


def test_unavailable_without_checkpoint_names_the_ways_to_configure_one(tmp_path):
    status = get_engine("textif").availability({})
    assert not status.available
    for word in ("checkpoint", textif_engine.ENV_CHECKPOINT, "config.json"):
        assert word in status.reason
    missing = get_engine("textif").availability({"checkpoint": tmp_path / "absent.pth"})
    assert not missing.available and "does not exist" in missing.reason


def test_checkpoint_from_environment_or_config_file(tmp_path, monkeypatch):
    file = tmp_path / "w.pth"
    file.write_bytes(b"x")
    monkeypatch.setenv(textif_engine.ENV_CHECKPOINT, str(file))
    assert get_engine("textif").availability().available
    monkeypatch.delenv(textif_engine.ENV_CHECKPOINT)
    config = textif_engine.config_path()
    config.parent.mkdir(parents=True)
    config.write_text(json.dumps({"textif": {"checkpoint": str(file)}}))
    assert textif_engine.find_checkpoint({}) == (file, str(config))
    assert get_engine("textif").availability().available


def test_offline_without_clip_weights_explains_the_options():
    from napari_textif.engines.textif import text_encoder

    with pytest.raises(text_encoder.TextEncoderUnavailable, match=r"clip_weights.*allow_download"):
        text_encoder.load_text_encoder(checkpoint_clip=None, allow_download=False)


def test_tile_plan_follows_the_memory_budget():
    assert textif_engine._tile_plan((480, 640), "cpu", {}) is None
    tile = textif_engine._tile_plan((8192, 8192), "cpu", {"memory_budget_mb": 4000})
    assert tile is not None and tile % 8 == 0
    assert textif_engine.estimate_bytes((tile, tile)) <= 4000e6
    assert textif_engine._tile_plan((100, 100), "cpu", {"tile_size": 260}) == 256
    with pytest.raises(ValueError, match="tile_size"):
        textif_engine._tile_plan((100, 100), "cpu", {"tile_size": 16})


def seam_report(tiled: np.ndarray, whole: np.ndarray, tile: int, overlap: int) -> dict[str, float]:
    """Compare tiled and untiled results on tile borders and elsewhere.

    ``diff_*``: max |tiled - whole| on the outermost rows/columns of the tiles (inside the
    image) and on all other pixels; ``step_*``: max jump of that difference between
    neighbouring pixels across a tile border and everywhere else (a seam is such a jump).
    """
    diff = np.abs(tiled - whole).max(axis=-1)
    step_r = np.abs(np.diff(tiled - whole, axis=0)).max(axis=-1)
    step_c = np.abs(np.diff(tiled - whole, axis=1)).max(axis=-1)
    border = np.zeros(diff.shape, bool)
    cross_r = np.zeros(step_r.shape, bool)
    cross_c = np.zeros(step_c.shape, bool)
    for t in imaging.tile_grid(diff.shape, tile, overlap):
        for r in (t.rows.start, t.rows.stop - 1):
            if 0 < r < diff.shape[0] - 1:
                border[r, t.cols] = True
                cross_r[r - 1 : r + 1, t.cols] = True
        for c in (t.cols.start, t.cols.stop - 1):
            if 0 < c < diff.shape[1] - 1:
                border[t.rows, c] = True
                cross_c[t.rows, c - 1 : c + 1] = True
    return {
        "diff_border": float(diff[border].max()), "diff_elsewhere": float(diff[~border].max()),
        "step_border": float(max(step_r[cross_r].max(), step_c[cross_c].max())),
        "step_elsewhere": float(max(step_r[~cross_r].max(), step_c[~cross_c].max())),
    }


def _assert_seamless(report: dict[str, float]) -> None:
    assert report["diff_elsewhere"] > 0  # tiles do change the attention context
    assert report["diff_border"] <= report["diff_elsewhere"]
    assert report["step_border"] <= report["step_elsewhere"]


def test_tiles_blend_without_seams_small_network():
    torch.manual_seed(0)
    net = TextIFNet(TextIFConfig(dim=8, heads=(1, 2, 2, 4), norm_groups=4)).eval()
    ir, vis = synthetic_pair(shape=(256, 256), seed=5)
    visible, infrared = textif_engine._network_inputs(vis / 255.0, ir / 255.0)
    request = FusionRequest(ir, vis, None, "")  # type: ignore[arg-type]
    runner = textif_engine._Runner(net, torch.randn(1, 512), "fp32", request)
    with torch.inference_mode():
        whole, _, none, _ = runner.fuse(visible, infrared, "cpu", {})
        tiled, _, tiling, _ = runner.fuse(visible, infrared, "cpu", {"tile_size": 128, "tile_overlap": 32})
    assert none is None and tiling == {"tile_size": 128, "tile_overlap": 32, "tiles": 9}
    _assert_seamless(seam_report(tiled, whole, 128, 32))


@pytest.mark.slow
def test_tiled_512_pair_has_no_seams_full_network(checkpoint):
    ir, vis = synthetic_pair(shape=(512, 512), seed=4)
    options = {"checkpoint": checkpoint}
    whole = fuse(ir, vis, "dark", engine="textif", device="cpu", options=options)
    tiled = fuse(ir, vis, "dark", engine="textif", device="cpu",
                 options={**options, "tile_size": 256, "tile_overlap": 64})
    assert tiled.provenance["tiling"]["tiles"] == 9
    _assert_seamless(seam_report(tiled.image, whole.image, 256, 64))


@pytest.mark.slow
def test_embedded_clip_features_equal_open_clip_with_same_weights(checkpoint):
    import open_clip

    from napari_textif.engines.textif import checkpoints, text_encoder

    full = torch.load(checkpoint, map_location="cpu", weights_only=False)["model"]
    reference = open_clip.create_model("ViT-B-32-quickgelu", pretrained=None)
    reference.load_state_dict({k.removeprefix("model_clip."): v.float() for k, v in full.items()
                               if k.startswith("model_clip.")})
    reference.eval()
    encoder = text_encoder.load_text_encoder(checkpoint_clip=checkpoints.load_checkpoint(checkpoint).clip)
    prompt = "the visible image is dark and the infrared image is noisy"
    with torch.no_grad():
        expected = reference.encode_text(open_clip.get_tokenizer("ViT-B-32-quickgelu")([prompt]))
    ours = encoder.encode(prompt)
    assert ours.shape == (1, 512) and ours.dtype == torch.float32
    assert torch.allclose(ours, expected, atol=1e-6)
    assert encoder.encode(prompt) is ours  # cached per prompt
    assert encoder.was_truncated("hot " * 80) and not encoder.was_truncated(prompt)
    assert not torch.allclose(encoder.encode("a bright thermal target"), ours, atol=1e-3)
    # The same weights given as a separate CLIP file (open_clip key layout, safetensors).
    from safetensors.torch import save_file

    clip_file = checkpoint.parent / "clip_text.safetensors"
    save_file({k: v.contiguous() for k, v in encoder_state(reference).items()}, str(clip_file))
    from_file = text_encoder.load_text_encoder(clip_weights=clip_file)
    assert from_file.source == "file:clip_text.safetensors"
    assert torch.allclose(from_file.encode(prompt), expected, atol=1e-6)


def encoder_state(model) -> dict:
    """The text-tower tensors of an open_clip CLIP model."""
    from napari_textif.engines.textif import text_encoder

    return text_encoder.text_tower_state(model.state_dict())


@pytest.mark.slow
def test_fuse_end_to_end_on_cpu_returns_input_size(checkpoint):

    ir, vis = synthetic_pair(shape=(100, 130), seed=2)
    prompt = "the visible image is dark"
    result = fuse(ir, vis, prompt, engine="textif", device="cpu", options={"checkpoint": checkpoint})
    assert result.image.shape == (100, 130, 3) and result.image.dtype == np.float32
    assert 0.0 <= result.image.min() and result.image.max() <= 1.0
    prov = result.provenance
    assert prov["checkpoint_sha256"] == file_sha256(checkpoint)
    assert (prov["prompt"], prov["device"], prov["precision"]) == (prompt, "cpu", "fp32")
    assert prov["tiling"] is None
    # The engine's result is the network's own output on the reflect-padded pair, clamped.
    engine = get_engine("textif")
    loaded = engine._loaded
    padded = [imaging.pad_to_multiple(a, 8)[0] for a in (vis / 255.0, np.repeat(ir[..., None] / 255.0, 3, 2))]
    tensors = [torch.from_numpy(a.astype(np.float32).transpose(2, 0, 1))[None] for a in padded]
    with torch.no_grad():
        direct = loaded.net(*tensors, loaded.text.encode(prompt))[0].permute(1, 2, 0).numpy()
    np.testing.assert_allclose(result.image, np.clip(direct[:100, :130], 0, 1), atol=1e-5)
    gray = fuse(ir, vis.mean(axis=2).astype(np.uint8), prompt, engine="textif", device="cpu",
                options={"checkpoint": checkpoint})
    assert gray.image.shape == (100, 130)


def test_out_of_memory_retries_with_smaller_tiles_then_cpu(monkeypatch):
    attempts = []

    def fake_attempt(self, visible, infrared, device, tile, overlap):
        attempts.append((device, tile))
        if device != "cpu":
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return np.zeros(visible.shape, np.float32), device, {"tile_size": tile}

    monkeypatch.setattr(textif_engine._Runner, "_attempt", fake_attempt)
    request = FusionRequest(np.zeros((8, 8), np.float32), np.zeros((8, 8), np.float32), None, "")  # type: ignore[arg-type]
    runner = textif_engine._Runner(None, None, "fp16", request)
    image = np.zeros((600, 600, 3), np.float32)
    _, device, tiling, notes = runner.fuse(image, image, "cuda", {"memory_budget_mb": 64000})
    assert attempts == [("cuda", None), ("cuda", 296), ("cuda", 144), ("cpu", 144)]
    assert device == "cpu" and tiling == {"tile_size": 144}
    assert len(notes) == 3 and "ran on the CPU" in notes[-1]
    with pytest.raises(ValueError, match="shapes"):
        monkeypatch.setattr(textif_engine._Runner, "_attempt",
                            lambda *a: (_ for _ in ()).throw(ValueError("shapes")))
        runner.fuse(image, image, "cuda", {"memory_budget_mb": 64000})
