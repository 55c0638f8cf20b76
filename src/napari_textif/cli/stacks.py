"""``fuse-stack`` and the dask.distributed side of ``batch``: many frames on many processes.

``batch --scheduler ADDRESS`` or ``--workers N`` submits one future per pair (retried
once) to a dask.distributed cluster; ``fuse-stack`` fuses two zarr (or ``.npy``) stacks
into a zarr store chunk by chunk (:func:`napari_textif.stacks.to_zarr`), in-process or
on a cluster. Both write atomically, resume, show progress over the futures and exit
non-zero when anything failed.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from napari_textif.cli import CommandError

#: Attempts of a task after its first failure (a dead worker counts separately, see distributed).
RETRIES = 1


def add_cluster_options(parser: argparse.ArgumentParser) -> None:
    """``--scheduler ADDRESS`` / ``--workers N`` (one or the other; neither: in-process)."""
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--scheduler", metavar="ADDRESS", default=None,
                       help="run on the dask.distributed scheduler at ADDRESS (e.g. tcp://10.0.0.5:8786, "
                       "as 'dask scheduler' prints it)")
    where.add_argument("--workers", metavar="N", type=int, default=None,
                       help="run on a local cluster of N worker processes (one thread each)")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``fuse-stack`` command."""
    from napari_textif.cli.fusing import _add_fusion_options

    p = subparsers.add_parser(
        "fuse-stack", help="fuse two image stacks (zarr or .npy) into a zarr store, lazily",
        description="Fuse the frames of two stacks (T, ..., H, W[, C]) into a zarr store, chunk by chunk; "
        "frames past the memory budget are tiled like the engine's own tiling.",
    )
    p.add_argument("infrared", type=Path,
                   help="infrared stack: a zarr array or OME-Zarr image, or a .npy file")
    p.add_argument("visible", type=Path, help="visible stack with the same frames")
    p.add_argument("output", type=Path, help="zarr store to write (OUTPUT/0 holds the fused frames)")
    _add_fusion_options(p)
    p.add_argument("--memory-budget-mb", type=float, default=None,
                   help="frames needing more per task are tiled (default 1024)")
    existing = p.add_mutually_exclusive_group()
    existing.add_argument("--resume", action="store_true", help="keep the chunks an earlier run wrote")
    existing.add_argument("--overwrite", action="store_true", help="replace an existing OUTPUT")
    add_cluster_options(p)
    p.set_defaults(func=run_fuse_stack)


def check_cluster_args(args: argparse.Namespace) -> None:
    if args.workers is not None and args.workers < 1:
        raise CommandError(f"--workers must be at least 1, got {args.workers}")


def open_client(args: argparse.Namespace, *, in_process: bool = False) -> Any:
    """The Client context of ``--scheduler`` / ``--workers`` (else one in-process worker thread)."""
    from napari_textif.stacks import dask_client

    check_cluster_args(args)
    if args.scheduler:
        return dask_client(args.scheduler)
    return dask_client(workers=args.workers or 1, processes=not in_process and bool(args.workers))


def run_futures(futures: Mapping[Any, str], *, desc: str, done: list[str], failures: list[str]) -> None:
    """Wait for ``futures`` (future -> name) with a progress bar, appending names to ``done``
    and ``"name: error"`` to ``failures`` as they finish."""
    from distributed import as_completed
    from tqdm import tqdm

    with tqdm(total=len(futures), desc=desc, unit="task", file=sys.stderr) as bar:
        for future in as_completed(list(futures)):
            if future.status == "finished":
                done.append(futures[future])
            else:
                failures.append(f"{futures[future]}: {_error_of(future)}")
            future.release()
            bar.update(1)


def _error_of(future: Any) -> str:
    try:
        exc = future.exception()
    except Exception as exc_:  # a cancelled future raises here
        exc = exc_
    from napari_textif.cli import describe_error

    return describe_error(exc) if isinstance(exc, BaseException) else str(exc)


# ---------------------------------------------------------------------------
# batch on a cluster
# ---------------------------------------------------------------------------


def fuse_pairs_on_cluster(todo: list[tuple[str, Path, Path]], outputs: Mapping[str, Path],
                          args: argparse.Namespace, kwargs: Mapping[str, Any], done: list[str],
                          failures: list[str]) -> None:
    """Fuse ``todo`` on the cluster of ``args``, one future per pair, each retried once on failure."""
    with open_client(args) as client:
        futures = {
            client.submit(fuse_pair_file, ir, vis, outputs[stem], args.prompt, dict(kwargs), args.bits,
                          key=f"fuse-pair-{stem}-{time.time_ns()}", retries=RETRIES, pure=False): stem
            for stem, ir, vis in todo
        }
        run_futures(futures, desc="fusing", done=done, failures=failures)


def fuse_pair_file(ir_path: Path, vis_path: Path, out: Path, prompt: str, kwargs: Mapping[str, Any],
                   bits: int) -> float:
    """One pair on a worker: read, fuse, write atomically; returns the seconds it took."""
    from napari_textif.io import read_image, write_image
    from napari_textif.stacks import worker_engine

    start = time.perf_counter()
    worker_engine(kwargs["engine"], int(kwargs["options"].get("threads", 1) or 1))
    from napari_textif.api import fuse

    result = fuse(read_image(ir_path), read_image(vis_path), prompt, **kwargs)
    write_image(out, result.image, bits=bits)
    return time.perf_counter() - start


# ---------------------------------------------------------------------------
# fuse-stack
# ---------------------------------------------------------------------------


def read_stack(path: Path) -> Any:
    """A zarr store (:func:`napari_textif.stacks.open_stack`) or a ``.npy`` file, memory-mapped."""
    import numpy as np

    from napari_textif.stacks import open_stack

    if not path.exists():
        raise FileNotFoundError(f"stack not found: {path}")
    if path.suffix.lower() == ".npy":
        return np.load(path, mmap_mode="r")
    return open_stack(path)


def run_fuse_stack(args: argparse.Namespace) -> int:
    """Fuse two stacks into a zarr store; non-zero exit when a chunk failed."""
    from napari_textif import stacks
    from napari_textif.cli.fusing import _fusion_kwargs

    kwargs = _fusion_kwargs(args)
    budget = {"memory_budget_mb": args.memory_budget_mb} if args.memory_budget_mb else {}
    ir, vis = read_stack(args.infrared), read_stack(args.visible)
    if args.output.exists() and not (args.resume or args.overwrite):
        raise CommandError(f"OUTPUT {args.output} exists; pass --resume to finish it or --overwrite "
                           "to replace it")
    start = time.perf_counter()
    with open_client(args, in_process=not (args.scheduler or args.workers)) as client:
        fused = stacks.fuse_stack(ir, vis, args.prompt, **kwargs, **budget)
        record = stacks.provenance(stacks.make_plan(args.prompt, **kwargs), infrared=args.infrared,
                                   visible=args.visible)
        writes = stacks.to_zarr(fused, args.output, attrs=record, resume=args.resume,
                                overwrite=args.overwrite, compute=False)
        futures = client.compute(list(writes.values()), retries=RETRIES)
        named = {future: f"chunk {index}" for future, index in zip(futures, writes, strict=True)}
        done: list[str] = []
        failures: list[str] = []
        run_futures(named, desc="fusing", done=done, failures=failures)
    seconds = time.perf_counter() - start
    total = math.prod(fused.numblocks)
    kept = total - len(writes)
    parts = [f"fused {len(done)} of {total} chunks of {tuple(fused.shape)} into {args.output} "
             f"in {seconds:.1f} s"]
    parts += [f"kept {kept} written before"] if kept else []
    parts += [f"{len(failures)} failed (run again with --resume to retry them)"] if failures else []
    print("; ".join(parts), flush=True)
    for line in failures:
        print(f"failed: {line}", file=sys.stderr)
    return 1 if failures else 0
