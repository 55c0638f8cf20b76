"""Time the classic engine end to end (napari_textif.fuse) and report peak memory.

Each case runs in a fresh subprocess so its peak resident memory (ru_maxrss) is its own.

    python benchmarks/classic_speed.py            # 640x480 and 4096x4096
    python benchmarks/classic_speed.py --sizes 640x480 --repeats 5
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

CASE = """
import json, resource, sys, time
import numpy as np
from napari_textif import fuse
from napari_textif.samples import synthetic_pair
h, w, repeats, prompt = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
ir, vis = synthetic_pair(shape=(h, w), dark=0.7)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
times = []
for _ in range(repeats):
    t0 = time.perf_counter()
    fuse(ir, vis, prompt, engine="classic")
    times.append(time.perf_counter() - t0)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"times": times, "peak_mb": peak / 1024, "before_mb": base / 1024}))
"""


def run_case(h: int, w: int, repeats: int, prompt: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", CASE, str(h), str(w), str(repeats), prompt],
        capture_output=True, text=True, check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["640x480", "4096x4096"], help="WxH sizes")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--prompt", default="dark visible image, noisy infrared")
    args = parser.parse_args()
    print(f"classic engine, prompt {args.prompt!r}, {args.repeats} repeats per size")
    print(f"{'size':>10} {'median s':>9} {'min s':>7} {'peak MB':>8} {'MB before':>9}")
    for size in args.sizes:
        w, h = map(int, size.lower().split("x"))
        r = run_case(h, w, args.repeats, args.prompt)
        print(f"{size:>10} {statistics.median(r['times']):9.3f} {min(r['times']):7.3f} "
              f"{r['peak_mb']:8.0f} {r['before_mb']:9.0f}")


if __name__ == "__main__":
    main()
