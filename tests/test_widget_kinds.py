"""The widget with other pair kinds: the kind selector, relabelled pickers, colour from the PET."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("napari")
pytest.importorskip("pytestqt")

from napari_textif import metrics
from napari_textif.samples import synthetic_mri_pet, synthetic_pair
from test_widget import open_widget, quiet_settings, results, run, test_engines  # noqa: F401

pytestmark = pytest.mark.gui


def shown(widget) -> bool:
    """Not hidden by the widget (the viewer window itself is not shown in tests)."""
    return not widget.native.isHidden()


def test_layer_names_pick_the_kind_and_the_pet_gives_the_colour(open_widget, qtbot):  # noqa: F811
    mri, pet = synthetic_mri_pet(shape=(64, 64), seed=2)
    viewer, widget = open_widget((pet, {"name": "FDG 12", "rgb": True}), (mri, {"name": "brain T2"}))
    assert widget.kind.value == "mri-pet"
    assert (widget.infrared_layer.label, widget.visible_layer.label) == ("PET", "MRI")
    assert widget.infrared_layer.value.name == "FDG 12" and widget.visible_layer.value.name == "brain T2"
    assert not shown(widget.sliders["vis_rain"]) and shown(widget.sliders["ir_noise"])
    assert widget.sliders["ir_noise"].label == "PET noise"
    widget.prompt.value = "keep the PET uptake bright, and rain"
    assert widget.sliders["thermal_emphasis"].value > 0 and widget.sliders["vis_rain"].value == 0
    assert "does not apply" in widget.interpretation.value
    assert "keep the PET uptake bright" in widget.examples.choices
    run(qtbot, widget)
    (layer,) = results(viewer)
    assert layer.rgb and layer.data.shape == (64, 64, 3)
    assert layer.metadata["napari_textif"]["kind"] == "mri-pet"
    assert metrics.hue_difference(layer.data, pet) < 5.0


def test_kind_selector_relabels_and_a_chosen_kind_stays(open_widget, qtbot):  # noqa: F811
    ir, vis = synthetic_pair(shape=(48, 64), seed=1)
    viewer, widget = open_widget((ir, {"name": "a"}), (vis, {"name": "b"}))
    assert widget.kind.value == "ivif"
    assert (widget.infrared_layer.label, widget.visible_layer.label) == ("infrared", "visible")
    widget.kind.value = "mri-ct"
    assert (widget.infrared_layer.label, widget.visible_layer.label) == ("CT", "MRI")
    viewer.add_image(ir, name="head_ct")
    viewer.add_image(ir, name="t1 scan")
    assert widget.infrared_layer.value.name == "head_ct" and widget.visible_layer.value.name == "t1 scan"
    viewer.add_image(vis, name="pet", rgb=True)
    assert widget.kind.value == "mri-ct", "a kind the user chose is not replaced by a guess"
    widget.prompt.value = "keep the bone bright; the CT is noisy"
    assert widget.sliders["thermal_emphasis"].value == pytest.approx(0.6)
    assert widget.sliders["ir_noise"].value == pytest.approx(0.6)
    job = widget.make_job()
    assert job.kind == "mri-ct" and job.infrared.name == "head_ct"
    widget.kind.value = "ivif"
    assert (widget.infrared_layer.label, widget.visible_layer.label) == ("infrared", "visible")
    assert all(shown(s) for s in widget.sliders.values())
    assert np.isclose(widget.sliders["thermal_emphasis"].value, 0.0), "'bone' means nothing to an ivif pair"
