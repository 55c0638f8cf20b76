"""The plugin's settings, read in one place: defaults < config file < napari < environment.

Every face and engine asks :func:`load` instead of reading environment variables
or the config file itself. The sources, from weakest to strongest:

1. the defaults (:data:`DEFAULTS`);
2. the user config file (:func:`config_path`, JSON), e.g.
   ``{"engine": "lite", "device": "cpu", "threads": 2, "cache_dir": "/data/cache",
   "textif": {"checkpoint": "/data/text_fusion.pth"}}``;
3. napari's Preferences (the ``configurations`` contribution of ``napari.yaml``),
   which only the napari widget can read: it passes them in with
   :func:`use_napari_settings`. A napari value equal to its default counts as
   "not set", so that napari's untouched defaults never hide the config file;
4. the environment variables (:data:`ENV`), e.g. ``NAPARI_TEXTIF_CHECKPOINT``.

Explicit arguments (an engine's ``options``, a CLI flag, a widget control) win
over all of them. This module is part of the core: it imports neither napari,
nor Qt, nor torch.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

#: The settings and their defaults ("" and 0: automatic / the engine's own default).
DEFAULTS: dict[str, Any] = {
    "engine": "",
    "device": "auto",
    "threads": 0,
    "checkpoint": "",
    "cache_dir": "",
    "allow_download": False,
    "sample_url": "",
    "warm_up": True,
    "scheduler": "",
}
#: The environment variable of each setting.
ENV: dict[str, str] = {
    "engine": "NAPARI_TEXTIF_ENGINE",
    "device": "NAPARI_TEXTIF_DEVICE",
    "threads": "NAPARI_TEXTIF_THREADS",
    "checkpoint": "NAPARI_TEXTIF_CHECKPOINT",
    "cache_dir": "NAPARI_TEXTIF_CACHE",
    "allow_download": "NAPARI_TEXTIF_ALLOW_DOWNLOAD",
    "sample_url": "NAPARI_TEXTIF_SAMPLE_URL",
    "warm_up": "NAPARI_TEXTIF_WARMUP",
    "scheduler": "NAPARI_TEXTIF_SCHEDULER",
}
#: Where each setting lives in the config file (a key path in the JSON object).
CONFIG_KEYS: dict[str, tuple[str, ...]] = {
    "engine": ("engine",),
    "device": ("device",),
    "threads": ("threads",),
    "checkpoint": ("textif", "checkpoint"),
    "cache_dir": ("cache_dir",),
    "allow_download": ("textif", "allow_download"),
    "sample_url": ("sample_url",),
    "warm_up": ("warm_up",),
    "scheduler": ("scheduler",),
}
#: napari's property names (``napari.yaml``, configuration ``general``) -> setting.
NAPARI_KEYS: dict[str, str] = {
    "default_engine": "engine",
    "device": "device",
    "cpu_threads": "threads",
    "textif_checkpoint": "checkpoint",
    "cache_folder": "cache_dir",
    "dask_scheduler": "scheduler",
}
ENV_CONFIG_DIR = "NAPARI_TEXTIF_CONFIG_DIR"
DEVICES = ("auto", "cpu", "cuda", "mps")
APP_NAME = "napari-textif"

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
_napari_values: dict[str, Any] = {}
_lock = threading.Lock()


@dataclasses.dataclass(frozen=True)
class Settings:
    """The merged settings and where each value came from.

    Attributes
    ----------
    engine : str
        Default engine name ("" : the first available of the registry's order).
    device : str
        ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps``.
    threads : int
        CPU threads for torch engines (0: the engine's default).
    checkpoint : str
        The Text-IF checkpoint file ("" : none configured).
    cache_dir : str
        The cache folder ("" : :func:`default_cache_dir`).
    allow_download : bool
        Let the textif engine download CLIP weights.
    sample_url : str
        Where the real sample pair is downloaded from ("" : the pinned default).
    warm_up : bool
        Whether the napari widget warms the default engine up when it opens.
    scheduler : str
        A dask.distributed scheduler address for whole-stack results too big for memory
        ("" : computed by threads in the napari process).
    origins : dict of str to str
        For each setting not at its default: ``"config file <path>"``,
        ``"napari preferences"`` or ``"$VARIABLE"``.
    problems : tuple of str
        Values that were ignored because they were invalid, with why.
    """

    engine: str = ""
    device: str = "auto"
    threads: int = 0
    checkpoint: str = ""
    cache_dir: str = ""
    allow_download: bool = False
    sample_url: str = ""
    warm_up: bool = True
    scheduler: str = ""
    origins: dict[str, str] = dataclasses.field(default_factory=dict)
    problems: tuple[str, ...] = ()

    def cache_folder(self) -> Path:
        """The cache folder as a path (the configured one or :func:`default_cache_dir`)."""
        return Path(self.cache_dir).expanduser() if self.cache_dir else default_cache_dir()

    def engine_options(self, option_names: tuple[str, ...]) -> dict[str, Any]:
        """The configured options for an engine taking ``option_names`` (the CPU threads, if set).

        Examples
        --------
        >>> Settings(threads=2).engine_options(("threads", "checkpoint"))
        {'threads': 2}
        >>> Settings(threads=2).engine_options(())
        {}
        """
        return {"threads": self.threads} if self.threads and "threads" in option_names else {}


def config_path() -> Path:
    """The user config file: ``<platform config dir>/napari-textif/config.json``.

    ``$NAPARI_TEXTIF_CONFIG_DIR`` overrides the folder.
    """
    override = os.environ.get(ENV_CONFIG_DIR)
    if override:
        return Path(override) / "config.json"
    if sys.platform == "win32":
        base = Path(os.environ.get("APPDATA", Path.home() / "AppData" / "Roaming"))
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config"))
    return base / APP_NAME / "config.json"


def default_cache_dir() -> Path:
    """The user cache folder (the one ``pooch.os_cache("napari-textif")`` uses)."""
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
        return base / APP_NAME / APP_NAME / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / APP_NAME
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / APP_NAME


def read_config() -> dict[str, Any]:
    """The whole user config file as a dict (empty if absent, unreadable or not an object)."""
    try:
        data = json.loads(config_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def use_napari_settings(values: Mapping[str, Any] | None) -> None:
    """Record napari's plugin settings (keys of :data:`NAPARI_KEYS`); None forgets them.

    The napari widget calls this: the core cannot import napari.
    """
    found = {NAPARI_KEYS[k]: v for k, v in (values or {}).items() if k in NAPARI_KEYS}
    with _lock:
        _napari_values.clear()
        _napari_values.update(found)


def load() -> Settings:
    """Merge defaults < config file < napari settings < environment variables.

    Returns
    -------
    Settings
        Invalid values are skipped (the weaker source's value stays) and listed in
        ``problems``.
    """
    values = dict(DEFAULTS)
    origins: dict[str, str] = {}
    problems: list[str] = []
    config = read_config()
    with _lock:
        napari_values = dict(_napari_values)
    for name in DEFAULTS:
        candidates = [
            (_dig(config, CONFIG_KEYS[name]), f"config file {config_path()}", False),
            (napari_values.get(name), "napari preferences", True),
            (os.environ.get(ENV[name]), f"${ENV[name]}", False),
        ]
        for raw, origin, default_is_unset in candidates:
            if raw is None:
                continue
            try:
                value = _convert(name, raw)
            except ValueError as exc:
                problems.append(f"{origin}: {name} {exc}; ignored")
                continue
            if default_is_unset and value == DEFAULTS[name]:
                continue
            values[name] = value
            origins[name] = origin
    return Settings(**values, origins=origins, problems=tuple(problems))


def _dig(data: Mapping[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        if not isinstance(data, Mapping) or key not in data:
            return None
        data = data[key]
    return data


def _convert(name: str, raw: Any) -> Any:
    """``raw`` as the type of setting ``name`` (strings from the environment are parsed)."""
    kind = type(DEFAULTS[name])
    if kind is bool:
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in _TRUE | _FALSE:
            return text in _TRUE
        raise ValueError(f"must be true/false (1/0), got {raw!r}")
    if kind is int:
        try:
            number = int(str(raw).strip() or 0) if not isinstance(raw, bool) else None
        except ValueError:
            number = None
        if number is None or number < 0:
            raise ValueError(f"must be a whole number >= 0, got {raw!r}")
        return number
    text = "" if raw is None else str(raw).strip()
    if name == "device" and text and text.split(":")[0] not in DEVICES:
        raise ValueError(f"must be one of {', '.join(DEVICES)} (or cuda:N), got {raw!r}")
    return text or DEFAULTS[name]
