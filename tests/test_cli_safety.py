"""Issue 17: the CLI never loses the user's files, writes atomically and fails in one line.

Items 2 (outputs that are inputs), 3 (atomic writes, interrupted batches), 8 (one-line errors)
and, of item 9, ``evaluate`` going on past a bad pair (in ``test_evaluate.py``) and a moved run
folder resuming (in ``test_training.py``).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from napari_textif.cli import main
from napari_textif.io import atomic_open, read_image, remove_stale_temporaries, write_image


@pytest.fixture()
def files(tmp_path, pair):
    ir, vis = pair
    ir_path, vis_path = tmp_path / "ir.png", tmp_path / "vi.png"
    write_image(ir_path, ir / 255.0)
    write_image(vis_path, vis / 255.0)
    return ir_path, vis_path


def _one_line_error(capsys, *needles: str) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, (needle, err)
    return err


def _write_pair_folders(root: Path, pair, stems, suffix: str = ".png") -> tuple[Path, Path]:
    ir, vis = pair
    ir_dir, vis_dir = root / "ir", root / "vi"
    first_ir, first_vis = write_image(ir_dir / f"{stems[0]}{suffix}", ir / 255.0), \
        write_image(vis_dir / f"{stems[0]}{suffix}", vis / 255.0)
    for stem in stems[1:]:
        shutil.copyfile(first_ir, ir_dir / f"{stem}{suffix}")
        shutil.copyfile(first_vis, vis_dir / f"{stem}{suffix}")
    return ir_dir, vis_dir


# ----------------------------------------------------------------------------- item 2


def test_fuse_refuses_to_write_over_an_input(files, capsys):
    ir_path, vis_path = files
    before = ir_path.read_bytes()
    assert main(["fuse", str(ir_path), str(vis_path), "-o", str(ir_path), "--engine", "classic"]) == 2
    _one_line_error(capsys, "-o/--output", "infrared input", "--overwrite")
    dotted = ir_path.parent / "." / ".." / ir_path.parent.name / vis_path.name
    assert main(["fuse", str(ir_path), str(vis_path), "-o", str(dotted), "--engine", "classic"]) == 2
    _one_line_error(capsys, "visible input")
    assert ir_path.read_bytes() == before
    assert main(["fuse", str(ir_path), str(vis_path), "-o", str(ir_path), "--engine", "classic",
                 "--overwrite"]) == 0
    assert read_image(ir_path).shape == (96, 128, 3)


def test_fuse_refuses_a_hard_link_or_symlink_of_an_input(files, tmp_path, capsys):
    ir_path, vis_path = files
    link = tmp_path / "link.png"
    os.link(vis_path, link)
    before = vis_path.read_bytes()
    assert main(["fuse", str(ir_path), str(vis_path), "-o", str(link), "--engine", "classic"]) == 2
    _one_line_error(capsys, "link.png", "visible input")
    symlink = tmp_path / "sym.png"
    symlink.symlink_to(ir_path)
    assert main(["fuse", str(ir_path), str(vis_path), "-o", str(symlink), "--engine", "classic"]) == 2
    assert vis_path.read_bytes() == before and link.read_bytes() == before


def test_degrade_refuses_to_write_over_its_input(files, capsys):
    _, vis_path = files
    before = vis_path.read_bytes()
    assert main(["degrade", str(vis_path), str(vis_path), "--kind", "vis_noise"]) == 2
    _one_line_error(capsys, "OUT", "input image IN", "--overwrite")
    assert vis_path.read_bytes() == before
    assert main(["degrade", str(vis_path), str(vis_path), "--kind", "vis_noise", "--overwrite"]) == 0
    assert vis_path.read_bytes() != before


def test_batch_refuses_an_input_folder_as_output(tmp_path, pair, capsys):
    ir_dir, vis_dir = _write_pair_folders(tmp_path, pair, ["a", "b"])
    before = {p.name: p.read_bytes() for p in vis_dir.iterdir()}
    assert main(["batch", str(ir_dir), str(vis_dir), str(vis_dir), "--engine", "classic"]) == 2
    _one_line_error(capsys, "OUT_DIR", "visible folder VIS_DIR", "--overwrite")
    assert main(["batch", str(ir_dir), str(vis_dir), str(ir_dir / ".." / "ir"), "--engine", "classic"]) == 2
    _one_line_error(capsys, "infrared folder IR_DIR")
    assert {p.name: p.read_bytes() for p in vis_dir.iterdir()} == before


def test_batch_never_writes_over_existing_outputs_without_resume_or_overwrite(tmp_path, pair, capsys):
    ir_dir, vis_dir = _write_pair_folders(tmp_path, pair, ["a", "b", "c"])
    out = tmp_path / "out"
    out.mkdir()
    mine = out / "b.png"
    write_image(mine, np.zeros((8, 8)))
    before = mine.read_bytes()
    assert main(["batch", str(ir_dir), str(vis_dir), str(out), "--engine", "classic"]) == 2
    _one_line_error(capsys, "1 of the 3 outputs already exist", "b.png", "--resume", "--overwrite")
    assert sorted(p.name for p in out.iterdir()) == ["b.png"]
    assert main(["batch", str(ir_dir), str(vis_dir), str(out), "--engine", "classic", "--resume"]) == 0
    assert "fused 2 of 3 pairs" in capsys.readouterr().out and mine.read_bytes() == before
    assert main(["batch", str(ir_dir), str(vis_dir), str(out), "--engine", "classic", "--overwrite"]) == 0
    assert read_image(mine).shape == (96, 128, 3)


def test_batch_resume_redoes_an_incomplete_output(tmp_path, pair, capsys):
    ir_dir, vis_dir = _write_pair_folders(tmp_path, pair, ["a", "b"])
    out = tmp_path / "out"
    assert main(["batch", str(ir_dir), str(vis_dir), str(out), "--engine", "classic"]) == 0
    (out / "a.png").write_bytes((out / "a.png").read_bytes()[:40])  # as older versions could leave
    capsys.readouterr()
    assert main(["batch", str(ir_dir), str(vis_dir), str(out), "--engine", "classic", "--resume"]) == 0
    captured = capsys.readouterr()
    assert "fused 1 of 2 pairs" in captured.out and "kept 1 existing" in captured.out
    assert "a.png again" in captured.err and read_image(out / "a.png").shape == (96, 128, 3)


def test_batch_with_jpeg_inputs_never_puts_x_png_beside_x_jpg(tmp_path, pair, capsys):
    """With the visible folder as output, x.png beside x.jpg made the next run fail ("two images named")."""
    ir_dir, vis_dir = _write_pair_folders(tmp_path, pair, ["x", "y"], suffix=".jpg")
    before = sorted(p.name for p in vis_dir.iterdir())
    assert main(["batch", str(ir_dir), str(vis_dir), str(vis_dir), "--engine", "classic", "--overwrite"]) == 2
    _one_line_error(capsys, "x.png beside x.jpg", "--suffix")
    assert sorted(p.name for p in vis_dir.iterdir()) == before
    out = tmp_path / "out"
    out.mkdir()
    write_image(out / "y.tif", np.zeros((8, 8)))
    assert main(["batch", str(ir_dir), str(vis_dir), str(out), "--engine", "classic"]) == 2
    _one_line_error(capsys, "y.png beside y.tif")
    # Asked for explicitly, replacing the visible JPEGs in place works and stays matchable.
    assert main(["batch", str(ir_dir), str(vis_dir), str(vis_dir), "--engine", "classic", "--overwrite",
                 "--suffix", ".jpg"]) == 0
    assert sorted(p.name for p in vis_dir.iterdir()) == before


# ----------------------------------------------------------------------------- item 3


def test_atomic_open_leaves_the_old_file_when_the_writer_fails(tmp_path):
    path = tmp_path / "a.png"
    write_image(path, np.full((4, 4), 0.5))
    before = path.read_bytes()
    with pytest.raises(KeyboardInterrupt), atomic_open(path) as handle:
        handle.write(b"partial")
        raise KeyboardInterrupt
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["a.png"]


def test_write_image_failure_leaves_no_file(tmp_path, monkeypatch):
    import png

    def broken(self, handle, rows):
        handle.write(b"\x89PNG partial")
        raise OSError("disk full")

    monkeypatch.setattr(png.Writer, "write", broken)
    with pytest.raises(OSError, match="disk full"):
        write_image(tmp_path / "o.png", np.zeros((4, 4, 3)), bits=16)
    assert list(tmp_path.iterdir()) == []


def test_stale_temporaries_of_dead_processes_only_are_removed(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".a.png.tmp-{dead.pid}"
    alive = tmp_path / f".b.png.tmp-{os.getppid()}"
    other = tmp_path / f".c.csv.tmp-{dead.pid}"
    for path in (stale, alive, other):
        path.write_bytes(b"x")
    assert remove_stale_temporaries(tmp_path, suffixes=(".png",)) == [stale]
    assert alive.exists() and other.exists()


def test_temporary_beside_the_target_and_evaluate_csv_never_replaces_an_input(tmp_path, files, capsys):
    from napari_textif.io import atomic_path

    with atomic_path(tmp_path / "x.safetensors") as tmp:
        assert tmp.name == f".x.safetensors.tmp-{os.getpid()}" and tmp.parent == tmp_path
        tmp.write_bytes(b"done")
    assert (tmp_path / "x.safetensors").read_bytes() == b"done" and not tmp.exists()
    ir_path, vis_path = files
    assert main(["evaluate", str(vis_path), "--ir", str(ir_path), "--vis", str(vis_path),
                 "--csv", str(ir_path)]) == 2
    _one_line_error(capsys, "--csv", "ir.png")


def _batch_process(tmp_path: Path, pair, count: int) -> tuple[subprocess.Popen, Path]:
    ir_dir, vis_dir = _write_pair_folders(tmp_path, pair, [f"p{i:03d}" for i in range(count)])
    out = tmp_path / "out"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "napari_textif.cli", "batch", str(ir_dir), str(vis_dir), str(out),
               "--engine", "classic", "--bits", "16"]
    # SIGINT back to its default in the child: a test run started in the background of a
    # shell inherits it ignored, and Python then installs no KeyboardInterrupt handler.
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 60
    while not (out.is_dir() and any(p.suffix == ".png" for p in out.iterdir())):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "batch wrote nothing within 60 s"
        time.sleep(0.01)
    return process, out


def _assert_every_output_reads_back(out: Path) -> list[Path]:
    images = sorted(p for p in out.iterdir() if not p.name.startswith("."))
    for path in images:
        with Image.open(path) as img:
            img.load()
        assert read_image(path).shape == (96, 128, 3)
    return images


def test_batch_interrupted_by_sigint_leaves_complete_files_and_a_summary(tmp_path, pair):
    process, out = _batch_process(tmp_path, pair, 80)
    time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "interrupted with" in stdout and "--resume" in stdout, (stdout, stderr)
    fused = int(stdout.split("fused ")[1].split(" of ")[0])
    images = _assert_every_output_reads_back(out)
    assert len(images) == fused and 0 < fused < 80
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []  # no temporaries left


def test_batch_killed_leaves_complete_files_and_resume_cleans_up(tmp_path, pair, capsys):
    process, out = _batch_process(tmp_path, pair, 80)
    time.sleep(0.05)
    process.kill()
    process.wait(timeout=60)
    dead_pid = process.pid
    orphan = out / f".p999.png.tmp-{dead_pid}"  # what a kill during a write leaves
    orphan.write_bytes(b"\x89PNG partial")
    done = _assert_every_output_reads_back(out)
    assert 0 < len(done) < 80
    # Resume with only a few pairs left to fuse, to keep the test short.
    done_stems = {p.stem for p in done}
    for folder in (tmp_path / "ir", tmp_path / "vi"):
        for path in sorted(folder.iterdir())[len(done) + 2:]:
            path.unlink()
    assert main(["batch", str(tmp_path / "ir"), str(tmp_path / "vi"), str(out), "--engine", "classic",
                 "--bits", "16", "--resume"]) == 0
    captured = capsys.readouterr()
    assert f"kept {len(done_stems)} existing" in captured.out and "removed" in captured.err
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == []
    assert len(_assert_every_output_reads_back(out)) == len(done) + 2


# ----------------------------------------------------------------------------- item 8


@pytest.fixture()
def checkpoint_files(tmp_path, files):
    torch = pytest.importorskip("torch")
    rand = tmp_path / "random.pth"
    rand.write_bytes(np.random.default_rng(0).bytes(4000))
    good = tmp_path / "good.pth"
    torch.save({"model": {"a": torch.zeros(1000)}}, good)
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(good.read_bytes()[:3000])
    return {"image": files[0], "random": rand, "truncated": truncated}


@pytest.mark.parametrize("kind", ["image", "random", "truncated"])
def test_convert_checkpoint_of_a_non_checkpoint_is_one_line(checkpoint_files, tmp_path, capsys, kind):
    source = checkpoint_files[kind]
    assert main(["convert-checkpoint", str(source), str(tmp_path / "x.safetensors")]) == 2
    err = _one_line_error(capsys, str(source), "could not read")
    assert "weights_only" not in err and "KeyError" not in err and "Errno" not in err
    assert not (tmp_path / "x.safetensors").exists()


def test_convert_checkpoint_with_python_objects_never_suggests_unsafe_loading(tmp_path, capsys):
    torch = pytest.importorskip("torch")
    from fractions import Fraction

    evil = tmp_path / "evil.pth"
    torch.save({"model": {"a": torch.zeros(2)}, "payload": Fraction(1, 3)}, evil)
    assert main(["convert-checkpoint", str(evil), str(tmp_path / "x.safetensors")]) == 2
    err = _one_line_error(capsys, "refused to load", str(evil), "fractions.Fraction")
    assert "weights_only" not in err and "trust" not in err


def test_a_folder_or_a_truncated_image_as_input_is_named(files, tmp_path, capsys):
    ir_path, vis_path = files
    folder = tmp_path / "folder.png"
    folder.mkdir()
    assert main(["fuse", str(folder), str(vis_path), "-o", str(tmp_path / "o.png")]) == 2
    _one_line_error(capsys, "folder.png is a folder", "expected an image file")
    truncated = tmp_path / "cut.png"
    truncated.write_bytes(vis_path.read_bytes()[:300])
    assert main(["fuse", str(ir_path), str(truncated), "-o", str(tmp_path / "o.png")]) == 2
    _one_line_error(capsys, "cut.png", "truncated")
    assert not (tmp_path / "o.png").exists()


def test_unexpected_errors_are_one_line_and_debug_shows_the_traceback(files, tmp_path, capsys, monkeypatch):
    from napari_textif.cli import fusing

    def bug(*args, **kwargs):
        raise KeyError(101)

    monkeypatch.setattr(fusing, "_fuse_files", bug)
    argv = ["fuse", *map(str, files), "-o", str(tmp_path / "o.png")]
    assert main(argv) == 2
    _one_line_error(capsys, "KeyError: 101", "--debug")
    assert main(["--debug", *argv]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and err.strip().splitlines()[-1].startswith("napari-textif fuse: error:")
    assert main([*argv, "--debug"]) == 2  # also accepted after the command
    assert "Traceback" in capsys.readouterr().err


def test_oserror_without_a_message_names_the_file():
    from napari_textif.cli import describe_error

    assert describe_error(OSError(22, "Invalid argument", "w.pt")) == "[Errno 22] Invalid argument: 'w.pt'"
    assert describe_error(ValueError("two\nlines")) == "two lines"
