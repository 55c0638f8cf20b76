"""How long the napari event loop stalls while the widget fuses a 2048x2048 pair.

A QTimer ticks every 10 ms on the GUI thread; the lateness of each tick is a
stall the user would feel. The budget (docs/DESIGN.md, issue 6) is 100 ms while
a fusion runs. Showing the result (inserting a new layer, or giving the previous
result its new data: a GUI-thread step by nature, vispy node and texture upload) is
reported separately, and so is the idle loop just before each run (the noise floor
of the machine: other processes and napari's own redraws). Each run's worst stall
is printed, then the median and the maximum over the runs.

Run under a display, e.g.::

    xvfb-run -a python benchmarks/widget_latency.py [--engine classic] [--size 2048]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

TICK_MS = 10


def make_pair(size: int) -> tuple[np.ndarray, np.ndarray]:
    """A size x size pair tiled from a 512 x 512 synthetic scene (generating 2048 directly is slow)."""
    from napari_textif.samples import synthetic_pair

    ir, vis = synthetic_pair(shape=(512, 512), seed=0, dark=0.5)
    reps = -(-size // 512)
    return np.tile(ir, (reps, reps))[:size, :size], np.tile(vis, (reps, reps, 1))[:size, :size]


class StallMeter:
    """Records the lateness of a 10 ms QTimer, split into named phases."""

    def __init__(self) -> None:
        from qtpy.QtCore import QTimer

        self.phase = "idle"
        self.worst: dict[str, float] = {}
        self.ticks: dict[str, int] = {}
        self._last = time.perf_counter()
        self._timer = QTimer()
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self._tick)
        self._timer.start()

    def _tick(self) -> None:
        now = time.perf_counter()
        late = now - self._last - TICK_MS / 1000
        self._last = now
        self.worst[self.phase] = max(self.worst.get(self.phase, 0.0), late)
        self.ticks[self.phase] = self.ticks.get(self.phase, 0) + 1

    def enter(self, phase: str) -> None:
        self._tick()
        self.phase = phase


def wait_for(app, condition, timeout: float = 600.0) -> None:
    end = time.perf_counter() + timeout
    while not condition():
        if time.perf_counter() > end:
            raise TimeoutError("the widget did not finish in time")
        app.processEvents()
        time.sleep(0.001)


def fuse_once(app, widget, meter: StallMeter | None) -> float:
    t0 = time.perf_counter()
    worker = widget.fuse()
    if worker is None:
        raise RuntimeError(f"the widget refused to fuse: {widget.status.value}")
    if meter is not None:
        meter.enter("fusing")
        worker.yielded.connect(lambda p: p.fraction >= 1.0 and meter.enter("showing the result"))
    wait_for(app, lambda: not widget.running)
    if meter is not None:
        meter.enter("idle")
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--engine", default=None, help="engine name (default: the widget's default)")
    parser.add_argument("--prompt", default="the visible image is dark; keep people bright")
    parser.add_argument("--repeat", type=int, default=3, help="fusions to measure (default 3)")
    args = parser.parse_args()

    import napari
    from qtpy.QtWidgets import QApplication

    from napari_textif._napari.widget import FusionWidget

    viewer = napari.Viewer(show=True)
    app = QApplication.instance()
    widget = FusionWidget(viewer)
    viewer.window.add_dock_widget(widget, name="Text-guided fusion")
    wait_for(app, lambda: widget.engines_ready)
    if args.engine:
        widget.engine.value = args.engine
    if "torch" in " ".join(widget._engine_rows[widget.engine.value].needs):
        import torch

        torch.set_num_threads(2)
    small_ir, small_vis = make_pair(256)
    viewer.add_image(small_ir, name="warm-up ir")
    viewer.add_image(small_vis, name="warm-up vis", rgb=True)
    widget.infrared_layer.value, widget.visible_layer.value = viewer.layers[0], viewer.layers[1]
    widget.prompt.value = args.prompt
    fuse_once(app, widget, None)  # first run imports the engine's modules

    ir, vis = make_pair(args.size)
    viewer.layers.clear()
    viewer.add_image(ir, name="infrared")
    viewer.add_image(vis, name="visible", rgb=True)
    widget.infrared_layer.value, widget.visible_layer.value = viewer.layers[0], viewer.layers[1]
    settle_until = time.perf_counter() + 3.0  # let napari draw the new input layers first
    wait_for(app, lambda: time.perf_counter() > settle_until)
    worst = {"idle": [], "fusing": [], "showing the result": []}
    for run in range(args.repeat):
        meter = StallMeter()
        meter.enter("idle")
        end = time.perf_counter() + 2.0
        wait_for(app, lambda end=end: time.perf_counter() > end)
        seconds = fuse_once(app, widget, meter)
        for phase, values in worst.items():
            values.append(meter.worst.get(phase, float("nan")) * 1000)
        print(f"run {run + 1}: fusion {seconds:.2f} s; longest stall idle {worst['idle'][-1]:.1f} ms, "
              f"fusing {worst['fusing'][-1]:.1f} ms, showing the result "
              f"{worst['showing the result'][-1]:.1f} ms")
    print(f"engine {widget.engine.value}, {args.size}x{args.size} RGB pair ({widget.status.value})")
    for phase, values in worst.items():
        print(f"longest event-loop stall while {phase}: median {np.median(values):.1f} ms, "
              f"max {np.max(values):.1f} ms over {len(values)} runs")
    verdict = "within" if np.median(worst["fusing"]) < 100 else "OVER"
    print(f"budget: < 100 ms while fusing (median of runs) -> {verdict}")
    viewer.close()


if __name__ == "__main__":
    main()
