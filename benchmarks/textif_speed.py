"""Time and peak memory of the Text-IF network: our attention vs the explicit N x N map.

Each case runs in a fresh subprocess so that its peak memory (max RSS on the CPU,
``torch.cuda.max_memory_allocated`` on a GPU) is its own. Weights are random
(PyTorch's default init): speed and memory do not depend on their values.

Variants
--------
ours       SDPA pixel attention + strip-wise transformer blocks (the engine's default)
sdpa       SDPA pixel attention, whole-image blocks
explicit   explicit N x N attention maps, whole-image blocks (the reference's memory profile)

Usage::

    python benchmarks/textif_speed.py                       # CPU, 256, 640x480, 1024, 2048
    python benchmarks/textif_speed.py --sizes 256 480x640 --repeats 3
    python benchmarks/textif_speed.py --device cuda --precision fp16
    python benchmarks/textif_speed.py --attention-only --repeats 3 --variants sdpa explicit
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

DEFAULT_SIZES = ("256x256", "480x640", "1024x1024", "2048x2048")
VARIANTS = ("ours", "sdpa", "explicit")


def parse_size(text: str) -> tuple[int, int]:
    """``"480x640"`` -> (480, 640) as height x width; ``"256"`` -> (256, 256)."""
    parts = [int(p) for p in text.lower().split("x")]
    return (parts[0], parts[0]) if len(parts) == 1 else (parts[0], parts[1])


def explicit_map_bytes(height: int, width: int, itemsize: int = 4) -> int:
    """Bytes of one N x N attention map at 1/8 resolution."""
    n = (height // 8) * (width // 8)
    return n * n * itemsize


def run_case(size: str, variant: str, device: str, precision: str, repeats: int, threads: int,
             strip_elements: int = 2**25) -> dict:
    """Run one case in this process and return its measurements."""
    import torch

    from napari_textif.engines.textif.net import TextIFNet

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    h, w = parse_size(size)
    net = TextIFNet(
        attention="explicit" if variant == "explicit" else "sdpa",
        strip_elements=strip_elements if variant == "ours" else None,
    ).eval().to(device)
    vis, ir = (torch.rand(1, 3, h, w, device=device) for _ in range(2))
    text = torch.randn(1, 512, device=device)
    dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(precision)
    times = []
    for _ in range(repeats):
        _sync(device)
        start = time.perf_counter()
        with torch.inference_mode(), torch.autocast(device, dtype=dtype or torch.float32,
                                                    enabled=dtype is not None):
            net(vis, ir, text)
        _sync(device)
        times.append(time.perf_counter() - start)
    peak = (torch.cuda.max_memory_allocated() if device == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    return {"size": size, "variant": variant, "seconds": statistics.median(times), "peak_bytes": peak}


def run_attention_case(size: str, variant: str, device: str, repeats: int, threads: int) -> dict:
    """Time only the three 1/8-resolution pixel attentions (two cross, one spatial)."""
    import torch

    from napari_textif.engines.textif.net import pixel_attention

    torch.set_num_threads(threads)
    h, w = parse_size(size)
    q, k, v = (torch.randn(1, 384, h // 8, w // 8, device=device) for _ in range(3))
    kind = "explicit" if variant == "explicit" else "sdpa"
    times = []
    for _ in range(repeats):
        _sync(device)
        start = time.perf_counter()
        with torch.inference_mode():
            for _ in range(3):
                pixel_attention(q, k, v, kind=kind)
        _sync(device)
        times.append(time.perf_counter() - start)
    peak = (torch.cuda.max_memory_allocated() if device == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    return {"size": size, "variant": variant, "seconds": min(times), "peak_bytes": peak}


def _sync(device: str) -> None:
    if device == "cuda":
        import torch

        torch.cuda.synchronize()


def spawn_case(args: argparse.Namespace, size: str, variant: str) -> dict:
    """Run one case in a subprocess; returns its JSON or an error record."""
    cmd = [sys.executable, __file__, "--child", "--sizes", size, "--variants", variant,
           *(["--attention-only"] if args.attention_only else []),
           "--strip-elements", str(args.strip_elements),
           "--device", args.device, "--precision", args.precision,
           "--repeats", str(args.repeats), "--threads", str(args.threads)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["?"])[-1]
        return {"size": size, "variant": variant, "error": f"exit {proc.returncode}: {tail}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def print_row(case: dict, base: dict | None) -> None:
    """One line of the table; ratios are relative to the first variant of the same size."""
    if "error" in case or "skipped" in case:
        print(f"{case['size']:>10} {case['variant']:>9}  {case.get('skipped') or case['error']}", flush=True)
        return
    mib = case["peak_bytes"] / 2**20
    line = f"{case['size']:>10} {case['variant']:>9} {case['seconds']:9.2f} s {mib:9.0f} MiB"
    if base is not None and "seconds" in base and case is not base:
        line += (f"   time x{case['seconds'] / base['seconds']:.2f}"
                 f"   memory x{case['peak_bytes'] / base['peak_bytes']:.2f}  (vs {base['variant']})")
    print(line, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=list(DEFAULT_SIZES), help="HxW or S (square)")
    parser.add_argument("--variants", nargs="+", default=["ours", "explicit"], choices=VARIANTS)
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--precision", default="fp32", choices=("fp32", "fp16", "bf16"))
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads (CPU)")
    parser.add_argument("--max-explicit-gb", type=float, default=8.0,
                        help="skip explicit-map cases whose N x N map alone exceeds this")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per case")
    parser.add_argument("--attention-only", action="store_true",
                        help="time only the 1/8-resolution pixel attentions (min of --repeats)")
    parser.add_argument("--strip-elements", type=int, default=2**25,
                        help="strip threshold of the 'ours' variant (TextIFNet strip_elements)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child and args.attention_only:
        case = run_attention_case(args.sizes[0], args.variants[0], args.device, args.repeats, args.threads)
    elif args.child:
        case = run_case(args.sizes[0], args.variants[0], args.device, args.precision, args.repeats,
                        args.threads, args.strip_elements)
    if args.child:
        print(json.dumps(case))
        return 0
    peak = "max RSS of the process" if args.device == "cpu" else "CUDA max allocated"
    print(f"device={args.device} precision={args.precision} threads={args.threads} "
          f"repeats={args.repeats}; peak = {peak}")
    for size in args.sizes:
        base = None
        for variant in args.variants:
            h, w = parse_size(size)
            maps = 1 if args.attention_only else 3
            need = explicit_map_bytes(h, w) * (maps if variant == "explicit" else 0)
            if need > args.max_explicit_gb * 1e9:
                case = {"size": size, "variant": variant,
                        "skipped": f"skipped: {maps} N x N map(s) need {need / 1e9:.1f} GB"}
            else:
                case = spawn_case(args, size, variant)
            base = case if base is None else base
            print_row(case, base)
    return 0


if __name__ == "__main__":
    sys.exit(main())
