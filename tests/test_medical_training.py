"""Training data for medical pairs: mri/ + ct|pet|spect/ folders, the slice split, the policy's kinds."""

from __future__ import annotations

import numpy as np
import pytest

from napari_textif.controls import DEGRADATIONS
from napari_textif.io import write_image
from napari_textif.samples import synthetic_mri_pet
from napari_textif.training.datasets import DegradationPolicy, PairDataset, find_pairs, slice_id, split_slices

#: Two volumes: 20 slices (numbers 3..22) and 8 slices with a hole (5..8, 15..18).
SLICES = [f"20{n:03d}" for n in range(3, 23)] + [f"41{n:03d}" for n in (5, 6, 7, 8, 15, 16, 17, 18)]


def _volume(folder, names=SLICES, other="pet"):
    mri, pet = synthetic_mri_pet(shape=(48, 48), seed=1)
    for name in names:
        write_image(folder / "mri" / f"{name}.png", mri / 255)
        write_image(folder / other / f"{name}.png", pet / 255)
    return folder


def test_medical_folders_are_pairs_with_the_mri_in_the_visible_slot(tmp_path):
    records = find_pairs(_volume(tmp_path / "mri_ct", SLICES[:3], other="ct"))
    assert len(records) == 3
    assert records[0].visible[0].path.parent.name == "mri" and records[0].infrared[0].path.parent.name == "ct"
    sample = PairDataset(records, crop=32, seed=0)[0]
    assert sample["ir"].shape == (1, 32, 32) and sample["vis"].shape == (3, 32, 32)


def test_slice_split_keeps_neighbours_out_of_other_splits(tmp_path):
    records = find_pairs(_volume(tmp_path / "mri_pet"))
    parts = split_slices(records)
    assert sum(len(v) for v in parts.values()) == len(records)
    assert parts["held_out"] and parts["val"] and parts["train"]
    split_of = {slice_id(r): name for name, rs in parts.items() for r in rs}
    for (volume, number), name in split_of.items():
        for neighbour in (number - 1, number + 1):
            other = split_of.get((volume, neighbour))
            if name == "train" and other is not None:
                assert other in ("train", "gap"), (volume, number, other)
            if name == "val" and other is not None:
                assert other != "held_out"
    # Both volumes contribute held-out slices, by slice-number range (a contiguous run).
    held = sorted(slice_id(r) for r in parts["held_out"])
    assert {v for v, _ in held} == {"20", "41"}
    numbers = [n for v, n in held if v == "20"]
    assert numbers == list(range(numbers[0], numbers[-1] + 1))
    assert split_slices(records) == parts


def test_names_that_are_not_slices_train(tmp_path):
    records = find_pairs(_volume(tmp_path / "x", ["a", "b"]))
    assert split_slices(records)["train"] == records


def test_policy_kinds_limit_the_simulated_degradations():
    medical = ("vis_noise", "vis_blur", "ir_noise", "ir_low_contrast")
    policy = DegradationPolicy(kinds=medical, visible_counts=(0, 1), infrared_counts=(0, 1))
    for seed in range(30):
        drawn = policy.draw(np.random.default_rng(seed), visible=True, infrared=True)
        assert drawn and set(drawn) <= set(medical)
    default, every = DegradationPolicy(), DegradationPolicy(kinds=DEGRADATIONS)
    for seed in range(10):
        assert default.draw(np.random.default_rng(seed), visible=True, infrared=True) == every.draw(
            np.random.default_rng(seed), visible=True, infrared=True)
    assert DegradationPolicy.from_dict(policy.to_dict()) == policy
    with pytest.raises(ValueError, match="unknown degradations"):
        DegradationPolicy(kinds=("vis_snow",))


def test_holdout_slices_trains_on_the_training_range_only(tmp_path):
    pytest.importorskip("torch")
    from napari_textif.training.loop import TrainConfig, _build_data

    folder = _volume(tmp_path / "mri_pet")
    config = TrainConfig(engine="lite", data=[str(folder)], out=str(tmp_path / "w.safetensors"), steps=2,
                         holdout_slices=True, val_pairs=2)
    train_set, val_set = _build_data(config)
    parts = split_slices(find_pairs(folder))
    names = lambda records: {r.name for r in records}  # noqa: E731
    assert names(train_set.records) == names(parts["train"])
    assert names(val_set.records) <= names(parts["val"])
    assert not names(train_set.records) & names(parts["held_out"])
