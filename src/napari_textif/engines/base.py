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
import math
import numbers
import os
import re
import types
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Literal

import numpy as np

from napari_textif import imaging
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
    kind : str
        The pair kind (:mod:`napari_textif.pairkinds`): ``"ivif"``, ``"mri-pet"``... The
        infrared slot holds the kind's intensity image, the visible slot its detail image;
        an engine may pick weights by it.
    """

    infrared: np.ndarray
    visible: np.ndarray
    controls: Controls
    prompt: str = ""
    device: str = "auto"
    options: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    progress: ProgressCallback | None = None
    kind: str = "ivif"

    def report(self, fraction: float, message: str) -> None:
        """Forward progress to the callback, if any (it may cancel the run)."""
        if self.progress is not None:
            self.progress(float(fraction), message)


@dataclasses.dataclass(frozen=True)
class OptionSpec:
    """One engine option: its name, the values it takes and what it does.

    Attributes
    ----------
    name : str
        The key in ``FusionRequest.options`` (``"checkpoint"`` makes the widget show a file
        picker).
    types : tuple of type
        The accepted types. ``int`` means any integer (numpy's too) but not a bool; ``float``
        any finite real number, integers included, but not a bool; ``bool`` only ``True`` or
        ``False`` (numpy's too), never a string such as ``"no"``; ``object`` anything.
    description : str
        What the option does, for help texts.
    minimum, maximum : float, optional
        Inclusive bounds of a number.
    choices : tuple, optional
        The only values allowed (e.g. ``("auto", "fp32")``).
    nullable : bool
        Whether ``None`` is accepted, meaning "the engine's default".

    Examples
    --------
    >>> spec = OptionSpec("tile_size", (int,), "tile side in pixels", minimum=192)
    >>> spec.expected()
    'an int >= 192'
    >>> spec.check(-5)
    Traceback (most recent call last):
    ...
    ValueError: options['tile_size'] must be an int >= 192, got -5
    """

    name: str
    types: tuple[type, ...] = (object,)
    description: str = ""
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[Any, ...] = ()
    nullable: bool = False

    def expected(self) -> str:
        """What a valid value is, in words (used in error messages)."""
        if self.choices:
            text = "one of " + ", ".join(repr(c) for c in self.choices)
        else:
            kinds = [t for t in self.types if not (t is str and os.PathLike in self.types)]
            text = " or ".join(_TYPE_WORDS.get(t, f"a {t.__name__}") for t in kinds)
            bounds = [f">= {self.minimum:g}" if self.minimum is not None else "",
                      f"<= {self.maximum:g}" if self.maximum is not None else ""]
            text = " ".join([text, " and ".join(b for b in bounds if b)]).strip()
        return text + (" (or None for the default)" if self.nullable else "")

    def check(self, value: object) -> None:
        """Raise if ``value`` is not valid for this option.

        Raises
        ------
        TypeError
            For a value of the wrong type (the message names the option and what it takes).
        ValueError
            For a value of the right type but out of range or not among the choices.
        """
        if value is None and self.nullable:
            return
        shown = repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "..."
        if not any(_is_instance(value, t) for t in self.types):
            raise TypeError(
                f"options[{self.name!r}] must be {self.expected()}, got {type(value).__name__} {shown}"
            )
        if self.choices and not any(_same(value, c) for c in self.choices):
            raise ValueError(f"options[{self.name!r}] must be {self.expected()}, got {shown}")
        if isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)):
            number = float(value)
            if (
                not math.isfinite(number)
                or (self.minimum is not None and number < self.minimum)
                or (self.maximum is not None and number > self.maximum)
            ):
                raise ValueError(f"options[{self.name!r}] must be {self.expected()}, got {shown}")


_TYPE_WORDS: dict[type, str] = {
    int: "an int", float: "a number", bool: "a bool (True or False)", str: "a str",
    os.PathLike: "a path (str or os.PathLike)", object: "any value",
}


def _is_instance(value: object, kind: type) -> bool:
    if kind is bool:
        return isinstance(value, (bool, np.bool_))
    if kind is int:
        return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))
    if kind is float:
        return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))
    return isinstance(value, kind)


def _same(value: object, choice: object) -> bool:
    """Equal and of the same kind: ``True`` is not the choice ``1``."""
    return type(value) is type(choice) and value == choice


def declare_options(*specs: OptionSpec) -> Mapping[str, OptionSpec]:
    """An engine's :attr:`Engine.options` mapping (name -> spec), read-only, in the given order."""
    names = [spec.name for spec in specs]
    if len(set(names)) != len(names):
        raise ValueError(f"option names must be unique, got {names}")
    return types.MappingProxyType({spec.name: spec for spec in specs})


@dataclasses.dataclass
class EngineOutput:
    """What an engine returns: the fused image and facts about the run."""

    image: np.ndarray
    device: str = "cpu"
    notes: list[str] = dataclasses.field(default_factory=list)
    provenance: dict[str, Any] = dataclasses.field(default_factory=dict)
    #: The visible image as the engine restored it in colour (haze, noise or low light:
    #: ``restoration.COLOUR_KINDS``), whose chroma a ``"luminance"`` result keeps; None keeps
    #: the input's chroma. An array of the engine's own: ``fuse`` writes the result into it
    #: (unless it shares memory with the request's visible image).
    colour: np.ndarray | None = None


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
    #: The engine-specific options it reads from ``FusionRequest.options``, with their types
    #: and ranges (see :func:`declare_options`); :func:`napari_textif.fuse` checks them.
    options: ClassVar[Mapping[str, OptionSpec]] = types.MappingProxyType({})
    #: The names of :attr:`options`, derived from it (``"checkpoint"`` makes the widget show a
    #: file picker). An engine that sets only ``option_names`` gets options of any value.
    option_names: ClassVar[tuple[str, ...]] = ()
    #: The device kinds the engine runs on besides ``"auto"`` (``"cuda"`` also allows ``"cuda:N"``).
    devices: ClassVar[tuple[str, ...]] = ("cpu", "cuda", "mps")
    #: Per degradation, the Controls strength this engine restores best with at each of
    #: :data:`napari_textif.severity.RESPONSE_STRENGTHS` of our simulator
    #: (``benchmarks/strength_response.py --engine NAME``); kinds left out are given their
    #: measured severity (:func:`napari_textif.severity.best_strength`).
    strength_response: ClassVar[Mapping[str, tuple[float, ...]]] = types.MappingProxyType({})

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "options" in cls.__dict__:
            wrong = [(key, spec) for key, spec in cls.options.items()
                     if not isinstance(spec, OptionSpec) or spec.name != key]
            if wrong:
                raise TypeError(f"{cls.__name__}.options must map each name to its OptionSpec, got {wrong}")
            cls.option_names = tuple(cls.options)
        elif "option_names" in cls.__dict__:
            cls.options = declare_options(*(OptionSpec(name) for name in cls.option_names))

    def check_options(self, options: object) -> dict[str, Any]:
        """Validate ``options`` against :attr:`options` and return them as a new dict.

        Raises
        ------
        TypeError
            If ``options`` is not a mapping, or an option's value has the wrong type.
        ValueError
            For an unknown option name (the message lists the known ones) or a value out of
            range.
        """
        if options is None:
            return {}
        if not isinstance(options, Mapping):
            raise TypeError(
                "options must be a mapping of option names to values, e.g. {'checkpoint': path}, "
                f"got {type(options).__name__}"
            )
        unknown = sorted((name for name in options if name not in self.options), key=repr)
        if unknown:
            known = ", ".join(self.options) or "none"
            raise ValueError(
                f"options {unknown} are not options of engine {self.name!r} (it takes: {known})"
            )
        for name, value in options.items():
            self.options[name].check(value)
        return dict(options)

    def check_device(self, device: object) -> None:
        """Check that ``device`` names a device this engine can run on (without importing torch).

        Whether such a device exists here is checked when the engine runs
        (:func:`resolve_device`).

        Raises
        ------
        TypeError
            If ``device`` is not a str.
        ValueError
            If the engine does not run on that kind of device.
        """
        if not isinstance(device, str):
            raise TypeError(f"device must be a str such as 'auto' or 'cpu', got {type(device).__name__}")
        match = _DEVICE.fullmatch(device)
        if device == "auto" or (match is not None and match.group(1) in self.devices):
            return
        forms = ["'auto'"]
        for kind in self.devices:
            forms += [repr(kind), "'cuda:N'"] if kind == "cuda" else [repr(kind)]
        where = "the CPU only" if self.devices == ("cpu",) else ", ".join(self.devices)
        raise ValueError(
            f"engine {self.name!r} runs on {where}: device must be "
            f"{', '.join(forms[:-1])} or {forms[-1]}, got {device!r}"
        )

    def availability(self, options: Mapping[str, Any] | None = None) -> Availability:
        """Say whether the engine can run with ``options``; override to check weights."""
        missing = [m for m in self.requires_modules if importlib.util.find_spec(m) is None]
        if missing:
            return Availability(False, f"needs the Python package(s) {', '.join(missing)}")
        return Availability(True)

    def tiling(self, options: Mapping[str, Any] | None = None) -> imaging.Tiling | None:
        """The tiles this engine cuts a large image into with ``options``; None: it has no tiling.

        :func:`napari_textif.fuse_stack` cuts frames past its memory budget on the same
        grid and blends them with the same window, so its result matches the engine's own.
        """
        return None

    @abc.abstractmethod
    def run(self, request: FusionRequest) -> EngineOutput:
        """Fuse ``request`` and return an image of the input's height and width."""


_DEVICE = re.compile(r"([a-z]+)(?::\d+)?")


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
