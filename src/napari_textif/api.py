"""The public fusion entry point shared by the CLI, the widget and notebooks."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from napari_textif import imaging
from napari_textif.controls import DEGRADATIONS, Controls
from napari_textif.engines import (
    Engine,
    EngineOutput,
    EngineUnavailable,
    FusionRequest,
    default_engine,
    get_engine,
)
from napari_textif.engines.base import ProgressCallback
from napari_textif.interpretation import Interpretation, interpret, merge
from napari_textif.pairkinds import DEFAULT_KIND, PairKind, get_kind


@dataclasses.dataclass
class FusionResult:
    """The fused image and how it was made.

    Attributes
    ----------
    image : ndarray
        float32 in ``[0, 1]``; ``(H, W, 3)`` for an RGB visible input, else ``(H, W)``.
    controls : Controls
        The Controls the engine received.
    engine : str
    device : str
        The device that actually ran the engine.
    prompt : str
    interpretation : Interpretation or None
        How the prompt was understood (None when explicit controls were given).
    timings : dict of str to float
        Seconds per stage (``prepare``, ``engine``, ``compose``, ``total``).
    notes : list of str
        Everything worth telling the user (scaling choices, fallbacks...).
    provenance : dict
        Engine facts such as weight checksums, precision and tiling.
    kind : str
        The pair kind (:mod:`napari_textif.pairkinds`), ``"ivif"`` for infrared/visible.
    """

    image: np.ndarray
    controls: Controls
    engine: str
    device: str
    prompt: str = ""
    interpretation: Interpretation | None = None
    timings: dict[str, float] = dataclasses.field(default_factory=dict)
    notes: list[str] = dataclasses.field(default_factory=list)
    provenance: dict[str, Any] = dataclasses.field(default_factory=dict)
    kind: str = DEFAULT_KIND

    def metadata(self) -> dict[str, Any]:
        """A JSON-ready record of the run (for layer metadata and sidecar files)."""
        from napari_textif import __version__

        return {
            "engine": self.engine,
            "device": self.device,
            "prompt": self.prompt,
            "controls": self.controls.to_dict(),
            "timings": dict(self.timings),
            "notes": list(self.notes),
            "provenance": dict(self.provenance),
            "kind": self.kind,
            "napari_textif_version": __version__,
        }


def fuse(
    a: object = None,
    b: object = None,
    prompt: str = "",
    *,
    kind: str = DEFAULT_KIND,
    infrared: object = None,
    visible: object = None,
    engine: str | None = None,
    controls: Controls | None = None,
    auto: bool = False,
    severity: str = "images",
    device: str = "auto",
    options: Mapping[str, Any] | None = None,
    progress: ProgressCallback | None = None,
) -> FusionResult:
    """Fuse two registered images (infrared and visible by default), steered by a prompt or Controls.

    Parameters
    ----------
    a, b : array_like
        The two images in the order of the kind's roles
        (:attr:`napari_textif.pairkinds.PairKind.roles`): infrared then visible, MRI then
        CT, PET or SPECT, channel A then channel B. ``(H, W)``, ``(H, W, 3)`` or
        ``(H, W, 4)``, the same height and width, any supported dtype. The intensity image
        (infrared, CT, PET, SPECT, channel A) is fused through its luminance.
    prompt : str, optional
        What is wrong or wanted, e.g. ``"the visible image is dark"`` or ``"keep the bone
        bright"``. Empty: plain fusion.
    kind : str, optional
        The pair kind: ``"ivif"`` (default), ``"mri-ct"``, ``"mri-pet"``, ``"mri-spect"`` or
        ``"channels"`` (:data:`napari_textif.pairkinds.KINDS`). It chooses the words the
        prompt is read with, the Controls that apply (others are set to zero with a note),
        the ``lite`` weights, and the image whose colour the result keeps (the PET or SPECT
        pseudo-colour for those kinds, else the visible or second image's).
    infrared, visible : array_like, optional
        The images by engine slot instead of by role: ``infrared`` the intensity image
        (infrared, CT, PET, SPECT, channel A), ``visible`` the detail image (visible, MRI,
        channel B). For infrared/visible pairs these are the former names of ``a`` and ``b``.
    engine : str, optional
        A registered engine name (:func:`napari_textif.list_engines`); default: the best
        available one.
    controls : Controls, optional
        Explicit Controls; they take precedence over what the prompt says.
    auto : bool, optional
        Also estimate the degradations from the images (:func:`napari_textif.detect`)
        and use them where the prompt says nothing about a degradation.
    severity : {"images", "words"}, optional
        How strongly to restore each degradation the prompt names: ``"images"``
        (default) measures it on the images and scales that by the words
        (:func:`napari_textif.severity.calibrate`; "hazy" restores thin haze lightly,
        thick haze fully); ``"words"`` uses the words' strength alone. Explicit
        ``controls`` are used as given either way.
    device : str, optional
        ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"mps"`` for torch engines.
    options : mapping, optional
        Engine-specific options (e.g. ``{"checkpoint": path}`` for ``textif``).
    progress : callable, optional
        ``progress(fraction, message)``; raise :class:`~napari_textif.engines.FusionCancelled`
        from it to cancel.

    Returns
    -------
    FusionResult
        The inputs are never modified. The image is ``(H, W, 3)`` when the image that
        gives the colour is RGB, else ``(H, W)``.

    Examples
    --------
    >>> from napari_textif.samples import synthetic_pair
    >>> ir, vis = synthetic_pair(shape=(64, 80))
    >>> result = fuse(ir, vis, "the visible image is dark", engine="classic")
    >>> result.image.shape, result.image.dtype
    ((64, 80, 3), dtype('float32'))
    """
    t0 = time.perf_counter()
    pair = get_kind(kind)
    ir_in, vis_in = _slot_images(a, b, infrared, visible, pair)
    _check_options(prompt, controls, device, auto, severity)
    ir, vis, colour, notes = prepare_kind(ir_in, vis_in, pair)
    engine_name = engine if engine is not None else default_engine()
    runner = get_engine(engine_name)
    _check_engine_options(runner, options, device)
    _check_available(runner, engine_name, options)
    interpretation, severities = None, {}
    if controls is None:
        interpretation, severities = understand(prompt, ir, vis, auto=auto, severity=severity, kind=pair,
                                                response=runner.strength_response)
    used = controls if controls is not None else interpretation.controls  # type: ignore[union-attr]
    used, kind_notes = applicable(used, pair)
    if engine_name not in pair.engines:
        kind_notes.append(
            f"engine {engine_name!r} was not made for {pair.title} pairs; its result is zero-shot")
    t1 = time.perf_counter()
    request = FusionRequest(ir, vis, used, prompt, device, dict(options or {}), progress, kind=pair.name)
    output = runner.run(request)
    _check_finite(output, engine_name)
    t2 = time.perf_counter()
    colour_restored = _restored_colour(output, runner.output, pair) is not None
    image = compose_kind(output, colour, runner.output, pair)
    timings = {"prepare": t1 - t0, "engine": t2 - t1, "compose": time.perf_counter() - t2}
    timings["total"] = time.perf_counter() - t0
    notes += kind_notes + output.notes + (list(interpretation.notes) if interpretation else [])
    notes += [f"severity from the images: {s.describe()}" for s in severities.values()]
    provenance = dict(output.provenance)
    if image.ndim == 3:
        provenance["colour"] = "restored with the visible image" if colour_restored else "the input's"
    if severities:
        provenance["severity"] = {k: dataclasses.asdict(s) for k, s in severities.items()}
    return FusionResult(
        image, used, engine_name, output.device, prompt, interpretation, timings, notes, provenance,
        pair.name,
    )


def understand(
    prompt: str, infrared: np.ndarray, visible: np.ndarray, *, auto: bool, severity: str = "images",
    kind: str | PairKind = DEFAULT_KIND, response: Mapping[str, tuple[float, ...]] | None = None,
) -> tuple[Interpretation, dict[str, Any]]:
    """The prompt's Interpretation (read for ``kind``), its named strengths measured on the images
    (``severity="images"``, through the engine's strength ``response``), merged with detection
    from the images when ``auto``; and the :class:`~napari_textif.severity.Severity` of each
    named degradation."""
    said, found = interpret(prompt, kind=kind), {}
    calibrating = severity == "images" and any(k in DEGRADATIONS for k in said.controls.active())
    stats = None
    if auto:  # measured once, for the named strengths and for detection
        from napari_textif.detection import measure

        stats = measure(infrared, visible)
    if calibrating:
        from napari_textif.severity import calibrate

        said, found = calibrate(said, infrared, visible, stats=stats, response=response)
    if not auto:
        return said, found
    from napari_textif.detection import detect

    return merge(said, detect(infrared, visible, stats=stats)), found


def _slot_images(
    a: object, b: object, infrared: object, visible: object, pair: PairKind
) -> tuple[object, object]:
    """``(intensity image, detail image)``: ``a``, ``b`` go to their roles' slots, ``infrared=`` and
    ``visible=`` name the slots directly (for infrared/visible pairs the two agree)."""
    by_slot = dict(zip(("infrared", "visible"), pair.in_slots(a, b), strict=True))
    label = {role.slot: role.label for role in pair.roles}
    images = []
    for slot, keyword in (("infrared", infrared), ("visible", visible)):
        if by_slot[slot] is not None and keyword is not None:
            raise TypeError(f"the {label[slot]} image was given twice: positionally and as {slot}=")
        image = keyword if by_slot[slot] is None else by_slot[slot]
        if image is None:
            raise TypeError(f"fuse needs two images: the {pair.roles[0].label} and the "
                            f"{pair.roles[1].label}; the {label[slot]} is missing")
        images.append(image)
    return images[0], images[1]


def prepare_kind(
    ir_in: object, vis_in: object, pair: PairKind
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Convert the intensity image ``ir_in`` and the detail image ``vis_in`` of a ``pair``.

    Returns
    -------
    infrared, visible : ndarray
        The intensity image ``(H, W)`` and the detail image, float32 in ``[0, 1]``.
    colour : ndarray
        The image whose colour the result keeps (the detail image unless the kind says
        otherwise, e.g. the PET of an MRI-PET pair).
    notes : list of str
    """
    if pair.colour_slot == "visible":
        ir, vis, notes = imaging.prepare_pair(ir_in, vis_in, names=_slot_names(pair))
        return ir, vis, vis, notes
    names = _slot_names(pair)
    colour = imaging.prepare(ir_in, name=names[0])
    detail = imaging.prepare(vis_in, name=names[1])
    imaging.check_same_size(colour.data, detail.data, names=names)
    notes = [n for n in (colour.note, detail.note) if n]
    vis = imaging.to_gray(detail.data) if detail.is_rgb else detail.data
    return imaging.to_gray(colour.data), vis, colour.data, notes


def _slot_names(pair: PairKind) -> tuple[str, str]:
    if pair.is_default:
        return ("infrared", "visible")
    role = {r.slot: r.name for r in pair.roles}
    return (role["infrared"], role["visible"])


def applicable(controls: Controls, pair: PairKind) -> tuple[Controls, list[str]]:
    """``controls`` with those that do not apply to ``pair`` set to zero, and a note saying which."""
    dropped = pair.inapplicable(controls.active())
    if not dropped:
        return controls, []
    note = f"{', '.join(dropped)} do not apply to {pair.title} pairs; ignored"
    return controls.replace(**{n: 0.0 for n in dropped}), [note]


def compose_kind(output: EngineOutput, colour: np.ndarray, kind: str, pair: PairKind) -> np.ndarray:
    """:func:`compose` for a pair kind: an RGB engine result is reduced to luminance when the
    colour comes from the intensity image (PET, SPECT); the chroma is that of the visible
    image the engine restored in colour (``output.colour``), when it did."""
    restored = _restored_colour(output, kind, pair)
    if restored is not None:
        # The engine's own array (never an input's): the result is written into it.
        if restored.dtype == np.float32 and not np.may_share_memory(restored, colour):
            return compose(output, restored, kind, out=restored)
        return compose(output, restored, kind)
    if pair.colour_slot == "infrared" and kind == "rgb":
        luminance = imaging.to_gray(np.clip(np.asarray(output.image, np.float32), 0.0, 1.0))
        output = dataclasses.replace(output, image=luminance)
        kind = "luminance"
    return compose(output, colour, kind)


def _restored_colour(output: EngineOutput, kind: str, pair: PairKind) -> np.ndarray | None:
    """The engine's restored colour image whose chroma the result keeps, or None (the input's)."""
    restored = output.colour
    usable = restored is not None and restored.ndim == 3 and kind == "luminance"
    return restored if usable and pair.colour_slot == "visible" else None


def _check_options(prompt: object, controls: object, device: object, auto: object,
                   severity: object = "images") -> None:
    if severity not in ("images", "words"):
        raise ValueError(f"severity must be 'images' or 'words', got {severity!r}")
    if controls is not None and auto:
        raise ValueError("auto=True estimates Controls from the images; it cannot be combined with controls")
    if not isinstance(prompt, str):
        raise TypeError(f"prompt must be a str, got {type(prompt).__name__}")
    if controls is not None and not isinstance(controls, Controls):
        raise TypeError(f"controls must be a Controls instance or None, got {type(controls).__name__}")
    if not isinstance(device, str):
        raise TypeError(f"device must be a str such as 'auto' or 'cpu', got {type(device).__name__}")


def _check_engine_options(runner: Engine, options: object, device: object) -> None:
    """Check ``options`` against the engine's declared :class:`OptionSpec`s, ``device`` against its devices.

    Raises TypeError (not a mapping, a value of the wrong type) or ValueError (an unknown
    name, listed with the known ones; a value out of range; a device the engine cannot use).
    """
    runner.check_options(options)
    runner.check_device(device)


def _check_available(runner: Any, name: str, options: Mapping[str, Any] | None) -> None:
    status = runner.availability(options)
    if not status.available:
        raise EngineUnavailable(f"engine {name!r} is not available: {status.reason}")


def _check_finite(output: EngineOutput, name: str) -> None:
    """Refuse an engine result with NaN or Inf: a non-finite image is never returned as a success."""
    image = np.asarray(output.image)
    if image.dtype.kind in "fc" and not np.isfinite(image).all():
        bad = int(image.size - np.count_nonzero(np.isfinite(image)))
        raise RuntimeError(
            f"engine {name!r} returned {bad} NaN or infinite values out of {image.size}; "
            "this is a bug in the engine, please report it with the inputs' shape, dtype and prompt"
        )


def compose(output: EngineOutput, visible: np.ndarray, kind: str, *, out: np.ndarray | None = None
            ) -> np.ndarray:
    """Turn an engine's output into the final image following the visible input's layout
    (a luminance result into ``out`` when given, see :func:`imaging.with_luminance`)."""
    fused = np.asarray(output.image, dtype=np.float32)
    if fused.shape[:2] != visible.shape[:2]:
        raise RuntimeError(
            f"engine returned shape {fused.shape[:2]} for an input of {visible.shape[:2]}"
        )
    if kind == "luminance":
        return imaging.with_luminance(visible, fused, out=out)
    fused = np.clip(fused, 0.0, 1.0)
    return imaging.to_gray(fused) if visible.ndim == 2 and fused.ndim == 3 else fused
