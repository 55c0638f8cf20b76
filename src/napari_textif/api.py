"""The public fusion entry point shared by the CLI, the widget and notebooks."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from napari_textif import imaging
from napari_textif.controls import Controls
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
            "napari_textif_version": __version__,
        }


def fuse(
    infrared: object,
    visible: object,
    prompt: str = "",
    *,
    engine: str | None = None,
    controls: Controls | None = None,
    auto: bool = False,
    severity: str = "images",
    device: str = "auto",
    options: Mapping[str, Any] | None = None,
    progress: ProgressCallback | None = None,
) -> FusionResult:
    """Fuse an infrared and a visible image, steered by a prompt or explicit Controls.

    Parameters
    ----------
    infrared : array_like
        ``(H, W)`` thermal image (three equal channels are accepted); any supported dtype.
    visible : array_like
        ``(H, W)``, ``(H, W, 3)`` or ``(H, W, 4)`` visible image of the same height and width.
    prompt : str, optional
        What is wrong or wanted, e.g. ``"the visible image is dark"``. Empty: plain fusion.
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
        The inputs are never modified.

    Examples
    --------
    >>> from napari_textif.samples import synthetic_pair
    >>> ir, vis = synthetic_pair(shape=(64, 80))
    >>> result = fuse(ir, vis, "the visible image is dark", engine="classic")
    >>> result.image.shape, result.image.dtype
    ((64, 80, 3), dtype('float32'))
    """
    t0 = time.perf_counter()
    _check_options(prompt, controls, device, auto, severity)
    ir, vis, notes = imaging.prepare_pair(infrared, visible)
    engine_name = engine if engine is not None else default_engine()
    runner = get_engine(engine_name)
    _check_engine_options(runner, options, device)
    _check_available(runner, engine_name, options)
    interpretation, severities = None, {}
    if controls is None:
        interpretation, severities = understand(prompt, ir, vis, auto=auto, severity=severity)
    used = controls if controls is not None else interpretation.controls  # type: ignore[union-attr]
    t1 = time.perf_counter()
    request = FusionRequest(ir, vis, used, prompt, device, dict(options or {}), progress)
    output = runner.run(request)
    _check_finite(output, engine_name)
    t2 = time.perf_counter()
    image = compose(output, vis, runner.output)
    timings = {"prepare": t1 - t0, "engine": t2 - t1, "compose": time.perf_counter() - t2}
    timings["total"] = time.perf_counter() - t0
    notes += output.notes + (list(interpretation.notes) if interpretation else [])
    notes += [f"severity from the images: {s.describe()}" for s in severities.values()]
    provenance = dict(output.provenance)
    if severities:
        provenance["severity"] = {k: dataclasses.asdict(s) for k, s in severities.items()}
    return FusionResult(
        image, used, engine_name, output.device, prompt, interpretation, timings, notes, provenance,
    )


def understand(
    prompt: str, infrared: np.ndarray, visible: np.ndarray, *, auto: bool, severity: str = "images"
) -> tuple[Interpretation, dict[str, Any]]:
    """The prompt's Interpretation, its named strengths measured on the images (``severity="images"``),
    merged with detection from the images when ``auto``; and the :class:`~napari_textif.severity.Severity`
    of each named degradation."""
    said, found = interpret(prompt), {}
    if severity == "images" and said.controls.active():
        from napari_textif.severity import calibrate

        said, found = calibrate(said, infrared, visible)
    if not auto:
        return said, found
    from napari_textif.detection import detect

    return merge(said, detect(infrared, visible)), found


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


def compose(output: EngineOutput, visible: np.ndarray, kind: str) -> np.ndarray:
    """Turn an engine's output into the final image following the visible input's layout."""
    fused = np.asarray(output.image, dtype=np.float32)
    if fused.shape[:2] != visible.shape[:2]:
        raise RuntimeError(
            f"engine returned shape {fused.shape[:2]} for an input of {visible.shape[:2]}"
        )
    if kind == "luminance":
        return imaging.with_luminance(visible, fused)
    fused = np.clip(fused, 0.0, 1.0)
    return imaging.to_gray(fused) if visible.ndim == 2 and fused.ndim == 3 else fused
