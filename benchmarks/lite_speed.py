"""Speed and memory of the ``lite`` engine, end to end through :func:`napari_textif.fuse`.

Each case runs in its own subprocess so that its peak resident memory
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``, which counts torch's allocations,
unlike tracemalloc) belongs to that case alone.

Cases
-----
``640x480``
    Median wall time of ``fuse(ir, vis, prompt, engine="lite")`` (uint8 inputs, RGB
    output: validation, conversion, network, chroma recombination) over repeated
    runs after a warm-up; the classic engine is timed in the same process as a
    reference for how busy the CPU was.
``8192``
    A 8192x8192 pair fused by tiling; peak memory, and seams: the tiled result is
    compared with an untiled fusion of a 1536x1536 window around the centre (its
    1024x1024 interior, which tile overlaps cross).

Usage::

    python benchmarks/lite_speed.py                 # every case
    python benchmarks/lite_speed.py --case 640x480 --repeats 30 --threads 1

The CPU time per run (``cpu_median_s``, all threads) is printed beside the wall
time: on a machine shared with other jobs the wall time measures the queue as
much as the engine, while the one-thread CPU time is close to the wall time the
same run takes on an idle core.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import numpy as np


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _options(weights: str | None) -> dict[str, str]:
    return {"checkpoint": weights} if weights else {}


def case_640(repeats: int, weights: str | None) -> dict[str, object]:
    """Median end-to-end time for a 640x480 pair, lite and classic."""
    import napari_textif
    from napari_textif.samples import synthetic_pair

    ir, vis = synthetic_pair((480, 640), seed=1, dark=0.5)
    import torch

    out: dict[str, object] = {"case": "640x480", "threads": torch.get_num_threads(),
                              "loadavg_before": os.getloadavg()[0]}
    cases = (("lite", "lite", ""), ("lite+prompt", "lite", "the visible image is dark; keep people bright"),
             # noise and stripes go through the classic restoration steps before the network
             ("lite+restore", "lite", "the visible image is dark and noisy; the infrared has stripes"),
             ("classic", "classic", ""))
    for key, engine, prompt in cases:
        opts = _options(weights) if engine == "lite" else {}
        napari_textif.fuse(ir, vis, prompt, engine=engine, options=opts)
        times, engine_times, cpu_times = [], [], []
        for _ in range(repeats):
            t0, c0 = time.perf_counter(), time.process_time()
            result = napari_textif.fuse(ir, vis, prompt, engine=engine, options=opts)
            times.append(time.perf_counter() - t0)
            cpu_times.append(time.process_time() - c0)
            engine_times.append(result.timings["engine"])
        out[key] = {"median_s": statistics.median(times), "min_s": min(times),
                    "engine_median_s": statistics.median(engine_times),
                    "cpu_median_s": statistics.median(cpu_times), "runs": repeats}
    out["peak_rss_mb"] = _peak_mb()
    out["loadavg_after"] = os.getloadavg()[0]
    return out


def _big_pair(side: int) -> tuple[np.ndarray, np.ndarray]:
    from napari_textif.samples import synthetic_pair

    ir, vis = synthetic_pair((1024, 1024), seed=2)
    pad = side - 1024
    return (np.pad(ir, ((0, pad), (0, pad)), mode="symmetric"),
            np.pad(vis, ((0, pad), (0, pad), (0, 0)), mode="symmetric"))


def case_big(side: int, weights: str | None) -> dict[str, object]:
    """Tiled fusion of a side x side pair: time, peak memory and a seam check."""
    import napari_textif

    ir, vis = _big_pair(side)
    base_mb = _peak_mb()
    t0 = time.perf_counter()
    result = napari_textif.fuse(ir, vis, engine="lite", options=_options(weights))
    seconds = time.perf_counter() - t0
    peak = _peak_mb()
    c, half, inner = side // 2, 768, 512
    window = (slice(c - half, c + half), slice(c - half, c + half))
    ref = napari_textif.fuse(ir[window], vis[window], engine="lite", options=_options(weights)).image
    tiled = result.image[c - inner : c + inner, c - inner : c + inner]
    ref = ref[half - inner : half + inner, half - inner : half + inner]
    diff = np.abs(tiled - ref) * 255.0
    return {"case": f"{side}x{side}", "seconds": seconds, "peak_rss_mb": peak,
            "rss_before_fuse_mb": base_mb, "tiles": result.provenance.get("tiles"),
            "tile_size": result.provenance.get("tile_size"),
            "seam_check_max_abs_diff_255": float(diff.max()),
            "seam_check_mean_abs_diff_255": float(diff.mean())}


def run_case(name: str, repeats: int, weights: str | None, threads: int = 0) -> dict[str, object]:
    """Run one case in a fresh subprocess and return its JSON record."""
    cmd = [sys.executable, __file__, "--case", name, "--repeats", str(repeats), "--child",
           "--threads", str(threads)]
    if weights:
        cmd += ["--weights", weights]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return {"case": name, "error": done.stderr[-2000:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="lite engine speed and memory")
    parser.add_argument("--case", choices=("640x480", "8192"), action="append")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--weights", default=None, help="a lite .safetensors (default: shipped)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    cases = args.case or ["640x480", "8192"]
    if args.child:
        if args.threads:
            import torch

            torch.set_num_threads(args.threads)
        name = cases[0]
        record = case_640(args.repeats, args.weights) if name == "640x480" else case_big(8192, args.weights)
        print(json.dumps(record))
        return 0
    for name in cases:
        print(json.dumps(run_case(name, args.repeats, args.weights, args.threads), indent=1), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
