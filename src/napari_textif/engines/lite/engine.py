"""The ``lite`` engine: our small Controls-conditioned network with shipped weights.

The weights live in ``napari_textif/engines/lite/weights/lite_v2.safetensors`` beside a JSON
sidecar (architecture config, Controls layout, sha256, training record); the medical pair
kinds use ``lite_medical_v1`` (same architecture; :attr:`napari_textif.pairkinds.PairKind.weights`).
``lite_v3`` (wider, with context blocks; not the default, see docs/model-card.md) is shipped beside
them for ``options={"checkpoint": ...}``. The
engine is unavailable, with the reason, when torch is missing or the weights
are missing, altered or unreadable. Importing this module does not import torch.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import math
import os
import types
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from napari_textif import imaging
from napari_textif.controls import CONTROL_NAMES, Controls
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
from napari_textif.io import file_sha256
from napari_textif.pairkinds import DEFAULT_KIND, get_kind

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
DEFAULT_WEIGHTS = WEIGHTS_DIR / "lite_v2.safetensors"
#: Bytes of network memory per pixel of a tile (measured peak for inference on CPU, rounded up).
BYTES_PER_PIXEL = 400
DEFAULT_MEMORY_BUDGET_MB = 512
TILE_OVERLAP = 96
#: Fraction of the tile overlap at each inner tile edge left out of the blend
#: (:func:`napari_textif.imaging.tiled`): the network's output there saw the tile's padding.
#: Chosen on 4 validation pairs upscaled 2x (``benchmarks/tiling_seams.py``): tiled and whole
#: lite_v2 fusion differed by at most 0.78-3.26 grey levels per pair without a margin, 0.02-0.10
#: with 0.4; lite_v3 (overlap 312) by 4.20-7.95 without, 0.05-0.21 with 0.4.
BLEND_MARGIN = 0.4
#: Tile overlap in receptive radii (see :func:`tile_overlap`). lite_v3 (radius 206) at one
#: radius (208 px) and margin 0.4 still differed by 0.61-13.16 grey levels, at 1.5 (312 px) by
#: 0.05-0.21. lite_v2 (radius 62) keeps :data:`TILE_OVERLAP`, 96 px, either way.
OVERLAP_RADII = 1.5
MIN_TILE = 256
#: torch threads for CPU inference unless ``options["threads"]`` says otherwise (0: torch's
#: default). One thread: the network is small, so a second thread gains little on an idle
#: machine, while on a busy one (or beside napari's event loop) its synchronisation stalls
#: cost several times the work (see benchmarks/lite_speed.py).
DEFAULT_CPU_THREADS = 1
#: Degradations the engine restores with the classical steps of
#: :mod:`napari_textif.restoration` (on the whole image, before the network, which then
#: sees them as zero): the kinds where that measured better than the network's own
#: restoration on the selection set: our own simulator on training pairs and the real
#: training scenes (``benchmarks/restoration_selection.py --route classic|network``;
#: the table is in docs/restoration-benchmark.md). Haze went classic once the selection set
#: also scored how much naming it changes a clear pair: the network changed dark clear scenes
#: (SSIM to the neutral fusion down to 0.93), the colour dark channel hardly (0.99).
CLASSIC_RESTORED: frozenset[str] = frozenset(
    {"vis_low_light", "vis_noise", "vis_haze", "vis_blur", "ir_low_contrast", "ir_noise", "ir_stripe_noise"}
)


def sidecar_path(weights: Path) -> Path:
    """The JSON record that goes with a weights file."""
    return weights.with_suffix(".json")


@functools.lru_cache(maxsize=8)
def _check_weights_cached(path: str, mtime_ns: int, size: int) -> tuple[bool, str, dict[str, Any]]:
    weights = Path(path)
    side = sidecar_path(weights)
    if not side.is_file():
        return False, f"weights record {side} is missing", {}
    try:
        record = json.loads(side.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return False, f"weights record {side} is unreadable: {exc}", {}
    actual = file_sha256(weights)
    if record.get("sha256") != actual:
        return False, (f"weights {weights.name} fail the sha256 check (expected "
                       f"{record.get('sha256')}, got {actual}); reinstall the package"), {}
    if record.get("controls_names") not in (None, list(CONTROL_NAMES)):
        return False, f"weights {weights.name} were trained for another Controls layout", {}
    return True, "", record


def check_weights(weights: Path) -> tuple[bool, str, dict[str, Any]]:
    """Check that ``weights`` exists and matches the sha256 of its JSON sidecar.

    Returns
    -------
    ok : bool
    reason : str
        Why not, when ``ok`` is False.
    record : dict
        The sidecar's content when ``ok``.
    """
    if not weights.is_file():
        return False, f"weights file {weights} is missing", {}
    stat = weights.stat()
    return _check_weights_cached(str(weights), stat.st_mtime_ns, stat.st_size)


def save_weights(
    model: Any, path: str | Path, *, training: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Write ``model``'s weights as safetensors plus the JSON sidecar with their sha256.

    Parameters
    ----------
    model : LiteNet
    path : str or Path
        Target ``.safetensors`` file.
    training : mapping, optional
        Facts about how the weights were made (data, steps, hardware, metrics).

    Returns
    -------
    dict
        The sidecar record.
    """
    from napari_textif.engines.records import export_weights

    return export_weights(model, path, engine="lite", model_config=model.config.to_dict(), training=training)


def load_model(weights: Path, device: str) -> tuple[Any, dict[str, Any]]:
    """Load a checked LiteNet on ``device`` in eval mode (channels_last)."""
    ok, reason, record = check_weights(weights)
    if not ok:
        raise EngineUnavailable(reason)
    return _load_model_cached(str(weights), device, record["sha256"]), record


@functools.lru_cache(maxsize=4)
def _load_model_cached(path: str, device: str, sha256: str) -> Any:
    import torch
    from safetensors.torch import load_file

    from napari_textif.engines.lite.net import LiteNet, LiteNetConfig

    record = json.loads(sidecar_path(Path(path)).read_text(encoding="utf-8"))
    model = LiteNet(LiteNetConfig.from_mapping(record.get("config")))
    model.load_state_dict(load_file(path), strict=True)
    model.eval().to(device)
    if device == "cpu":
        model = model.to(memory_format=torch.channels_last)
    return model


def tile_overlap(weights: Path) -> int:
    """Tile overlap for ``weights``: :data:`TILE_OVERLAP`, or :data:`OVERLAP_RADII` times the
    network's receptive radius (:func:`~napari_textif.engines.lite.net.receptive_radius`) rounded
    up to the grid when larger. With the blend margin (:data:`BLEND_MARGIN`) every pixel kept from
    a tile lies at least 0.6 radii inside it, where the padding no longer reaches it measurably."""
    from napari_textif.engines.lite.net import MULTIPLE, LiteNetConfig, receptive_radius

    ok, _, record = check_weights(weights)
    if not ok:
        return TILE_OVERLAP
    radius = receptive_radius(LiteNetConfig.from_mapping(record.get("config")))
    return max(TILE_OVERLAP, -(-math.ceil(OVERLAP_RADII * radius) // MULTIPLE) * MULTIPLE)


def tile_size_for(budget_mb: float) -> int:
    """Largest tile side (a multiple of 8) whose network memory fits ``budget_mb``."""
    side = int(math.sqrt(budget_mb * 1e6 / BYTES_PER_PIXEL)) // 8 * 8
    return max(side, MIN_TILE)


@contextlib.contextmanager
def _cpu_threads(device: str, threads: object) -> Iterator[None]:
    """Run torch on ``threads`` CPU threads (0: leave torch's setting), restoring it afterwards."""
    import torch

    if device != "cpu" or not threads:
        yield
        return
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 0:
        raise ValueError(f"options['threads'] must be a non-negative int, got {threads!r}")
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _visible_ycbcr(visible: np.ndarray) -> np.ndarray:
    if visible.ndim == 3:
        return imaging.rgb_to_ycbcr(visible)
    return np.stack([visible, np.full_like(visible, 0.5), np.full_like(visible, 0.5)], axis=-1)


class LiteEngine(Engine):
    """Small Controls-conditioned fusion network (the default engine)."""

    name: ClassVar[str] = "lite"
    options: ClassVar[Mapping[str, OptionSpec]] = declare_options(
        OptionSpec("checkpoint", (str, os.PathLike), "weights from 'napari-textif train' "
                   "(default: the shipped lite_v2)", nullable=True),
        OptionSpec("tile_size", (int,), "tile side in pixels, rounded down to a multiple of 8 "
                   "(default: from memory_budget_mb)", minimum=2 * TILE_OVERLAP, nullable=True),
        OptionSpec("memory_budget_mb", (float,), "network memory per tile in MB "
                   f"(default {DEFAULT_MEMORY_BUDGET_MB})", minimum=1),
        OptionSpec("threads", (int,), "torch CPU threads; 0: torch's own setting "
                   f"(default {DEFAULT_CPU_THREADS})", minimum=0),
        OptionSpec("classic_restore", (bool,), "restore the kinds of CLASSIC_RESTORED with the "
                   "classic steps before the network (default True)"),
    )
    description: ClassVar[str] = (
        "Small Controls-conditioned fusion network with shipped weights; fast on a CPU, offline"
    )
    output: ClassVar[str] = "luminance"  # type: ignore[assignment]
    needs: ClassVar[tuple[str, ...]] = ("torch", "safetensors", "shipped lite_v2 weights")
    requires_modules: ClassVar[tuple[str, ...]] = ("torch", "safetensors")
    trainable: ClassVar[bool] = True
    #: Told the true simulator strength, the network over-corrects mild overexposure and rain
    #: (``benchmarks/strength_response.py`` prints the best strength of a grid by normalised
    #: SSIM gain on training pairs: overexposure 0.15 / 0.45 / 0.75, rain 0.2 / 0.3 / 0.53).
    #: Rain uses those points, with 0.6 at 0.9, the middle of the plateau 0.45-0.75 within 0.01
    #: of the best. For overexposure the lower curve won end to end on the selection set
    #: (``restoration_selection.py``), because the saturated fraction it is measured by
    #: over-reads some mild frames. Haze and infrared low-contrast curves lost there.
    strength_response: ClassVar[Mapping[str, tuple[float, ...]]] = types.MappingProxyType({
        "vis_overexposure": (0.1, 0.4, 0.6),
        "vis_rain": (0.2, 0.3, 0.6),
    })

    def availability(self, options: Mapping[str, Any] | None = None) -> Availability:
        """Available when torch and safetensors import and the weights pass the sha256 check."""
        base = super().availability(options)
        if not base.available:
            return base
        ok, reason, _ = check_weights(self.weights_path(options))
        return Availability(ok, reason)

    @staticmethod
    def weights_path(options: Mapping[str, Any] | None = None, kind: str = DEFAULT_KIND) -> Path:
        """The weights file: ``options["checkpoint"]`` (from ``napari-textif train``), else the
        shipped weights of the pair ``kind`` (``lite_v2`` for infrared/visible)."""
        value = (options or {}).get("checkpoint")
        if value:
            return Path(value)
        return WEIGHTS_DIR / f"{get_kind(kind).weights}.safetensors"

    def run(self, request: FusionRequest) -> EngineOutput:
        """Fuse ``request`` (tiled when the image exceeds the memory budget)."""
        import torch

        device = resolve_device(request.device)
        model, record = load_model(self.weights_path(request.options, request.kind), device)
        tiling = self.tiling(request.options, request.kind)
        tile = tiling.tile
        routed = CLASSIC_RESTORED if request.options.get("classic_restore", True) else frozenset()
        infrared, visible, net_controls, restored = restore_first(
            request.infrared, request.visible, request.controls, routed)
        if restored:
            request.report(0.0, "lite: restoring " + ", ".join(restored))
        controls = torch.tensor([net_controls.to_vector()], dtype=torch.float32, device=device)
        run_tile = functools.partial(self._fuse_tile, model, controls, device)
        request.report(0.0, "lite: fusing")
        with _cpu_threads(device, request.options.get("threads", DEFAULT_CPU_THREADS)):
            if max(infrared.shape) <= tile:
                fused, n_tiles = run_tile(infrared, visible), 1
            else:
                fused, n_tiles = self._run_tiled(run_tile, request, tiling, (infrared, visible))
        request.report(1.0, "lite: done")
        provenance = {
            "weights": record.get("name", "lite"), "weights_sha256": record["sha256"],
            "tiles": n_tiles, "tile_size": tile if n_tiles > 1 else None,
            "controls": request.controls.to_dict(), "classic_restored": restored,
        }
        notes = [f"lite: {', '.join(restored)} restored by the classic steps before the network"]
        notes = notes if restored else []
        colour = visible if _restored_in_colour(restored) else None
        return EngineOutput(np.clip(fused, 0.0, 1.0, out=fused), device=device, notes=notes,
                            provenance=provenance, colour=colour)

    def tiling(self, options: Mapping[str, Any] | None = None, kind: str = DEFAULT_KIND) -> imaging.Tiling:
        """Tiles of the side the memory budget allows, overlapping by :func:`tile_overlap` of the
        weights, starting on the net's grid."""
        from napari_textif.engines.lite.net import MULTIPLE

        overlap = tile_overlap(self.weights_path(options, kind))
        return imaging.Tiling(self._tile_size(options or {}, overlap), overlap, MULTIPLE,
                              int(BLEND_MARGIN * overlap))

    @staticmethod
    def _tile_size(options: Mapping[str, Any], overlap: int) -> int:
        if options.get("tile_size"):
            return max(int(options["tile_size"]) // 8 * 8, 2 * overlap)
        side = tile_size_for(float(options.get("memory_budget_mb", DEFAULT_MEMORY_BUDGET_MB)))
        return max(side, 2 * overlap)

    @staticmethod
    def _run_tiled(
        run_tile: Any, request: FusionRequest, tiling: imaging.Tiling, images: tuple[np.ndarray, np.ndarray]
    ) -> tuple[np.ndarray, int]:
        tiles = 0

        def progress(done: int, total: int) -> None:
            nonlocal tiles
            tiles = total
            request.report(done / total, f"lite: tile {done}/{total}")

        fused = imaging.tiled(run_tile, images, tile=tiling.tile, overlap=tiling.overlap, progress=progress,
                              align=tiling.align, margin=tiling.margin)
        return fused, tiles

    @staticmethod
    def _fuse_tile(
        model: Any, controls: Any, device: str, infrared: np.ndarray, visible: np.ndarray
    ) -> np.ndarray:
        import torch

        from napari_textif.engines.lite.net import MULTIPLE

        ir, shape = imaging.pad_to_multiple(infrared, MULTIPLE)
        vis, _ = imaging.pad_to_multiple(_visible_ycbcr(visible), MULTIPLE)
        fmt = torch.channels_last if device == "cpu" else torch.contiguous_format
        ir_t = torch.from_numpy(np.ascontiguousarray(ir))[None, None].to(device)
        vis_t = torch.from_numpy(np.ascontiguousarray(vis)).permute(2, 0, 1)[None].to(device)
        with torch.inference_mode():
            out = model(ir_t.contiguous(memory_format=fmt), vis_t.contiguous(memory_format=fmt), controls)
        return imaging.crop_to(out[0, 0].float().cpu().numpy(), shape)

    # --- trainable-engine protocol -------------------------------------------------------

    def default_config(self) -> dict[str, Any]:
        """Architecture config of a fresh network: the shipped default weights' (their record)."""
        from napari_textif.engines.lite.net import LiteNetConfig

        ok, _, record = check_weights(DEFAULT_WEIGHTS)
        return LiteNetConfig.from_mapping(record.get("config") if ok else None).to_dict()

    def create_model(self, config: Mapping[str, Any] | None = None) -> Any:
        """A fresh, untrained :class:`~napari_textif.engines.lite.net.LiteNet`."""
        from napari_textif.engines.lite.net import LiteNet, LiteNetConfig

        return LiteNet(LiteNetConfig.from_mapping(config if config is not None else self.default_config()))

    def load_init(self, model: Any, state: Mapping[str, Any], config: Mapping[str, Any] | None) -> None:
        """Start ``model`` from ``state``: as it is for the same architecture, widened
        (:func:`~napari_textif.engines.lite.net.widen_state`) from a narrower one."""
        from napari_textif.engines.lite.net import LiteNetConfig, widen_state

        source = LiteNetConfig.from_mapping(config) if config is not None else model.config
        # Whether the MLP sees thermal_emphasis changes no weight: the same state loads.
        if dataclasses.replace(source, thermal_input=model.config.thermal_input) == model.config:
            model.load_state_dict(state)
            return
        try:
            model.load_state_dict(widen_state(state, source, model))
        except ValueError as exc:
            raise RuntimeError(str(exc)) from exc

    def train_forward(self, model: Any, batch: Mapping[str, Any]) -> Any:
        """Fused luminance ``(B, 1, H, W)`` in ``[0, 1]`` for a training batch.

        ``batch`` holds ``"ir"`` ``(B, 1, H, W)``, ``"vis"`` ``(B, 3, H, W)`` RGB (or
        ``(B, 1, H, W)`` gray) in ``[0, 1]`` and ``"controls"`` ``(B, K)``.
        """
        return forward_batch(model, batch["ir"], batch["vis"], batch["controls"])


def _restored_in_colour(kinds: list[str]) -> bool:
    """Whether the classic steps of ``kinds`` restored the visible image's colour (its chroma is kept)."""
    if not kinds:
        return False
    from napari_textif.restoration import COLOUR_KINDS

    return bool(COLOUR_KINDS.intersection(kinds))


def restore_first(
    infrared: np.ndarray, visible: np.ndarray, controls: Controls, kinds: frozenset[str]
) -> tuple[np.ndarray, np.ndarray, Controls, list[str]]:
    """Restore the degradations of ``kinds`` that ``controls`` names with the classic steps.

    Returns the (new) infrared and visible images, the Controls for the network
    (those kinds set to zero) and the kinds restored, in ``DEGRADATIONS`` order.
    The inputs are not modified.
    """
    named = {k: v for k, v in controls.to_dict().items() if k in kinds and v > 0}
    if not named:
        return infrared, visible, controls, []
    # Imported only when needed: scipy.ndimage costs ~0.4 s of a cold CLI run.
    from napari_textif.restoration import restore_infrared, restore_visible_color

    classic = Controls(**named)
    if any(k.startswith("ir_") for k in named):
        infrared = restore_infrared(infrared, classic)
    if any(k.startswith("vis_") for k in named):
        visible = restore_visible_color(visible, classic)
    rest = controls.replace(**{k: 0.0 for k in named})
    return infrared, visible, rest, [k for k in CONTROL_NAMES if k in named]


def forward_batch(model: Any, infrared: Any, visible_rgb: Any, controls: Any) -> Any:
    """Run ``model`` on torch tensors of any height/width (reflect-padded to 8, cropped back)."""
    import torch.nn.functional as F

    from napari_textif.engines.lite.net import MULTIPLE

    ycbcr = imaging.tensor_rgb_to_ycbcr(visible_rgb)
    h, w = infrared.shape[-2:]
    ph, pw = (-h) % MULTIPLE, (-w) % MULTIPLE
    if ph or pw:
        infrared = F.pad(infrared, (0, pw, 0, ph), mode="reflect")
        ycbcr = F.pad(ycbcr, (0, pw, 0, ph), mode="reflect")
    return model(infrared, ycbcr, controls)[..., :h, :w]
