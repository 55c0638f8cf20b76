"""Reading, checking and converting Text-IF weight files without running untrusted code.

Two formats are read:

* the authors' files (``simple_fusion.pth``, ``text_fusion.pth``,
  ``text_fusion_power.pth``): ``torch.save({"model": state_dict, ...})`` where the
  state dict holds the fusion network and, under ``model_clip.*``, the whole CLIP
  model in half precision. Training runs also store ``optimizer``,
  ``lr_scheduler``, ``epoch`` and ``args`` (an ``argparse.Namespace``). They are
  read with ``torch.load(weights_only=True)`` and only ``argparse.Namespace``
  allowed beyond tensors and plain containers, so a file carrying code is
  refused instead of executed;
* our safetensors export (``napari-textif convert-checkpoint``): the fusion
  tensors under their own names plus the CLIP *text* tower under ``model_clip.*``.

Every load reports the file's sha256 and checks keys and shapes against the
architecture, listing what is missing, unexpected or of the wrong shape.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import struct
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from napari_textif.engines.records import torch_load_problem
from napari_textif.engines.textif import clip_layout
from napari_textif.io import file_sha256

#: Metadata value that marks our own safetensors export.
EXPORT_FORMAT = "napari-textif/textif-v1"
#: Types a ``torch.load(weights_only=True)`` may build besides tensors and containers.
ALLOWED_GLOBALS: tuple[type, ...] = (argparse.Namespace,)


class CheckpointError(ValueError):
    """A weight file that cannot be used: unreadable, unsafe, or not a Text-IF checkpoint."""


@dataclasses.dataclass(frozen=True)
class KeyReport:
    """How a state dict's keys compare with what the architecture expects."""

    missing: tuple[str, ...] = ()
    unexpected: tuple[str, ...] = ()
    mismatched: tuple[tuple[str, tuple[int, ...], tuple[int, ...]], ...] = ()

    @property
    def ok(self) -> bool:
        """True when nothing is missing and every shape fits (extra keys are tolerated)."""
        return not self.missing and not self.mismatched

    def summary(self, limit: int = 8) -> str:
        """One paragraph for error messages and the CLI."""
        parts = []
        if self.missing:
            parts.append(f"{len(self.missing)} missing ({_head(self.missing, limit)})")
        if self.mismatched:
            shown = [f"{k}: expected {e}, got {g}" for k, e, g in self.mismatched[:limit]]
            parts.append(f"{len(self.mismatched)} of wrong shape ({'; '.join(shown)})")
        if self.unexpected:
            parts.append(f"{len(self.unexpected)} unexpected ({_head(self.unexpected, limit)})")
        return ", ".join(parts) if parts else "all keys and shapes match"


def _head(keys: tuple[str, ...], limit: int) -> str:
    more = f", ... {len(keys) - limit} more" if len(keys) > limit else ""
    return ", ".join(keys[:limit]) + more


@dataclasses.dataclass
class TextIFCheckpoint:
    """A verified Text-IF weight file.

    Attributes
    ----------
    path : Path
    sha256 : str
        Hex digest of the whole file.
    format : {"authors", "safetensors"}
    fusion : dict of str to Tensor
        The fusion network's state dict (float32).
    clip : dict of str to Tensor or None
        The CLIP text tower (OpenAI/open_clip key layout), or None if the file has none.
    report : KeyReport
    info : dict
        Other entries of the file that are worth showing (epoch, training arguments...).
    """

    path: Path
    sha256: str
    format: Literal["authors", "safetensors"]
    fusion: dict[str, Any]
    clip: dict[str, Any] | None
    report: KeyReport
    info: dict[str, Any] = dataclasses.field(default_factory=dict)


def is_safetensors(path: str | Path) -> bool:
    """Whether the file starts like a safetensors file (header length, then a JSON object)."""
    with open(path, "rb") as handle:
        head = handle.read(9)
    if len(head) < 9:
        return False
    (length,) = struct.unpack("<Q", head[:8])
    return head[8:9] == b"{" and 0 < length < Path(path).stat().st_size


def read_state_dict(path: str | Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Read a state dict and the file's other entries, never unpickling arbitrary objects.

    Returns
    -------
    state : dict of str to Tensor
    info : dict
        ``format`` plus, for training checkpoints, ``epoch`` and ``args``; for our
        export, its metadata.

    Raises
    ------
    CheckpointError
        If the file is missing, unreadable, refers to objects outside the allow-list,
        or holds no state dict.
    """
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"checkpoint {path} is a folder; expected a .pth or .safetensors file")
    if not path.is_file():
        raise CheckpointError(f"checkpoint file {path} does not exist")
    if is_safetensors(path):
        return _read_safetensors(path)
    return _read_torch_file(path)


def _read_safetensors(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file, safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = dict(handle.metadata() or {})
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"could not read safetensors file {path}: {exc}") from exc
    return state, {"format": "safetensors", "metadata": metadata}


def _read_torch_file(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    import pickle

    import torch

    try:
        with torch.serialization.safe_globals(list(ALLOWED_GLOBALS)):
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except MemoryError:
        raise
    except Exception as exc:  # the unpickler raises KeyError, IndexError... on arbitrary bytes
        refused, reason = torch_load_problem(exc, path)
        if refused and isinstance(exc, pickle.UnpicklingError):
            raise CheckpointError(
                f"refused to load {path}: {reason}; a file carrying Python objects could run code, "
                "so it is not loaded (official Text-IF checkpoints load without this error)"
            ) from exc
        raise CheckpointError(f"could not read {path}: {reason}") from exc
    return _split_torch_object(obj, path)


def _split_torch_object(obj: object, path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    import torch

    if isinstance(obj, Mapping) and isinstance(obj.get("model"), Mapping):
        state, extra = dict(obj["model"]), {k: v for k, v in obj.items() if k != "model"}
    elif isinstance(obj, Mapping) and isinstance(obj.get("state_dict"), Mapping):
        state, extra = dict(obj["state_dict"]), {k: v for k, v in obj.items() if k != "state_dict"}
    elif isinstance(obj, Mapping):
        state, extra = dict(obj), {}
    else:
        raise CheckpointError(f"{path} holds a {type(obj).__name__}, not a state dict")
    if not state or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path} holds no state dict of tensors (top-level keys: {list(obj)[:8]})")
    info: dict[str, Any] = {"format": "authors", "entries": sorted(str(k) for k in extra)}
    if "epoch" in extra:
        info["epoch"] = extra["epoch"]
    if isinstance(extra.get("args"), argparse.Namespace):
        info["args"] = {k: v for k, v in vars(extra["args"]).items() if _is_plain(v)}
    return state, info


def _is_plain(value: object) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def expected_fusion_shapes() -> dict[str, tuple[int, ...]]:
    """Keys and shapes of the fusion network's state dict (built on the meta device, no memory)."""
    import torch

    from napari_textif.engines.textif.net import TextIFNet

    with torch.device("meta"):
        net = TextIFNet()
    return {k: tuple(v.shape) for k, v in net.state_dict().items()}


def compare_keys(state: Mapping[str, Any], expected: Mapping[str, tuple[int, ...]]) -> KeyReport:
    """Compare a state dict with the expected keys and shapes."""
    missing = tuple(k for k in expected if k not in state)
    unexpected = tuple(k for k in state if k not in expected)
    mismatched = tuple(
        (k, tuple(expected[k]), tuple(state[k].shape))
        for k in expected
        if k in state and tuple(state[k].shape) != tuple(expected[k])
    )
    return KeyReport(missing, unexpected, mismatched)


def split_state(state: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Separate a Text-IF state dict into its fusion part and its ``model_clip.*`` part."""
    prefix = clip_layout.CHECKPOINT_PREFIX
    fusion, clip = {}, {}
    for key, value in state.items():
        key = key.removeprefix("module.")
        if key.startswith(prefix):
            clip[key.removeprefix(prefix)] = value
        else:
            fusion[key] = value
    return fusion, clip


def load_checkpoint(path: str | Path) -> TextIFCheckpoint:
    """Read and verify a Text-IF checkpoint (authors' ``.pth`` or our safetensors export).

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    TextIFCheckpoint
        Fusion weights in float32; the CLIP text tower as stored (usually float16),
        or None when the file carries none.

    Raises
    ------
    CheckpointError
        For an unsafe or unreadable file, or when fusion keys are missing or of the
        wrong shape (the message lists them).
    """
    path = Path(path)
    state, info = read_state_dict(path)
    fusion, clip = split_state(state)
    report = compare_keys(fusion, expected_fusion_shapes())
    if not report.ok:
        raise CheckpointError(f"{path} is not a Text-IF checkpoint: {report.summary()}")
    text_state = clip_layout.text_tower_state(clip)
    if clip and clip_layout.check_text_tower(text_state):
        problems = "; ".join(clip_layout.check_text_tower(text_state)[:5])
        raise CheckpointError(f"{path}: its model_clip.* part is not a CLIP ViT-B/32 text tower: {problems}")
    fusion = {k: v.float() for k, v in fusion.items() if k not in report.unexpected}
    return TextIFCheckpoint(
        path=path,
        sha256=file_sha256(path),
        format="safetensors" if info["format"] == "safetensors" else "authors",
        fusion=fusion,
        clip=text_state or None,
        report=report,
        info=info,
    )


def export_safetensors(checkpoint: TextIFCheckpoint, destination: str | Path) -> str:
    """Write ``checkpoint`` (fusion + CLIP text tower) as safetensors; returns the new sha256.

    The fusion tensors keep their names; the CLIP text tower is stored under
    ``model_clip.*`` in its original precision. The metadata records the source
    file's name and sha256.
    """
    from safetensors.torch import save_file

    tensors = {k: v.contiguous() for k, v in checkpoint.fusion.items()}
    for key, value in (checkpoint.clip or {}).items():
        tensors[clip_layout.CHECKPOINT_PREFIX + key] = value.contiguous()
    metadata = {
        "format": EXPORT_FORMAT,
        "source_name": checkpoint.path.name,
        "source_sha256": checkpoint.sha256,
        "source_info": json.dumps(_json_safe(checkpoint.info)),
    }
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(destination), metadata=metadata)
    return file_sha256(destination)


def _json_safe(info: Mapping[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(info, default=str))
