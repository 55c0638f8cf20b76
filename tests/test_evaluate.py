"""Evaluation of fused files: matching by stem, rows and mean, CSV/JSON, the CLI and its errors."""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import numpy as np
import pytest

from napari_textif import evaluate, metrics
from napari_textif.cli import main
from napari_textif.io import list_images, read_image, write_image
from napari_textif.samples import synthetic_pair

NAMES = ("scene_a", "scene_b", "scene_c")


def make_folders(root: Path, *, shape: tuple[int, int] = (48, 64)) -> tuple[Path, Path, Path]:
    """ir/*.jpg-like PNGs, vis/*.png and fused/*.png (average fusion) for three scenes."""
    fused_dir, ir_dir, vis_dir = root / "fused", root / "ir", root / "vis"
    for seed, name in enumerate(NAMES):
        ir, vis = synthetic_pair(shape=shape, seed=seed)
        fused = (ir[..., None] / 255.0 + vis / 255.0) / 2
        write_image(ir_dir / f"{name}.tif", ir / 255.0)
        write_image(vis_dir / f"{name}.png", vis / 255.0)
        write_image(fused_dir / f"{name}.png", fused)
    return fused_dir, ir_dir, vis_dir


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path, Path]:
    return make_folders(tmp_path)


def test_folder_rows_match_compute_all_and_mean(folders):
    fused_dir, ir_dir, vis_dir = folders
    result = evaluate.evaluate_folder(fused_dir, ir_dir, vis_dir, ssim_convention="correct")
    assert [r["name"] for r in result.rows] == list(NAMES)
    row = result.rows[1]
    expected = metrics.compute_all(
        read_image(fused_dir / "scene_b.png"), read_image(ir_dir / "scene_b.tif"),
        read_image(vis_dir / "scene_b.png"), ssim_convention="correct",
    )
    assert {k: row[k] for k in metrics.METRIC_NAMES} == expected
    for key in metrics.METRIC_NAMES:
        assert result.mean[key] == pytest.approx(np.mean([r[key] for r in result.rows]))


def test_saved_file_scores_like_the_array_in_memory(tmp_path):
    ir, vis = synthetic_pair(shape=(48, 64), seed=5)
    fused = np.clip(0.5 * ir / 255.0 + 0.6 * vis.mean(axis=2) / 255.0, 0, 1).astype(np.float32)
    path = write_image(tmp_path / "f.png", fused)
    assert metrics.compute_all(read_image(path), ir, vis) == metrics.compute_all(fused, ir, vis)


def test_extra_sources_and_other_files_are_ignored(folders):
    fused_dir, ir_dir, vis_dir = folders
    write_image(ir_dir / "unused.png", np.zeros((48, 64)))
    (fused_dir / "scene_a.json").write_text("{}")
    triples = evaluate.match_folders(fused_dir, ir_dir, vis_dir)
    assert [t.name for t in triples] == list(NAMES)
    assert triples[0].infrared.name == "scene_a.tif"


def test_missing_partner_lists_the_images(folders):
    fused_dir, ir_dir, vis_dir = folders
    (vis_dir / "scene_b.png").unlink()
    (vis_dir / "scene_c.png").unlink()
    expected = r"no visible image in .* for 2 fused image\(s\): scene_b.png"
    with pytest.raises(FileNotFoundError, match=expected):
        evaluate.match_folders(fused_dir, ir_dir, vis_dir)


def test_size_mismatch_names_files_and_sizes(folders):
    fused_dir, ir_dir, vis_dir = folders
    write_image(fused_dir / "scene_c.png", np.zeros((40, 64)))
    with pytest.raises(ValueError, match=r"scene_c: image sizes differ .* fused scene_c.png is 40x64"):
        evaluate.evaluate_folder(fused_dir, ir_dir, vis_dir, keep_going=False)


def test_folder_reports_a_mismatched_pair_and_scores_the_others(folders, tmp_path, capsys):
    """Issue 17 item 9: one pair of another size no longer aborts the whole folder."""
    fused_dir, ir_dir, vis_dir = folders
    write_image(fused_dir / "scene_c.png", np.zeros((40, 64)))
    result = evaluate.evaluate_folder(fused_dir, ir_dir, vis_dir)
    assert [r["name"] for r in result.rows] == [n for n in NAMES if n != "scene_c"]
    assert [f["name"] for f in result.failures] == ["scene_c"]
    assert "fused scene_c.png is 40x64" in result.failures[0]["error"]
    assert "not scored: scene_c" in result.format_table()
    csv_path = tmp_path / "scores.csv"
    code = main(["evaluate", str(fused_dir), "--ir", str(ir_dir), "--vis", str(vis_dir), "--json",
                 "--no-progress", "--csv", str(csv_path)])
    out, err = capsys.readouterr()
    assert code == 1 and "failed: scene_c: image sizes differ" in err
    data = json.loads(out)
    assert data["pairs"] == len(NAMES) - 1 and data["failed"][0]["name"] == "scene_c"
    assert csv_path.read_text().count("\n") == 1 + (len(NAMES) - 1) + 1  # header, scored rows, mean
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_ambiguous_stems_are_refused(folders):
    fused_dir, ir_dir, vis_dir = folders
    write_image(ir_dir / "scene_a.png", np.zeros((48, 64)))
    with pytest.raises(ValueError, match="two images named 'scene_a'"):
        evaluate.match_folders(fused_dir, ir_dir, vis_dir)


def test_empty_fused_folder(tmp_path, folders):
    _, ir_dir, vis_dir = folders
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=r"no images .* found in the fused folder"):
        evaluate.match_folders(tmp_path / "empty", ir_dir, vis_dir)


def test_progress_is_reported(folders):
    calls = []
    evaluate.evaluate_folder(*folders, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(1, 3), (2, 3), (3, 3)]


def test_csv_has_rows_mean_and_convention(tmp_path, folders):
    result = evaluate.evaluate_folder(*folders)
    rows = list(csv.DictReader(result.write_csv(tmp_path / "out" / "scores.csv").open()))
    assert [r["name"] for r in rows] == [*NAMES, "mean"]
    assert {r["ssim_convention"] for r in rows} == {"literature"}
    assert float(rows[-1]["VIF"]) == pytest.approx(result.mean["VIF"])


def test_cli_json_is_one_object_on_stdout(capsys, folders):
    fused_dir, ir_dir, vis_dir = folders
    code = main(["evaluate", str(fused_dir), "--ir", str(ir_dir), "--vis", str(vis_dir), "--json"])
    out = capsys.readouterr().out
    assert code == 0
    data = json.loads(out)
    assert out.strip().count("\n") == 0
    assert set(data) == {"pairs", "mean", "ssim_convention", "per_image", "failed"}
    assert data["pairs"] == 3 and data["ssim_convention"] == "literature"
    assert list(data["mean"]) == list(metrics.METRIC_NAMES)
    assert [r["name"] for r in data["per_image"]] == list(NAMES)


def test_cli_table_csv_and_convention(capsys, tmp_path, folders):
    fused_dir, ir_dir, vis_dir = folders
    out_csv = tmp_path / "scores.csv"
    argv = ["evaluate", str(fused_dir), "--ir", str(ir_dir), "--vis", str(vis_dir),
            "--csv", str(out_csv), "--ssim-convention", "correct"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "SSIM convention: correct (data_range 255 on 0..255)" in out
    assert out.splitlines()[0].split() == ["image", *metrics.METRIC_NAMES]
    assert out_csv.is_file()


def test_cli_single_triple(capsys, folders):
    fused_dir, ir_dir, vis_dir = folders
    argv = ["evaluate", str(fused_dir / "scene_a.png"), "--ir", str(ir_dir / "scene_a.tif"),
            "--vis", str(vis_dir / "scene_a.png"), "--json"]
    assert main(argv) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["pairs"] == 1 and data["per_image"][0]["name"] == "scene_a"
    assert data["mean"] == {k: data["per_image"][0][k] for k in metrics.METRIC_NAMES}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f, i, v: [str(f), "--ir", str(i / "scene_a.tif"), "--vis", str(v)], "--ir must be a folder"),
        (lambda f, i, v: [str(f / "scene_a.png"), "--ir", str(i), "--vis", str(v)], "--ir must be an image"),
        (lambda f, i, v: [str(f / "nope.png"), "--ir", str(i), "--vis", str(v)], "fused image or folder not"),
        (lambda f, i, v: [str(f), "--ir", str(i), "--vis", str(v / "x")], "--vis must be a folder"),
    ],
)
def test_cli_errors_are_one_line(capsys, folders, change, message):
    assert main(["evaluate", *change(*folders)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_cli_missing_partner_exit_code(capsys, folders):
    fused_dir, ir_dir, vis_dir = folders
    (ir_dir / "scene_c.tif").unlink()
    assert main(["evaluate", str(fused_dir), "--ir", str(ir_dir), "--vis", str(vis_dir)]) == 2
    assert "no infrared image in" in capsys.readouterr().err


def test_cli_rejects_unknown_convention(capsys, folders):
    with pytest.raises(SystemExit):
        main(["evaluate", str(folders[0]), "--ir", str(folders[1]), "--vis", str(folders[2]),
              "--ssim-convention", "matlab"])
    assert "invalid choice: 'matlab'" in capsys.readouterr().err


@pytest.mark.slow
def test_fifty_roadscene_pairs_under_a_minute(tmp_path):
    from conftest import require_shared

    root = require_shared("ivif", "roadscene")
    ir_dir, vis_dir = root / "ir", root / "vi"
    stems = sorted(list_images(ir_dir, role="infrared"))[:50]
    fused_dir = tmp_path / "fused"
    for stem in stems:
        ir = read_image(next(ir_dir.glob(f"{stem}.*"))).astype(np.float64)
        vis = read_image(next(vis_dir.glob(f"{stem}.*"))).astype(np.float64)
        ir = ir if ir.ndim == 2 else ir[..., :3].mean(axis=2)
        ir = ir if vis.ndim == 2 else ir[..., None]
        write_image(fused_dir / f"{stem}.png", (ir + vis) / 2 / 255.0)
    start = time.perf_counter()
    result = evaluate.evaluate_folder(fused_dir, ir_dir, vis_dir)
    assert time.perf_counter() - start < 60.0
    assert result.to_dict()["pairs"] == 50
