"""Text-guided, degradation-aware fusion of infrared and visible images.

Importing the package is cheap: the public names load their modules on first
use, so napari can read the plugin manifest without importing torch or Qt.

Examples
--------
>>> import napari_textif
>>> from napari_textif.samples import synthetic_pair
>>> ir, vis = synthetic_pair(shape=(48, 64))
>>> napari_textif.fuse(ir, vis, "dark visible image", engine="classic").image.shape
(48, 64, 3)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_LAZY = {
    "fuse": "napari_textif.api",
    "FusionResult": "napari_textif.api",
    "fuse_stack": "napari_textif.stacks",
    "Controls": "napari_textif.controls",
    "CONTROL_NAMES": "napari_textif.controls",
    "interpret": "napari_textif.interpretation",
    "Interpretation": "napari_textif.interpretation",
    "detect": "napari_textif.detection",
    "suggest_prompt": "napari_textif.detection",
    "list_engines": "napari_textif.engines",
    "get_engine": "napari_textif.engines",
    "FusionCancelled": "napari_textif.engines",
    "EngineUnavailable": "napari_textif.engines",
}

__all__ = ["__version__", *_LAZY]

if TYPE_CHECKING:  # pragma: no cover
    from napari_textif.api import FusionResult, fuse
    from napari_textif.controls import CONTROL_NAMES, Controls
    from napari_textif.detection import detect, suggest_prompt
    from napari_textif.engines import EngineUnavailable, FusionCancelled, get_engine, list_engines
    from napari_textif.interpretation import Interpretation, interpret
    from napari_textif.stacks import fuse_stack


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'napari_textif' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
