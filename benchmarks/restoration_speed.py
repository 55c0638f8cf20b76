"""Speed and memory of prompted fusion (restoration + the default engine), end to end.

Cases, each in its own subprocess (so its peak resident memory, ``VmHWM``, is its own):

``640x480``
    Median wall and CPU time of ``fuse(ir, vis, prompt)`` (default engine, severity
    measured on the images) for the neutral prompt, each of the nine kinds named
    alone, and all nine named in one prompt; the neutral run beside them shows how
    busy the machine was (the ratios to it are what to compare between runs).
    Issue 13's targets: one kind <= 0.5 s, all nine <= 1.5 s.
``8192``
    A 8192x8192 pair with all nine kinds named; peak memory (target: 4 GB).

Usage::

    OMP_NUM_THREADS=1 python benchmarks/restoration_speed.py --repeats 5
    OMP_NUM_THREADS=1 python benchmarks/restoration_speed.py --case 8192
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from lite_quality import PROMPTS

ALL_NINE = "; ".join(PROMPTS[k] for k in PROMPTS)


def _timed(fn, repeats: int) -> dict[str, float]:  # type: ignore[no-untyped-def]
    walls, cpus = [], []
    fn()  # warm-up: imports, weights, caches
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    return {"wall_median_s": statistics.median(walls), "cpu_median_s": statistics.median(cpus)}


def case_640(repeats: int) -> dict[str, object]:
    """Median end-to-end times at 640x480 for neutral, each kind, and all nine."""
    import torch

    import napari_textif
    from napari_textif.samples import synthetic_pair

    torch.set_num_threads(1)
    ir, vis = synthetic_pair((480, 640), seed=1, dark=0.5)
    prompts = {"neutral": "", **PROMPTS, "all nine": ALL_NINE}
    rows = {name: _timed(lambda p=p: napari_textif.fuse(ir, vis, p), repeats) for name, p in prompts.items()}
    return {"case": "640x480", "rows": rows}


def case_8192() -> dict[str, object]:
    """All nine named on a 8192x8192 pair: time and peak resident memory."""
    import numpy as np

    import napari_textif
    from napari_textif.samples import synthetic_pair

    small_ir, small_vis = synthetic_pair((1024, 1024), seed=2, dark=0.4)
    ir, vis = np.tile(small_ir, (8, 8)), np.tile(small_vis, (8, 8, 1))
    t0 = time.perf_counter()
    result = napari_textif.fuse(ir, vis, ALL_NINE)
    return {"case": "8192", "seconds": time.perf_counter() - t0, "shape": list(result.image.shape),
            "finite": bool(np.isfinite(result.image).all()),
            "peak_mb": _peak_mb()}


def _peak_mb() -> float:
    """This process's peak resident memory: VmHWM (Linux's ru_maxrss carries a parent's peak over exec)."""
    with open("/proc/self/status") as status:
        hwm = [line.split()[1] for line in status if line.startswith("VmHWM")]
    return int(hwm[0]) / 1024 if hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _print(report: dict[str, object]) -> None:
    if report["case"] == "8192":
        print(f"8192x8192, all nine named: {report['seconds']:.1f} s, peak {report['peak_mb']:.0f} MB "
              f"(target 4096 MB), finite: {report['finite']}")
        return
    rows = report["rows"]
    base = rows["neutral"]["wall_median_s"]  # type: ignore[index]
    print(f"{'prompt':<18}{'wall s':>9}{'cpu s':>9}{'x neutral':>11}  target")
    for name, row in rows.items():  # type: ignore[union-attr]
        target = "" if name == "neutral" else ("<= 1.5 s" if name == "all nine" else "<= 0.5 s")
        print(f"{name:<18}{row['wall_median_s']:9.3f}{row['cpu_median_s']:9.3f}"
              f"{row['wall_median_s'] / base:11.2f}  {target}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=("640x480", "8192", "all"), default="all")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.child:
        report = case_640(args.repeats) if args.case == "640x480" else case_8192()
        print(json.dumps(report))
        return 0
    reports = []
    for case in ("640x480", "8192") if args.case == "all" else (args.case,):
        out = subprocess.run([sys.executable, __file__, "--child", "--case", case, "--repeats",
                              str(args.repeats)], capture_output=True, text=True, check=True)
        reports.append(json.loads(out.stdout.strip().splitlines()[-1]))
        _print(reports[-1])
    if args.json:
        args.json.write_text(json.dumps(reports, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
