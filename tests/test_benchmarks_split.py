"""The benchmarks' splits (benchmarks/heldout.py) and lite_quality's per-baseline verdicts."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import heldout
import lite_quality


def _pairs(folder: Path, count: int) -> None:
    for sub in ("ir", "vi"):
        (folder / sub).mkdir(parents=True)
        for i in range(count):
            Image.fromarray(np.full((4, 4), i, np.uint8)).save(folder / sub / f"p{i:02d}.png")


@pytest.fixture
def ivif(tmp_path: Path) -> Path:
    _pairs(tmp_path / "roadscene", 20)
    _pairs(tmp_path / "m3svd" / heldout.HELD_OUT_SEQUENCE, 6)
    _pairs(tmp_path / "m3svd" / "0114_1551", 11)
    return tmp_path


def _names(items: list[tuple[str, Path, Path]]) -> list[str]:
    return [name for name, _, _ in items]


def test_split_keeps_held_out_and_adds_validation(ivif: Path) -> None:
    parts = heldout.split(ivif)
    held, validation, train = (_names(parts[k]) for k in ("val", "validation", "train"))
    assert held == [f"roadscene/p{i:02d}" for i in (0, 5, 10, 15)] + [
        f"m3svd/{heldout.HELD_OUT_SEQUENCE}/p{i:02d}" for i in range(6)]
    # not held out: p01..p04, p06..p09, ...; every 8th of them (from the first) is validation
    assert validation == ["roadscene/p01", "roadscene/p11", "m3svd/0114_1551/p01"]
    assert not set(validation) & set(held)
    assert set(validation) <= set(train)
    assert len(train) == 16 + 11 and not set(train) & set(held)
    ir_path, vis_path = parts["validation"][0][1:]
    assert (ir_path.parent.name, vis_path.parent.name, ir_path.name) == ("ir", "vi", "p01.png")


def test_validation_matches_split_three(ivif: Path) -> None:
    from napari_textif.training.datasets import split_three

    records = split_three([ivif / "roadscene", ivif / "m3svd" / "0114_1551"],
                          heldout.HOLDOUT_EVERY, heldout.VALIDATION_EVERY)["val"]
    got = [p for _, p, _ in heldout.split(ivif)["validation"]]
    assert got == [r.infrared[0].path for r in records]


def test_compare_counts_wins_and_the_bar() -> None:
    base = dict.fromkeys(lite_quality.EIGHT, 1.0)
    ours = {**dict.fromkeys(lite_quality.EIGHT, 1.1), "VIF": 0.99, "Qabf": 1.0}
    verdict = lite_quality.compare({"lite": ours, "other": base, "worse": {**base, "SSIM": 2.0}})
    assert verdict["other"]["wins"] == 6 and verdict["other"]["lost"] == ["VIF", "Qabf"]
    assert verdict["other"]["worst_shortfall"] == pytest.approx(-0.01)
    assert verdict["other"]["bar"]
    assert verdict["worse"]["wins"] == 5 and not verdict["worse"]["bar"]
    all_won = lite_quality.compare({"lite": {**base, **dict.fromkeys(lite_quality.EIGHT, 2.0)}, "b": base})
    assert all_won["b"]["wins"] == 8 and all_won["b"]["worst_shortfall"] == 0.0 and all_won["b"]["bar"]


def test_compare_names_rejects_clashes() -> None:
    assert lite_quality.compare_names(["a/lite_v2.safetensors"]) == {"lite_v2": "a/lite_v2.safetensors"}
    for paths in (["x/lite.safetensors"], ["a/v.safetensors", "b/v.safetensors"]):
        with pytest.raises(ValueError, match="rename"):
            lite_quality.compare_names(paths)


def test_strength_response_best_takes_the_middle_of_a_plateau() -> None:
    import strength_response

    grid = strength_response.GRID
    peak = [0.0] * len(grid)
    peak[2] = 0.5
    assert strength_response.best(peak) == grid[2]
    plateau = [0.1, 0.5, 0.72, 0.75, 0.75, 0.745, 0.7, 0.6]
    assert strength_response.best(plateau) == round((grid[3] + grid[4] + grid[5]) / 3, 2)
