"""``fuse``, ``batch`` and ``demo``: the commands that make fused images."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from napari_textif.cli import CommandError
from napari_textif.io import READ_SUFFIXES, list_images, read_image, write_image


def _add_fusion_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-p", "--prompt", default="",
        help="what is wrong or wanted, e.g. 'the visible image is dark; keep people bright' "
        "(default: plain fusion)",
    )
    parser.add_argument(
        "--auto", action="store_true",
        help="also detect degradations from the images and restore those the prompt does not mention",
    )
    parser.add_argument("--engine", default=None, help="engine name (see 'napari-textif engines')")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or mps (torch engines)")
    parser.add_argument("--checkpoint", default=None, help="weights file for engines that need one")
    parser.add_argument("--bits", type=int, choices=(8, 16), default=8, help="bit depth of the output")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``fuse``, ``batch`` and ``demo`` commands."""
    p = subparsers.add_parser(
        "fuse", help="fuse one infrared/visible pair",
        description="Fuse one registered infrared/visible pair into one image.",
    )
    p.add_argument("infrared", type=Path, help="infrared (thermal) image file")
    p.add_argument("visible", type=Path, help="visible image file of the same size")
    p.add_argument("-o", "--output", type=Path, required=True, help="output file (.png, .tif, .jpg)")
    _add_fusion_options(p)
    p.add_argument("--metadata", action="store_true", help="also write OUTPUT.json with provenance")
    p.set_defaults(func=run_fuse)

    b = subparsers.add_parser(
        "batch", help="fuse every pair of two folders",
        description="Fuse the pairs of IR_DIR and VIS_DIR matched by file name (stem).",
    )
    b.add_argument("ir_dir", type=Path, help="folder of infrared images")
    b.add_argument("vis_dir", type=Path, help="folder of visible images with matching names")
    b.add_argument("out_dir", type=Path, help="folder for the fused images (created)")
    b.add_argument("--suffix", default=".png", help="output file type (default .png)")
    _add_fusion_options(b)
    b.set_defaults(func=run_batch)

    d = subparsers.add_parser(
        "demo", help="fuse a built-in synthetic pair offline and write it",
        description="Fuse a built-in synthetic night scene (dark visible image, warm people) "
        "with the default engine and write the inputs and the result.",
    )
    d.add_argument("-o", "--output", type=Path, default=Path("textif-demo.png"), help="fused output file")
    d.add_argument("-p", "--prompt", default="the visible image is very dark; keep people bright")
    d.add_argument("--engine", default=None, help="engine name (default: the best available)")
    d.set_defaults(func=run_demo)


def _options(args: argparse.Namespace) -> dict:
    return {"checkpoint": str(args.checkpoint)} if args.checkpoint else {}


def _fuse_files(ir_path: Path, vis_path: Path, out: Path, args: argparse.Namespace):
    from napari_textif.api import fuse

    result = fuse(
        read_image(ir_path), read_image(vis_path), args.prompt,
        engine=args.engine, auto=args.auto, device=args.device, options=_options(args),
    )
    write_image(out, result.image, bits=args.bits)
    return result


def run_fuse(args: argparse.Namespace) -> int:
    """Fuse one pair and print what was done."""
    result = _fuse_files(args.infrared, args.visible, args.output, args)
    if args.metadata:
        meta = {"infrared": str(args.infrared), "visible": str(args.visible), **result.metadata()}
        args.output.with_suffix(args.output.suffix + ".json").write_text(json.dumps(meta, indent=2))
    print(f"wrote {args.output} ({result.image.shape[1]}x{result.image.shape[0]}, engine "
          f"{result.engine} on {result.device}, {result.timings['total']:.2f} s)")
    print(f"controls: {result.controls.summary()}")
    for note in result.notes:
        print(f"note: {note}")
    return 0


def match_pairs(ir_dir: Path, vis_dir: Path) -> tuple[list[tuple[str, Path, Path]], list[str]]:
    """Pairs matched by stem, and the names found in only one folder."""
    irs, viss = list_images(ir_dir, role="infrared"), list_images(vis_dir, role="visible")
    pairs = [(stem, irs[stem], viss[stem]) for stem in sorted(set(irs) & set(viss))]
    unmatched = sorted(set(irs) ^ set(viss))
    return pairs, unmatched


def run_batch(args: argparse.Namespace) -> int:
    """Fuse every matched pair; go on past failures and report them."""
    from tqdm import tqdm

    if args.suffix not in (".png", ".tif", ".tiff", ".jpg", ".jpeg"):
        raise CommandError(f"--suffix must be .png, .tif or .jpg, got {args.suffix!r}")
    pairs, unmatched = match_pairs(args.ir_dir, args.vis_dir)
    if not pairs:
        raise CommandError(
            f"no pairs: no file name appears in both {args.ir_dir} and {args.vis_dir} "
            f"(readable types: {', '.join(READ_SUFFIXES)})"
        )
    failures: list[str] = []
    start = time.perf_counter()
    for stem, ir_path, vis_path in tqdm(pairs, desc="fusing", unit="pair", file=sys.stderr):
        try:
            _fuse_files(ir_path, vis_path, args.out_dir / f"{stem}{args.suffix}", args)
        except Exception as exc:  # one bad pair must not stop the batch
            failures.append(f"{stem}: {exc}")
    _print_batch_summary(len(pairs), failures, unmatched, time.perf_counter() - start, args.out_dir)
    return 1 if failures else 0


def _print_batch_summary(total: int, failures: list[str], unmatched: list[str], seconds: float,
                         out_dir: Path) -> None:
    print(f"fused {total - len(failures)} of {total} pairs into {out_dir} in {seconds:.1f} s"
          + (f"; {len(failures)} failed" if failures else ""))
    for line in failures:
        print(f"failed: {line}", file=sys.stderr)
    if unmatched:
        print(f"skipped {len(unmatched)} file(s) without a partner: {', '.join(unmatched[:10])}"
              + (" ..." if len(unmatched) > 10 else ""), file=sys.stderr)


def run_demo(args: argparse.Namespace) -> int:
    """Fuse the synthetic sample and write inputs and result beside each other."""
    from napari_textif.api import fuse
    from napari_textif.samples import synthetic_pair

    ir, vis = synthetic_pair(dark=0.8)
    result = fuse(ir, vis, args.prompt, engine=args.engine)
    out = write_image(args.output, result.image)
    stem = out.with_suffix("")
    write_image(f"{stem}-infrared.png", ir / 255.0)
    write_image(f"{stem}-visible.png", vis / 255.0)
    print(f"prompt: {args.prompt!r} -> {result.controls.summary()}")
    print(f"wrote {out} (and {stem.name}-infrared.png, {stem.name}-visible.png) with engine "
          f"{result.engine} in {result.timings['total']:.2f} s")
    return 0
