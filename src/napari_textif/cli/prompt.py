"""``interpret`` and ``analyze``: what a prompt asks for, and what the images suggest."""

from __future__ import annotations

import argparse
import json

from napari_textif.cli.fusing import add_kind_option
from napari_textif.interpretation import Interpretation


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``interpret`` and ``analyze`` commands."""
    p = subparsers.add_parser(
        "interpret", help="show the Controls a prompt sets and the words behind each",
        description="Read a prompt the way the fusion engines do and print the Controls it sets, "
        "the words that set each one, what it rules out and anything not understood.",
    )
    p.add_argument("prompt", help='the text, e.g. "the visible image is very dark; keep people bright"')
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    add_kind_option(p)
    p.set_defaults(func=run_interpret)

    p = subparsers.add_parser(
        "analyze", help="detect degradations in an image pair and suggest a prompt",
        description="Estimate from the images alone (no reference) which degradations a pair "
        "suffers from, and print the detected strengths, the measurement behind each and a "
        "suggested prompt.",
    )
    p.add_argument("infrared", help="infrared (thermal) image file")
    p.add_argument("visible", help="visible image file of the same size")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=run_analyze)


def run_interpret(args: argparse.Namespace) -> int:
    """Print the Controls a prompt sets."""
    from napari_textif.interpretation import interpret

    result = interpret(args.prompt, kind=args.kind)
    if args.json:
        print(json.dumps(_as_record(result), indent=2))
        return 0
    print(f"controls: {result.controls.summary()}")
    print(result.explain())
    return 0


def run_analyze(args: argparse.Namespace) -> int:
    """Print what detection found in a pair and the suggested prompt."""
    from napari_textif.detection import detect, suggest_prompt
    from napari_textif.io import read_image

    result = detect(read_image(args.infrared), read_image(args.visible))
    prompt = suggest_prompt(result)
    if args.json:
        print(json.dumps({**_as_record(result), "suggested_prompt": prompt}, indent=2))
        return 0
    print(f"detected: {result.controls.summary()}")
    for name, value in result.controls.active().items():
        print(f"  {name:18s} {value:.2f}  ({result.phrases.get(name, '')})")
    for note in result.notes:
        print(f"note: {note}")
    print(f"suggested prompt: {prompt!r}" if prompt else "suggested prompt: '' (nothing to restore)")
    return 0


def _as_record(result: Interpretation) -> dict:
    return {
        "controls": result.controls.to_dict(),
        "phrases": dict(result.phrases),
        "excluded": dict(result.excluded),
        "notes": list(result.notes),
    }
