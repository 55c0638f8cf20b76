"""Training: the degradation simulator, data sets, losses and the training loop.

A wing used by the ``train`` and ``degrade`` commands and by benchmarks; nothing in
the core, the API or the engines imports it (a test checks). ``loop`` is the
training loop, ``datasets`` the pair data sets, ``degrade`` the simulator and
``losses`` the fusion losses.

``TrainConfig``, ``TrainResult`` and ``train`` are importable from here; they are
loaded on first use, so ``import napari_textif.training.degrade`` does not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {"TrainConfig", "TrainResult", "train"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module("napari_textif.training.loop"), name)
    raise AttributeError(f"module 'napari_textif.training' has no attribute {name!r}")
