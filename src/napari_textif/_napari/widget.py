"""The napari dock widget: pick two layers, say what is wrong, fuse, adjust, compare.

The widget is a magicgui :class:`~magicgui.widgets.Container`; Qt appears only
at the edges (a debounce timer, greyed combo-box entries, word wrap). What a run
does lives in :mod:`.jobs` (Qt-free): the widget snapshots a job, runs its
generator in a napari ``thread_worker`` (which yields between frames and reports
tile progress through the engine's progress callback, where a Cancel takes
effect) and puts the result layer into the viewer. The engine list comes from
the registry; no engine is special-cased.

Over 600 lines on purpose: it is one Container class whose methods are each a
short signal handler (layer pickers, prompt and sliders, engine list, running,
live refresh, analysis and metrics); splitting the class would scatter the
handlers of one panel across files. Everything that is not Qt wiring is in
:mod:`.jobs`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import napari
import numpy as np
from magicgui.widgets import (
    CheckBox,
    ComboBox,
    Container,
    FileEdit,
    FloatSlider,
    Label,
    LineEdit,
    ProgressBar,
    PushButton,
    Table,
)
from napari.qt.threading import thread_worker
from napari.utils.notifications import show_error, show_info, show_warning

from napari_textif import settings
from napari_textif._napari import geometry
from napari_textif._napari.jobs import (
    METADATA_KEY,
    SCOPES,
    Failure,
    FusionJob,
    Outcome,
    Progress,
    RunState,
    Session,
    analysis_steps,
    auto_pick,
    control_label,
    describe,
    describe_severity,
    fusion_steps,
    guarded,
    guess_kind,
    make_job,
    metrics_steps,
    missing_names,
    release_gpu_memory,
    takes_checkpoint,
    update_in_place,
    warm_up_steps,
)
from napari_textif.controls import CONTROL_NAMES, Controls, control_range
from napari_textif.engines import default_engine, get_engine, list_engines
from napari_textif.interpretation import interpret
from napari_textif.pairkinds import DEFAULT_KIND, KINDS, get_kind

EXAMPLE_PROMPTS: tuple[str, ...] = (
    "the visible image is dark and noisy; keep people bright",
    "foggy scene, the thermal image has low contrast",
    "overexposed visible image with glare",
    "the infrared camera shows stripe noise",
    "rain on the visible camera, favour fine detail",
)
#: Example prompts of the other pair kinds (infrared/visible ones: :data:`EXAMPLE_PROMPTS`).
KIND_EXAMPLES: dict[str, tuple[str, ...]] = {
    "mri-ct": ("keep the bone bright", "the CT is noisy; more soft-tissue detail",
               "the MRI is blurry", "favour the MRI, less CT"),
    "mri-pet": ("keep the PET uptake bright", "more soft-tissue detail", "the T2 image is noisy",
                "the PET has low contrast"),
    "mri-spect": ("keep the SPECT uptake bright", "more soft-tissue detail", "the SPECT is noisy",
                  "the MRI is dark"),
    "channels": ("keep the first channel bright", "the second channel is noisy",
                 "bring out fine details"),
}
HISTORY_PLACEHOLDER = "examples and history…"
HISTORY_SIZE = 10
LIVE_DELAY_MS = 350
#: Live re-fusion only runs for an engine whose last run took at most this per frame.
LIVE_MAX_SECONDS = 1.5
PROGRESS_STEPS = 1000
PLUGIN_NAME = "napari-textif"


def read_napari_settings() -> dict[str, Any]:
    """napari's Preferences for this plugin, handed to :mod:`napari_textif.settings`.

    Empty (and nothing handed over) when this napari has no plugin settings.
    """
    try:
        from napari.settings import get_plugin_settings

        general = get_plugin_settings(PLUGIN_NAME).general
        values = dict(general.model_dump())
    except Exception:  # an older napari, or the plugin not discovered
        return {}
    settings.use_napari_settings(values)
    return values


# The widget.
# ---------------------------------------------------------------------------


class FusionWidget(Container):
    """Text-guided fusion of an infrared and a visible image layer.

    Parameters
    ----------
    viewer : napari.viewer.Viewer
        The viewer whose image layers are fused (napari passes it in).
    warm_up : bool, optional
        Warm the default engine up in the background as soon as the widget opens
        (import, weights, one tiny run) so the first Fuse is as smooth as the rest.
        Default: the ``warm_up`` setting (on; ``NAPARI_TEXTIF_WARMUP=0`` turns it off).

    Notes
    -----
    The settings (default engine, device, CPU threads, Text-IF checkpoint, cache
    folder) come from :func:`napari_textif.settings.load`; the widget passes it
    napari's Preferences for the plugin (the ``configurations`` of ``napari.yaml``).
    """

    def __init__(self, viewer: napari.viewer.Viewer, *, warm_up: bool | None = None) -> None:
        read_napari_settings()
        self._settings = settings.load()
        self._engine_rows: dict[str, Any] = {}
        self._queued: dict[str, Any] | None = None
        self._needs_checkpoint = False
        self.engines_ready = False
        super().__init__(labels=True)
        self._viewer = viewer
        self._session = Session()
        self._interpretation = interpret("")
        self._adjusted = False
        self._syncing = False
        self._auto = {"infrared": True, "visible": True}
        self._kind_auto = True
        self._history: list[str] = []
        self._seconds_per_frame: dict[str, float] = {}
        self._live_pending = False
        self._last: Outcome | None = None
        self._last_layer: Any = None
        self._helper_worker: Any = None
        self.warmed_up: str | None = None
        self._build()
        self._connect()
        self._refresh_layers()
        self._on_prompt_changed()
        self._load_engines()
        if self._settings.warm_up if warm_up is None else warm_up:
            self._start_warm_up()

    # -- construction ---------------------------------------------------------

    def _build(self) -> None:
        self.extend([*self._build_inputs(), *self._build_prompt(), *self._build_engine(),
                     *self._build_run()])
        self._qt_edges()

    def _build_inputs(self) -> list[Any]:
        self.kind = ComboBox(label="pair", choices=[(k.title, k.name) for k in KINDS.values()],
                             value=DEFAULT_KIND, tooltip="What the two images are; the pickers, the "
                             "prompt words, the weights and the colour follow it")
        self.infrared_layer = ComboBox(label="infrared", choices=self._layer_choices, nullable=True,
                                       tooltip="The thermal image layer")
        self.visible_layer = ComboBox(
            label="visible", choices=self._layer_choices, nullable=True,
            tooltip="The visible (RGB or grayscale) image layer; the result follows its grid and colour",
        )
        self.scope = ComboBox(label="frames", choices=SCOPES, value=SCOPES[0], visible=False,
                              tooltip="Fuse the slice on screen, or every frame of the stack")
        self._tooltips = {"infrared": self.infrared_layer.tooltip, "visible": self.visible_layer.tooltip}
        return [self.kind, self.infrared_layer, self.visible_layer, self.scope]

    def _build_prompt(self) -> list[Any]:
        self.prompt = LineEdit(label="prompt", tooltip="What is wrong or wanted, e.g. "
                               "'the visible image is dark'; Enter fuses")
        self.examples = ComboBox(label="", choices=self._example_choices, value=HISTORY_PLACEHOLDER)
        self.analyze_button = PushButton(text="Analyze images",
                                         tooltip="Estimate the degradations and propose a prompt")
        self.interpretation = Label(label="understood")
        self.adjust = CheckBox(text="Adjust strengths", value=False)
        self.sliders = {
            name: FloatSlider(label=control_label(name), min=control_range(name)[0],
                              max=control_range(name)[1], step=0.05, value=0.0, readout=True)
            for name in CONTROL_NAMES
        }
        self.reset_button = PushButton(text="Reset to prompt")
        self.adjust_box = Container(widgets=[*self.sliders.values(), self.reset_button], labels=True,
                                    visible=False)
        self.live = CheckBox(text="Live: re-fuse the displayed slice after changes", value=False)
        return [self.prompt, self.examples, self.analyze_button, self.interpretation, self.adjust,
                self.adjust_box, self.live]

    def _build_engine(self) -> list[Any]:
        self.engine = ComboBox(label="engine", choices=self._engine_choices)
        self.engine_note = Label(label="")
        self.checkpoint = FileEdit(label="checkpoint", mode="r", filter="*.pth *.pt *.safetensors",
                                   visible=False)
        devices = ("auto", "cpu", "cuda", "mps")
        chosen = self._settings.device
        if chosen not in devices:
            devices = (*devices, chosen)
        self.device = ComboBox(label="device", choices=devices, value=chosen)
        return [self.engine, self.engine_note, self.checkpoint, self.device]

    def _build_run(self) -> list[Any]:
        self.keep_previous = CheckBox(text="Keep previous results", value=False)
        self.fuse_button = PushButton(text="Fuse")
        self.cancel_button = PushButton(text="Cancel", enabled=False)
        buttons = Container(widgets=[self.fuse_button, self.cancel_button], layout="horizontal",
                            labels=False)
        self.progress = ProgressBar(label="", min=0, max=PROGRESS_STEPS, value=0)
        self.status = Label(label="status", value="ready")
        self.metrics_button = PushButton(text="Metrics of the result")
        self.metrics_table = Table(value={"metric": [], "value": []}, visible=False)
        return [self.keep_previous, buttons, self.progress, self.status, self.metrics_button,
                self.metrics_table]

    def _qt_edges(self) -> None:
        from qtpy.QtCore import QTimer
        from qtpy.QtWidgets import QSizePolicy

        for label in (self.interpretation, self.status, self.engine_note):
            label.native.setWordWrap(True)
            # Long text wraps instead of widening the dock (which would resize the canvas).
            label.native.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        lines = self.status.native.fontMetrics().lineSpacing()
        self.status.native.setMinimumHeight(3 * lines)
        self.prompt.native.returnPressed.connect(self.fuse)
        self._live_timer = QTimer()
        self._live_timer.setSingleShot(True)
        self._live_timer.setInterval(LIVE_DELAY_MS)
        self._live_timer.timeout.connect(self._live_refresh)
        self.native.destroyed.connect(self._session.close)

    def _connect(self) -> None:
        layers = self._viewer.layers
        layers.events.inserted.connect(self._on_layer_inserted)
        layers.events.removed.connect(self._refresh_layers)
        layers.events.moved.connect(self._refresh_layers)
        for layer in layers:
            layer.events.name.connect(self._refresh_layers)
        self._viewer.dims.events.current_step.connect(self._on_dims_changed)
        self.kind.changed.connect(self._on_kind_changed)
        self.infrared_layer.changed.connect(lambda _v: self._on_pick("infrared"))
        self.visible_layer.changed.connect(lambda _v: self._on_pick("visible"))
        self.prompt.changed.connect(self._on_prompt_changed)
        self.examples.changed.connect(self._on_example)
        self.analyze_button.clicked.connect(self.analyze)
        self.adjust.changed.connect(lambda v: setattr(self.adjust_box, "visible", bool(v)))
        for slider in self.sliders.values():
            slider.changed.connect(self._on_slider)
        self.reset_button.clicked.connect(self._reset_sliders)
        self.live.changed.connect(lambda v: self._schedule_live() if v else None)
        self.engine.changed.connect(self._on_engine_changed)
        self.checkpoint.changed.connect(lambda _v: self._refresh_engines())
        self.fuse_button.clicked.connect(self.fuse)
        self.cancel_button.clicked.connect(self.cancel)
        self.metrics_button.clicked.connect(self.compute_metrics)

    # -- layer pickers --------------------------------------------------------

    def _image_layers(self) -> list[Any]:
        return [x for x in self._viewer.layers if isinstance(x, napari.layers.Image)]

    def _layer_choices(self, _widget: Any = None) -> list[tuple[str, Any]]:
        return [(x.name, x) for x in self._image_layers()]

    def _on_layer_inserted(self, event: Any) -> None:
        event.value.events.name.connect(self._refresh_layers)
        self._refresh_layers()

    def _refresh_layers(self, *_: Any) -> None:
        if self._session.closed:
            return
        self._syncing = True
        try:
            self.infrared_layer.reset_choices()
            self.visible_layer.reset_choices()
            inputs = [x for x in self._image_layers() if METADATA_KEY not in x.metadata]
            guess = guess_kind(inputs) if self._kind_auto else None
            if guess is not None and guess != self.kind.value:
                self.kind.value = guess
                self._apply_kind()
            ir, vis = auto_pick(inputs, self.kind.value)
            pickers = (("infrared", self.infrared_layer, ir), ("visible", self.visible_layer, vis))
            for role, combo, guess in pickers:
                if (self._auto[role] or combo.value is None) and guess is not None:
                    combo.value = guess
                    self._auto[role] = True
        finally:
            self._syncing = False
        self._update_scope()

    def _on_kind_changed(self, *_: Any) -> None:
        if self._syncing:
            return
        self._kind_auto = False
        self._auto = {"infrared": True, "visible": True}
        self._apply_kind()
        self._refresh_layers()

    def _apply_kind(self) -> None:
        """Relabel the pickers and sliders for the pair kind, hide the Controls it does not use."""
        pair = get_kind(self.kind.value)
        role = {r.slot: r for r in pair.roles}
        for combo, slot in ((self.infrared_layer, "infrared"), (self.visible_layer, "visible")):
            combo.label = slot if pair.is_default else role[slot].label
            combo.tooltip = (self._tooltips[slot] if pair.is_default
                             else f"The {role[slot].label} image layer: {role[slot].what}")
        for name, slider in self.sliders.items():
            slider.label = control_label(name, pair.name)
            slider.visible = name in pair.controls
        self.examples.reset_choices()
        self._on_prompt_changed()

    def _on_pick(self, role: str) -> None:
        if not self._syncing:
            self._auto[role] = False
        self._update_scope()

    def _update_scope(self) -> None:
        vis = self.visible_layer.value
        self.scope.visible = vis is not None and (vis.ndim > 2)

    def _on_dims_changed(self, *_: Any) -> None:
        vis = self.visible_layer.value
        if vis is not None and vis.ndim > 2:
            self._schedule_live()

    # -- prompt, interpretation and sliders -------------------------------------

    def _example_choices(self, _widget: Any = None) -> list[str]:
        examples = KIND_EXAMPLES.get(self.kind.value, EXAMPLE_PROMPTS)
        history = [f"{p}" for p in self._history if p not in examples]
        return [HISTORY_PLACEHOLDER, *history, *examples]

    def _on_example(self, choice: str) -> None:
        if choice and choice != HISTORY_PLACEHOLDER:
            self.prompt.value = choice
            self.examples.value = HISTORY_PLACEHOLDER

    def _remember(self, prompt: str) -> None:
        if not prompt.strip():
            return
        self._history = [prompt, *(p for p in self._history if p != prompt)][:HISTORY_SIZE]
        self.examples.reset_choices()
        self.examples.value = HISTORY_PLACEHOLDER

    def _on_prompt_changed(self, *_: Any) -> None:
        self._interpretation = interpret(self.prompt.value, kind=self.kind.value)
        self._reset_sliders()

    def _reset_sliders(self, *_: Any) -> None:
        self._syncing = True
        try:
            for name, slider in self.sliders.items():
                slider.value = getattr(self._interpretation.controls, name)
        finally:
            self._syncing = False
        self._adjusted = False
        self._show_interpretation()
        self._schedule_live()

    def _on_slider(self, *_: Any) -> None:
        if self._syncing:
            return
        self._adjusted = self.controls() != self._interpretation.controls
        self._show_interpretation()
        self._schedule_live()

    def _show_interpretation(self) -> None:
        self.interpretation.value = describe(self._interpretation, self.controls(), self._adjusted,
                                             self.kind.value)

    def controls(self) -> Controls:
        """The Controls the next run uses: the sliders (initialised from the prompt)."""
        values = {name: round(float(s.value), 4) for name, s in self.sliders.items()}
        return Controls(**{n: float(np.clip(v, *control_range(n))) for n, v in values.items()})

    # -- engines --------------------------------------------------------------

    def _options(self) -> dict[str, Any]:
        options: dict[str, Any] = {}
        path = self.checkpoint.value
        if self._needs_checkpoint and path is not None and str(path) not in ("", "."):
            options["checkpoint"] = str(path)
        name = self.engine.value if self.engine.choices else None
        if name:
            options.update(self._settings.engine_options(tuple(get_engine(name).option_names)))
        return options

    def _load_engines(self) -> None:
        """List the engines in a thread: their modules may import heavy libraries."""
        self.engine_note.value = "looking for fusion engines…"
        # Stays enabled: a Fuse pressed now is queued and runs once the engines are listed.
        self.fuse_button.enabled = True
        worker = thread_worker(list_engines, ignore_errors=True, start_thread=False)(self._options())
        worker.returned.connect(lambda rows: self._session.closed or self._show_engines(rows))
        worker.errored.connect(
            lambda exc: self._session.closed or self._tell(f"could not list engines: {exc}", "error")
        )
        self._engine_loader = worker
        worker.start()

    def _refresh_engines(self) -> None:
        if self.engines_ready:
            self._show_engines(list_engines(self._options()))

    def _show_engines(self, rows: list[Any]) -> None:
        current = self.engine.value if self.engine.choices else None
        self._engine_rows = {row.name: row for row in rows}
        self._syncing = True
        try:
            self.engine.reset_choices()
            self.engine.value = current if current in self._engine_rows else self._preferred_engine(rows)
        finally:
            self._syncing = False
        self._grey_out_engines()
        self.engines_ready = True
        self._on_engine_changed()
        queued, self._queued = self._queued, None
        if queued is not None and not self._session.closed:
            self.fuse(**queued)

    def _engine_choices(self, _widget: Any = None) -> list[tuple[str, str]]:
        return [
            (name if row.availability.available else f"{name} (unavailable)", name)
            for name, row in self._engine_rows.items()
        ]

    def reset_choices(self, *args: Any) -> None:
        """Refresh every choice list (napari calls this when layers change)."""
        super().reset_choices(*args)
        if self.engines_ready:
            self._grey_out_engines()

    def _preferred_engine(self, rows: list[Any]) -> str | None:
        available = [r.name for r in rows if r.availability.available]
        for preferred in (self._settings.engine, default_engine()):
            if preferred and preferred in available:
                return preferred
        return available[0] if available else (rows[0].name if rows else None)

    def _grey_out_engines(self) -> None:
        model = self.engine.native.model()
        for i, row in enumerate(self._engine_rows.values()):
            item = model.item(i) if hasattr(model, "item") else None
            if item is not None:
                item.setEnabled(row.availability.available)
                item.setToolTip(row.description if row.availability.available else row.availability.reason)

    def _on_engine_changed(self, *_: Any) -> None:
        name = self.engine.value
        row = self._engine_rows.get(name) if name else None
        if row is None:
            self.engine_note.value = "no fusion engine is installed"
            self.fuse_button.enabled = False
            return
        self._needs_checkpoint = takes_checkpoint(get_engine(name))
        self.checkpoint.visible = self._needs_checkpoint
        ok = row.availability.available
        self.engine_note.value = row.description if ok else f"unavailable: {row.availability.reason}"
        self.fuse_button.enabled = ok and self._session.worker is None

    # -- warm-up --------------------------------------------------------------

    def _start_warm_up(self) -> None:
        """Warm the default engine up in a worker, in slices (see :func:`~.jobs.warm_up_steps`)."""
        steps = guarded(warm_up_steps)
        worker = thread_worker(steps, ignore_errors=True, start_thread=False)(
            self._settings.engine or None, self._session, self.device.value,
        )
        worker.returned.connect(self._on_warmed)
        worker.finished.connect(lambda: setattr(self._session, "warm_up", None))
        self._session.warm_up = worker
        worker.start()

    def _on_warmed(self, name: Any) -> None:
        self.warmed_up = name if isinstance(name, str) else None

    @property
    def warming_up(self) -> bool:
        """Whether the background warm-up is still running."""
        return self._session.warm_up is not None

    # -- running --------------------------------------------------------------

    @property
    def worker(self) -> Any:
        """The running fusion worker, or None."""
        return self._session.worker

    @property
    def running(self) -> bool:
        """Whether a fusion is running."""
        return self._session.worker is not None

    def fuse(self, *_: Any, scope: str | None = None, live: bool = False) -> Any:
        """Start fusing the chosen layers; return the worker (None if nothing started).

        Pressed while the engines are still being listed, the request is queued and
        runs as soon as they are (the status says so).
        """
        if self.running:
            return None
        if not self.engines_ready and not live:
            self._queued = {"scope": scope}
            self.status.value = "queued: fusing as soon as the fusion engines are listed…"
            return None
        try:
            job = self.make_job(scope or self.scope.value, live=live)
        except (geometry.GeometryError, ValueError, TypeError) as exc:
            self._tell(str(exc), "warning")
            return None
        if not job.live:
            self._remember(job.prompt)
        state = RunState()
        worker = thread_worker(guarded(fusion_steps), ignore_errors=True, start_thread=False)(job, state)
        state.emit = worker.yielded.emit
        state.abort_requested = lambda: worker.abort_requested
        worker.yielded.connect(self._on_progress)
        worker.returned.connect(self._on_returned)
        worker.errored.connect(self._on_errored)
        worker.warned.connect(self._on_warned)
        worker.finished.connect(self._on_finished)
        self._session.state, self._session.worker = state, worker
        self._set_running(True)
        neutral = " (empty prompt: neutral fusion)" if not job.prompt.strip() else ""
        self.status.value = f"fusing with {job.engine}{neutral}…"
        worker.start()
        return worker

    def make_job(self, scope: str = SCOPES[0], *, live: bool = False) -> FusionJob:
        """Snapshot the chosen layers and settings into a :class:`~.jobs.FusionJob`.

        Raises
        ------
        GeometryError
            When the layers are missing, the same, unreadable or do not overlay, or
            the chosen engine cannot run.
        """
        if not self.engines_ready:
            raise geometry.GeometryError("still looking for fusion engines; try again in a moment")
        engine = self.engine.value
        row = self._engine_rows.get(engine) if engine else None
        if row is None or not row.availability.available:
            reason = row.availability.reason if row else "no engine is installed"
            raise geometry.GeometryError(f"engine {engine!r} is not available: {reason}")
        return make_job(
            self.infrared_layer.value, self.visible_layer.value, point=self._viewer.dims.point,
            scope=scope, prompt=self.prompt.value, controls=self.controls() if self._adjusted else None,
            engine=engine,
            device=self.device.value, options=self._options(), live=live,
            scheduler=self._settings.scheduler, kind=self.kind.value,
        )

    def cancel(self, *_: Any) -> None:
        """Ask the running fusion to stop at its next tile or frame."""
        if self.running:
            self._session.cancel()
            self.status.value = "cancelling…"

    def _set_running(self, running: bool) -> None:
        self.fuse_button.enabled = not running and self._engine_ok()
        self.cancel_button.enabled = running
        self.progress.value = 0

    def _engine_ok(self) -> bool:
        row = self._engine_rows.get(self.engine.value) if self.engine.value else None
        return bool(row and row.availability.available)

    def _on_progress(self, report: Progress) -> None:
        if self._session.closed or not isinstance(report, Progress):
            return
        value = round(report.fraction * PROGRESS_STEPS)
        if value != self.progress.value:
            self.progress.value = value
        if report.message != self.status.value:
            self.status.value = report.message

    def _on_returned(self, outcome: Outcome | Failure | None) -> None:
        if isinstance(outcome, Failure):
            self._on_errored(outcome.error)
            return
        state = self._session.state
        if self._session.closed or outcome is None or (state is not None and state.cancelled):
            return
        layer = self._add_result(outcome)
        job, first = outcome.job, outcome.results[0]
        self._seconds_per_frame[job.engine] = outcome.seconds / len(outcome.results)
        self._last = outcome
        self._last_layer = layer
        frames = f"{len(outcome.results)} frames" if len(outcome.results) > 1 else "1 frame"
        names = {x.name for x in self._viewer.layers}
        gone = [n for n in (job.infrared.name, job.visible.name) if n not in names]
        tail = f"; input layer(s) {', '.join(gone)} removed during the run" if gone else ""
        self.status.value = (
            f"done: {frames} in {outcome.seconds:.2f} s with {job.engine} on {first.device}{tail}"
        )
        self.device.tooltip = f"last run used {first.device}"
        self.device.label = f"device ({first.device})"
        measured = describe_severity(first.provenance.get("severity", {}), first.kind)
        if measured and not self._adjusted:
            understood = describe(self._interpretation, self.controls(), False, first.kind)
            self.interpretation.value = f"{understood} · {measured}"
        notes = layer.metadata[METADATA_KEY]["notes"]
        if notes and not job.live:
            show_info("Fusion notes:\n" + "\n".join(notes))

    def _add_result(self, outcome: Outcome) -> Any:
        job, layer = outcome.job, outcome.layer
        previous = None if self.keep_previous.value else self._previous_result(job.key)
        if previous is None:
            self._viewer.layers.append(layer)
            return layer
        if update_in_place(previous, layer):
            return previous
        index = self._viewer.layers.index(previous)
        self._viewer.layers.remove(previous)
        self._viewer.layers.insert(index, layer)
        return layer

    def _previous_result(self, key: Mapping[str, str]) -> Any:
        for layer in reversed(list(self._viewer.layers)):
            record = layer.metadata.get(METADATA_KEY) if isinstance(layer.metadata, Mapping) else None
            if isinstance(record, Mapping) and record.get("key") == dict(key):
                return layer
        return None

    def _on_errored(self, exc: BaseException) -> None:
        if self._session.closed:
            return
        hint = ""
        if "out of memory" in str(exc).lower():
            hint = " (the device ran out of memory: choose device 'cpu' or fuse the displayed slice)"
        self.status.value = f"failed: {exc}{hint}"
        show_error(f"Text-guided fusion failed: {type(exc).__name__}: {exc}{hint}")

    def _on_warned(self, warning: Any) -> None:
        if not self._session.closed:
            message = warning[0] if isinstance(warning, tuple) else warning
            show_warning(f"Text-guided fusion: {message}")

    def _on_finished(self, *_: Any) -> None:
        state = self._session.state
        self._session.worker = None
        self._session.state = None
        release_gpu_memory()
        if self._session.closed:
            return
        self._set_running(False)
        if state is not None and state.cancelled:
            self.status.value = f"cancelled after {time.perf_counter() - state.started:.2f} s"
        elif self._last is not None:
            self.progress.value = PROGRESS_STEPS
        if self._live_pending:
            self._live_pending = False
            self._schedule_live()

    # -- live -----------------------------------------------------------------

    def _schedule_live(self) -> None:
        if self.live.value and not self._session.closed:
            self._live_timer.start()

    def _live_refresh(self) -> None:
        if self._session.closed or not self.live.value:
            return
        if self.running:
            self._live_pending = True
            return
        seconds = self._seconds_per_frame.get(self.engine.value)
        if seconds is not None and seconds > LIVE_MAX_SECONDS:
            self.status.value = (
                f"live paused: {self.engine.value} took {seconds:.1f} s per frame "
                f"(live needs ≤ {LIVE_MAX_SECONDS:g} s); press Fuse"
            )
            return
        if self.infrared_layer.value is not None and self.visible_layer.value is not None:
            self.fuse(scope=SCOPES[0], live=True)

    # -- analyze and metrics -----------------------------------------------------

    def analyze(self, *_: Any) -> Any:
        """Estimate the degradations of the displayed pair and propose a prompt."""
        missing = missing_names("napari_textif.detection", ("detect", "suggest_prompt"))
        if missing:
            self._tell(f"degradation detection is not available in this installation ({missing}); "
                       "type a prompt instead", "info")
            return None
        return self._helper(analysis_steps, self._on_analysis, "analysing")

    def _on_analysis(self, answer: Any) -> None:
        found, suggestion = answer
        self.prompt.value = str(suggestion)
        explain = getattr(found, "explain", None)
        detail = "; ".join(explain().splitlines()) if callable(explain) else ""
        self.status.value = f"analysis suggests: “{suggestion}”" + (f" ({detail})" if detail else "")

    def compute_metrics(self, *_: Any) -> Any:
        """Score the last result (its displayed frame) with the package's fusion metrics."""
        missing = missing_names("napari_textif.metrics", ("compute_all",))
        if missing:
            self._tell(f"metrics are not available in this installation ({missing})", "info")
            return None
        if self._last is None:
            self._tell("fuse first: there is no result to score yet", "info")
            return None
        return self._helper(metrics_steps, self._on_metrics, "scoring", outcome=self._last)

    def _on_metrics(self, rows: list[tuple[str, float]]) -> None:
        self.metrics_table.value = {"metric": [k for k, _ in rows], "value": [f"{v:.4g}" for _, v in rows]}
        self.metrics_table.visible = True
        self.status.value = f"metrics of {self._last.job.name!r}"

    def _helper(self, steps: Callable, on_done: Callable, verb: str, outcome: Outcome | None = None) -> Any:
        if self._helper_worker is not None:
            self.status.value = "busy: the previous analysis or scoring is still running"
            return None
        try:
            args = self._metric_inputs(outcome) if outcome is not None else self._pair_on_screen()
        except (geometry.GeometryError, ValueError) as exc:
            self._tell(str(exc), "warning")
            return None
        worker = thread_worker(guarded(steps), ignore_errors=True, start_thread=False)(*args)

        def done(value: Any) -> None:
            self._helper_worker = None
            if self._session.closed:
                return
            if isinstance(value, Failure):
                self._tell(f"{verb} failed: {type(value.error).__name__}: {value.error}", "error")
            else:
                on_done(value)

        worker.returned.connect(done)
        worker.finished.connect(lambda: setattr(self, "_helper_worker", None))
        self._helper_worker = worker
        self.status.value = f"{verb}…"
        worker.start()
        return worker

    def _pair_on_screen(self) -> tuple[np.ndarray, np.ndarray]:
        job = self.make_job(SCOPES[0])
        return job.read_pair(0)

    def _metric_inputs(self, outcome: Outcome) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        job = outcome.job
        k = 0
        if not job.single_frame and job.visible.leading_shape:
            vis_layer = self.visible_layer.value
            if vis_layer is not None and vis_layer.name == job.visible.name:
                shown = geometry.displayed_index(vis_layer, job.visible, self._viewer.dims.point)
                k = job.frames.index(shown) if shown in job.frames else 0
        ir, vis = job.read_pair(k)
        return outcome.data[job.output_index(k)], ir, vis

    def _tell(self, message: str, level: str) -> None:
        self.status.value = message
        {"info": show_info, "warning": show_warning, "error": show_error}[level](message)
