"""Pair discovery in the three layouts, seeded samples and the Controls that describe them."""

from __future__ import annotations

import numpy as np
import pytest

from napari_textif.controls import DEGRADATIONS, Controls
from napari_textif.io import write_image
from napari_textif.samples import synthetic_pair
from napari_textif.training.datasets import (
    REAL_STRENGTH,
    DegradationPolicy,
    PairDataset,
    describe,
    find_pairs,
    split_holdout,
)

VIS_KINDS = [k for k in DEGRADATIONS if k.startswith("vis_")]
IR_KINDS = [k for k in DEGRADATIONS if k.startswith("ir_")]


def _pair(seed: int, shape=(48, 64)) -> tuple[np.ndarray, np.ndarray]:
    ir, vis = synthetic_pair(shape=shape, seed=seed)
    return ir.astype(np.float32) / 255, vis.astype(np.float32) / 255


def _plain(folder, stems, ir_name="ir", vis_name="vi", seed=0):
    for i, stem in enumerate(stems):
        ir, vis = _pair(seed + i)
        write_image(folder / ir_name / f"{stem}.png", ir)
        write_image(folder / vis_name / f"{stem}.png", vis)
    return folder


@pytest.fixture
def plain(tmp_path):
    folder = _plain(tmp_path / "set", ["a", "b", "c"])
    write_image(folder / "ir" / "only_ir.png", _pair(9)[0])
    return folder


def test_plain_layout_matches_by_stem(plain):
    records = find_pairs(plain)
    assert [r.name for r in records] == [f"{plain.parent.name}/set/{s}" for s in "abc"]
    assert all(len(r.infrared) == len(r.visible) == 1 and r.infrared_clean is None for r in records)
    assert records[0].infrared[0].path.name == "a.png" and records[0].visible[0].kind is None


def test_nested_and_several_folders(tmp_path, plain):
    _plain(tmp_path / "video" / "seq1", ["f0", "f1"], "Infrared", "Visible")
    _plain(tmp_path / "video" / "seq2", ["f0"])
    nested = find_pairs(tmp_path / "video")
    assert [r.name for r in nested] == ["video/seq1/f0", "video/seq1/f1", "video/seq2/f0"]
    assert len(find_pairs([plain, tmp_path / "video"])) == 6


def test_missing_or_empty_folders_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="data folder not found"):
        find_pairs(tmp_path / "nope")
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="no image pairs found"):
        find_pairs(tmp_path / "empty")


@pytest.fixture
def ems(tmp_path):
    folder = tmp_path / "EMS" / "Low_light" / "train"
    for i, stem in enumerate(["x1", "x2"]):
        ir, vis = _pair(20 + i)
        write_image(folder / "Infrared" / f"{stem}.png", ir)
        write_image(folder / "Infrared_gt" / f"{stem}.png", ir)
        write_image(folder / "Visible" / f"{stem}.png", vis * 0.2)
        write_image(folder / "Visible_gt" / f"{stem}.png", vis)
    (folder / "text.txt").write_text("The visible image is dark.\nIt is night.\n")
    return folder


def test_ems_layout_reads_kind_references_and_prompts(ems):
    records = find_pairs(ems.parents[1])
    assert len(records) == 2
    record = records[0]
    assert record.visible[0].kind == "vis_low_light" and record.infrared[0].kind is None
    assert record.visible_clean.parent.name == "Visible_gt" and record.infrared_clean is not None
    assert record.prompts == ("The visible image is dark.", "It is night.")
    data = PairDataset(records, crop=32, seed=0, length=40)
    for i in range(40):
        sample = data[i]
        controls = Controls.from_vector(sample["controls"].tolist())
        assert controls.vis_low_light == pytest.approx(REAL_STRENGTH)
        assert all(getattr(controls, k) == 0 for k in VIS_KINDS if k != "vis_low_light")
        if not any(getattr(controls, k) for k in IR_KINDS):
            assert sample["prompt"] in record.prompts
        assert sample["vis"].mean() < 0.5 * sample["vis_clean"].mean()


@pytest.fixture
def degraded_pairs(tmp_path):
    root = tmp_path / "degraded_pairs" / "train"
    ir, vis = _pair(30)
    for suffix, image in {"Norm": ir, "LC": 0.5 + 0.2 * (ir - 0.5), "SN": ir}.items():
        write_image(root / "IR" / f"s1_{suffix}.png", image)
    for suffix, image in {"Norm": vis, "LL": vis * 0.2}.items():
        write_image(root / "VI" / f"s1_{suffix}.png", image)
    write_image(root / "IR" / "s2_Norm.png", ir)  # no visible capture: skipped
    write_image(root / "IR_enhanced" / "s1.png", ir)
    write_image(root / "VI_enhanced" / "s1.png", vis)
    return root


def test_degraded_pairs_layout_offers_every_capture(degraded_pairs):
    (record,) = find_pairs(degraded_pairs.parent)
    assert {c.kind for c in record.infrared} == {None, "ir_low_contrast", "ir_stripe_noise"}
    assert {c.kind for c in record.visible} == {None, "vis_low_light"}
    assert record.infrared_clean.name == "s1.png"
    data = PairDataset([record], crop=32, seed=1, length=60, policy=DegradationPolicy(preference_prob=0))
    seen = set()
    for i in range(60):
        controls = Controls.from_vector(data[i]["controls"].tolist())
        real = {k for k in ("ir_low_contrast", "ir_stripe_noise", "vis_low_light")
                if getattr(controls, k) == pytest.approx(REAL_STRENGTH)}
        seen |= real
    assert seen == {"ir_low_contrast", "ir_stripe_noise", "vis_low_light"}


def test_samples_are_seeded_shaped_and_described(plain):
    data = PairDataset(find_pairs(plain), crop=32, seed=7, length=30)
    again = PairDataset(find_pairs(plain), crop=32, seed=7, length=30)
    for i in range(30):
        a, b = data[i], again[i]
        for key in ("ir", "vis", "ir_clean", "vis_clean", "controls"):
            np.testing.assert_array_equal(a[key], b[key])
        assert a["prompt"] == b["prompt"]
        assert a["ir"].shape == (1, 32, 32) and a["vis"].shape == (3, 32, 32) and a["controls"].shape == (11,)
        assert a["ir"].dtype == np.float32 and 0 <= a["vis"].min() and a["vis"].max() <= 1
        controls = Controls.from_vector(a["controls"].tolist())
        vis_degraded = any(getattr(controls, k) for k in VIS_KINDS)
        ir_degraded = any(getattr(controls, k) for k in IR_KINDS)
        assert vis_degraded != np.array_equal(a["vis"], a["vis_clean"])
        assert ir_degraded != np.array_equal(a["ir"], a["ir_clean"])
    other = PairDataset(find_pairs(plain), crop=32, seed=8, length=30)
    assert not np.array_equal(data[0]["vis"], other[0]["vis"])
    with pytest.raises(IndexError):
        data[30]


def test_policy_draws_cover_kinds_and_preferences(plain):
    data = PairDataset(find_pairs(plain), crop=32, seed=2, length=200)
    vectors = np.stack([data[i]["controls"] for i in range(200)])
    assert (vectors[:, :9] > 0).any(axis=0).all(), "every degradation kind appears"
    assert ((vectors[:, :9] == 0).all(axis=1)).any(), "some samples are clean"
    assert (vectors[:, 9:] < -0.3).any() and (vectors[:, 9:] > 0.3).any()
    both = (vectors[:, 0] > 0) & (vectors[:, 1] > 0)
    assert not both.any(), "low light and overexposure are never drawn together"


def test_validation_mode_is_a_centre_crop_without_flips(tmp_path):
    folder = _plain(tmp_path / "v", ["a"])
    records = find_pairs(folder)
    sample = PairDataset(records, crop=32, seed=0, augment=False,
                         policy=DegradationPolicy(visible_counts=(1,), infrared_counts=(1,)))[0]
    ir, _ = _pair(0)
    np.testing.assert_allclose(sample["ir_clean"][0], ir[8:40, 16:48], atol=1 / 255)


def test_small_images_are_padded_up_to_the_crop(tmp_path):
    folder = tmp_path / "small"
    ir, vis = _pair(1, shape=(20, 24))
    write_image(folder / "ir" / "s.png", ir)
    write_image(folder / "vi" / "s.png", vis)
    sample = PairDataset(find_pairs(folder), crop=32, seed=0)[0]
    assert sample["vis"].shape == (3, 32, 32)


def test_torch_dataloader_batches(plain):
    torch = pytest.importorskip("torch")
    data = PairDataset(find_pairs(plain), crop=32, seed=0, length=4)
    batch = next(iter(torch.utils.data.DataLoader(data, batch_size=4)))
    assert tuple(batch["vis"].shape) == (4, 3, 32, 32) and batch["controls"].dtype == torch.float32
    assert len(batch["prompt"]) == 4 and all(isinstance(p, str) for p in batch["prompt"])


def test_split_holdout_is_disjoint_and_seeded(plain):
    records = find_pairs(plain) * 10
    train, val = split_holdout(records, fraction=0.1, seed=1)
    assert len(val) == 3 and len(train) == 27
    assert [r.name for r in split_holdout(records, fraction=0.1, seed=1)[1]] == [r.name for r in val]
    assert split_holdout(records[:1]) == (records[:1], [])


def test_policy_round_trips_and_rejects_unknown_fields():
    policy = DegradationPolicy(strength_range=(0.1, 0.5))
    assert DegradationPolicy.from_dict(policy.to_dict()) == policy
    with pytest.raises(ValueError, match="unknown fields"):
        DegradationPolicy.from_dict({"fog": 1})


@pytest.mark.parametrize("kind", DEGRADATIONS)
def test_describe_is_understood_by_the_interpreter(kind):
    from napari_textif.interpretation import interpret

    rng = np.random.default_rng(0)
    for strength in (0.3, 0.9):
        for _ in range(2):
            sentence = describe(Controls(**{kind: strength}), rng)
            understood = interpret(sentence).controls
            assert set(understood.active()) & set(DEGRADATIONS) == {kind}, sentence


def test_describe_names_preferences():
    text = describe(Controls(thermal_emphasis=0.8, detail_emphasis=-0.8))
    assert "hot targets" in text and "smooth" in text
    assert describe(Controls()) == "Fuse the infrared and visible images."


def test_unnamed_degradations_make_the_degraded_input_the_target(tmp_path):
    from napari_textif.io import write_image
    from napari_textif.samples import synthetic_pair
    from napari_textif.training.datasets import DegradationPolicy, PairDataset, find_pairs

    ir, vis = synthetic_pair(shape=(48, 56), seed=4)
    write_image(tmp_path / "ir" / "a.png", ir / 255)
    write_image(tmp_path / "vi" / "a.png", vis / 255)
    policy = DegradationPolicy(visible_counts=(0, 1), infrared_counts=(0, 1), unnamed_prob=1.0)
    data = PairDataset(find_pairs(tmp_path), crop=32, seed=2, length=6, policy=policy)
    for i in range(len(data)):
        sample = data[i]
        assert np.all(sample["controls"][:9] == 0)
        np.testing.assert_array_equal(sample["ir"], sample["ir_clean"])
        np.testing.assert_array_equal(sample["vis"], sample["vis_clean"])
    named = PairDataset(find_pairs(tmp_path), crop=32, seed=2, length=6,
                        policy=DegradationPolicy(visible_counts=(0, 1), infrared_counts=(0, 1)))
    assert all(np.count_nonzero(named[i]["controls"][:9]) == 2 for i in range(6))
    with pytest.raises(ValueError, match="unnamed_prob"):
        DegradationPolicy(unnamed_prob=1.5)


def test_kinds_restored_first_reach_the_network_restored_and_unnamed(tmp_path):
    from napari_textif.engines.lite.engine import restore_first
    from napari_textif.training.datasets import DegradationPolicy, PairDataset, find_pairs

    ir, vis = synthetic_pair(shape=(48, 56), seed=5)
    write_image(tmp_path / "ir" / "a.png", ir / 255)
    write_image(tmp_path / "vi" / "a.png", vis / 255)
    base = dict(visible_counts=(0, 1), infrared_counts=(0, 1), kinds=("vis_haze", "ir_noise"),
                strength_range=(0.5, 1.0), preference_prob=0.0)
    plain, routed = (PairDataset(find_pairs(tmp_path), crop=32, seed=3, length=4, augment=False,
                                 policy=DegradationPolicy(**base, restored_first=first))
                     for first in ((), ("vis_haze",)))
    haze = DEGRADATIONS.index("vis_haze")
    for i in range(4):
        before, after = plain[i], routed[i]
        named = Controls.from_vector(before["controls"])
        assert named.vis_haze > 0 and named.ir_noise > 0
        ir_r, vis_r, rest, done = restore_first(before["ir"][0], before["vis"].transpose(1, 2, 0), named,
                                                frozenset({"vis_haze"}))
        assert done == ["vis_haze"]
        np.testing.assert_allclose(after["vis"], vis_r.transpose(2, 0, 1), atol=1e-6)
        np.testing.assert_array_equal(after["ir"][0], ir_r)  # infrared noise is still the network's job
        np.testing.assert_array_equal(ir_r, before["ir"][0])
        assert after["controls"][haze] == 0 and after["controls"][DEGRADATIONS.index("ir_noise")] > 0
        np.testing.assert_array_equal(after["controls"], np.asarray(rest.to_vector(), np.float32))
        np.testing.assert_array_equal(after["vis_clean"], before["vis_clean"])
    with pytest.raises(ValueError, match="restored_first has unknown degradations"):
        DegradationPolicy(restored_first=("vis_smoke",))


def test_policy_can_leave_a_preference_undrawn():
    policy = DegradationPolicy(preference_prob=1.0, preferences=("detail_emphasis",))
    rng = np.random.default_rng(0)
    draws = [policy.draw_preferences(rng) for _ in range(50)]
    assert all(d["thermal_emphasis"] == 0.0 for d in draws)
    assert len({d["detail_emphasis"] for d in draws}) == 50
    assert DegradationPolicy.from_dict(policy.to_dict()) == policy
    with pytest.raises(ValueError, match="preferences has unknown names"):
        DegradationPolicy(preferences=("warmth",))
