"""The command line through main([...]) with temporary folders."""

from __future__ import annotations

import json

import numpy as np
import pytest

from napari_textif.cli import main
from napari_textif.io import read_image, write_image


@pytest.fixture()
def pair_files(tmp_path, pair):
    ir, vis = pair
    ir_path, vis_path = tmp_path / "ir.png", tmp_path / "vis.jpg"
    write_image(ir_path, ir / 255.0)
    write_image(vis_path, vis / 255.0)
    return ir_path, vis_path


def test_fuse_writes_colour_result_of_visible_size(tmp_path, pair_files, capsys):
    out = tmp_path / "out" / "fused.png"
    assert main(["fuse", *map(str, pair_files), "-p", "dark visible", "-o", str(out),
                 "--engine", "classic", "--metadata"]) == 0
    image = read_image(out)
    assert image.shape == (96, 128, 3) and image.dtype == np.uint8
    meta = json.loads(out.with_suffix(".png.json").read_text())
    assert meta["engine"] == "classic" and meta["prompt"] == "dark visible"
    assert "wrote" in capsys.readouterr().out


def test_fuse_and_batch_use_the_configured_engine_and_device(tmp_path, pair_files, monkeypatch):
    monkeypatch.setenv("NAPARI_TEXTIF_ENGINE", "classic")
    monkeypatch.setenv("NAPARI_TEXTIF_DEVICE", "cpu")
    out = tmp_path / "fused.png"
    assert main(["fuse", *map(str, pair_files), "-o", str(out), "--metadata"]) == 0
    meta = json.loads(out.with_suffix(".png.json").read_text())
    assert meta["engine"] == "classic" and meta["device"] == "cpu"
    monkeypatch.setenv("NAPARI_TEXTIF_DEVICE", "cuda")  # classic runs on the CPU only: refused
    assert main(["fuse", *map(str, pair_files), "-o", str(tmp_path / "again.png")]) == 2
    assert main(["fuse", *map(str, pair_files), "-o", str(tmp_path / "flag.png"), "--device", "cpu"]) == 0


def test_fuse_auto_reports_detected_controls(tmp_path, dark_pair, capsys):
    ir, vis = dark_pair
    write_image(tmp_path / "ir.png", ir / 255.0)
    write_image(tmp_path / "vi.png", vis / 255.0)
    assert main(["fuse", str(tmp_path / "ir.png"), str(tmp_path / "vi.png"), "--auto",
                 "-o", str(tmp_path / "o.png"), "--engine", "classic"]) == 0
    assert "vis_low_light" in capsys.readouterr().out


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_fuse_16_bit(tmp_path, pair_files, suffix):
    out = tmp_path / f"fused16{suffix}"
    assert main(["fuse", *map(str, pair_files), "-o", str(out), "--bits", "16", "--engine", "classic"]) == 0
    image = read_image(out)
    assert image.dtype == np.uint16 and image.shape == (96, 128, 3)


def test_fuse_missing_file_is_a_clear_error(tmp_path, pair_files, capsys):
    code = main(["fuse", str(tmp_path / "nope.png"), str(pair_files[1]), "-o", str(tmp_path / "o.png")])
    assert code == 2
    err = capsys.readouterr().err
    assert "not found" in err and "nope.png" in err


def test_fuse_unreadable_file_is_a_clear_error(tmp_path, pair_files, capsys):
    bad = tmp_path / "bad.png"
    bad.write_text("not an image")
    assert main(["fuse", str(bad), str(pair_files[1]), "-o", str(tmp_path / "o.png")]) == 2
    assert "bad.png" in capsys.readouterr().err


def test_fuse_unknown_engine_lists_known(tmp_path, pair_files, capsys):
    assert main(["fuse", *map(str, pair_files), "-o", str(tmp_path / "o.png"), "--engine", "zzz"]) == 2
    assert "classic" in capsys.readouterr().err


def test_fuse_16_bit_jpeg_refused(tmp_path, pair_files, capsys):
    assert main(["fuse", *map(str, pair_files), "-o", str(tmp_path / "o.jpg"), "--bits", "16",
                 "--engine", "classic"]) == 2
    assert "JPEG" in capsys.readouterr().err


def test_batch_continues_past_bad_pair_and_fails_overall(tmp_path, pair, capsys):
    ir, vis = pair
    ir_dir, vis_dir, out_dir = tmp_path / "ir", tmp_path / "vi", tmp_path / "out"
    for stem in ("a", "b"):
        write_image(ir_dir / f"{stem}.png", ir / 255.0)
        write_image(vis_dir / f"{stem}.png", vis / 255.0)
    write_image(ir_dir / "c.png", ir / 255.0)
    write_image(vis_dir / "c.png", vis[:50] / 255.0)
    write_image(ir_dir / "lonely.png", ir / 255.0)
    code = main(["batch", str(ir_dir), str(vis_dir), str(out_dir), "--engine", "classic"])
    captured = capsys.readouterr()
    assert code == 1
    assert sorted(p.name for p in out_dir.iterdir()) == ["a.png", "b.png"]
    assert "fused 2 of 3" in captured.out
    assert "c:" in captured.err and "same height and width" in captured.err
    assert "lonely" in captured.err


def test_batch_all_good_exits_zero(tmp_path, pair):
    ir, vis = pair
    for folder, image in (("ir", ir), ("vi", vis)):
        write_image(tmp_path / folder / "x.png", image / 255.0)
    assert main(["batch", str(tmp_path / "ir"), str(tmp_path / "vi"), str(tmp_path / "o"),
                 "--engine", "classic"]) == 0
    assert (tmp_path / "o" / "x.png").is_file()


def test_batch_without_pairs_is_an_error(tmp_path, capsys):
    (tmp_path / "ir").mkdir()
    (tmp_path / "vi").mkdir()
    assert main(["batch", str(tmp_path / "ir"), str(tmp_path / "vi"), str(tmp_path / "o")]) == 2
    assert "no pairs" in capsys.readouterr().err


def test_demo_writes_inputs_and_result(tmp_path, capsys):
    out = tmp_path / "demo.png"
    assert main(["demo", "-o", str(out)]) == 0
    assert read_image(out).shape == (480, 640, 3)
    assert (tmp_path / "demo-infrared.png").is_file() and (tmp_path / "demo-visible.png").is_file()
    assert "vis_low_light" in capsys.readouterr().out


def test_engines_lists_classic(capsys):
    assert main(["engines"]) == 0
    out = capsys.readouterr().out
    assert "classic" in out and "available" in out


def test_help_texts(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for command in ("fuse", "batch", "demo", "engines"):
        assert command in out


def test_no_command_prints_help(capsys):
    assert main([]) == 2
    assert "usage" in capsys.readouterr().out


def test_real_sample_pair_fuses_to_visible_size(tmp_path):
    from conftest import require_shared

    samples = require_shared("ivif", "samples")
    out = tmp_path / "00016N.png"
    assert main(["fuse", str(samples / "ir" / "00016N.png"), str(samples / "vi" / "00016N.png"),
                 "-p", "dark and noisy", "-o", str(out), "--engine", "classic"]) == 0
    assert read_image(out).shape == (480, 640, 3)
