"""The ``napari-textif`` command line.

Each command group lives in its own module of this package and exposes
``register(subparsers)``; :data:`COMMAND_MODULES` lists them in help order.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path

from napari_textif import __version__

COMMAND_MODULES: tuple[str, ...] = (
    "fusing",
    "stacks",
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
    parser.add_argument(
        "--debug", action="store_true",
        help="when a command fails, show the full traceback as well as the one-line error",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"napari_textif.cli.{name}").register(subparsers)
    for command in subparsers.choices.values():  # also accepted after the command's name
        command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                             help="show the full traceback when the command fails")
    return parser


class CommandError(Exception):
    """An error a command reports as one line (no traceback), exit code 2."""


#: Errors whose message is written for users; any other exception is a bug and says so.
EXPECTED_ERRORS: tuple[type[BaseException], ...] = (
    CommandError, ValueError, TypeError, OSError, RuntimeError,
)


def describe_error(exc: BaseException) -> str:
    """``exc`` as one line for the terminal: its message, the file an OSError names, no traceback.

    Parameters
    ----------
    exc : BaseException

    Returns
    -------
    str
        One line (newlines of multi-line messages are joined). Unexpected
        exception types are named, with a pointer to ``--debug``.
    """
    text = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    if isinstance(exc, OSError):
        for name in (exc.filename, exc.filename2):
            if name is not None and str(name) not in text:
                text = f"{text}: {name}"
    if not isinstance(exc, EXPECTED_ERRORS):
        text = f"{type(exc).__name__}: {text or 'no message'} (unexpected; --debug shows the traceback)"
    return text or type(exc).__name__


def refuse_input_as_output(output: Path, inputs: Mapping[str, Path], *, option: str, overwrite: bool) -> None:
    """Refuse to write ``output`` when it is one of ``inputs``, unless ``overwrite``.

    Paths are compared resolved (symbolic links, ``..``) and, for existing
    files, by identity (hard links: :func:`napari_textif.io.same_file`).

    Parameters
    ----------
    output : Path
        The file or folder about to be written.
    inputs : mapping of str to Path
        What each input is (``"infrared image"``) -> its path.
    option : str
        How the user gave ``output`` (``"-o/--output"``), named in the message.
    overwrite : bool
        ``--overwrite`` was given: the user asked to replace the input.

    Raises
    ------
    CommandError
        Naming the option, the path and the input it would replace.
    """
    from napari_textif.io import same_file

    if overwrite:
        return
    for role, path in inputs.items():
        if same_file(output, path):
            raise CommandError(
                f"{option} {output} is the {role} {path}: writing there would replace it; name "
                "another output, or pass --overwrite to replace the input on purpose"
            )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code.

    Every failure is one line on stderr naming the file or option, with exit
    code 2 (``--debug`` adds the traceback); Ctrl-C exits with 130.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        if args.debug:
            traceback.print_exc(file=sys.stderr)
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # every error ends as one line; --debug shows where it came from
        if args.debug:
            traceback.print_exc(file=sys.stderr)
        print(f"napari-textif {args.command}: error: {describe_error(exc)}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
