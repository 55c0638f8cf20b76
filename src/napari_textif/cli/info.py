"""``engines``: list the fusion engines and whether they can run here."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``engines`` command."""
    p = subparsers.add_parser(
        "engines", help="list fusion engines and their availability",
        description="List the registered fusion engines, what each needs and whether it can run here.",
    )
    p.add_argument("--checkpoint", default=None, help="checkpoint to check for engines that need one")
    p.set_defaults(func=run_engines)


def run_engines(args: argparse.Namespace) -> int:
    """Print one block per engine; the default engine is marked with '*'."""
    from napari_textif.engines import default_engine, list_engines

    options = {"checkpoint": args.checkpoint} if args.checkpoint else {}
    default = default_engine()
    for info in list_engines(options):
        mark = "*" if info.name == default else " "
        state = "available" if info.availability.available else f"unavailable: {info.availability.reason}"
        print(f"{mark} {info.name:8s} {state}")
        print(f"    {info.description}")
        if info.needs:
            print(f"    needs: {'; '.join(info.needs)}")
    print("(* = default engine)")
    return 0
