"""The ``textif`` engine: the paper's network and CLIP text encoder, on the authors' weights.

The user downloads an official checkpoint (``simple_fusion.pth``,
``text_fusion.pth`` or ``text_fusion_power.pth``) and points the engine at it
with ``options={"checkpoint": path}`` (CLI ``--checkpoint``), the environment
variable ``NAPARI_TEXTIF_CHECKPOINT``, or ``{"checkpoint": path}`` in the user
config file (:func:`config_path`). The engine feeds the network as the paper
does -- RGB in ``[0, 1]``, visible to encoder A, infrared as three equal
channels to encoder B -- and returns the network's own RGB output clamped to
``[0, 1]``. Any size works: the pair is reflect-padded to a multiple of 8 and
cropped back, and past a memory budget it is processed in overlapping tiles
(which narrow the global attention context, so the whole image is preferred
while it fits). Importing this module does not import torch.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np

from napari_textif import imaging, settings
from napari_textif.engines.base import (
    Availability,
    Engine,
    EngineOutput,
    EngineUnavailable,
    FusionRequest,
    OptionSpec,
    declare_options,
    resolve_device,
)

#: The variables :mod:`napari_textif.settings` reads for this engine (named here for messages).
ENV_CHECKPOINT = settings.ENV["checkpoint"]
ENV_CONFIG_DIR = settings.ENV_CONFIG_DIR
SIZE_MULTIPLE = 8
#: Peak bytes of an untiled float32 CPU run with strip-wise blocks: a fixed part (torch,
#: weights, strip buffers) plus a part per padded pixel. benchmarks/textif_speed.py measured
#: peak RSS 2110 MiB at 640x480, 2701 MiB at 1024x1024 and 7597 MiB at 2048x2048; these
#: constants bound the two larger ones from above.
BYTES_PER_PIXEL = 1650
FIXED_BYTES = 1_200_000_000
DEFAULT_MEMORY_BUDGET_MB = 8000
DEFAULT_OVERLAP = 64
MIN_TILE = 128
PRECISIONS = ("auto", "fp32", "fp16", "bf16")


def config_path() -> Path:
    """The user config file (:func:`napari_textif.settings.config_path`).

    ``$NAPARI_TEXTIF_CONFIG_DIR`` overrides the folder. The file is JSON, e.g.
    ``{"textif": {"checkpoint": "/data/text_fusion.pth"}}``.
    """
    return settings.config_path()


def find_checkpoint(options: Mapping[str, Any] | None) -> tuple[Path | None, str]:
    """The configured checkpoint path and where it was configured.

    ``options["checkpoint"]`` first, then :func:`napari_textif.settings.load`
    (environment > napari preferences > config file).
    """
    value = (options or {}).get("checkpoint")
    if value:
        return Path(str(value)).expanduser(), "options['checkpoint']"
    configured = settings.load()
    if configured.checkpoint:
        origin = configured.origins.get("checkpoint", "settings")
        origin = str(config_path()) if origin.startswith("config file ") else origin
        return Path(configured.checkpoint).expanduser(), origin
    return None, ""


@dataclasses.dataclass
class _Loaded:
    """A network and text encoder built from one checkpoint file."""

    key: tuple[str, int, int]
    sha256: str
    net: Any
    text: Any
    fmt: str


class TextIFEngine(Engine):
    """Text-IF (CVPR 2024) on the authors' checkpoints, guided by CLIP features of the prompt.

    Options
    -------
    checkpoint : path
        An official ``.pth`` file or our safetensors export (required unless configured
        by environment or config file).
    clip_weights : path
        CLIP weights when the checkpoint carries none.
    allow_download : bool
        Let open_clip download the CLIP weights if nothing local has them.
    precision : {"auto", "fp32", "fp16", "bf16"}
        ``auto`` is fp32 (the reference result); fp16/bf16 use autocast on CUDA only.
    tile_size, tile_overlap : int
        Force tiling with these sizes (default: tile only past the memory budget).
    memory_budget_mb : float
        Untiled runs whose estimated peak exceeds this are tiled (default on CPU: 60 % of
        the installed RAM, 8000 where unknown; on CUDA 80 % of the free memory).
    """

    name: ClassVar[str] = "textif"
    options: ClassVar[Mapping[str, OptionSpec]] = declare_options(
        OptionSpec("checkpoint", (str, os.PathLike), "an official .pth file or our safetensors "
                   "export (default: $NAPARI_TEXTIF_CHECKPOINT, then the config file)", nullable=True),
        OptionSpec("clip_weights", (str, os.PathLike), "CLIP weights when the checkpoint "
                   "carries none", nullable=True),
        OptionSpec("allow_download", (bool,), "let open_clip download the CLIP weights"),
        OptionSpec("precision", (str,), "fp16/bf16 use autocast on CUDA only", choices=PRECISIONS),
        OptionSpec("tile_size", (int,), "force tiles of this side (default: tile only past the "
                   "memory budget)", minimum=MIN_TILE, nullable=True),
        OptionSpec("tile_overlap", (int,), f"overlap of tiles in pixels (default {DEFAULT_OVERLAP})",
                   minimum=0),
        OptionSpec("memory_budget_mb", (float,), "tile when the estimated peak exceeds this "
                   "(default: from the installed or free memory)", minimum=1, nullable=True),
    )
    description: ClassVar[str] = (
        "The paper's Text-IF network with CLIP text guidance, on the authors' checkpoints "
        "(RGB output, any size, tiled when large)"
    )
    output: ClassVar[Literal["luminance", "rgb"]] = "rgb"
    needs: ClassVar[tuple[str, ...]] = ("torch", "open_clip_torch", "an official Text-IF checkpoint")
    requires_modules: ClassVar[tuple[str, ...]] = ("torch", "open_clip", "safetensors")

    def __init__(self) -> None:
        self._loaded: _Loaded | None = None
        self._lock = threading.Lock()

    def availability(self, options: Mapping[str, Any] | None = None) -> Availability:
        """Available when the modules import and a checkpoint file is configured and exists."""
        base = super().availability(options)
        if not base.available:
            return base
        path, origin = find_checkpoint(options)
        if path is None:
            return Availability(
                False,
                "no Text-IF checkpoint configured: download simple_fusion.pth, text_fusion.pth or "
                "text_fusion_power.pth from the authors and pass options={'checkpoint': path} "
                f"(CLI --checkpoint), set ${ENV_CHECKPOINT}, or add {{\"textif\": {{\"checkpoint\": "
                f"path}}}} to {config_path()}",
            )
        if not path.is_file():
            return Availability(False, f"checkpoint {path} (from {origin}) does not exist")
        return Availability(True)

    def run(self, request: FusionRequest) -> EngineOutput:
        """Fuse the pair with the network's own RGB output (clamped to ``[0, 1]``)."""
        import torch

        options = dict(request.options)
        device = resolve_device(request.device)
        precision = _precision(options.get("precision", "auto"), device)
        request.report(0.0, "loading the Text-IF checkpoint")
        loaded = self._load(options)
        request.report(0.1, "encoding the prompt with CLIP")
        text = loaded.text.encode(request.prompt)
        notes = _prompt_notes(loaded.text, request.prompt)
        visible, infrared = _network_inputs(request.visible, request.infrared)
        runner = _Runner(loaded.net, text, precision, request)
        with torch.inference_mode():
            fused, used_device, tiling, run_notes = runner.fuse(visible, infrared, device, options)
        provenance = {
            "checkpoint": loaded.key[0],
            "checkpoint_sha256": loaded.sha256,
            "checkpoint_format": loaded.fmt,
            "clip_source": loaded.text.source,
            "prompt": request.prompt,
            "device": used_device,
            "precision": precision if used_device.startswith("cuda") else "fp32",
            "attention": "sdpa",
            "tiling": tiling,
        }
        request.report(1.0, "done")
        return EngineOutput(np.clip(fused, 0.0, 1.0), used_device, notes + run_notes, provenance)

    def _load(self, options: Mapping[str, Any]) -> _Loaded:
        path, _ = find_checkpoint(options)
        if path is None or not path.is_file():
            raise EngineUnavailable(self.availability(options).reason)
        stat = path.stat()
        key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
        with self._lock:
            if self._loaded is None or self._loaded.key != key:
                self._loaded = None
                self._loaded = _load_checkpoint(key, options)
            return self._loaded


def _load_checkpoint(key: tuple[str, int, int], options: Mapping[str, Any]) -> _Loaded:
    from napari_textif.engines.textif import checkpoints, text_encoder
    from napari_textif.engines.textif.net import TextIFNet

    ckpt = checkpoints.load_checkpoint(key[0])
    allow = bool(options.get("allow_download")) or settings.load().allow_download
    try:
        text = text_encoder.load_text_encoder(
            checkpoint_clip=ckpt.clip,
            checkpoint_source=f"checkpoint:{ckpt.sha256[:12]}",
            clip_weights=options.get("clip_weights"),
            allow_download=allow,
        )
    except text_encoder.TextEncoderUnavailable as exc:
        raise EngineUnavailable(f"textif: {exc}") from exc
    net = TextIFNet().eval().requires_grad_(False)
    net.load_state_dict(ckpt.fusion)
    return _Loaded(key, ckpt.sha256, net, text, ckpt.format)


def _precision(value: object, device: str) -> str:
    if value not in PRECISIONS:
        raise ValueError(f"options['precision'] must be one of {', '.join(PRECISIONS)}, got {value!r}")
    if value == "auto" or not device.startswith("cuda"):
        return "fp32"
    return str(value)


def _prompt_notes(text: Any, prompt: str) -> list[str]:
    notes = []
    if not prompt.strip():
        notes.append("textif: empty prompt; the network is guided by CLIP's feature of an empty text")
    if text.was_truncated(prompt):
        notes.append("textif: the prompt is longer than CLIP's 77 tokens; its end was ignored")
    return notes


def _network_inputs(visible: np.ndarray, infrared: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(H, W, 3)`` float32 arrays as the paper feeds them (gray images as 3 equal channels)."""
    as_rgb = [
        np.repeat(im[:, :, None], 3, axis=2) if im.ndim == 2 else im for im in (visible, infrared)
    ]
    return as_rgb[0].astype(np.float32, copy=False), as_rgb[1].astype(np.float32, copy=False)


class _Runner:
    """Runs the network on a whole image or on tiles, retrying CUDA out-of-memory errors."""

    def __init__(self, net: Any, text: Any, precision: str, request: FusionRequest) -> None:
        self.net, self.text, self.precision, self.request = net, text, precision, request

    def fuse(
        self, visible: np.ndarray, infrared: np.ndarray, device: str, options: Mapping[str, Any]
    ) -> tuple[np.ndarray, str, dict[str, Any] | None, list[str]]:
        tile = _tile_plan(visible.shape[:2], device, options)
        overlap = int(options.get("tile_overlap", DEFAULT_OVERLAP))
        notes: list[str] = []
        while True:
            try:
                return (*self._attempt(visible, infrared, device, tile, overlap), notes)
            except Exception as exc:
                if not _is_oom(exc) or device == "cpu":
                    raise
                tile, device, note = _after_oom(visible.shape[:2], tile, overlap, device)
                notes.append(note)

    def _attempt(
        self, visible: np.ndarray, infrared: np.ndarray, device: str, tile: int | None, overlap: int
    ) -> tuple[np.ndarray, str, dict[str, Any] | None]:
        self.net.to(device)
        if tile is None:
            self.request.report(0.2, "running the network on the whole image")
            return self._run_one(visible, infrared, device), device, None
        grid = imaging.tile_grid(visible.shape[:2], tile, overlap)

        def progress(done: int, total: int) -> None:
            self.request.report(0.2 + 0.8 * done / total, f"tile {done} of {total}")

        fused = imaging.tiled(
            lambda vis, ir: self._run_one(vis, ir, device), (visible, infrared),
            tile=tile, overlap=overlap, progress=progress,
        )
        return fused, device, {"tile_size": tile, "tile_overlap": overlap, "tiles": len(grid)}

    def _run_one(self, visible: np.ndarray, infrared: np.ndarray, device: str) -> np.ndarray:
        import torch

        vis, shape = imaging.pad_to_multiple(visible, SIZE_MULTIPLE)
        ir, _ = imaging.pad_to_multiple(infrared, SIZE_MULTIPLE)
        tensors = [torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1)))[None].to(device)
                   for a in (vis, ir)]
        text = self.text.to(device)
        kind = device.split(":")[0]
        dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(self.precision)
        enabled = dtype is not None and kind == "cuda"
        with torch.autocast(kind, dtype=dtype or torch.float32, enabled=enabled):
            out = self.net(tensors[0], tensors[1], text)
        fused = out[0].float().permute(1, 2, 0).cpu().numpy()
        return imaging.crop_to(fused, shape)


def estimate_bytes(shape: tuple[int, int]) -> int:
    """Estimated peak memory of an untiled float32 run on a padded ``shape``."""
    h, w = (-(-s // SIZE_MULTIPLE) * SIZE_MULTIPLE for s in shape)
    return FIXED_BYTES + BYTES_PER_PIXEL * h * w


def _budget_bytes(device: str, options: Mapping[str, Any]) -> float:
    if options.get("memory_budget_mb"):
        return float(options["memory_budget_mb"]) * 1e6
    if device.startswith("cuda"):
        import torch

        free, _ = torch.cuda.mem_get_info(torch.device(device))
        return 0.8 * free
    installed = _physical_memory()
    return 0.6 * installed if installed < float("inf") else DEFAULT_MEMORY_BUDGET_MB * 1e6


def _physical_memory() -> float:
    """Installed RAM in bytes (infinite where the platform does not say)."""
    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return float("inf")


def _tile_plan(shape: tuple[int, int], device: str, options: Mapping[str, Any]) -> int | None:
    """None for a whole-image run, else the tile side (a multiple of 8)."""
    if options.get("tile_size"):
        tile = int(options["tile_size"])
        if tile < MIN_TILE:
            raise ValueError(f"options['tile_size'] must be at least {MIN_TILE}, got {tile}")
        return tile // SIZE_MULTIPLE * SIZE_MULTIPLE
    budget = _budget_bytes(device, options)
    if estimate_bytes(shape) <= budget:
        return None
    side = int(((budget - FIXED_BYTES) / BYTES_PER_PIXEL) ** 0.5)
    return max(MIN_TILE, side // SIZE_MULTIPLE * SIZE_MULTIPLE)


def _is_oom(exc: BaseException) -> bool:
    import torch

    return isinstance(exc, torch.cuda.OutOfMemoryError) or "out of memory" in str(exc).lower()


def _after_oom(
    shape: tuple[int, int], tile: int | None, overlap: int, device: str
) -> tuple[int | None, str, str]:
    """Next (tile, device) after an out-of-memory error, with a note saying what changed."""
    import torch

    if device.startswith("cuda"):
        torch.cuda.empty_cache()
    current = tile if tile is not None else max(shape)
    smaller = current // 2 // SIZE_MULTIPLE * SIZE_MULTIPLE
    if smaller >= max(MIN_TILE, overlap * 2):
        return smaller, device, f"textif: out of memory on {device}; retried with {smaller}px tiles"
    return tile, "cpu", f"textif: out of memory on {device} even with small tiles; ran on the CPU"
