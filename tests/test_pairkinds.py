"""Pair kinds: MRI with CT, PET or SPECT and generic channels beside infrared/visible."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import require_shared
from napari_textif import engines, fuse, metrics
from napari_textif.controls import CONTROL_NAMES, Controls
from napari_textif.engines import Engine, EngineOutput
from napari_textif.interpretation import interpret
from napari_textif.pairkinds import KINDS, get_kind, slot_folders
from napari_textif.samples import synthetic_mri_pet, synthetic_pair


@pytest.fixture(scope="module")
def phantom():
    return synthetic_mri_pet(shape=(64, 72), seed=3)


def test_every_kind_names_two_roles_in_the_two_slots():
    for kind in KINDS.values():
        assert sorted(r.slot for r in kind.roles) == ["infrared", "visible"], kind.name
        assert kind.colour_role in (None, *kind.role_names)
        assert set(kind.controls) <= set(CONTROL_NAMES)
    assert get_kind("ivif").controls == frozenset(CONTROL_NAMES)
    for name in ("mri-ct", "mri-pet", "mri-spect"):
        kind = get_kind(name)
        assert kind.role_names[0] == "mri" and kind.slot_of("mri") == "visible"
        assert not {"vis_rain", "vis_haze", "vis_overexposure", "ir_stripe_noise"} & kind.controls
        assert kind.weights == "lite_medical_v1"
    assert get_kind("mri-pet").colour_slot == "infrared" and get_kind("mri-ct").colour_slot == "visible"
    assert set(slot_folders("infrared")) >= {"ir", "ct", "pet", "spect"} and "mri" in slot_folders("visible")


def test_unknown_kind_is_refused_with_the_known_ones():
    with pytest.raises(ValueError, match="kind must be one of ivif, mri-ct"):
        get_kind("xray")
    ir, vis = synthetic_pair(shape=(32, 40))
    with pytest.raises(ValueError, match="kind must be one of"):
        fuse(ir, vis, kind="xray", engine="classic")


def test_infrared_visible_is_unchanged_by_name_and_keyword():
    ir, vis = synthetic_pair(shape=(40, 48), seed=2)
    plain = fuse(ir, vis, engine="classic").image
    np.testing.assert_array_equal(fuse(ir, vis, kind="ivif", engine="classic").image, plain)
    np.testing.assert_array_equal(fuse(infrared=ir, visible=vis, engine="classic").image, plain)
    np.testing.assert_array_equal(fuse(ir, visible=vis, engine="classic").image, plain)
    assert fuse(ir, vis, engine="classic").kind == "ivif"


def test_images_given_twice_or_missing_are_refused(phantom):
    mri, pet = phantom
    with pytest.raises(TypeError, match="MRI image was given twice"):
        fuse(mri, pet, visible=mri, kind="mri-pet", engine="classic")
    with pytest.raises(TypeError, match="the PET is missing"):
        fuse(mri, kind="mri-pet", engine="classic")
    with pytest.raises(ValueError, match="pet and mri must have the same height and width"):
        fuse(mri, pet[:-2], kind="mri-pet", engine="classic")


def test_mri_pet_keeps_the_pet_colour_and_takes_the_roles_by_slot(phantom):
    mri, pet = phantom
    result = fuse(mri, pet, kind="mri-pet", engine="classic")
    assert result.image.shape == pet.shape and result.kind == "mri-pet"
    assert result.metadata()["kind"] == "mri-pet"
    assert metrics.hue_difference(result.image, pet) < 5.0
    by_slot = fuse(infrared=pet, visible=mri, kind="mri-pet", engine="classic").image
    np.testing.assert_array_equal(by_slot, result.image)
    # MRI-CT keeps the (grey) MRI's layout: a grey result.
    assert fuse(mri, pet[..., 0], kind="mri-ct", engine="classic").image.ndim == 2


def test_controls_that_do_not_apply_are_zeroed_with_a_note(phantom):
    mri, pet = phantom
    result = fuse(mri, pet, kind="mri-pet", engine="classic",
                  controls=Controls(vis_rain=0.8, ir_noise=0.5))
    assert result.controls == Controls(ir_noise=0.5)
    assert any("vis_rain do not apply to MRI + PET" in n for n in result.notes)


class Mean(Engine):
    name = "mean"
    description = "test: the mean of the two slots"

    def run(self, request):
        return EngineOutput(0.5 * (request.infrared + request.visible))


def test_an_engine_not_made_for_the_kind_says_its_result_is_zero_shot(phantom, monkeypatch):
    monkeypatch.setattr(engines, "_REGISTRY", dict(engines._REGISTRY))
    monkeypatch.setattr(engines, "_INSTANCES", dict(engines._INSTANCES))
    engines.register_engine("mean", Mean)
    mri, pet = phantom
    notes = fuse(mri, pet, kind="mri-spect", engine="mean").notes
    assert any("zero-shot" in n for n in notes)


@pytest.mark.parametrize(("kind", "prompt", "expected"), [
    ("mri-ct", "keep the bone bright", {"thermal_emphasis": 0.6}),
    ("mri-ct", "more soft-tissue detail", {"detail_emphasis": 0.6}),
    ("mri-ct", "the CT is noisy", {"ir_noise": 0.6}),
    ("mri-pet", "highlight the PET uptake", {"thermal_emphasis": 0.6}),
    ("mri-pet", "the T2 is noisy", {"vis_noise": 0.6}),
    ("mri-pet", "the T1/T2 image is very blurry", {"vis_blur": 0.8}),
    ("mri-spect", "the SPECT has low contrast", {"ir_low_contrast": 0.6}),
    ("mri-spect", "less SPECT, more MRI", {"thermal_emphasis": -0.6}),
    ("channels", "the first channel is noisy", {"ir_noise": 0.6}),
])
def test_medical_words(kind, prompt, expected):
    result = interpret(prompt, kind=kind)
    assert result.controls.active() == pytest.approx(expected), result.explain()
    assert all(result.phrases[name] for name in expected)


def test_words_that_do_not_apply_stay_neutral_with_a_note():
    result = interpret("heavy rain and haze", kind="mri-ct")
    assert result.controls.is_neutral
    assert any("vis_rain does not apply to MRI + CT" in n for n in result.notes)
    assert interpret("no rain", kind="mri-ct").excluded == {}
    # The medical words mean nothing to an infrared/visible prompt.
    assert interpret("keep the bone bright").controls.is_neutral
    assert interpret("the MRI has low contrast", kind="mri-ct").notes[0].endswith(
        "restored on the CT image only, not the MRI; ignored")


def test_real_mri_pet_slice_keeps_its_hue():
    folder = require_shared("medical", "mri_pet")
    from napari_textif.io import read_image

    mri, pet = read_image(folder / "mri" / "30030.png"), read_image(folder / "pet" / "30030.png")
    for engine in ("classic", "lite"):
        if engine == "lite":
            pytest.importorskip("torch")
        result = fuse(mri, pet, kind="mri-pet", engine=engine)
        assert result.image.shape == (*pet.shape[:2], 3)
        assert metrics.hue_difference(result.image, pet) < 3.0, engine


def test_hue_difference_is_circular_and_ignores_grey_pixels():
    red, grey = np.zeros((4, 4, 3)), np.full((4, 4, 3), 0.5)
    red[..., 0] = 1.0
    magenta = red.copy()
    magenta[..., 2] = 0.2  # hue a little below 360
    assert 0 < metrics.hue_difference(magenta, red) < 15
    assert np.isnan(metrics.hue_difference(red, grey))
    with pytest.raises(ValueError, match="RGB image"):
        metrics.hue_difference(red[..., 0], red)


def test_cli_kind_for_fuse_and_interpret(phantom, tmp_path, capsys):
    from napari_textif.cli import main
    from napari_textif.io import read_image, write_image

    mri, pet = phantom
    write_image(tmp_path / "mri.png", mri / 255)
    write_image(tmp_path / "pet.png", pet / 255)
    out = tmp_path / "fused.png"
    assert main(["fuse", str(tmp_path / "mri.png"), str(tmp_path / "pet.png"), "--kind", "mri-pet",
                 "--engine", "classic", "-p", "the T2 is noisy", "-o", str(out)]) == 0
    assert "vis_noise=" in capsys.readouterr().out
    fused = read_image(out)
    assert fused.shape == pet.shape and metrics.hue_difference(fused, pet) < 5.0
    assert main(["interpret", "keep the bone bright", "--kind", "mri-ct"]) == 0
    assert "thermal_emphasis = +0.60  <- 'keep the bone bright'" in capsys.readouterr().out
