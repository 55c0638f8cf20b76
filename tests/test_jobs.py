"""The widget's job logic runs without Qt: snapshot, worker steps, provenance, result layer."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

napari = pytest.importorskip("napari")

from napari_textif._napari import jobs  # noqa: E402
from napari_textif._napari.geometry import GeometryError  # noqa: E402
from napari_textif.controls import Controls  # noqa: E402


def _layers(frames: int = 3):
    rng = np.random.default_rng(0)
    ir = napari.layers.Image(rng.random((frames, 32, 40), np.float32), name="thermal")
    vis = napari.layers.Image(rng.random((frames, 32, 40, 3), np.float32), name="visible", rgb=True)
    return ir, vis


def _run(job: jobs.FusionJob, state: jobs.RunState | None = None):
    steps = jobs.fusion_steps(job, state or jobs.RunState())
    messages = []
    try:
        while True:
            messages.append(next(steps).message)
    except StopIteration as stop:
        return messages, stop.value


def test_whole_stack_job_fuses_every_frame_and_records_provenance():
    ir, vis = _layers()
    job = jobs.make_job(ir, vis, point=(1.0, 0.0, 0.0), scope=jobs.SCOPES[1], prompt="dark",
                        controls=Controls(vis_low_light=0.5), engine="classic")
    assert job.frames == [(0,), (1,), (2,)] and not job.single_frame
    messages, outcome = _run(job)
    assert messages[0] == "reading frame 1/3" and messages[-1] == "preparing the result layer"
    assert outcome.data.shape == (3, 32, 40, 3) and np.isfinite(outcome.data).all()
    record = outcome.layer.metadata[jobs.METADATA_KEY]
    assert record["engine"] == "classic" and record["prompt"] == "dark"
    assert record["inputs"] == {"infrared": "thermal", "visible": "visible"}
    assert record["frames"] == [[0], [1], [2]] and record["timings"]["frames"] == 3
    assert isinstance(outcome.layer, napari.layers.Image) and outcome.layer.rgb


def test_displayed_slice_job_fuses_the_frame_on_screen():
    ir, vis = _layers()
    job = jobs.make_job(ir, vis, point=(2.0, 0.0, 0.0), controls=Controls(), engine="classic")
    assert job.frames == [(2,)] and job.single_frame and job.name.endswith("[frame 2]")
    _, outcome = _run(job)
    np.testing.assert_array_equal(outcome.data.shape, (1, 32, 40, 3))


def test_cancel_stops_the_run_without_a_result():
    ir, vis = _layers()
    job = jobs.make_job(ir, vis, point=(0.0, 0.0, 0.0), scope=jobs.SCOPES[1], controls=Controls(),
                        engine="classic")
    state = jobs.RunState()
    state.cancelled = True
    _, outcome = _run(job, state)
    assert outcome is None


@pytest.mark.parametrize("same", [True, False])
def test_bad_picks_are_refused_with_a_reason(same):
    ir, _ = _layers()
    with pytest.raises(GeometryError, match="same layer" if same else "pick an infrared"):
        jobs.make_job(ir, ir if same else None, point=(0.0, 0.0, 0.0), controls=Controls(), engine="classic")


def test_a_failing_step_comes_back_as_a_failure_value():
    def steps():
        yield jobs.Progress(0.0, "start")
        raise ValueError("boom")

    run = jobs.guarded(steps)()
    assert next(run).message == "start"
    with pytest.raises(StopIteration) as stop:
        next(run)
    assert isinstance(stop.value.value, jobs.Failure) and str(stop.value.value.error) == "boom"


def test_jobs_import_and_run_without_any_qt_binding():
    code = (
        "import sys, numpy as np, napari\n"
        "from napari_textif._napari import jobs\n"
        "from napari_textif.controls import Controls\n"
        "ir = napari.layers.Image(np.zeros((16, 16), np.float32), name='ir')\n"
        "vis = napari.layers.Image(np.ones((16, 16), np.float32), name='vis')\n"
        "job = jobs.make_job(ir, vis, point=(0.0, 0.0), controls=Controls(), engine='classic')\n"
        "steps = jobs.fusion_steps(job, jobs.RunState())\n"
        "out = None\n"
        "while out is None:\n"
        "    try:\n"
        "        next(steps)\n"
        "    except StopIteration as stop:\n"
        "        out = stop.value\n"
        "bindings = ('qtpy', 'PyQt5', 'PyQt6', 'PySide2', 'PySide6')\n"
        "qt = [m for m in sys.modules if m.split('.')[0] in bindings]\n"
        "print(out.data.shape, qt)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          check=True)
    assert done.stdout.strip() == "(16, 16) []", done.stdout + done.stderr


def test_a_whole_stack_too_big_for_memory_becomes_a_lazy_dask_layer(monkeypatch):
    da = pytest.importorskip("dask.array")
    monkeypatch.setattr(jobs, "free_memory", lambda: 1000)  # pretend almost nothing is free
    ir, vis = _layers(4)
    job = jobs.make_job(ir, vis, point=(0.0, 0.0, 0.0), scope=jobs.SCOPES[1], prompt="dark",
                        controls=Controls(vis_low_light=0.5), engine="classic")
    assert job.lazy
    messages, outcome = _run(job)
    assert messages[-1] == "preparing the lazy result layer"
    assert isinstance(outcome.data, da.Array) and outcome.data.numblocks[0] == 4
    assert isinstance(outcome.layer.data, da.Array) and outcome.layer.rgb
    expected = napari_textif_fuse(ir.data[2], vis.data[2])
    np.testing.assert_allclose(np.asarray(outcome.layer.data[2]), expected, atol=1e-6)
    assert outcome.layer.metadata[jobs.METADATA_KEY]["engine"] == "classic"


def napari_textif_fuse(ir, vis):
    from napari_textif import fuse

    return fuse(ir, vis, "dark", engine="classic", controls=Controls(vis_low_light=0.5)).image


def test_a_too_big_stack_that_cannot_be_lazy_is_refused(monkeypatch):
    monkeypatch.setattr(jobs, "free_memory", lambda: 1000)
    rng = np.random.default_rng(1)
    ir = napari.layers.Image(rng.random((32, 40), np.float32), name="thermal")  # one image for all frames
    _, vis = _layers(3)
    with pytest.raises(GeometryError, match="cannot be computed lazily because the layers' frames differ"):
        jobs.make_job(ir, vis, point=(0.0, 0.0, 0.0), scope=jobs.SCOPES[1], prompt="",
                      controls=Controls(), engine="classic")
