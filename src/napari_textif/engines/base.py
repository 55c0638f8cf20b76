"""What every fusion engine is: a small object that says what it needs and fuses.

Engines receive images already converted to the package conventions
(:mod:`napari_textif.imaging`) and return either a fused luminance image or a
fused RGB image, as their :attr:`Engine.output` declares. They pad/tile as their
network requires and crop back to the input size.
"""

from __future__ import annotations

import abc
import dataclasses
import importlib.util
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Literal

import numpy as np

from napari_textif.controls import Controls

#: ``progress(fraction, message)``; it may raise :class:`FusionCancelled` to stop a run.
ProgressCallback = Callable[[float, str], None]


class FusionCancelled(Exception):
    """Raised (usually by a progress callback) to stop a fusion between stages or tiles."""


class EngineUnavailable(RuntimeError):
    """Raised when an engine is asked to fuse but lacks what it needs."""


@dataclasses.dataclass(frozen=True)
class Availability:
    """Whether an engine can run here, and if not, why."""

    available: bool
    reason: str = ""


@dataclasses.dataclass(frozen=True)
class FusionRequest:
    """One fusion job as an engine sees it.

    Attributes
    ----------
    infrared : ndarray
        float32 ``(H, W)`` in ``[0, 1]``.
    visible : ndarray
        float32 ``(H, W)`` or ``(H, W, 3)`` in ``[0, 1]``.
    controls : Controls
        The interpreted request.
    prompt : str
        The user's words (engines conditioned on text use them directly).
    device : str
        ``"auto"``, ``"cpu"``, ``"cuda"``, ``"mps"`` (or ``"cuda:1"``...).
    options : mapping
        Engine-specific options (a checkpoint path, a tile size...).
    progress : callable or None
        See :data:`ProgressCallback`.
    """

    infrared: np.ndarray
    visible: np.ndarray
    controls: Controls
    prompt: str = ""
    device: str = "auto"
    options: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    progress: ProgressCallback | None = None

    def report(self, fraction: float, message: str) -> None:
        """Forward progress to the callback, if any (it may cancel the run)."""
        if self.progress is not None:
            self.progress(float(fraction), message)


@dataclasses.dataclass
class EngineOutput:
    """What an engine returns: the fused image and facts about the run."""

    image: np.ndarray
    device: str = "cpu"
    notes: list[str] = dataclasses.field(default_factory=list)
    provenance: dict[str, Any] = dataclasses.field(default_factory=dict)


class Engine(abc.ABC):
    """Base class of fusion engines.

    Subclasses set the class attributes and implement :meth:`run`. Importing an
    engine module must stay cheap: import torch inside methods.
    """

    name: ClassVar[str]
    description: ClassVar[str]
    #: ``"luminance"``: the fused Y channel (chroma comes from the visible image);
    #: ``"rgb"``: a full RGB image that is returned as it is.
    output: ClassVar[Literal["luminance", "rgb"]] = "luminance"
    #: Human-readable list of what the engine needs (packages, weights, hardware).
    needs: ClassVar[tuple[str, ...]] = ()
    #: Python modules that must be importable.
    requires_modules: ClassVar[tuple[str, ...]] = ()
    #: Whether the training command can train this engine.
    trainable: ClassVar[bool] = False
    #: Names of the engine-specific options it reads from ``FusionRequest.options``
    #: (``"checkpoint"`` makes the widget show a file picker).
    option_names: ClassVar[tuple[str, ...]] = ()

    def availability(self, options: Mapping[str, Any] | None = None) -> Availability:
        """Say whether the engine can run with ``options``; override to check weights."""
        missing = [m for m in self.requires_modules if importlib.util.find_spec(m) is None]
        if missing:
            return Availability(False, f"needs the Python package(s) {', '.join(missing)}")
        return Availability(True)

    @abc.abstractmethod
    def run(self, request: FusionRequest) -> EngineOutput:
        """Fuse ``request`` and return an image of the input's height and width."""


def resolve_device(device: str) -> str:
    """Turn ``"auto"`` into the best torch device here; check explicit ones exist.

    Imports torch, so call it only from engines that use torch.
    """
    import torch

    if device == "auto":
        if torch.cuda.is_available():
            return "cuda"
        mps = getattr(torch.backends, "mps", None)
        return "mps" if mps is not None and mps.is_available() else "cpu"
    kind = device.split(":")[0]
    if kind == "cuda" and not torch.cuda.is_available():
        raise EngineUnavailable("device 'cuda' was requested but torch sees no CUDA GPU")
    if kind == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise EngineUnavailable("device 'mps' was requested but this machine has no Apple GPU")
    if kind not in ("cpu", "cuda", "mps"):
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps', got {device!r}")
    return device
