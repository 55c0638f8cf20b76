"""The engine registry: engines are listed by name and imported only when used.

Examples
--------
>>> from napari_textif.engines import list_engines
>>> "classic" in [info.name for info in list_engines()]
True
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
from collections.abc import Mapping
from typing import Any

from napari_textif.engines.base import (
    Availability,
    Engine,
    EngineOutput,
    EngineUnavailable,
    FusionCancelled,
    FusionRequest,
)

__all__ = [
    "Availability",
    "Engine",
    "EngineInfo",
    "EngineOutput",
    "EngineUnavailable",
    "FusionCancelled",
    "FusionRequest",
    "default_engine",
    "get_engine",
    "list_engines",
    "register_engine",
]

#: name -> "module:Class"; engines listed first are preferred as the default.
_REGISTRY: dict[str, str] = {
    "lite": "napari_textif.engines.lite.engine:LiteEngine",
    "classic": "napari_textif.engines.classic.engine:ClassicEngine",
    "textif": "napari_textif.engines.textif.engine:TextIFEngine",
}
DEFAULT_ORDER: tuple[str, ...] = ("lite", "classic")
_INSTANCES: dict[str, Engine] = {}


@dataclasses.dataclass(frozen=True)
class EngineInfo:
    """A registry row: what the engine is and whether it can run here."""

    name: str
    description: str
    needs: tuple[str, ...]
    output: str
    trainable: bool
    availability: Availability


def register_engine(name: str, target: str | type[Engine]) -> None:
    """Register an engine class (or its ``"module:Class"`` path) under ``name``."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a non-empty string, got {name!r}")
    if isinstance(target, str):
        _REGISTRY[name] = target
    else:
        _REGISTRY[name] = f"{target.__module__}:{target.__qualname__}"
    _INSTANCES.pop(name, None)


def engine_names() -> list[str]:
    """Names of the registered engines whose module exists in this installation."""
    return [n for n in _REGISTRY if _module_exists(_REGISTRY[n])]


def _module_exists(target: str) -> bool:
    return importlib.util.find_spec(target.split(":")[0]) is not None


def get_engine(name: str) -> Engine:
    """Return the (cached) engine registered under ``name``.

    Raises
    ------
    ValueError
        If no engine has that name; the message lists the known ones.
    """
    if not isinstance(name, str) or name not in engine_names():
        raise ValueError(f"engine must be one of {', '.join(engine_names())}, got {name!r}")
    if name not in _INSTANCES:
        module_name, class_name = _REGISTRY[name].split(":")
        cls = getattr(importlib.import_module(module_name), class_name)
        _INSTANCES[name] = cls()
    return _INSTANCES[name]


def list_engines(options: Mapping[str, Any] | None = None) -> list[EngineInfo]:
    """Describe every registered engine and whether it is available with ``options``."""
    rows = []
    for name in engine_names():
        engine = get_engine(name)
        rows.append(
            EngineInfo(
                name=name,
                description=engine.description,
                needs=engine.needs,
                output=engine.output,
                trainable=engine.trainable,
                availability=engine.availability(options),
            )
        )
    return rows


def default_engine() -> str:
    """The first available engine of :data:`DEFAULT_ORDER` (``classic`` as the last resort)."""
    for name in DEFAULT_ORDER:
        if name in engine_names() and get_engine(name).availability().available:
            return name
    return "classic"
