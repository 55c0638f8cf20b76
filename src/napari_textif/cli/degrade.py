"""``degrade``: write a copy of an image with one simulated degradation (test data)."""

from __future__ import annotations

import argparse
from pathlib import Path

from napari_textif.controls import DEGRADATIONS


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``degrade`` command."""
    p = subparsers.add_parser(
        "degrade", help="simulate a degradation on an image (for test data)",
        description="Write a degraded copy of IN to OUT with the simulator the training uses. "
        "Strength 0 copies the image; 1 is severe. vis_* kinds are meant for visible images, "
        "ir_* kinds for infrared images. The same --seed gives the same result.",
    )
    p.add_argument("input", type=Path, metavar="IN", help="image file to degrade")
    p.add_argument("output", type=Path, metavar="OUT", help="output file (.png, .tif, .jpg)")
    p.add_argument("--kind", required=True, choices=DEGRADATIONS, metavar="K",
                   help=f"degradation: {', '.join(DEGRADATIONS)}")
    p.add_argument("--strength", type=float, default=0.6, metavar="S", help="0..1 (default 0.6)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--bits", type=int, choices=(8, 16), default=8, help="bit depth of the output")
    p.add_argument("--overwrite", action="store_true",
                   help="allow OUT to be IN (the input is replaced by the degraded copy)")
    p.set_defaults(func=run_degrade)


def run_degrade(args: argparse.Namespace) -> int:
    """Read, degrade, write and say what was done; OUT never replaces IN without --overwrite."""
    from napari_textif import imaging
    from napari_textif.cli import refuse_input_as_output
    from napari_textif.io import read_image, write_image
    from napari_textif.training.degrade import degrade

    refuse_input_as_output(args.output, {"input image IN": args.input}, option="OUT",
                           overwrite=args.overwrite)
    prepared = imaging.prepare(read_image(args.input), name=str(args.input))
    out = degrade(prepared.data, args.kind, args.strength, args.seed)
    write_image(args.output, out, bits=args.bits)
    if prepared.note:
        print(prepared.note)
    print(f"wrote {args.output} ({args.kind} at strength {args.strength:g}, seed {args.seed})")
    return 0
