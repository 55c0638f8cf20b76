"""Throughput of ``batch`` in-process and on dask.distributed LocalClusters, and a huge mosaic.

Cases
-----
``pairs``
    ``napari-textif batch`` over the first N real pairs of ``../shared/data/ivif/roadscene``
    (default 100) with the lite engine: in-process, then ``--workers 1`` and ``--workers 2``
    (LocalClusters of that many one-thread worker processes). Prints pairs/s of each, the
    scaling efficiency (speed-up over in-process divided by the workers), the peak resident
    memory per worker (from the workers themselves) and a projection for 100,000 pairs.
    Each run is a subprocess; the cluster start-up is included in its time and reported.
``mosaic``
    A SIDE x SIDE pair (default 16384) written as zarr (uint8, 1024x1024 chunks, the 2048
    synthetic scene repeated), fused with :func:`napari_textif.fuse_stack` (lite, tiled like
    the engine) into a zarr store in a subprocess; its wall time and peak resident memory.

Usage::

    python benchmarks/scale_out.py --case pairs --pairs 100
    python benchmarks/scale_out.py --case mosaic --side 16384

On a machine shared with other jobs the speed-up measures the free cores as much as dask:
the load average before each run is printed beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("NAPARI_TEXTIF_SHARED", ROOT.parent / "shared")) / "data" / "ivif" / "roadscene"
PROJECTED_PAIRS = 100_000


def link_pairs(folder: Path, count: int, *, data: Path = DATA) -> tuple[Path, Path]:
    """Symbolic links to the first ``count`` pairs of ``data`` (default: RoadScene) in
    ``folder/ir`` and ``folder/vi``."""
    names = sorted(p.name for p in (data / "ir").iterdir())[:count]
    for role in ("ir", "vi"):
        (folder / role).mkdir(parents=True)
        for name in names:
            (folder / role / name).symlink_to(data / role / name)
    return folder / "ir", folder / "vi"


def run_batch(ir: Path, vis: Path, out: Path, extra: list[str]) -> dict:
    """One ``batch`` in a subprocess; wall seconds and its own peak memory."""
    code = (
        "import json, resource, sys, time; from napari_textif.cli import main; t = time.perf_counter(); "
        "rc = main(sys.argv[1:]); print(json.dumps({'rc': rc, 'seconds': time.perf_counter() - t, "
        "'driver_peak_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))"
    )
    args = ["batch", str(ir), str(vis), str(out), "--engine", "lite", *extra]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1"}
    load = os.getloadavg()[0]
    done = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True,
                          check=True)
    record = json.loads(done.stdout.strip().splitlines()[-1])
    record["load_before"] = round(load, 2)
    return record


def worker_memory(workers: int, ir: Path, vis: Path) -> list[float]:
    """Peak resident MB of each worker of a LocalCluster after fusing 4 pairs each."""
    from distributed import Client, LocalCluster

    from napari_textif.cli.stacks import fuse_pair_file

    names = sorted(p.name for p in ir.iterdir())[: 4 * workers]
    kwargs = {"engine": "lite", "device": "cpu", "auto": False, "options": {"threads": 1}}
    with tempfile.TemporaryDirectory() as out, LocalCluster(
        n_workers=workers, threads_per_worker=1, dashboard_address=None, silence_logs=40
    ) as cluster, Client(cluster) as client:
        futures = [client.submit(fuse_pair_file, ir / n, vis / n, Path(out) / n, "", kwargs, 8, pure=False)
                   for n in names]
        client.gather(futures)
        peaks = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return sorted(round(v, 1) for v in peaks.values())


def case_pairs(count: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        ir, vis = link_pairs(Path(tmp), count)
        runs = {}
        cases = (("in-process", []), ("workers=1", ["--workers", "1"]), ("workers=2", ["--workers", "2"]))
        for label, extra in cases:
            out = Path(tmp) / f"out-{label}"
            runs[label] = run_batch(ir, vis, out, extra)
            runs[label]["pairs_per_s"] = round(count / runs[label]["seconds"], 3)
            shutil.rmtree(out)
        memory = {w: worker_memory(w, ir, vis) for w in (1, 2)}
    base = runs["in-process"]["pairs_per_s"]
    efficiency = {label: round(runs[label]["pairs_per_s"] / base / n, 3)
                  for label, n in (("workers=1", 1), ("workers=2", 2))}
    per_pair = 1 / runs["workers=2"]["pairs_per_s"] * 2  # worker-seconds per pair, as measured
    ideal = 1 / base  # one process's seconds per pair: what a worker on a free core costs
    return {
        "pairs": count, "runs": runs, "efficiency_vs_in_process": efficiency,
        "worker_peak_mb": memory, "cpu_count": os.cpu_count(),
        "projection_100k": {
            "worker_seconds_per_pair": round(per_pair, 3),
            "hours_on_2_workers": round(PROJECTED_PAIRS * per_pair / 2 / 3600, 2),
            "workers_for_1_hour": int(-(-PROJECTED_PAIRS * per_pair // 3600)),
            "seconds_per_pair_in_process": round(ideal, 3),
            "workers_for_1_hour_on_free_cores": int(-(-PROJECTED_PAIRS * ideal // 3600)),
        },
    }


MOSAIC_CODE = """
import json, resource, sys, time
import dask.array as da, numpy as np, zarr
from napari_textif import stacks
from napari_textif.samples import synthetic_pair
side, folder = int(sys.argv[1]), sys.argv[2]
ir, vis = synthetic_pair(shape=(2048, 2048), seed=1)
reps = -(-side // 2048)
big_ir = da.tile(da.from_array(ir, chunks=1024), (reps, reps))[:side, :side]
big_vis = da.tile(da.from_array(vis, chunks=(1024, 1024, 3)), (reps, reps, 1))[:side, :side]
big_ir.to_zarr(folder + "/ir.zarr"); big_vis.to_zarr(folder + "/vis.zarr")
t = time.perf_counter()
fused = stacks.fuse_stack(folder + "/ir.zarr", folder + "/vis.zarr", engine="lite")
stacks.to_zarr(fused, folder + "/out.zarr")
seconds = time.perf_counter() - t
out = zarr.open_array(folder + "/out.zarr/0", mode="r")
print(json.dumps({"side": side, "seconds": seconds, "chunks": int(np.prod(fused.numblocks)),
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "corner_mean": float(np.asarray(out[:256, :256]).mean())}))
"""


def case_mosaic(side: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1"}
        done = subprocess.run([sys.executable, "-c", MOSAIC_CODE, str(side), tmp], env=env,
                              capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=("pairs", "mosaic"), default="pairs")
    parser.add_argument("--pairs", type=int, default=100)
    parser.add_argument("--side", type=int, default=16384)
    args = parser.parse_args()
    start = time.perf_counter()
    result = case_pairs(args.pairs) if args.case == "pairs" else case_mosaic(args.side)
    result["benchmark_seconds"] = round(time.perf_counter() - start, 1)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
