"""Training smoke tests with a tiny engine that implements the trainable-engine protocol."""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from napari_textif.engines import Engine, EngineOutput, FusionRequest, register_engine  # noqa: E402
from napari_textif.io import write_image  # noqa: E402
from napari_textif.samples import synthetic_pair  # noqa: E402

TINY = "tiny-test"


class TinyNet(torch.nn.Module):
    """Predicts a per-pixel blend of infrared and visible luminance, steered by the Controls."""

    def __init__(self, width: int = 8, n_controls: int = 11) -> None:
        super().__init__()
        self.body = torch.nn.Sequential(
            torch.nn.Conv2d(2, width, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(width, 2, 3, padding=1)
        )
        self.film = torch.nn.Linear(n_controls, 2)

    def forward(self, ir: torch.Tensor, vis_y: torch.Tensor, controls: torch.Tensor) -> torch.Tensor:
        out = self.body(torch.cat([ir, vis_y], 1)) + self.film(controls)[:, :, None, None]
        weight, residual = torch.sigmoid(out[:, :1]), 0.1 * torch.tanh(out[:, 1:])
        return (weight * ir + (1 - weight) * vis_y + residual).clamp(0, 1)


class TinyEngine(Engine):
    name: ClassVar[str] = TINY
    description: ClassVar[str] = "test-only tiny trainable engine"
    trainable: ClassVar[bool] = True

    def run(self, request: FusionRequest) -> EngineOutput:
        raise NotImplementedError("only used for training tests")

    def default_config(self) -> dict[str, Any]:
        return {"width": 8}

    def create_model(self, config: Mapping[str, Any] | None = None) -> torch.nn.Module:
        return TinyNet(**(config or self.default_config()))

    def train_forward(self, model: torch.nn.Module, batch: dict) -> torch.Tensor:
        vis = batch["vis"]
        vis_y = 0.299 * vis[:, :1] + 0.587 * vis[:, 1:2] + 0.114 * vis[:, 2:3]
        return model(batch["ir"], vis_y, batch["controls"])


@pytest.fixture(autouse=True)
def _tiny_engine():
    register_engine(TINY, TinyEngine)
    torch.set_num_threads(1)


def _write_pairs(folder, count: int, seed: int, shape=(64, 80)):
    for i in range(count):
        ir, vis = synthetic_pair(shape=shape, seed=seed + i)
        write_image(folder / "ir" / f"p{i}.png", ir / 255)
        write_image(folder / "vi" / f"p{i}.png", vis / 255)
    return folder


@pytest.fixture
def folders(tmp_path):
    return _write_pairs(tmp_path / "train", 3, 10), _write_pairs(tmp_path / "val", 1, 50, (56, 56))


def _config(folders, tmp_path, **changes):
    from napari_textif.training.loop import TrainConfig

    train_dir, val_dir = folders
    settings = {
        "engine": TINY, "data": [str(train_dir)], "val": [str(val_dir)],
        "out": str(tmp_path / "w.safetensors"), "steps": 50, "batch": 4, "crop": 32, "lr": 0.02,
        "warmup": 5, "val_every": 25,
        "checkpoint_every": 20, "threads": 1, "seed": 3,
    }
    settings.update(changes)
    return TrainConfig(**settings)


def _fixed_batch_loss(config, model) -> float:
    """The loss of ``model`` on the first 16 training samples (the same for every model)."""
    from napari_textif.training.datasets import PairDataset, find_pairs
    from napari_textif.training.loop import _collate
    from napari_textif.training.losses import fusion_loss

    data = PairDataset(find_pairs(config.data), crop=config.crop, seed=config.seed, length=16)
    batch = _collate([data[i] for i in range(16)])
    with torch.no_grad():
        fused = TinyEngine().train_forward(model, batch)
        return float(fusion_loss(fused, batch["ir_clean"], batch["vis_clean"], batch["controls"])[0])


def test_fifty_steps_learn_checkpoint_and_export(folders, tmp_path):
    from safetensors.torch import load_file

    from napari_textif.training.loop import load_checkpoint, train

    lines: list[str] = []
    config = _config(folders, tmp_path)
    torch.manual_seed(config.seed)
    untrained = TinyEngine().create_model()
    result = train(config, progress=False, log=lines.append)
    assert len(result.losses) == 50
    trained = TinyEngine().create_model()
    trained.load_state_dict(load_file(str(result.weights)))
    before, after = _fixed_batch_loss(config, untrained), _fixed_batch_loss(config, trained)
    assert after < 0.9 * before, (before, after)
    assert any(line.startswith("val step 50") and "Qabf" in line for line in lines), lines
    state = load_checkpoint(result.checkpoint)
    assert state["step"] == 50 and state["engine"] == TINY
    assert len(state["data"]) == 3 and state["data"][0]["name"].endswith("train/p0")
    assert "optimizer" in state and state["config"]["crop"] == 32
    exported = load_file(str(result.weights))
    for key, value in state["model"].items():
        torch.testing.assert_close(exported[key], value)
    record = json.loads(result.sidecar.read_text())
    assert record["engine"] == TINY and record["controls_version"] == 1
    assert record["training"]["steps"] == 50 and record["training"]["data_sets"][0]["pairs"] == 3
    assert set(record["training"]["metrics"]) >= {"loss", "EN", "SSIM"}


def test_resume_continues_from_the_saved_step_with_the_same_batches(folders, tmp_path):
    from napari_textif.training.loop import load_checkpoint, train

    quiet = {"progress": False, "log": lambda line: None}
    straight = train(_config(folders, tmp_path / "a", steps=30, val_every=100), **quiet)

    def stop_at_20(step, terms):
        if step == 20:
            raise KeyboardInterrupt

    config = _config(folders, tmp_path / "b", steps=30, val_every=100)
    with pytest.raises(KeyboardInterrupt):
        train(config, **quiet, callback=stop_at_20)
    assert load_checkpoint(config.paths["checkpoint"])["step"] == 20
    resumed = train(config, resume=True, **quiet)
    assert resumed.start_step == 20 and len(resumed.losses) == 10
    np.testing.assert_allclose(resumed.losses, straight.losses[20:], rtol=1e-5)
    a = load_checkpoint(straight.checkpoint)["model"]
    b = load_checkpoint(resumed.checkpoint)["model"]
    for key in a:
        torch.testing.assert_close(a[key], b[key])


def test_resume_refuses_other_data_and_other_engine(folders, tmp_path):
    from napari_textif.training.loop import train

    config = _config(folders, tmp_path, steps=4, val_every=100)
    train(config, progress=False, log=lambda s: None)
    other = _write_pairs(tmp_path / "other", 2, 80)
    with pytest.raises(ValueError, match="same --data"):
        train(_config((other, folders[1]), tmp_path, steps=8), resume=True, progress=False)
    with pytest.raises(ValueError, match="engine"):
        train(_config(folders, tmp_path, engine="lite", steps=8), resume=True, progress=False,
              log=lambda s: None)


def test_resume_without_checkpoint_starts_fresh(folders, tmp_path):
    from napari_textif.training.loop import train

    lines: list[str] = []
    result = train(_config(folders, tmp_path, steps=3, val_every=100), resume=True, progress=False,
                   log=lines.append)
    assert result.start_step == 0 and "no checkpoint" in lines[0]


def test_untrainable_engine_and_bad_config_are_named(folders, tmp_path):
    from napari_textif.training.loop import TrainConfig, train

    with pytest.raises(ValueError, match="not trainable"):
        train(_config(folders, tmp_path, engine="classic"), progress=False)
    with pytest.raises(ValueError, match=r"out must be a \.safetensors"):
        TrainConfig(engine=TINY, data=["x"], out="w.pt", steps=5)
    with pytest.raises(ValueError, match="steps must be a positive int"):
        TrainConfig(engine=TINY, data=["x"], out="w.safetensors", steps=0)


def test_lr_schedule_warms_up_then_decays():
    from napari_textif.training.loop import TrainConfig, _lr_factor

    factor = _lr_factor(TrainConfig(engine=TINY, data=["x"], out="w.safetensors", steps=100, warmup=10))
    values = [factor(s) for s in range(100)]
    assert values[0] < values[5] < values[10] and values[10] == pytest.approx(1.0)
    assert all(a >= b for a, b in itertools.pairwise(values[10:])) and values[-1] < 0.05


def test_checkpoint_write_is_atomic(tmp_path, monkeypatch):
    from napari_textif.training.loop import save_checkpoint

    path = tmp_path / "c.pt"
    save_checkpoint(path, {"step": 1})

    def broken_save(obj, fh):
        fh.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, {"step": 2})
    monkeypatch.undo()
    assert torch.load(path, weights_only=True) == {"step": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.pt"]


def test_cli_train_and_resume(folders, tmp_path, capsys):
    from napari_textif.cli import main

    train_dir, val_dir = folders
    out = tmp_path / "cli.safetensors"
    args = ["train", "--engine", TINY, "--data", str(train_dir), "--val", str(val_dir), "--steps", "6",
            "--batch", "2", "--crop", "32", "--out", str(out), "--threads", "1", "--no-progress",
            "--val-every", "6"]
    assert main(args) == 0
    assert "steps 0..6" in capsys.readouterr().out
    assert main([*args[:8], "8", *args[9:], "--resume"]) == 0
    text = capsys.readouterr().out
    assert "resumed from" in text and "steps 6..8" in text
    assert json.loads(out.with_suffix(".json").read_text())["training"]["steps"] == 8
    assert main([*args, "--model-config", "[1]"]) == 2
    assert main([*args, "--policy", '{"unnamed_prob": 2}']) == 2
    assert main([*args, "--loss", '{"gradient_weights": [1]}']) == 2
    assert "unknown options" in capsys.readouterr().err


def test_lite_weights_trained_here_load_in_the_lite_engine(folders, tmp_path):
    pytest.importorskip("napari_textif.engines.lite.net")
    from napari_textif import fuse
    from napari_textif.training.loop import train

    config = _config(folders, tmp_path, engine="lite", steps=2, batch=2, val_every=100, lr=1e-3)
    result = train(config, progress=False, log=lambda line: None)
    ir, vis = synthetic_pair(shape=(40, 48))
    fused = fuse(ir, vis, "the visible image is dark", engine="lite",
                 options={"checkpoint": str(result.weights)})
    assert fused.image.shape == (40, 48, 3)
    assert fused.provenance["weights_sha256"] == json.loads(result.sidecar.read_text())["sha256"]


def test_init_starts_from_given_weights_and_refuses_other_architectures(folders, tmp_path):
    from safetensors.torch import load_file, save_file

    from napari_textif.training.loop import train

    start = TinyNet()
    with torch.no_grad():
        for p in start.parameters():
            p.fill_(0.01)
    init = tmp_path / "start.safetensors"
    save_file(start.state_dict(), str(init))
    config = _config(folders, tmp_path, steps=1, lr=1e-9, val_every=100, init=str(init))
    lines: list[str] = []
    result = train(config, progress=False, log=lines.append)
    trained = load_file(str(result.weights))
    assert all(torch.allclose(trained[k], v, atol=1e-6) for k, v in start.state_dict().items())
    assert any("starting from the weights" in line for line in lines)
    save_file(TinyNet(width=4).state_dict(), str(init))
    with pytest.raises(ValueError, match="do not fit the model"):
        train(_config(folders, tmp_path, steps=1, init=str(init)), progress=False, log=lambda line: None)
    with pytest.raises(ValueError, match=r"init must be a \.safetensors"):
        _config(folders, tmp_path, init=str(tmp_path / "w.pt"))
    # Weights with a record beside them bring their architecture: no --model-config needed.
    init.with_suffix(".json").write_text(json.dumps({"config": {"width": 4}}))
    result = train(_config(folders, tmp_path, steps=1, init=str(init), out=str(tmp_path / "w4.safetensors")),
                   progress=False, log=lambda line: None)
    assert load_file(str(result.weights))["body.0.weight"].shape[0] == 4


def test_holdout_every_keeps_named_pairs_out_of_training(folders, tmp_path):
    from napari_textif.training.datasets import split_every
    from napari_textif.training.loop import _build_data

    train_dir, _ = folders
    more = _write_pairs(tmp_path / "more", 4, 30)
    train_records, held = split_every([train_dir, more], 2)
    # Every 2nd pair of each folder by name, the first included: p0, p2 of both folders.
    assert [r.name.split("/")[-1] for r in held] == ["p0", "p2", "p0", "p2"]
    assert not {id(r) for r in held} & {id(r) for r in train_records}
    config = _config(folders, tmp_path, data=[str(train_dir), str(more)], val=[], holdout_every=2)
    train_set, val_set = _build_data(config)
    names = lambda records: {(str(r.infrared[0].path)) for r in records}  # noqa: E731
    assert names(val_set.records) == names(held)
    assert not names(train_set.records) & names(held)
    with pytest.raises(ValueError, match="holdout_every"):
        _config(folders, tmp_path, holdout_every=1)


def test_validation_every_makes_three_disjoint_splits(folders, tmp_path):
    from napari_textif.training.datasets import split_three
    from napari_textif.training.loop import _build_data

    more = _write_pairs(tmp_path / "more", 9, 30)
    parts = split_three([more], 3, 2)
    short = lambda records: [r.name.split("/")[-1] for r in records]  # noqa: E731
    # Held out: p0, p3, p6; of the rest (p1 p2 p4 p5 p7 p8) every 2nd from the first is validation.
    assert short(parts["held_out"]) == ["p0", "p3", "p6"]
    assert short(parts["val"]) == ["p1", "p4", "p7"]
    assert short(parts["train"]) == ["p2", "p5", "p8"]
    config = _config(folders, tmp_path, data=[str(more)], val=[], holdout_every=3, validation_every=2)
    train_set, val_set = _build_data(config)
    assert short(val_set.records) == ["p1", "p4", "p7"]
    assert short(train_set.records) == ["p2", "p5", "p8"]
    for bad in ({"validation_every": 2}, {"holdout_every": 3, "validation_every": 1}):
        with pytest.raises(ValueError, match="validation_every"):
            _config(folders, tmp_path, **bad)


def test_policy_jitter_changes_what_is_simulated_not_the_controls():
    from napari_textif.training.datasets import DegradationPolicy

    rng = np.random.default_rng(0)
    plain = DegradationPolicy()
    assert plain.jitter({"vis_haze": 0.5}, 640, rng) == ({"vis_haze": 0.5}, 640)
    wide = DegradationPolicy(size_jitter=1.0, strength_jitter=1.0)
    draws = [wide.jitter({"vis_haze": 0.5}, 640, rng) for _ in range(200)]
    strengths = np.array([d[0]["vis_haze"] for d in draws])
    sizes = np.array([d[1] for d in draws])
    assert 0.25 <= strengths.min() < 0.4 and 0.85 < strengths.max() <= 1.0
    assert wide.jitter({"vis_haze": 0.9}, 640, rng)[0]["vis_haze"] <= 1.0
    assert 320 <= sizes.min() < 400 and 1000 < sizes.max() <= 1280
    with pytest.raises(ValueError, match="size_jitter"):
        DegradationPolicy(size_jitter=-1.0)


def test_moved_run_folder_resumes(tmp_path):
    """Issue 17 item 9: the checkpoint stores paths relative to the run folder, so the folder can move."""
    import shutil

    from napari_textif.training.loop import load_checkpoint, train

    run = tmp_path / "run"
    _write_pairs(run / "train", 3, 10)
    _write_pairs(run / "val", 1, 50, (56, 56))
    quiet = {"progress": False, "log": lambda line: None}

    def stop_at_4(step, terms):
        if step == 4:
            raise KeyboardInterrupt

    config = _config((run / "train", run / "val"), run, steps=6, val_every=100)
    with pytest.raises(KeyboardInterrupt):
        train(config, **quiet, callback=stop_at_4)
    saved = load_checkpoint(config.paths["checkpoint"])["config"]
    assert saved["out"] == "w.safetensors" and saved["data"] == ["train"] and saved["val"] == ["val"]
    moved = tmp_path / "elsewhere" / "run"
    moved.parent.mkdir()
    shutil.move(run, moved)
    resumed = train(_config((moved / "train", moved / "val"), moved, steps=6, val_every=100), resume=True,
                    **quiet)
    assert resumed.start_step == 4 and resumed.weights == moved / "w.safetensors"
    assert resumed.weights.is_file()


def test_train_removes_orphaned_temporaries_of_dead_processes(folders, tmp_path):
    import subprocess
    import sys

    from napari_textif.training.loop import train

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    orphan = tmp_path / f".w.checkpoint.pt.tmp-{dead.pid}"
    orphan.write_bytes(b"partial")
    alive = tmp_path / f".w.safetensors.tmp-{os.getppid()}"  # a live process's file is kept
    alive.write_bytes(b"in progress")
    lines: list[str] = []
    train(_config(folders, tmp_path, steps=2, val_every=100), progress=False, log=lines.append)
    assert not orphan.exists() and any("removed" in line and orphan.name in line for line in lines)
    assert alive.exists()


def test_resume_from_damaged_or_unsafe_checkpoint_is_one_line(folders, tmp_path, capsys):
    """Issue 17 item 8: train --resume on a refused or truncated checkpoint names the file, no traceback."""
    from fractions import Fraction

    from napari_textif.cli import main

    train_dir, val_dir = folders
    out = tmp_path / "w.safetensors"
    checkpoint = tmp_path / "w.checkpoint.pt"
    args = ["train", "--engine", TINY, "--data", str(train_dir), "--val", str(val_dir), "--steps", "2",
            "--batch", "2", "--crop", "32", "--out", str(out), "--threads", "1", "--no-progress", "--resume"]
    torch.save({"format": "napari-textif-checkpoint", "x": Fraction(1, 3)}, checkpoint)
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "refused to load" in err and str(checkpoint) in err and "Fraction" in err
    assert "weights_only" not in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    torch.save({"step": torch.zeros(1000)}, checkpoint)
    checkpoint.write_bytes(checkpoint.read_bytes()[:2000])
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "could not read" in err and str(checkpoint) in err and len(err.strip().splitlines()) == 1
