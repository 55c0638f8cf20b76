"""Weight records: a network's weights as safetensors with a JSON sidecar (sha256, config, training).

Shared by every trainable engine (``lite`` saves with it) and by the training
loop, which exports through it; engines read the records back themselves.
"""

from __future__ import annotations

import datetime
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from napari_textif.controls import CONTROL_NAMES, CONTROLS_VERSION
from napari_textif.io import atomic_open, atomic_path, file_sha256


def export_weights(
    model: Any,
    path: str | Path,
    *,
    engine: str,
    model_config: Mapping[str, Any],
    training: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Write ``model``'s weights as safetensors and a JSON sidecar beside it.

    The sidecar holds ``name``, ``engine``, ``format``, ``sha256`` of the weights
    file, the architecture ``config``, the Controls layout (``controls_version``,
    ``controls_names``), ``created`` and the ``training`` record (data sets,
    steps, metrics...). Both files are written atomically (:func:`napari_textif.io.atomic_path`).

    Returns
    -------
    dict
        The sidecar record.
    """
    from safetensors.torch import save_file

    from napari_textif import __version__

    path = Path(path)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    state = {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
    with atomic_path(path) as tmp:
        save_file(state, str(tmp), metadata={"engine": engine, "controls_version": str(CONTROLS_VERSION)})
        os.chmod(tmp, 0o644)
    record = {
        "name": path.stem,
        "engine": engine,
        "format": "safetensors",
        "sha256": file_sha256(path),
        "config": dict(model_config),
        "controls_version": CONTROLS_VERSION,
        "controls_names": list(CONTROL_NAMES),
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "napari_textif_version": __version__,
        "training": dict(training or {}),
    }
    sidecar = path.with_suffix(".json")
    with atomic_open(sidecar, "w", encoding="utf-8") as handle:
        handle.write(json.dumps(record, indent=2) + "\n")
    return record


def torch_load_problem(exc: BaseException, path: str | Path | None = None) -> tuple[bool, str]:
    """What ``torch.load(..., weights_only=True)`` objected to, in one line, without torch's advice.

    torch's messages suggest ``weights_only=False``, which would run whatever code
    the file carries; this package never loads untrusted files that way, so the
    advice is dropped and only the finding is kept.

    Parameters
    ----------
    exc : BaseException
        What ``torch.load`` raised.
    path : str or Path, optional
        The file; a plain Python pickle (which may carry code) that the safe
        loader cannot parse is then reported as refused rather than damaged.

    Returns
    -------
    refused : bool
        True when the file refers to Python objects that are not weights (it may
        carry code); False when it is damaged, truncated or not a torch file.
    reason : str
        One line for an error message.
    """
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))
    found = re.search(r"WeightsUnpickler error:\s*(.+?)(?:\n\s*\n|\Z)", text, re.S)
    detail = " ".join((found[1] if found else "").split())
    unsafe = re.search(r"GLOBAL (\S+)", detail or text)
    if unsafe:
        return True, f"it refers to the Python object {unsafe[1]}, which is not part of a weights file"
    if detail:
        first = re.split(r"(?<=\.)\s", detail, maxsplit=1)[0].rstrip(".")
        if path is not None and _is_pickle(Path(path)):
            return True, f"it is a Python pickle that the safe loader cannot read ({first})"
        return False, f"not a torch checkpoint, or a damaged one ({first})"
    lines = [
        line.strip() for line in text.splitlines()
        if line.strip() and "weights_only" not in line and "Weights only load failed" not in line
    ]
    if not lines:
        return False, f"not a torch checkpoint, or a damaged one ({type(exc).__name__})"
    first = re.split(r"(?<=\.)\s", lines[0], maxsplit=1)[0].rstrip(".")
    return False, f"not a torch checkpoint, or a damaged one ({first})"


def _is_pickle(path: Path) -> bool:
    """Whether ``path`` starts like a pickle of protocol 2 to 5 (``\\x80`` then the protocol)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(2)
    except OSError:
        return False
    return len(head) == 2 and head[0] == 0x80 and 2 <= head[1] <= 5
