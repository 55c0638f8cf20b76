"""The napari dock widget, driven as a user would (run under ``xvfb-run -a``).

Tiny engines registered here stand in for the trained ones so no weights are
needed; one test uses the shipped lite weights when they exist.
"""

from __future__ import annotations

import subprocess
import sys
import time
import types
import typing

import numpy as np
import pytest

napari = pytest.importorskip("napari")
pytest.importorskip("pytestqt")

from napari_textif import engines  # noqa: E402
from napari_textif.engines import Availability, Engine, EngineOutput  # noqa: E402
from napari_textif.samples import synthetic_pair  # noqa: E402

pytestmark = pytest.mark.gui


def _luma(vis: np.ndarray) -> np.ndarray:
    return vis @ np.float32([0.299, 0.587, 0.114]) if vis.ndim == 3 else vis


class BlendEngine(Engine):
    name = "blend"
    description = "test: average of infrared and visible luminance"

    def run(self, request):
        request.report(0.5, "tile 1/2")
        request.report(1.0, "tile 2/2")
        image = 0.5 * request.infrared + 0.5 * _luma(request.visible)
        return EngineOutput(image, "cpu", ["blend note"], {"weights_sha256": "0" * 64})


class SlowEngine(BlendEngine):
    name = "slow"
    description = "test: 0.5 s per frame in 100 tiles"

    def run(self, request):
        for i in range(100):
            request.report(i / 100, f"tile {i + 1}/100")
            time.sleep(0.005)
        return super().run(request)


class BrokenEngine(BlendEngine):
    name = "broken"
    description = "test: always fails"

    def run(self, request):
        raise RuntimeError("boom from the broken engine")


class GatedEngine(BlendEngine):
    name = "gated"
    description = "test: never available"

    def availability(self, options=None):
        return Availability(False, "needs weights that are not installed")


class CheckpointEngine(BlendEngine):
    name = "ckpt"
    description = "test: needs a checkpoint file"
    option_names = ("checkpoint",)

    def availability(self, options=None):
        ok = bool(options and options.get("checkpoint"))
        return Availability(ok, "" if ok else "choose a checkpoint file")


TEST_ENGINES = (BlendEngine, SlowEngine, BrokenEngine, GatedEngine, CheckpointEngine)


@pytest.fixture
def test_engines(monkeypatch):
    monkeypatch.setattr(engines, "_REGISTRY", dict(engines._REGISTRY))
    monkeypatch.setattr(engines, "_INSTANCES", dict(engines._INSTANCES))
    for cls in TEST_ENGINES:
        engines.register_engine(cls.name, cls)


@pytest.fixture(autouse=True)
def quiet_settings(monkeypatch, tmp_path):
    """No user config or napari preferences leak in; no background warm-up unless a test asks."""
    from napari_textif import settings

    for variable in settings.ENV.values():
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv(settings.ENV_CONFIG_DIR, str(tmp_path / "config"))
    monkeypatch.setenv(settings.ENV["cache_dir"], str(tmp_path / "cache"))
    monkeypatch.setenv(settings.ENV["warm_up"], "0")
    yield
    settings.use_napari_settings(None)


@pytest.fixture
def open_widget(make_napari_viewer, qtbot, test_engines):
    """``open_widget(*layers)`` -> (viewer, widget) with the widget docked and engines listed."""
    from napari_textif._napari.widget import FusionWidget

    def make(*layers):
        viewer = make_napari_viewer()
        for data, kwargs in layers:
            viewer.add_image(data, **kwargs)
        widget = FusionWidget(viewer)
        viewer.window.add_dock_widget(widget, name="Text-guided fusion")
        qtbot.waitUntil(lambda: widget.engines_ready, timeout=30000)
        widget.engine.value = "blend"
        return viewer, widget

    return make


def run(qtbot, widget, **kwargs):
    worker = widget.fuse(**kwargs)
    assert worker is not None, widget.status.value
    qtbot.waitUntil(lambda: not widget.running, timeout=20000)
    return worker


def results(viewer):
    return [x for x in viewer.layers if "napari_textif" in x.metadata]


def pair(shape=(48, 64), **kw):
    return synthetic_pair(shape=shape, seed=1, **kw)


def test_fuse_copies_geometry_and_records_provenance(open_widget, qtbot):
    ir, vis = pair()
    geo = {"scale": (0.5, 0.25), "translate": (10.0, -3.0), "rotate": 15.0,
           "units": ("mm", "mm"), "axis_labels": ("row", "col")}
    viewer, widget = open_widget((ir, {"name": "flir_thermal", **geo}), (vis, {"name": "cam rgb", **geo}))
    assert widget.infrared_layer.value.name == "flir_thermal"
    assert widget.visible_layer.value.name == "cam rgb"
    widget.prompt.value = "the visible image is dark"
    assert "dark”" in widget.interpretation.value and "←" in widget.interpretation.value
    assert widget.sliders["vis_low_light"].value > 0
    before = (ir.copy(), vis.copy())
    run(qtbot, widget)
    (layer,) = results(viewer)
    assert layer.data.shape == (48, 64, 3) and layer.data.dtype == np.float32 and layer.rgb
    source = viewer.layers["cam rgb"]
    np.testing.assert_allclose(layer.scale, source.scale)
    np.testing.assert_allclose(layer.translate, source.translate)
    np.testing.assert_allclose(layer.rotate, source.rotate)
    assert layer.units == source.units and tuple(layer.axis_labels) == ("row", "col")
    record = layer.metadata["napari_textif"]
    assert record["engine"] == "blend" and record["prompt"] == "the visible image is dark"
    assert record["controls"]["vis_low_light"] > 0 and record["device"] == "cpu"
    assert record["weights_sha256"] == "0" * 64 and "napari_textif_version" in record
    assert record["timings"]["total"] > 0 and "blend note" in record["notes"]
    assert "flir_thermal" in layer.name and "dark" in layer.name
    assert "done" in widget.status.value and "cpu" in widget.status.value
    assert widget.progress.value == widget.progress.max
    np.testing.assert_array_equal(ir, before[0])
    np.testing.assert_array_equal(vis, before[1])
    assert "the visible image is dark" in widget.examples.choices
    from napari_textif._napari.widget import EXAMPLE_PROMPTS, HISTORY_PLACEHOLDER

    widget.examples.value = EXAMPLE_PROMPTS[1]
    assert widget.prompt.value == EXAMPLE_PROMPTS[1] and widget.examples.value == HISTORY_PLACEHOLDER


def test_prompt_strength_is_measured_on_the_images_unless_sliders_moved(open_widget, qtbot):
    ir, vis = pair()
    viewer, widget = open_widget((ir, {"name": "ir"}), (vis, {"name": "vis"}))
    widget.prompt.value = "the visible image is hazy"
    run(qtbot, widget)
    record = results(viewer)[-1].metadata["napari_textif"]
    measured = record["provenance"]["severity"]["vis_haze"]
    assert record["controls"]["vis_haze"] == measured["strength"]
    assert "measured on the images: visible haze" in widget.interpretation.value
    widget.sliders["vis_haze"].value = 0.9  # by hand: used as it is, nothing measured
    run(qtbot, widget)
    record = results(viewer)[-1].metadata["napari_textif"]
    assert record["controls"]["vis_haze"] == 0.9 and "severity" not in record["provenance"]
    assert "adjusted by hand" in widget.interpretation.value


def test_grayscale_result_replaces_previous_unless_kept(open_widget, qtbot):
    ir, vis = pair()
    gray = (_luma(vis.astype(np.float32))).astype(np.uint8)
    viewer, widget = open_widget((ir, {"name": "ir"}), (gray, {"name": "vis"}))
    run(qtbot, widget)
    (first,) = results(viewer)
    first.contrast_limits = (0.1, 0.9)
    widget.prompt.value = "hazy"
    run(qtbot, widget)
    (layer,) = results(viewer)
    assert layer is first and layer.contrast_limits == [0.1, 0.9], "replaced in place, settings kept"
    assert layer.metadata["napari_textif"]["prompt"] == "hazy" and "hazy" in layer.name
    widget.prompt.value = ""
    run(qtbot, widget)
    (layer,) = results(viewer)
    assert layer.data.shape == (48, 64) and not layer.rgb
    expected = 0.5 * ir / 255.0 + 0.5 * gray / 255.0
    np.testing.assert_allclose(layer.data, expected, atol=1e-5)
    widget.keep_previous.value = True
    run(qtbot, widget)
    assert len(results(viewer)) == 2


def test_cancel_stops_a_large_stack_promptly(open_widget, qtbot):
    ir, vis = pair((64, 64))
    stack_ir, stack_vis = np.stack([ir] * 30), np.stack([vis] * 30)
    viewer, widget = open_widget((stack_ir, {"name": "ir"}), (stack_vis, {"name": "vis", "rgb": True}))
    widget.engine.value = "slow"
    widget.scope.value = "whole stack"
    widget.fuse()
    qtbot.waitUntil(lambda: widget.progress.value > 0, timeout=10000)
    assert not widget.fuse_button.enabled and widget.cancel_button.enabled
    t0 = time.perf_counter()
    widget.cancel()
    qtbot.waitUntil(lambda: not widget.running, timeout=5000)
    assert time.perf_counter() - t0 < 2.0, "30 frames take 15 s; a cancel must act within a tile or two"
    assert "cancelled" in widget.status.value and not results(viewer)
    assert widget.fuse_button.enabled


def test_stack_whole_and_displayed_slice(open_widget, qtbot):
    frames = [pair((32, 40))[0], pair((32, 40), dark=0.5)[0], pair((32, 40), haze=0.5)[0]]
    stack_ir = np.stack(frames)
    stack_vis = np.stack([pair((32, 40), dark=d)[1] for d in (0.0, 0.3, 0.6)])
    viewer, widget = open_widget(
        (stack_ir, {"name": "thermal", "scale": (5, 1, 1)}),
        (stack_vis, {"name": "visible", "rgb": True, "scale": (5, 1, 1), "translate": (2, 0, 0)}),
    )
    assert not widget.scope.native.isHidden()
    widget.scope.value = "whole stack"
    messages = []
    show_progress = widget._on_progress
    widget._on_progress = lambda report: (messages.append(report.message), show_progress(report))
    run(qtbot, widget)
    (whole,) = results(viewer)
    assert whole.data.shape == (3, 32, 40, 3)
    np.testing.assert_allclose(whole.scale, (5, 1, 1))
    assert any("frame 3/3" in m for m in messages)
    widget.scope.value = "displayed slice"
    viewer.dims.set_current_step(0, 1)
    run(qtbot, widget)
    preview = next(x for x in results(viewer) if x is not whole)
    assert preview.data.shape == (1, 32, 40, 3) and "[frame 1]" in preview.name
    vis_layer = viewer.layers["visible"]
    np.testing.assert_allclose(preview.data_to_world((0, 3, 4)), vis_layer.data_to_world((1, 3, 4)))
    np.testing.assert_allclose(preview.data[0], whole.data[1], atol=1e-6)


def test_mismatched_grids_resample_or_refuse(open_widget, qtbot):
    ir, vis = pair((64, 80))
    small_ir = ir[::2, ::2].copy()
    viewer, widget = open_widget((small_ir, {"name": "ir", "scale": (2, 2)}), (vis, {"name": "vis"}))
    run(qtbot, widget)
    (layer,) = results(viewer)
    assert layer.data.shape == (64, 80, 3)
    assert any("resampled" in n for n in layer.metadata["napari_textif"]["notes"])
    viewer.layers["ir"].translate = (500, 500)
    assert widget.fuse() is None
    assert "do not overlay" in widget.status.value


def test_bad_inputs_are_refused_or_handled(open_widget, qtbot):
    ir, vis = pair()
    rgba = np.concatenate([vis, np.full((*vis.shape[:2], 1), 255, np.uint8)], axis=-1)
    ir16 = (ir.astype(np.uint16) * 4 + 1000).astype(np.uint16)
    viewer, widget = open_widget((ir16, {"name": "ir16"}), (rgba, {"name": "vis rgba"}))
    viewer.add_labels(np.zeros((48, 64), np.uint8), name="labels")
    viewer.add_points(np.zeros((2, 2)), name="points")
    listed = {x.name for x in widget.infrared_layer.choices if x is not None}
    assert listed == {"ir16", "vis rgba"}
    copies = (ir16.copy(), rgba.copy())
    run(qtbot, widget)
    (layer,) = results(viewer)
    assert layer.data.shape == (48, 64, 3)
    notes = " ".join(layer.metadata["napari_textif"]["notes"])
    assert "alpha" in notes and "robust" in notes
    np.testing.assert_array_equal(ir16, copies[0])
    np.testing.assert_array_equal(rgba, copies[1])
    widget.visible_layer.value = widget.infrared_layer.value
    assert widget.fuse() is None and "same layer" in widget.status.value
    viewer.add_image(ir.astype(np.int32), name="int32 vis")
    widget.visible_layer.value = viewer.layers["int32 vis"]
    assert widget.fuse() is None and "dtype int32" in widget.status.value


def test_multiscale_dask_fuses_the_level_on_screen_lazily(open_widget, qtbot):
    da = pytest.importorskip("dask.array")
    import dask

    ir, vis = pair((64, 96))
    reads = []

    def frame(k):
        reads.append(k)
        return vis

    lazy = da.stack([da.from_delayed(dask.delayed(frame)(k), vis.shape, vis.dtype) for k in range(4)])
    pyramid = [lazy, lazy[:, ::2, ::2]]
    viewer, widget = open_widget(
        (np.stack([ir] * 4), {"name": "ir"}),
        (pyramid, {"name": "vis", "multiscale": True, "rgb": True}),
    )
    job = widget.make_job()
    assert len(job.frames) == 1 and job.visible.level == viewer.layers["vis"].data_level
    reads.clear()
    run(qtbot, widget)
    (layer,) = results(viewer)
    level_shape = pyramid[job.visible.level].shape[1:3]
    assert layer.data.shape == (1, *level_shape, 3)
    assert reads == [job.frames[0][0]]
    np.testing.assert_allclose(layer.scale[1:], job.visible.factors[1:])


def test_layers_deleted_and_widget_closed_mid_run(open_widget, qtbot):
    ir, vis = pair()
    viewer, widget = open_widget((ir, {"name": "ir"}), (vis, {"name": "vis"}))
    widget.engine.value = "slow"
    widget.fuse()
    viewer.layers.remove("vis")
    qtbot.waitUntil(lambda: not widget.running, timeout=10000)
    assert results(viewer) and "removed during the run" in widget.status.value
    viewer.add_image(vis, name="vis")
    widget.fuse()
    worker = widget.worker
    done = []
    worker.finished.connect(lambda: done.append(True))
    viewer.window.remove_dock_widget("all")
    qtbot.waitUntil(lambda: bool(done), timeout=5000)
    assert len(results(viewer)) == 1


def test_engine_list_errors_and_checkpoint_picker(open_widget, qtbot):
    ir, vis = pair()
    viewer, widget = open_widget((ir, {"name": "ir"}), (vis, {"name": "vis"}))
    names = list(widget.engine.choices)
    assert {"blend", "gated", "ckpt"} <= set(names)
    model = widget.engine.native.model()
    gated = model.item(names.index("gated"))
    assert not gated.isEnabled() and "not installed" in gated.toolTip()
    widget.engine.value = "gated"
    assert "unavailable" in widget.engine_note.value and not widget.fuse_button.enabled
    assert widget.checkpoint.native.isHidden()
    widget.engine.value = "ckpt"
    assert not widget.checkpoint.native.isHidden() and not widget.fuse_button.enabled
    widget.engine.value = "broken"
    run(qtbot, widget)
    assert "boom" in widget.status.value and not results(viewer)
    assert widget.fuse_button.enabled


def test_empty_prompt_sliders_and_live(open_widget, qtbot):
    ir, vis = pair()
    viewer, widget = open_widget((ir, {"name": "ir"}), (vis, {"name": "vis"}))
    assert "neutral" in widget.interpretation.value
    run(qtbot, widget)
    (layer,) = results(viewer)
    assert all(v == 0 for k, v in layer.metadata["napari_textif"]["controls"].items() if k != "version")
    widget.prompt.value = "haze"
    assert widget.sliders["vis_haze"].value > 0
    widget.sliders["thermal_emphasis"].value = 0.5
    assert "adjusted by hand" in widget.interpretation.value
    widget.live.value = True
    widget.sliders["detail_emphasis"].value = -0.25
    qtbot.waitUntil(lambda: results(viewer)[0].metadata["napari_textif"]["prompt"] == "haze", timeout=10000)
    qtbot.waitUntil(lambda: not widget.running, timeout=10000)
    controls = results(viewer)[0].metadata["napari_textif"]["controls"]
    assert controls["thermal_emphasis"] == 0.5 and controls["detail_emphasis"] == -0.25
    assert controls["vis_haze"] > 0
    widget.live.value = False
    widget.reset_button.clicked.emit()
    assert widget.sliders["thermal_emphasis"].value == 0 and "adjusted" not in widget.interpretation.value


def test_analyze_and_metrics(open_widget, qtbot, monkeypatch):
    ir, vis = pair(dark=0.8)
    _viewer, widget = open_widget((ir, {"name": "ir"}), (vis, {"name": "vis"}))
    try:
        from napari_textif.detection import detect, suggest_prompt  # noqa: F401
    except ImportError:
        pass
    else:
        widget.analyze()
        qtbot.waitUntil(lambda: "analysis suggests" in widget.status.value, timeout=10000)
        assert widget.prompt.value.strip() and widget.sliders["vis_low_light"].value > 0
    monkeypatch.setitem(sys.modules, "napari_textif.detection", None)
    assert widget.analyze() is None and "not available" in widget.status.value
    seen = {}

    def detect(a, b):
        seen["shapes"] = (a.shape, b.shape)
        return {"vis_low_light": 0.7}

    suggestion = "(fake) the visible image is dark"
    fake = types.SimpleNamespace(detect=detect, suggest_prompt=lambda found: suggestion)
    monkeypatch.setitem(sys.modules, "napari_textif.detection", fake)
    widget.analyze()
    qtbot.waitUntil(lambda: widget.prompt.value == suggestion, timeout=10000)
    assert seen["shapes"] == ((48, 64), (48, 64, 3)) and widget.sliders["vis_low_light"].value > 0
    assert widget.compute_metrics() is None and "fuse first" in widget.status.value
    run(qtbot, widget)
    fake_metrics = types.SimpleNamespace(compute_all=lambda f, a, b: {"EN": float(f.mean()), "SD": 2.0})
    monkeypatch.setitem(sys.modules, "napari_textif.metrics", fake_metrics)
    widget.compute_metrics()
    qtbot.waitUntil(lambda: not widget.metrics_table.native.isHidden(), timeout=10000)
    table = widget.metrics_table.value
    assert [row[0] for row in table["data"]] == ["EN", "SD"]


def test_real_engines_when_available(open_widget, qtbot):
    """classic (torch-free) always; lite only when its shipped weights exist."""
    ir, vis = pair((40, 56), dark=0.6)
    viewer, widget = open_widget((ir, {"name": "ir"}), (vis, {"name": "vis"}))
    rows = widget._engine_rows
    usable = [n for n in ("classic", "lite") if n in rows and rows[n].availability.available]
    if not usable:
        pytest.skip("neither the classic nor the lite engine is available here")
    widget.prompt.value = "dark visible image"
    widget.keep_previous.value = True
    for name in usable:
        widget.engine.value = name
        run(qtbot, widget)
    made = results(viewer)
    assert [x.metadata["napari_textif"]["engine"] for x in made] == usable
    for layer in made:
        assert layer.data.shape == (40, 56, 3) and 0 <= layer.data.min() and layer.data.max() <= 1


def test_widget_module_imports_neither_torch_nor_open_clip():
    code = (
        "import sys, napari_textif._napari.widget, napari_textif._napari.sample_data;"
        "print('torch' in sys.modules, 'open_clip' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


@pytest.mark.slow
def test_m3svd_sequence_as_a_stack(open_widget, qtbot):
    """Real video frames stacked as a time axis, fused whole with the default engine."""
    from conftest import require_shared
    from napari_textif._napari.sample_data import _read

    folder = require_shared("ivif", "m3svd", "0115_1847")
    names = sorted(p.name for p in (folder / "ir").iterdir())[:4]
    ir = np.stack([_read(folder / "ir" / n, gray=True) for n in names])
    vis = np.stack([_read(folder / "vi" / n) for n in names])
    viewer, widget = open_widget((ir, {"name": "m3svd ir"}), (vis, {"name": "m3svd vis", "rgb": True}))
    widget.engine.value = engines.default_engine()
    widget.scope.value = "whole stack"
    widget.prompt.value = "night scene, the visible image is dark"
    run(qtbot, widget)
    (layer,) = results(viewer)
    assert layer.data.shape == (*vis.shape[:3], 3) and layer.metadata["napari_textif"]["frames"] == [
        [i] for i in range(len(names))
    ]
    assert float(layer.data[0].mean()) > float(vis[0].mean()) / 255.0, "a dark scene gets brighter"


def test_without_torch_the_torch_engines_are_greyed_and_classic_fuses(open_widget, qtbot, monkeypatch):
    import importlib.util

    real_find_spec = importlib.util.find_spec
    hidden = {"torch", "open_clip"}
    monkeypatch.setattr(
        importlib.util, "find_spec",
        lambda name, *a, **k: None if name.split(".")[0] in hidden else real_find_spec(name, *a, **k),
    )

    class Blocker:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in hidden:
                raise ImportError(f"{name} is hidden by the test")
            return None

    for name in [m for m in sys.modules if m.split(".")[0] in hidden]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(sys, "meta_path", [Blocker(), *sys.meta_path])
    ir, vis = pair((40, 56))
    viewer, widget = open_widget((ir, {"name": "ir"}), (vis, {"name": "vis"}))
    rows = widget._engine_rows
    if "classic" not in rows:
        pytest.skip("the classic engine is not installed")
    for name in ("lite", "textif"):
        if name in rows:
            assert not rows[name].availability.available and "torch" in rows[name].availability.reason
    widget.engine.value = "classic"
    run(qtbot, widget)
    (layer,) = results(viewer)
    assert layer.metadata["napari_textif"]["engine"] == "classic" and layer.data.shape == (40, 56, 3)


class WarmEngine(BlendEngine):
    name = "warm"
    description = "test: records the shape of every request"
    requires_modules = ("json",)
    seen: typing.ClassVar[list] = []

    def run(self, request):
        WarmEngine.seen.append(request.infrared.shape)
        return super().run(request)


def test_fuse_pressed_while_engines_load_is_queued(make_napari_viewer, qtbot, test_engines, monkeypatch):
    from napari_textif._napari import widget as widget_module

    real = widget_module.list_engines

    def slow_list(options=None):
        time.sleep(1.0)
        return real(options)

    monkeypatch.setattr(widget_module, "list_engines", slow_list)
    monkeypatch.setenv("NAPARI_TEXTIF_ENGINE", "blend")  # the default engine setting
    viewer = make_napari_viewer()
    ir, vis = pair()
    viewer.add_image(ir, name="ir")
    viewer.add_image(vis, name="vis")
    widget = widget_module.FusionWidget(viewer)
    viewer.window.add_dock_widget(widget)
    assert not widget.engines_ready and widget.fuse_button.enabled
    widget.fuse_button.clicked.emit()
    assert "queued" in widget.status.value and not results(viewer)
    qtbot.waitUntil(lambda: len(results(viewer)) == 1 and not widget.running, timeout=20000)
    (layer,) = results(viewer)
    assert layer.metadata["napari_textif"]["engine"] == "blend" and widget.engine.value == "blend"
    assert "done" in widget.status.value


def test_warm_up_runs_the_default_engine_once_on_a_tiny_pair(make_napari_viewer, qtbot, test_engines,
                                                            monkeypatch):
    from napari_textif._napari.widget import FusionWidget

    engines.register_engine("warm", WarmEngine)
    WarmEngine.seen = []
    monkeypatch.delenv("NAPARI_TEXTIF_WARMUP")  # on by default
    monkeypatch.setenv("NAPARI_TEXTIF_ENGINE", "warm")
    viewer = make_napari_viewer()
    ir, vis = pair()
    viewer.add_image(ir, name="ir")
    viewer.add_image(vis, name="vis")
    widget = FusionWidget(viewer)
    assert widget.warming_up, "starts with the widget, in the background"
    qtbot.waitUntil(lambda: widget.warmed_up == "warm" and not widget.warming_up, timeout=20000)
    assert WarmEngine.seen == [(16, 16)] and not results(viewer)
    qtbot.waitUntil(lambda: widget.engines_ready, timeout=20000)
    assert widget.engine.value == "warm"
    run(qtbot, widget)
    assert WarmEngine.seen == [(16, 16), ir.shape]
    off = FusionWidget(viewer, warm_up=False)
    assert not off.warming_up and off._session.warm_up is None


def test_warm_up_stops_once_the_widget_is_closed(test_engines):
    from napari_textif._napari.jobs import Session, warm_up_steps

    engines.register_engine("warm", WarmEngine)
    WarmEngine.seen = []
    session = Session()
    session.close()
    assert list(warm_up_steps("warm", session)) == []
    session = Session()
    steps = warm_up_steps("warm", session)
    assert "warming up warm" in next(steps)
    next(steps)
    session.close()
    assert list(steps) == [] and WarmEngine.seen == []
    finished = list(warm_up_steps("warm", Session()))
    assert finished[-1].endswith("ran once") and WarmEngine.seen == [(16, 16)]
    assert list(warm_up_steps("gated", Session()))[-1].endswith("warming up gated"), "unavailable: no run"


def test_closing_the_widget_quits_the_warm_up(make_napari_viewer, qtbot, test_engines, monkeypatch):
    from napari_textif._napari.widget import FusionWidget

    engines.register_engine("warm", WarmEngine)
    monkeypatch.setenv("NAPARI_TEXTIF_ENGINE", "warm")
    viewer = make_napari_viewer()
    widget = FusionWidget(viewer, warm_up=True)
    viewer.window.add_dock_widget(widget, name="Text-guided fusion")
    session = widget._session
    assert session.warm_up is not None
    session.close()  # what the widget's ``destroyed`` signal calls when napari deletes it
    qtbot.waitUntil(lambda: session.closed and session.warm_up is None, timeout=20000)


def test_napari_preferences_reach_the_settings(make_napari_viewer, qtbot, test_engines, monkeypatch):
    import napari.settings

    from napari_textif import settings
    from napari_textif._napari.widget import FusionWidget

    values = {"default_engine": "blend", "device": "cpu", "cpu_threads": 2,
              "textif_checkpoint": "/from/napari.pth", "cache_folder": ""}
    general = types.SimpleNamespace(model_dump=lambda: dict(values))
    monkeypatch.setattr(napari.settings, "get_plugin_settings",
                        lambda name: types.SimpleNamespace(general=general))
    viewer = make_napari_viewer()
    widget = FusionWidget(viewer)
    qtbot.waitUntil(lambda: widget.engines_ready, timeout=20000)
    assert widget.device.value == "cpu" and widget.engine.value == "blend"
    assert settings.load().checkpoint == "/from/napari.pth"
    monkeypatch.setenv("NAPARI_TEXTIF_CHECKPOINT", "/from/env.pth")
    assert settings.load().checkpoint == "/from/env.pth", "the environment wins over napari"


def test_plugin_settings_model_napari_builds_from_the_manifest():
    from napari.settings._plugin_config_generator import plugin_configuration_generator

    model = plugin_configuration_generator().get("napari-textif")
    if model is None:
        pytest.skip("napari-textif is not discovered by npe2 in this environment")
    assert model().general.model_dump() == {
        "default_engine": "", "device": "auto", "cpu_threads": 0, "textif_checkpoint": "",
        "cache_folder": "", "dask_scheduler": "",
    }
