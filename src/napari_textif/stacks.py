"""Fusing stacks, video frames and huge mosaics lazily with dask, on one machine or a cluster.

:func:`fuse_stack` turns two arrays with leading axes (numpy, dask or zarr; T, Z, ...
first, the image last) into a lazy dask array of fused frames, one task per frame.
A frame too big for the memory budget is cut into the engine's own tiles, one task
each, and blended chunk by chunk with the engine's window (:func:`imaging.blend_tile`),
so the result is the engine's tiled result. :func:`to_zarr` writes a result to a
zarr store (OME-Zarr metadata where the layout fits, provenance in the attributes)
chunk by chunk, each chunk marked done once written, so an interrupted write can be
resumed. :func:`dask_client` connects to a dask.distributed scheduler or starts a
LocalCluster. Importing this module imports neither dask nor torch.

Each worker process gets the engine once (:func:`worker_engine`, a per-process cache;
the engines cache their weights) and runs torch on ``threads`` threads per task.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from napari_textif import imaging
from napari_textif.api import fuse
from napari_textif.controls import Controls
from napari_textif.engines import Engine, EngineUnavailable, default_engine, get_engine
from napari_textif.interpretation import interpret

#: Bytes per pixel a whole-frame task holds besides the engine (inputs, float copies, output).
FRAME_BYTES_PER_PIXEL = 64
DEFAULT_MEMORY_BUDGET_MB = 1024.0
#: Side of the output chunks of a tiled frame (zarr chunks too).
CHUNK = 2048
#: Tiling for engines without their own (:meth:`Engine.tiling` returns None).
DEFAULT_TILING = imaging.Tiling(1024, 64, 8)
IMAGE = "0"
DONE = "chunks_done"
ATTRS_KEY = "napari_textif"
CONNECT_TIMEOUT_S = 5.0
#: Chunks :func:`to_zarr` computes at once (keeps memory flat however long the stack).
WRITE_BATCH = 32
_LEAD = "abcdefghjklmn"


@dataclasses.dataclass(frozen=True)
class StackPlan:
    """What every task needs to fuse a frame or a tile (small, picklable).

    Attributes
    ----------
    prompt : str
    engine : str
    controls : Controls or None
        None: each frame interprets the prompt (its severity measured on the frame).
    auto : bool
    severity : str
        ``"images"`` or ``"words"``, as for :func:`napari_textif.fuse`.
    device : str
    options : tuple of (str, value)
    threads : int
        torch CPU threads per task.
    rgb : bool
        Whether the fused frames have three channels.
    leading : int
        Number of leading (frame) axes.
    """

    prompt: str
    engine: str
    controls: Controls | None
    auto: bool
    severity: str
    device: str
    options: tuple[tuple[str, Any], ...]
    threads: int
    rgb: bool
    leading: int


def fuse_stack(
    infrared: Any,
    visible: Any,
    prompt: str = "",
    *,
    engine: str | None = None,
    controls: Controls | None = None,
    auto: bool = False,
    severity: str = "images",
    device: str = "cpu",
    options: Mapping[str, Any] | None = None,
    threads: int = 1,
    memory_budget_mb: float = DEFAULT_MEMORY_BUDGET_MB,
) -> Any:
    """Fuse two stacks of frames lazily: a dask array, one task per frame (or per tile).

    Parameters
    ----------
    infrared, visible : array_like or str or Path
        numpy, dask or zarr arrays (or the path of a zarr store, :func:`open_stack`) of
        shape ``(*leading, H, W)``; a last axis of 1, 3 or 4 is the channel axis
        (visible colour, or an infrared stored as equal channels). Leading shapes must match.
    prompt : str, optional
        Interpreted once for every frame (see :func:`napari_textif.fuse`).
    engine, controls, auto, severity, device, options
        As for :func:`napari_textif.fuse`, per frame; the engine and options are checked here, once.
    threads : int, optional
        torch CPU threads per task (per dask worker thread).
    memory_budget_mb : float, optional
        A frame whose whole-frame task would need more (64 bytes per pixel) is cut into the
        engine's tiles and blended like the engine's own tiling; such frames need a prompt or
        controls (not ``auto``) and 8-bit, boolean or float ``[0, 1]`` data, and take the
        prompt's strengths as worded (``severity="words"``: one measurement per tile would differ).

    Returns
    -------
    dask.array.Array
        float32 ``(*leading, H, W)``, or ``(*leading, H, W, 3)`` when visible has colour.

    Raises
    ------
    ValueError
        When the leading shapes or the frame sizes differ (naming both shapes), or a tiled
        frame cannot be fused tile by tile.

    Examples
    --------
    >>> from napari_textif.samples import synthetic_pair
    >>> ir, vis = synthetic_pair(shape=(32, 48))
    >>> lazy = fuse_stack(np.stack([ir, ir]), np.stack([vis, vis]), engine="classic")
    >>> lazy.shape, lazy.numblocks
    ((2, 32, 48, 3), (2, 1, 1, 1))
    >>> lazy[1].compute().dtype
    dtype('float32')
    """
    ir, vis = as_stack(infrared, name="infrared"), as_stack(visible, name="visible")
    leading = check_stacks(ir, vis)
    plan = make_plan(prompt, engine=engine, controls=controls, auto=auto, severity=severity, device=device,
                     options=options, threads=threads, rgb=_has_channels(vis) and vis.shape[-1] >= 3,
                     leading=len(leading))
    height, width = vis.shape[len(leading): len(leading) + 2]
    if height * width * FRAME_BYTES_PER_PIXEL <= memory_budget_mb * 1e6:
        return _frame_stack(ir, vis, plan)
    return _tiled_stack(ir, vis, plan, leading)


def make_plan(prompt: str = "", *, engine: str | None = None, controls: Controls | None = None,
              auto: bool = False, severity: str = "images", device: str = "cpu",
              options: Mapping[str, Any] | None = None, threads: int = 1, rgb: bool = False,
              leading: int = 0) -> StackPlan:
    """Check the engine and options once and fix what every task needs."""
    if not isinstance(threads, int) or isinstance(threads, bool) or threads < 0:
        raise ValueError(f"threads must be a non-negative int, got {threads!r}")
    name = engine if engine is not None else default_engine()
    runner = get_engine(name)
    chosen = runner.check_options(options)
    runner.check_device(device)
    status = runner.availability(chosen)
    if not status.available:
        raise EngineUnavailable(f"engine {name!r} is not available: {status.reason}")
    if threads and "threads" in runner.option_names:
        chosen.setdefault("threads", threads)
    return StackPlan(prompt, name, controls, auto, severity, device, tuple(sorted(chosen.items())),
                     threads, rgb, leading)


def as_stack(data: Any, *, name: str) -> Any:
    """``data`` (array, dask array, zarr array or zarr path) as a dask array, checked.

    Raises
    ------
    TypeError
        For a dtype fusion does not take (naming ``name``).
    ValueError
        For fewer than two image axes.
    """
    import dask.array as da

    if isinstance(data, (str, Path)):
        data = open_stack(data)
    if not isinstance(data, da.Array):
        if not hasattr(data, "shape") or not hasattr(data, "dtype"):
            data = np.asarray(data)
        chunks = getattr(data, "chunks", None)
        data = da.from_array(data, chunks=chunks if isinstance(chunks, tuple) else "auto")
    if np.dtype(data.dtype).name not in imaging.SUPPORTED_DTYPES:
        raise TypeError(f"{name} must have one of the dtypes {', '.join(imaging.SUPPORTED_DTYPES)}, "
                        f"got {data.dtype}")
    if data.ndim < 2 or (_has_channels(data) and data.ndim < 3):
        raise ValueError(f"{name} must have at least two image axes (H, W), got shape {data.shape}")
    return data


def _has_channels(array: Any) -> bool:
    return array.ndim >= 3 and array.shape[-1] in (1, 3, 4)


def _plane_axes(array: Any) -> int:
    return 3 if _has_channels(array) else 2


def check_stacks(infrared: Any, visible: Any) -> tuple[int, ...]:
    """The common leading shape of two stacks.

    Raises
    ------
    ValueError
        When the leading shapes or the frame heights and widths differ; both shapes are named.
    """
    ir_lead = tuple(infrared.shape[: infrared.ndim - _plane_axes(infrared)])
    vis_lead = tuple(visible.shape[: visible.ndim - _plane_axes(visible)])
    shapes = f"infrared shape {tuple(infrared.shape)}, visible shape {tuple(visible.shape)}"
    if ir_lead != vis_lead:
        raise ValueError(f"the stacks' leading (frame) axes differ: infrared {ir_lead}, visible "
                         f"{vis_lead} ({shapes}); give both the same frames")
    n = len(ir_lead)
    if tuple(infrared.shape[n:n + 2]) != tuple(visible.shape[n:n + 2]):
        raise ValueError(f"the frames differ in height and width: infrared "
                         f"{tuple(infrared.shape[n:n + 2])}, visible {tuple(visible.shape[n:n + 2])} "
                         f"({shapes}); register or resample one onto the other first")
    return ir_lead


# ---------------------------------------------------------------------------
# One task per frame.
# ---------------------------------------------------------------------------


def _frame_stack(ir: Any, vis: Any, plan: StackPlan) -> Any:
    import dask.array as da

    n = plan.leading
    ir = ir.rechunk((1,) * n + ir.shape[n:])
    vis = vis.rechunk((1,) * n + vis.shape[n:])
    lead = _LEAD[:n]
    ir_index = lead + "yx" + ("i" if ir.ndim > n + 2 else "")
    vis_index = lead + "yx" + ("c" if vis.ndim > n + 2 else "")
    out_index = lead + "yx" + ("o" if plan.rgb else "")
    return da.blockwise(
        _fuse_block, out_index, ir, ir_index, vis, vis_index, plan=plan, dtype=np.float32,
        new_axes={"o": 3} if plan.rgb else None, concatenate=True,
        meta=np.empty((0,) * len(out_index), np.float32),
    )


def _fuse_block(ir: np.ndarray, vis: np.ndarray, plan: StackPlan) -> np.ndarray:
    n = plan.leading
    image = fuse_frame(ir.reshape(ir.shape[n:]), vis.reshape(vis.shape[n:]), plan)
    return image.reshape((1,) * n + image.shape)


def fuse_frame(infrared: np.ndarray, visible: np.ndarray, plan: StackPlan,
               options: Mapping[str, Any] | None = None) -> np.ndarray:
    """Fuse one frame (or tile) as ``plan`` says, in this process's engine; float32.

    A gray result of a colour plan (a frame whose channels are equal) gets three channels,
    so that every frame of a stack has the same shape.
    """
    worker_engine(plan.engine, plan.threads)
    result = fuse(np.asarray(infrared), np.asarray(visible), plan.prompt, engine=plan.engine,
                  controls=plan.controls, auto=plan.auto, severity=plan.severity, device=plan.device,
                  options={**dict(plan.options), **(options or {})})
    image = result.image
    if plan.rgb and image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    return image


@functools.lru_cache(maxsize=8)
def worker_engine(name: str, threads: int) -> Engine:
    """This process's engine ``name`` (a per-process cache: the engines keep their weights loaded).

    In a dask worker, torch is also set to ``threads`` CPU threads once (engines with a
    ``threads`` option set it per run anyway).
    """
    runner = get_engine(name)
    if threads and _in_dask_worker() and "torch" in runner.requires_modules:
        import torch

        torch.set_num_threads(threads)
    return runner


def _in_dask_worker() -> bool:
    distributed = sys.modules.get("distributed")
    if distributed is None:
        return False
    try:
        distributed.get_worker()
    except ValueError:
        return False
    return True


# ---------------------------------------------------------------------------
# Frames past the budget: the engine's tiles, blended chunk by chunk.
# ---------------------------------------------------------------------------


def _tiled_stack(ir: Any, vis: Any, plan: StackPlan, leading: tuple[int, ...]) -> Any:
    import dask.array as da

    _check_tileable(ir, vis, plan)
    plan = dataclasses.replace(plan, severity="words")  # one strength for every tile of a frame
    tiling = get_engine(plan.engine).tiling(dict(plan.options)) or DEFAULT_TILING
    frames = [_tiled_frame(ir[index], vis[index], plan, tiling) for index in np.ndindex(*leading)]
    if not leading:
        return frames[0]
    return da.stack(frames).reshape(leading + frames[0].shape)


def _check_tileable(ir: Any, vis: Any, plan: StackPlan) -> None:
    if plan.auto:
        raise ValueError("auto detection measures a whole frame; frames past the memory budget are fused "
                         "tile by tile, so give a prompt or controls instead (or raise memory_budget_mb)")
    for name, data in (("infrared", ir), ("visible", vis)):
        if np.dtype(data.dtype).kind in "iu" and np.dtype(data.dtype).itemsize > 1:
            raise ValueError(
                f"{name} is {data.dtype}: its intensity scaling is measured on the whole frame, which "
                "frames past the memory budget are not; convert it to uint8 or float32 in [0, 1] first")


def _tiled_frame(ir: Any, vis: Any, plan: StackPlan, tiling: imaging.Tiling) -> Any:
    import dask
    import dask.array as da

    height, width = vis.shape[:2]
    grid = imaging.tile_grid((height, width), tiling.tile, tiling.overlap, align=tiling.align)
    fuse_tile = dask.delayed(_fuse_tile, pure=True)
    tiles = [fuse_tile(ir[t.rows, t.cols], vis[t.rows, t.cols], plan) for t in grid]
    blend = dask.delayed(_blend_chunk, pure=True)
    rows = []
    for top in range(0, height, CHUNK):
        row = []
        for left in range(0, width, CHUNK):
            box = imaging.Tile(slice(top, min(top + CHUNK, height)), slice(left, min(left + CHUNK, width)))
            near = [k for k, t in enumerate(grid) if _meets(t, box)]
            block = blend(box, [grid[k] for k in near], [tiles[k] for k in near], tiling, (height, width))
            shape = (box.rows.stop - top, box.cols.stop - left) + ((3,) if plan.rgb else ())
            chunk = da.from_delayed(block, shape=shape, dtype=np.float32)
            row.append([chunk] if plan.rgb else chunk)  # da.block joins the innermost lists last
        rows.append(row)
    return da.block(rows)


def _meets(tile: imaging.Tile, box: imaging.Tile) -> bool:
    return (tile.rows.start < box.rows.stop and box.rows.start < tile.rows.stop
            and tile.cols.start < box.cols.stop and box.cols.start < tile.cols.stop)


def _fuse_tile(ir: np.ndarray, vis: np.ndarray, plan: StackPlan) -> np.ndarray:
    """One engine tile, run whole (the engine's tile option, if any, set to cover it)."""
    for name, data in (("infrared", ir), ("visible", vis)):
        if data.dtype.kind == "f" and data.size and (data.min() < 0 or data.max() > 1):
            raise ValueError(f"{name} has float values outside [0, 1]; tiled frames are not rescaled "
                             "by their own range (that would differ per tile): scale them to [0, 1] first")
    side = max(ir.shape[:2])
    whole = {"tile_size": -(-side // 8) * 8} if "tile_size" in get_engine(plan.engine).option_names else {}
    return fuse_frame(ir, vis, plan, whole)


def _blend_chunk(box: imaging.Tile, windows: list[imaging.Tile], results: list[np.ndarray],
                 tiling: imaging.Tiling, image_shape: tuple[int, int]) -> np.ndarray:
    """The chunk ``box`` of the blended image, from the tiles that meet it (in grid order),
    weighted as the engine's own tiling (:func:`imaging.tiled`) weights them."""
    shape = (box.rows.stop - box.rows.start, box.cols.stop - box.cols.start)
    out = np.zeros(shape + results[0].shape[2:], np.float32)
    weight = np.zeros(shape, np.float32)
    for window, result in zip(windows, results):
        imaging.blend_tile(out, weight, result, window, tiling.overlap,
                           origin=(box.rows.start, box.cols.start), shape=image_shape, margin=tiling.margin)
    return np.clip(imaging.finish_blend(out, weight), 0.0, 1.0)


# ---------------------------------------------------------------------------
# zarr: reading image stores, writing results chunk by chunk.
# ---------------------------------------------------------------------------


def open_stack(path: str | Path) -> Any:
    """The image array of a zarr store: an array, an OME-Zarr image (level 0) or one of our results.

    Raises
    ------
    ValueError
        When ``path`` is not a zarr store, or holds no image array (the message names the path).
    """
    import zarr

    path = Path(path)
    try:
        found = zarr.open(str(path), mode="r")
    except Exception as exc:  # zarr raises several kinds for a folder that is no store
        raise ValueError(f"{path} is not a zarr store this package can read: {exc}") from exc
    if isinstance(found, zarr.Group):
        found = _image_of_group(found, path)
    if np.dtype(found.dtype).name not in imaging.SUPPORTED_DTYPES or found.ndim < 2:
        raise ValueError(f"{path} is a zarr array of dtype {found.dtype} and shape {found.shape}, not an "
                         f"image stack (two or more axes of {', '.join(imaging.SUPPORTED_DTYPES)})")
    return found


def _image_of_group(group: Any, path: Path) -> Any:
    attrs = dict(group.attrs)
    ome = attrs.get("ome", attrs)
    try:
        name = ome["multiscales"][0]["datasets"][0]["path"]
    except (KeyError, IndexError, TypeError):
        name = attrs.get(ATTRS_KEY, {}).get("image") if isinstance(attrs.get(ATTRS_KEY), dict) else None
    if name is None or name not in group:
        raise ValueError(f"{path} is a zarr group without an image array (neither OME-Zarr multiscales "
                         "nor a napari-textif result); give the path of the array itself")
    return group[name]


def ome_metadata(shape: tuple[int, ...], *, rgb: bool) -> dict[str, Any] | None:
    """OME-Zarr 0.5 ``multiscales`` for a gray ``(t, y, x)`` or ``(t, z, y, x)`` result, else None.

    OME-Zarr puts channels before the spatial axes; a colour result keeps napari's
    channels-last layout, so it gets no OME metadata (only the provenance).

    Examples
    --------
    >>> [a["name"] for a in ome_metadata((5, 64, 64), rgb=False)["multiscales"][0]["axes"]]
    ['t', 'y', 'x']
    >>> ome_metadata((5, 64, 64, 3), rgb=True) is None
    True
    """
    names = {2: "yx", 3: "tyx", 4: "tzyx"}.get(len(shape))
    if rgb or names is None:
        return None
    kinds = {"t": "time", "z": "space", "y": "space", "x": "space"}
    axes = [{"name": a, "type": kinds[a]} for a in names]
    transform = [{"type": "scale", "scale": [1.0] * len(shape)}]
    dataset = {"path": IMAGE, "coordinateTransformations": transform}
    return {"version": "0.5", "multiscales": [{"name": "fused", "axes": axes, "datasets": [dataset]}]}


def to_zarr(fused: Any, path: str | Path, *, attrs: Mapping[str, Any] | None = None, resume: bool = False,
            overwrite: bool = False, compute: bool = True) -> dict[tuple[int, ...], Any]:
    """Write a (lazy) fused stack to a zarr group, one zarr chunk per dask chunk.

    The group holds the image array ``"0"``, a ``"chunks_done"`` array marking each chunk
    once written (zarr writes each chunk file atomically), OME-Zarr metadata where the layout
    fits (:func:`ome_metadata`) and ``attrs`` (provenance) under ``"napari_textif"``.

    Parameters
    ----------
    fused : dask.array.Array
        E.g. from :func:`fuse_stack`; its chunks must be regular (all equal but the last).
    path : str or Path
    attrs : mapping, optional
        JSON-ready provenance (:func:`provenance`).
    resume : bool, optional
        Keep the chunks an earlier write of the same shape marked done and write the rest.
    overwrite : bool, optional
        Replace an existing store; without it (or ``resume``) an existing one is an error.
    compute : bool, optional
        Write now (with dask's current scheduler, :data:`WRITE_BATCH` chunks at a time);
        False returns the writes, one
        ``dask.delayed`` per chunk left, for e.g. ``client.compute``.

    Returns
    -------
    dict of tuple to dask.delayed.Delayed
        Chunk index -> its write, for the chunks still to do (empty once computed).
    """
    import dask

    path = Path(path)
    _open_output(fused, path, dict(attrs or {}), resume=resume, overwrite=overwrite)
    done = _done_mask(path)
    blocks = fused.to_delayed()
    store = dask.delayed(_store_chunk, pure=False)
    writes = {index: store(blocks[index], str(path), index, fused.chunksize)
              for index in np.ndindex(*fused.numblocks) if not done[index]}
    if not compute:
        return writes
    pending = list(writes.values())
    for start in range(0, len(pending), WRITE_BATCH):  # bounded: chunks in flight and graph per compute
        dask.compute(*pending[start:start + WRITE_BATCH])
    return {}


def _open_output(fused: Any, path: Path, attrs: dict[str, Any], *, resume: bool, overwrite: bool) -> None:
    import zarr

    if path.exists() and resume:
        image = open_stack(path)
        if tuple(image.shape) != tuple(fused.shape) or tuple(image.chunks) != tuple(fused.chunksize):
            raise ValueError(f"{path} holds shape {image.shape} in chunks {image.chunks}, not this run's "
                             f"{fused.shape} in chunks {fused.chunksize}; it cannot be resumed")
        return
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass resume to finish it or overwrite to replace it")
    group = zarr.open_group(str(path), mode="w", zarr_format=3)
    group.create_array(IMAGE, shape=fused.shape, chunks=fused.chunksize, dtype="float32", fill_value=0.0)
    group.create_array(DONE, shape=fused.numblocks, chunks=(1,) * fused.ndim, dtype="uint8", fill_value=0)
    ome = ome_metadata(tuple(fused.shape), rgb=fused.ndim >= 3 and fused.shape[-1] == 3)
    record = {ATTRS_KEY: {**attrs, "image": IMAGE, "done": DONE}}
    group.attrs.update({**record, **({"ome": ome} if ome else {})})


def _done_mask(path: Path) -> np.ndarray:
    import zarr

    return np.asarray(zarr.open_array(str(path / DONE), mode="r")[...]).astype(bool)


def _store_chunk(block: np.ndarray, path: str, index: tuple[int, ...], chunks: tuple[int, ...]) -> tuple:
    import zarr

    region = tuple(slice(i * c, i * c + n) for i, c, n in zip(index, chunks, block.shape))
    zarr.open_array(f"{path}/{IMAGE}", mode="r+")[region] = block
    zarr.open_array(f"{path}/{DONE}", mode="r+")[index] = 1
    return index


def provenance(plan: StackPlan, **inputs: Any) -> dict[str, Any]:
    """A JSON-ready record of a stack fusion: engine, prompt, controls, options, version, ``inputs``."""
    from napari_textif import __version__

    return {
        "engine": plan.engine, "device": plan.device, "prompt": plan.prompt, "auto": plan.auto,
        "severity": plan.severity,
        "controls": (plan.controls or interpret(plan.prompt).controls).to_dict(),
        "options": {k: v if isinstance(v, (int, float, str, bool)) else str(v) for k, v in plan.options},
        "threads_per_task": plan.threads, "inputs": {k: str(v) for k, v in inputs.items()},
        "napari_textif_version": __version__,
    }


# ---------------------------------------------------------------------------
# dask.distributed
# ---------------------------------------------------------------------------


@contextlib.contextmanager
def dask_client(scheduler: str | None = None, *, workers: int | None = None, threads_per_worker: int = 1,
                processes: bool = True, timeout: float = CONNECT_TIMEOUT_S) -> Iterator[Any]:
    """A dask.distributed Client: of the scheduler at ``scheduler``, else of a new LocalCluster.

    Parameters
    ----------
    scheduler : str, optional
        Address of a running scheduler (``tcp://host:8786``), as ``dask scheduler`` prints it.
    workers : int, optional
        Worker processes of the LocalCluster (default: 1).
    threads_per_worker : int, optional
    processes : bool, optional
        False: the LocalCluster's workers are threads of this process.
    timeout : float, optional
        Seconds to wait for the scheduler to answer.

    Raises
    ------
    ConnectionError
        When no scheduler answers at ``scheduler`` within ``timeout``.
    """
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler, timeout=f"{timeout}s")
        except (OSError, TimeoutError) as exc:
            raise ConnectionError(
                f"no dask scheduler answered at {scheduler} within {timeout:g} s ({exc}); start one with "
                "'dask scheduler' and workers with 'dask worker ADDRESS', or use --workers N") from exc
        with client:
            yield client
        return
    with LocalCluster(n_workers=workers or 1, threads_per_worker=threads_per_worker, processes=processes,
                      dashboard_address=None, silence_logs=40) as cluster, Client(cluster) as client:
        yield client

