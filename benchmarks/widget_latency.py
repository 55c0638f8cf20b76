"""How long the napari event loop stalls while the widget fuses a 2048x2048 pair.

A QTimer ticks every 10 ms on the GUI thread; the lateness of each tick is a
stall the user would feel. The budget (docs/DESIGN.md, issue 6) is 100 ms while
a fusion runs. Showing the result (inserting a new layer, or giving the previous
result its new data: a GUI-thread step by nature, vispy node and texture upload) is
reported separately, and so is the idle loop just before each run (the noise floor
of the machine: other processes and napari's own redraws). The widget is opened
while the loop is timed (engine list and background warm-up, issue 17 item 10),
then the first run is measured on its own, then ``--repeat`` warm runs (median and
maximum). ``--no-warm-up`` shows the behaviour without the warm-up.

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


def run_phase(app, widget, meter_phase: str) -> tuple[float, dict[str, float]]:
    """One measured fusion after 2 s of idle: (seconds, worst stall per phase in ms)."""
    meter = StallMeter()
    meter.enter("idle")
    end = time.perf_counter() + 2.0
    wait_for(app, lambda: time.perf_counter() > end)
    seconds = fuse_once(app, widget, meter)
    return seconds, {phase: meter.worst.get(phase, float("nan")) * 1000
                     for phase in ("idle", "fusing", "showing the result")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--engine", default=None, help="engine name (default: the widget's default)")
    parser.add_argument("--prompt", default="the visible image is dark; keep people bright")
    parser.add_argument("--repeat", type=int, default=3, help="warm fusions to measure (default 3)")
    parser.add_argument("--no-warm-up", action="store_true",
                        help="open the widget without its background warm-up (the behaviour before)")
    args = parser.parse_args()

    import napari
    from qtpy.QtWidgets import QApplication

    from napari_textif._napari.widget import FusionWidget

    viewer = napari.Viewer(show=True)
    app = QApplication.instance()
    ir, vis = make_pair(args.size)
    viewer.add_image(ir, name="infrared")
    viewer.add_image(vis, name="visible", rgb=True)
    settle_until = time.perf_counter() + 3.0  # let napari draw the input layers first
    wait_for(app, lambda: time.perf_counter() > settle_until)

    # Opening the widget: the engine list and the background warm-up run while the loop is timed.
    meter = StallMeter()
    meter.enter("building the widget")  # Qt widgets built on the GUI thread: not the warm-up
    opened = time.perf_counter()
    widget = FusionWidget(viewer, warm_up=not args.no_warm_up)
    viewer.window.add_dock_widget(widget, name="Text-guided fusion")
    meter.enter("warming up")
    wait_for(app, lambda: widget.engines_ready and not widget.warming_up)
    meter.enter("idle")
    warm_seconds = time.perf_counter() - opened
    building = meter.worst.get("building the widget", float("nan")) * 1000
    opening_stall = meter.worst.get("warming up", float("nan")) * 1000
    what = "engine list" if args.no_warm_up else f"engine list + warm-up of {widget.warmed_up}"
    print(f"opening the widget: building it {building:.1f} ms on the GUI thread; then {what} in the "
          f"background: {warm_seconds:.2f} s, longest stall {opening_stall:.1f} ms")
    if args.engine:
        widget.engine.value = args.engine
    widget.infrared_layer.value, widget.visible_layer.value = viewer.layers[0], viewer.layers[1]
    widget.prompt.value = args.prompt

    seconds, first = run_phase(app, widget, "first run")
    print(f"first run: fusion {seconds:.2f} s; longest stall idle {first['idle']:.1f} ms, "
          f"fusing {first['fusing']:.1f} ms, showing the result {first['showing the result']:.1f} ms")
    worst = {"idle": [], "fusing": [], "showing the result": []}
    for run in range(args.repeat):
        seconds, stalls = run_phase(app, widget, "warm run")
        for phase, values in worst.items():
            values.append(stalls[phase])
        print(f"warm run {run + 1}: fusion {seconds:.2f} s; longest stall idle {stalls['idle']:.1f} ms, "
              f"fusing {stalls['fusing']:.1f} ms, showing the result {stalls['showing the result']:.1f} ms")
    print(f"engine {widget.engine.value}, {args.size}x{args.size} RGB pair ({widget.status.value})")
    for phase, values in worst.items():
        print(f"warm runs, longest event-loop stall while {phase}: median {np.median(values):.1f} ms, "
              f"max {np.max(values):.1f} ms over {len(values)} runs")
    warm = float(np.median(worst["fusing"]))
    print(f"first-run stall while fusing: {first['fusing']:.1f} ms; warm stall (median): {warm:.1f} ms; "
          f"background warm-up: {opening_stall:.1f} ms")
    verdict = "within" if max(first["fusing"], warm, opening_stall) <= 100 else "OVER"
    print(f"budget: <= 100 ms during the warm-up, the first run and warm runs -> {verdict}")
    viewer.close()


if __name__ == "__main__":
    main()
