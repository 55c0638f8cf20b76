"""``evaluate``: score fused images with the fusion literature's metrics."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from napari_textif.cli import CommandError
from napari_textif.metrics import DEFAULT_SSIM_CONVENTION, SSIM_CONVENTIONS

if TYPE_CHECKING:  # pragma: no cover
    from tqdm import tqdm

    from napari_textif.evaluate import Evaluation


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``evaluate`` command."""
    conventions = ", ".join(f"{name}: data_range {span:g}" for name, span in SSIM_CONVENTIONS.items())
    p = subparsers.add_parser(
        "evaluate", help="score fused images (EN, SD, SF, AG, MI, SCD, VIF, Qabf, SSIM)",
        description="Score a fused image, or a folder of them, against the infrared and visible "
        "sources with the metrics of the infrared/visible fusion literature. In folder mode fused "
        "files are matched to sources by name without suffix (fused x.png <- ir/x.jpg, vis/x.jpg).",
    )
    p.add_argument("fused", type=Path, help="fused image file, or folder of fused images")
    p.add_argument("--ir", type=Path, required=True, help="infrared image file, or folder")
    p.add_argument("--vis", type=Path, required=True, help="visible image file, or folder")
    p.add_argument("--csv", type=Path, default=None, help="also write the per-image rows and the mean here")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout instead of a table")
    p.add_argument(
        "--ssim-convention", choices=tuple(SSIM_CONVENTIONS), default=DEFAULT_SSIM_CONVENTION,
        help=f"SSIM data range on the 0..255 scale ({conventions}; literature matches the widely "
        f"copied tables; default {DEFAULT_SSIM_CONVENTION})",
    )
    p.add_argument("--no-progress", action="store_true", help="do not show a progress bar")
    p.set_defaults(func=run_evaluate)


def run_evaluate(args: argparse.Namespace) -> int:
    """Evaluate one triple or a folder, then print a table or JSON and maybe write CSV.

    In folder mode an image that cannot be scored is reported and the others
    are scored (exit code 1, like ``batch``).
    """
    from napari_textif.cli import refuse_input_as_output

    if args.fused.is_dir():
        result = _evaluate_folder(args)
    elif args.fused.is_file():
        if args.csv is not None:
            inputs = {"fused image": args.fused, "--ir image": args.ir, "--vis image": args.vis}
            refuse_input_as_output(args.csv, inputs, option="--csv", overwrite=False)
        result = _evaluate_files(args)
    else:
        raise CommandError(f"fused image or folder not found: {args.fused}")
    if args.csv is not None:
        result.write_csv(args.csv)
    for failure in result.failures:
        print(f"failed: {failure['name']}: {failure['error']}", file=sys.stderr)
    if args.json:
        print(json.dumps(result.to_dict(), allow_nan=False))
    else:
        print(result.format_table())
        if args.csv is not None:
            print(f"wrote {args.csv}")
    return 1 if result.failures else 0


def _evaluate_folder(args: argparse.Namespace) -> Evaluation:
    from napari_textif.evaluate import evaluate_triples, match_folders

    for flag, path in (("--ir", args.ir), ("--vis", args.vis)):
        if not path.is_dir():
            raise CommandError(f"{flag} must be a folder when FUSED is a folder, got {path}")
    triples = match_folders(args.fused, args.ir, args.vis)
    with _progress_bar(len(triples), disable=args.no_progress) as bar:
        return evaluate_triples(
            triples, ssim_convention=args.ssim_convention, progress=lambda done, total: bar.update(1),
            keep_going=True,
        )


def _evaluate_files(args: argparse.Namespace) -> Evaluation:
    from napari_textif.evaluate import evaluate_files

    for flag, path in (("--ir", args.ir), ("--vis", args.vis)):
        if not path.is_file():
            raise CommandError(f"{flag} must be an image file when FUSED is a file, got {path}")
    return evaluate_files(args.fused, args.ir, args.vis, ssim_convention=args.ssim_convention)


def _progress_bar(total: int, *, disable: bool) -> tqdm:
    from tqdm import tqdm

    return tqdm(total=total, unit="image", desc="evaluate", file=sys.stderr, disable=disable or None)
