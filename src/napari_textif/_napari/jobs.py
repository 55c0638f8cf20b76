"""The fusion jobs behind the dock widget, free of Qt: what a run reads, does and returns.

A :class:`FusionJob` is a snapshot of two image layers and the settings, taken on
the GUI thread (:func:`make_job`); :func:`fusion_steps` is the worker generator
that reads each frame, calls :func:`napari_textif.fuse` with a progress callback
(where a Cancel takes effect, :class:`RunState`), and builds the result layer with
its :func:`provenance` record. :func:`analysis_steps` and :func:`metrics_steps`
are the two smaller jobs. Everything here runs and is tested without a Qt
application; the widget (:mod:`.widget`) only wires it to buttons and signals.
"""

from __future__ import annotations

import dataclasses
import importlib
import re
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np

from napari_textif._napari import geometry
from napari_textif.api import FusionResult, fuse
from napari_textif.controls import PREFERENCES, Controls
from napari_textif.engines import FusionCancelled
from napari_textif.interpretation import Interpretation
from napari_textif.pairkinds import DEFAULT_KIND, KINDS, PairKind, get_kind

IR_WORDS = frozenset(get_kind(DEFAULT_KIND).role("infrared").layer_words)
VIS_WORDS = frozenset(get_kind(DEFAULT_KIND).role("visible").layer_words)
METADATA_KEY = "napari_textif"
#: A whole-stack result may use at most this share of the free memory.
MEMORY_SHARE = 0.5
SCOPES = ("displayed slice", "whole stack")


# ---------------------------------------------------------------------------
# Pure helpers (no Qt): layer names, interpretation text, memory, GPU cleanup.
# ---------------------------------------------------------------------------


def name_tokens(name: str) -> set[str]:
    """Lower-case word pieces of a layer name (``"FLIR_ir-01"`` -> ``{"flir", "ir", "01"}``)."""
    return {t for t in re.split(r"[^a-z0-9]+", name.lower()) if t}


def auto_pick(layers: list[Any], kind: str | PairKind = DEFAULT_KIND) -> tuple[Any | None, Any | None]:
    """Guess the layers of the (infrared, visible) slots of ``kind`` from names, then from colour.

    A layer whose name holds one of a role's words (:attr:`~napari_textif.pairkinds.Role.layer_words`:
    ``thermal``, ``ct``, ``pet``, ``t1``...) fills that role's slot; otherwise the slot that gives
    the colour (visible; PET or SPECT) takes an RGB layer and the other a grey one.

    Examples
    --------
    >>> from types import SimpleNamespace as L
    >>> ir, vis = auto_pick([L(name="rgb", rgb=True), L(name="thermal_01", rgb=False)])
    >>> ir.name, vis.name
    ('thermal_01', 'rgb')
    >>> ir, vis = auto_pick([L(name="brain T2", rgb=False), L(name="slice", rgb=True)], "mri-pet")
    >>> ir.name, vis.name
    ('slice', 'brain T2')
    """
    pair = get_kind(kind)
    words = {role.slot: frozenset(role.layer_words) for role in pair.roles}
    ir = next((x for x in layers if name_tokens(x.name) & words["infrared"]), None)
    vis = next((x for x in layers if name_tokens(x.name) & words["visible"] and x is not ir), None)
    rest = [x for x in layers if x is not ir and x is not vis]
    picks = {"infrared": ir, "visible": vis}
    colour = pair.colour_slot
    other = "infrared" if colour == "visible" else "visible"
    if picks[colour] is None:
        picks[colour] = next((x for x in rest if x.rgb), rest[-1] if rest else None)
        rest = [x for x in rest if x is not picks[colour]]
    if picks[other] is None:
        picks[other] = next((x for x in rest if not x.rgb), rest[0] if rest else None)
    return picks["infrared"], picks["visible"]


def guess_kind(layers: list[Any]) -> str | None:
    """The first kind other than infrared/visible whose two roles both name a layer, if any.

    Examples
    --------
    >>> from types import SimpleNamespace as L
    >>> guess_kind([L(name="mri"), L(name="pet 30030")]), guess_kind([L(name="ir"), L(name="vis")])
    ('mri-pet', None)
    """
    tokens = [name_tokens(x.name) for x in layers]
    for pair in KINDS.values():
        if pair.is_default or not all(r.layer_words for r in pair.roles):
            continue
        found = [{i for i, t in enumerate(tokens) if t & set(r.layer_words)} for r in pair.roles]
        if found[0] and found[1] and len(found[0] | found[1]) >= 2:
            return pair.name
    return None


def describe(
    interpretation: Interpretation, controls: Controls, adjusted: bool, kind: str = DEFAULT_KIND
) -> str:
    """The interpretation line: each control with the phrase that set it."""
    if adjusted:
        values = [
            f"{control_label(n, kind)} {v:+.2f}" if n in PREFERENCES else f"{control_label(n, kind)} {v:.2f}"
            for n, v in controls.active().items()
        ]
        head = "adjusted by hand: " + ("; ".join(values) or "all zero (plain fusion)")
        return head if not interpretation.notes else head + " · " + " · ".join(interpretation.notes)
    parts = [
        f"{control_label(name, kind)} {value:+.2f} ← “{interpretation.phrases.get(name, '?')}”"
        if name in PREFERENCES
        else f"{control_label(name, kind)} {value:.2f} ← “{interpretation.phrases.get(name, '?')}”"
        for name, value in controls.active().items()
    ]
    text = "; ".join(parts) or "neutral: plain fusion, no restoration"
    return " · ".join([text, *interpretation.notes])


def describe_severity(severity: Mapping[str, Mapping[str, Any]], kind: str = DEFAULT_KIND) -> str:
    """The measured-severity line of a result (``provenance["severity"]``): strength used per kind.

    Examples
    --------
    >>> describe_severity({"vis_haze": {"strength": 0.25, "measured": 0.25, "said": 0.6}})
    'measured on the images: visible haze 0.25 (words 0.60, images 0.25)'
    >>> describe_severity({"vis_rain": {"strength": 0.0, "measured": 0.0, "said": 0.6}})
    'measured on the images: visible rain not restored (words 0.60, images show none; a slider restores it)'
    """
    parts = [_severity_part(control_label(name, kind), s) for name, s in severity.items()]
    return "measured on the images: " + "; ".join(parts) if parts else ""


def _severity_part(label: str, s: Mapping[str, Any]) -> str:
    if s["measured"] is None:
        return f"{label} {s['strength']:.2f} (words {s['said']:.2f}, images too small to measure)"
    if s["strength"] == 0 < s["said"]:
        return f"{label} not restored (words {s['said']:.2f}, images show none; a slider restores it)"
    return f"{label} {s['strength']:.2f} (words {s['said']:.2f}, images {s['measured']:.2f})"


def control_label(control: str, kind: str = DEFAULT_KIND) -> str:
    """A control's name in words, the images named as the pair ``kind`` names them."""
    pair = get_kind(kind)
    if pair.is_default:
        return control.replace("vis_", "visible ").replace("ir_", "infrared ").replace("_", " ")
    label = {role.slot: role.label for role in pair.roles}
    named = control.replace("vis_", label["visible"] + " ").replace("ir_", label["infrared"] + " ")
    return named.replace("thermal_emphasis", f"{label['infrared']} emphasis").replace("_", " ")


def takes_checkpoint(engine: Any) -> bool:
    """Whether an engine declares a ``checkpoint`` option (shows the file picker)."""
    return "checkpoint" in tuple(getattr(engine, "option_names", ()))


def release_gpu_memory() -> None:
    """Return cached GPU memory to the system if torch was used (never imports torch)."""
    torch = sys.modules.get("torch")
    if torch is None:
        return
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    mps = getattr(torch, "mps", None)
    if mps is not None and getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        mps.empty_cache()


def free_memory() -> int | None:
    """Bytes of memory available now (None when psutil is missing)."""
    try:
        import psutil
    except ImportError:  # pragma: no cover - psutil comes with napari
        return None
    return int(psutil.virtual_memory().available)


def fits_in_memory(nbytes: int) -> bool:
    """Whether a result of ``nbytes`` fits comfortably (:data:`MEMORY_SHARE` of the free memory)."""
    free = free_memory()
    return free is None or nbytes <= MEMORY_SHARE * free


def check_lazy(ir: geometry.LayerView, vis: geometry.LayerView, mapping: np.ndarray | None,
               nbytes: int, kind: str = DEFAULT_KIND) -> None:
    """Refuse a whole-stack result too big for memory that cannot be a lazy stack either."""
    why = ("the infrared is resampled onto the visible grid" if mapping is not None else
           "the layers' frames differ" if ir.leading_shape != vis.leading_shape else
           f"lazy stacks are infrared/visible only, not {get_kind(kind).title}" if kind != DEFAULT_KIND
           else "")
    if why:
        free = free_memory() or 0
        raise geometry.GeometryError(
            f"the whole-stack result needs {nbytes / 2**30:.1f} GiB but only {free / 2**30:.1f} GiB is "
            f"free, and it cannot be computed lazily because {why}; fuse the displayed slice instead, "
            "or a smaller stack"
        )


# ---------------------------------------------------------------------------
# The job and the worker generator.
# ---------------------------------------------------------------------------


@dataclasses.dataclass
class FusionJob:
    """Everything a run needs, snapshot on the GUI thread so layers can change meanwhile."""

    infrared: geometry.LayerView
    visible: geometry.LayerView
    frames: list[tuple[int, ...]]
    ir_frames: list[tuple[int, ...]]
    mapping: np.ndarray | None
    prompt: str
    controls: Controls | None
    engine: str
    device: str
    options: dict[str, Any]
    single_frame: bool
    layer_kwargs: dict[str, Any]
    name: str
    key: dict[str, str]
    notes: list[str]
    live: bool = False
    #: The result is too big for memory: a dask array computed as napari shows its slices.
    lazy: bool = False
    #: A dask.distributed scheduler address for lazy results ("" : dask's default, threads here).
    scheduler: str = ""
    kind: str = DEFAULT_KIND

    def read_pair(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Read frame ``k`` of both layers, the infrared resampled onto the visible grid."""
        vis = self.visible.frame(self.frames[k])
        ir = self.infrared.frame(self.ir_frames[k])
        if self.mapping is not None:
            ir = geometry.resample(ir, self.mapping, self.visible.plane_shape)
        return ir, vis

    def output_shape(self, image: np.ndarray) -> tuple[int, ...]:
        """Shape of the result layer's data for a frame result ``image``."""
        lead = (1,) * len(self.visible.leading_shape) if self.single_frame else self.visible.leading_shape
        return (*lead, *image.shape)

    def output_index(self, k: int) -> tuple[int, ...]:
        """Where frame ``k`` goes in the result."""
        return (0,) * len(self.visible.leading_shape) if self.single_frame else self.frames[k]


def make_job(
    ir_layer: Any,
    vis_layer: Any,
    *,
    point: tuple[float, ...],
    scope: str = SCOPES[0],
    prompt: str = "",
    controls: Controls | None,
    engine: str,
    device: str = "auto",
    options: Mapping[str, Any] | None = None,
    live: bool = False,
    scheduler: str = "",
    kind: str = DEFAULT_KIND,
) -> FusionJob:
    """Snapshot two image layers and the settings into a :class:`FusionJob`.

    ``point`` is the viewer's dims point (which slice is on screen); ``scope`` one
    of :data:`SCOPES`. A whole stack whose result would not fit in memory becomes a
    lazy job (computed as napari shows its slices, on ``scheduler`` if given). Runs
    on the GUI thread; the job is then safe to run in a
    worker while the layers change.

    Raises
    ------
    GeometryError
        When the layers are missing, the same, unreadable or do not overlay.
    """
    if ir_layer is None or vis_layer is None:
        pair = get_kind(kind)
        raise geometry.GeometryError(
            "pick an infrared and a visible image layer first" if pair.is_default
            else f"pick the {pair.roles[0].label} and the {pair.roles[1].label} image layers first")
    if ir_layer is vis_layer:
        raise geometry.GeometryError(
            f"infrared and visible are the same layer {ir_layer.name!r}; pick two different layers"
        )
    ir, vis = geometry.snapshot(ir_layer), geometry.snapshot(vis_layer)
    geometry.check_dtype(ir, "infrared")
    geometry.check_dtype(vis, "visible")
    mapping = geometry.infrared_to_visible(ir, vis)
    frames, ir_frames, single = plan_frames(scope, ir_layer, vis_layer, ir, vis, point)
    shown = frames[0] if single else None
    lazy = False
    if not single and len(frames) > 1:
        nbytes = len(frames) * int(np.prod(vis.plane_shape)) * (3 if vis.rgb else 1) * 4
        lazy = not fits_in_memory(nbytes)
        if lazy:
            check_lazy(ir, vis, mapping, nbytes, kind)
    return FusionJob(
        ir, vis, frames, ir_frames, mapping, prompt, controls, engine, device, dict(options or {}),
        single, geometry.result_transform(vis_layer, vis, shown),
        result_name(ir.name, vis.name, prompt, shown),
        {"infrared": ir.name, "visible": vis.name, "scope": "slice" if single else "stack"},
        job_notes(ir, vis, mapping), live, lazy, scheduler, kind,
    )


def plan_frames(
    scope: str, ir_layer: Any, vis_layer: Any, ir: geometry.LayerView, vis: geometry.LayerView,
    point: tuple[float, ...],
) -> tuple[list[tuple[int, ...]], list[tuple[int, ...]], bool]:
    """(visible frames, matching infrared frames, whether it is the one slice on screen)."""
    if scope == SCOPES[1] and vis.leading_shape:
        frames = list(np.ndindex(*vis.leading_shape))
        ir_frames = [geometry.infrared_frame_index(ir, vis, f) for f in frames]
        return frames, ir_frames, False
    frame = geometry.displayed_index(vis_layer, vis, point)
    return [frame], [geometry.displayed_index(ir_layer, ir, point)], bool(frame)


@dataclasses.dataclass
class Progress:
    """A progress report from the worker."""

    fraction: float
    message: str


@dataclasses.dataclass
class Outcome:
    """What a finished run returns to the GUI thread."""

    job: FusionJob
    data: np.ndarray
    results: list[FusionResult]
    seconds: float
    layer: Any = None


@dataclasses.dataclass
class Failure:
    """An exception raised in a worker, returned as a value.

    superqt's generator worker treats a RuntimeError as "the worker was deleted" and
    drops it without a ``finished`` signal, so errors never leave the generator raw.
    """

    error: Exception


def guarded(steps: Callable[..., Iterator[Any]]) -> Callable[..., Iterator[Any]]:
    """Wrap a worker generator so that any exception comes back as a :class:`Failure`."""

    def run(*args: Any) -> Iterator[Any]:
        try:
            return (yield from steps(*args))
        except Exception as exc:
            return Failure(exc)

    run.__name__ = steps.__name__
    return run


class RunState:
    """Shared between the GUI thread and one worker: cancel flag and progress sink."""

    def __init__(self) -> None:
        self.cancelled = False
        self.emit: Callable[[Progress], None] = lambda _p: None
        #: Also stops the run when napari asks every worker to quit (closing the app).
        self.abort_requested: Callable[[], bool] = lambda: False
        self.started = time.perf_counter()
        self._last_emit = 0.0

    def reporter(self, k: int, n: int) -> Callable[[float, str], None]:
        """A ``progress(fraction, message)`` callback for frame ``k`` of ``n``."""

        def progress(fraction: float, message: str) -> None:
            if self.cancelled or self.abort_requested():
                raise FusionCancelled("cancelled from the widget")
            now = time.perf_counter()
            if now - self._last_emit > 0.05 or fraction >= 1.0:
                self._last_emit = now
                prefix = f"frame {k + 1}/{n}: " if n > 1 else ""
                self.emit(Progress((k + min(max(fraction, 0.0), 1.0)) / n, prefix + message))

        return progress


def fusion_steps(job: FusionJob, state: RunState) -> Iterator[Progress]:
    """Fuse every frame of ``job``, yielding between stages so napari can abort.

    A lazy job fuses its first frame now (to check the run and record it) and returns a
    dask array of all frames (:func:`napari_textif.fuse_stack`) that napari computes
    as the user scrolls, on the configured dask scheduler if there is one.
    """
    if job.lazy:
        return (yield from lazy_steps(job, state))
    n = len(job.frames)
    data: np.ndarray | None = None
    results = []
    try:
        for k in range(n):
            yield Progress(k / n, f"reading frame {k + 1}/{n}" if n > 1 else "reading the layers")
            ir, vis = job.read_pair(k)
            yield Progress(k / n, f"fusing frame {k + 1}/{n}" if n > 1 else "fusing")
            result = fuse(
                infrared=ir, visible=vis, prompt=job.prompt, kind=job.kind, engine=job.engine,
                controls=job.controls, device=job.device, options=job.options,
                progress=state.reporter(k, n),
            )
            if data is None:
                data = np.zeros(job.output_shape(result.image), np.float32)
            data[job.output_index(k)] = result.image
            results.append(result)
    except FusionCancelled:
        return None
    finally:
        release_gpu_memory()
    outcome = Outcome(job, data, results, time.perf_counter() - state.started)
    yield Progress(1.0, "preparing the result layer")
    outcome.layer = result_layer(outcome)
    return outcome


def lazy_steps(job: FusionJob, state: RunState) -> Iterator[Progress]:
    """The steps of a lazy whole-stack job (see :func:`fusion_steps`)."""
    from napari_textif.stacks import fuse_stack

    yield Progress(0.0, "fusing the first frame; the others are fused as you scroll")
    ir, vis = job.read_pair(0)
    try:
        first = fuse(ir, vis, job.prompt, engine=job.engine, controls=job.controls, device=job.device,
                     options=job.options, progress=state.reporter(0, 1))
    except FusionCancelled:
        return None
    scheduler = use_scheduler(job.scheduler)
    data = fuse_stack(job.infrared.data, job.visible.data, job.prompt, engine=job.engine,
                      controls=job.controls, device=job.device, options=job.options)
    outcome = Outcome(job, data, [first], time.perf_counter() - state.started)
    if scheduler:
        job.notes.append(f"frames are fused on the dask scheduler {scheduler} as they are shown")
    yield Progress(1.0, "preparing the lazy result layer")
    outcome.layer = result_layer(outcome)
    return outcome


#: dask.distributed clients of this session, by scheduler address.
_CLIENTS: dict[str, Any] = {}


def use_scheduler(address: str) -> str:
    """Make the scheduler at ``address`` dask's default (connected once); "" leaves dask as it is."""
    if not address:
        return ""
    if address not in _CLIENTS:
        from napari_textif.stacks import dask_client

        context = dask_client(address)  # its Client becomes dask's default scheduler
        _CLIENTS[address] = (context, context.__enter__())
    return address


def result_layer(outcome: Outcome) -> Any:
    """Build (not add) the result ``napari.layers.Image``; done in the worker so the GUI thread
    only inserts it (a layer object needs napari, not Qt)."""
    import napari

    job = outcome.job
    is_rgb = outcome.results[0].image.ndim == 3
    kwargs = {k: v for k, v in job.layer_kwargs.items() if v is not None}
    return napari.layers.Image(
        outcome.data, name=job.name, rgb=is_rgb, contrast_limits=(0.0, 1.0),
        metadata=provenance(outcome), **kwargs,
    )


def analysis_steps(ir: np.ndarray, vis: np.ndarray) -> Iterator[Progress]:
    """Run degradation detection on one frame pair and propose a prompt."""
    detection = importlib.import_module("napari_textif.detection")
    yield Progress(0.1, "analysing the images")
    found = detection.detect(ir, vis)
    yield Progress(0.8, "writing a prompt")
    return found, detection.suggest_prompt(found)


def metrics_steps(fused: np.ndarray, ir: np.ndarray, vis: np.ndarray) -> Iterator[Progress]:
    """Compute the metrics of one fused frame."""
    from napari_textif.metrics import compute_all

    yield Progress(0.1, "computing metrics")
    return _as_rows(compute_all(fused, ir, vis))


def _as_rows(scores: Any) -> list[tuple[str, float]]:
    if dataclasses.is_dataclass(scores):
        scores = dataclasses.asdict(scores)
    elif not isinstance(scores, Mapping):
        scores = {k: v for k, v in vars(scores).items() if not k.startswith("_")}
    return [(str(k), float(v)) for k, v in scores.items() if isinstance(v, (int, float, np.number))]


def provenance(outcome: Outcome) -> dict[str, Any]:
    """The result layer's metadata record (JSON-ready)."""
    first = outcome.results[0].metadata()
    notes = list(dict.fromkeys([*outcome.job.notes, *(n for r in outcome.results for n in r.notes)]))
    engine_seconds = sum(r.timings.get("engine", 0.0) for r in outcome.results)
    first.update(
        notes=notes,
        key=dict(outcome.job.key),
        inputs={"infrared": outcome.job.infrared.name, "visible": outcome.job.visible.name},
        frames=[list(f) for f in outcome.job.frames],
        scope=outcome.job.key["scope"],
        multiscale_level=outcome.job.visible.level,
        weights_sha256=_weights_digest(first["provenance"]),
    )
    first["timings"] = {"engine": engine_seconds, "total": outcome.seconds, "frames": len(outcome.results)}
    return {METADATA_KEY: first}


# ---------------------------------------------------------------------------

def _weights_digest(facts: Mapping[str, Any]) -> str | None:
    """The engine's weights checksum, whatever the engine calls it (``*sha256``)."""
    if facts.get("weights_sha256"):
        return str(facts["weights_sha256"])
    return next((str(v) for k, v in facts.items() if k.endswith("sha256") and v), None)


def missing_names(module: str, names: tuple[str, ...]) -> str:
    try:
        found = importlib.import_module(module)
    except ImportError as exc:
        return f"{module} could not be imported: {exc}"
    absent = [n for n in names if not hasattr(found, n)]
    return f"{module} lacks {', '.join(absent)}" if absent else ""


def job_notes(ir: geometry.LayerView, vis: geometry.LayerView, mapping: np.ndarray | None) -> list[str]:
    notes = []
    if mapping is not None:
        notes.append(
            f"infrared resampled from {ir.plane_shape[0]}x{ir.plane_shape[1]} onto the visible "
            f"{vis.plane_shape[0]}x{vis.plane_shape[1]} grid (their world transforms overlay)"
        )
    for view, role in ((ir, "infrared"), (vis, "visible")):
        if view.levels > 1:
            notes.append(
                f"{role}: multiscale layer, fused level {view.level} of {view.levels} "
                f"({view.plane_shape[0]}x{view.plane_shape[1]}), the level on screen"
            )
        if view.rgb and view.data.shape[-1] == 4:
            notes.append(f"{role}: RGBA layer, alpha ignored")
    return notes


def result_name(ir: str, vis: str, prompt: str, frame: tuple[int, ...] | None) -> str:
    words = prompt.strip()
    words = (words[:32] + "…") if len(words) > 33 else words
    name = f"fused {ir} + {vis}: {words or 'neutral'}"
    return f"{name} [frame {', '.join(map(str, frame))}]" if frame else name


class Session:
    """Lives beyond the widget's Qt objects: knows whether the widget was closed."""

    def __init__(self) -> None:
        self.closed = False
        self.state: RunState | None = None
        self.worker: Any = None
        #: The background warm-up worker (:func:`warm_up_steps`), or None.
        self.warm_up: Any = None

    def cancel(self) -> None:
        if self.state is not None:
            self.state.cancelled = True
        if self.worker is not None:
            self.worker.quit()

    def close(self, *_: Any) -> None:
        self.closed = True
        self.cancel()
        if self.warm_up is not None:
            self.warm_up.quit()


# ---------------------------------------------------------------------------
# Warming the default engine up in the background.
# ---------------------------------------------------------------------------

#: Side of the tiny pair the warm-up fuses.
WARM_UP_SIZE = 16


def warm_up_steps(
    engine: str | None, session: Session, device: str = "auto", options: Mapping[str, Any] | None = None
) -> Iterator[str]:
    """Warm ``engine`` (default: the registry's default) up, one short slice per step.

    Imports the modules the engine requires, checks the engine's availability (the weights check) and
    fuses a tiny pair (loads the weights, initialises the kernels), yielding a
    message between the steps. Stops at the next step once ``session`` is closed.
    Returns the engine name, or None when it stopped or the engine is unavailable.
    """
    from napari_textif.engines import default_engine, get_engine

    if session.closed:
        return None
    name = engine or default_engine()
    yield f"warming up {name}"
    found = get_engine(name)
    for module in getattr(found, "requires_modules", ()):
        if session.closed:
            return None
        try:
            importlib.import_module(module)
        except ImportError:
            return None
        yield f"warming up {name}: imported {module}"
    if session.closed or not found.availability(options).available:
        return None
    yield f"warming up {name}: checked"
    if session.closed:
        return None
    ramp = np.linspace(0.2, 0.8, WARM_UP_SIZE * WARM_UP_SIZE, dtype=np.float32)
    ir = ramp.reshape(WARM_UP_SIZE, WARM_UP_SIZE)
    vis = np.repeat(ir.T[:, :, None], 3, axis=2)
    fuse(ir, vis, "", engine=name, device=device, options=dict(options or {}))
    yield f"warming up {name}: ran once"
    return name


def update_in_place(previous: Any, layer: Any) -> bool:
    """Give ``previous`` the data and record of ``layer``, keeping the user's display settings.

    Cheaper than a new layer (no new controls, no new canvas node), which matters in Live mode.
    """
    if previous.rgb != layer.rgb or previous.ndim != layer.ndim:
        return False
    for attr in ("scale", "translate", "rotate", "shear", "affine", "units", "axis_labels"):
        if hasattr(layer, attr):
            setattr(previous, attr, getattr(layer, attr))
    previous.data = layer.data
    previous.metadata = layer.metadata
    previous.name = layer.name
    return True
