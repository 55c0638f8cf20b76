"""Weight records: a network's weights as safetensors with a JSON sidecar (sha256, config, training).

Shared by every trainable engine (``lite`` saves with it) and by the training
loop, which exports through it; engines read the records back themselves.
"""

from __future__ import annotations

import datetime
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from napari_textif.controls import CONTROL_NAMES, CONTROLS_VERSION
from napari_textif.io import file_sha256


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
    steps, metrics...). Both files are written atomically.

    Returns
    -------
    dict
        The sidecar record.
    """
    from safetensors.torch import save_file

    from napari_textif import __version__

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    state = {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    save_file(state, str(tmp), metadata={"engine": engine, "controls_version": str(CONTROLS_VERSION)})
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    record = {
        "name": path.stem,
        "engine": engine,
        "format": "safetensors",
        "sha256": file_sha256(path),
        "config": dict(model_config),
        "controls_version": CONTROLS_VERSION,
        "controls_names": list(CONTROL_NAMES),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "napari_textif_version": __version__,
        "training": dict(training or {}),
    }
    sidecar = path.with_suffix(".json")
    tmp_json = sidecar.with_name(f".{sidecar.name}.tmp-{os.getpid()}")
    tmp_json.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp_json, sidecar)
    return record
