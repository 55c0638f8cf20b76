"""The ``napari-textif`` command line.

Each command group lives in its own module of this package and exposes
``register(subparsers)``; :data:`COMMAND_MODULES` lists them in help order.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from napari_textif import __version__

COMMAND_MODULES: tuple[str, ...] = (
    "fusing",
    "info",
    "checkpoint",
    "evaluate",
    "prompt",
    "degrade",
    "train",
)


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every registered command."""
    parser = argparse.ArgumentParser(
        prog="napari-textif",
        description=(
            "Fuse an infrared (thermal) and a visible image into one, steered by plain words "
            "such as 'the visible image is dark; keep people bright'."
        ),
        epilog="Run 'napari-textif COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"napari_textif.cli.{name}").register(subparsers)
    return parser


class CommandError(Exception):
    """An error a command reports as one line (no traceback), exit code 2."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (CommandError, ValueError, TypeError, OSError, RuntimeError) as exc:
        print(f"napari-textif {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
