"""``convert-checkpoint``: turn an official Text-IF ``.pth`` into a fast, safe safetensors file."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``convert-checkpoint`` command."""
    p = subparsers.add_parser(
        "convert-checkpoint",
        help="convert an official Text-IF checkpoint to safetensors",
        description=(
            "Read an official Text-IF checkpoint (simple_fusion.pth, text_fusion.pth, "
            "text_fusion_power.pth) without running any code it might carry, verify its keys "
            "and shapes, and write the fusion network plus the CLIP text tower as safetensors. "
            "Later loads of the new file are faster and need no unpickling."
        ),
    )
    p.add_argument("source", type=Path, help="the authors' .pth checkpoint (or an earlier export)")
    p.add_argument(
        "output", type=Path, nargs="?", default=None,
        help="destination .safetensors file (default: SOURCE with the suffix .safetensors)",
    )
    p.add_argument("--force", action="store_true", help="overwrite OUTPUT if it exists")
    p.set_defaults(func=run_convert)


def run_convert(args: argparse.Namespace) -> int:
    """Verify ``args.source`` and write ``args.output``; prints both sha256 sums."""
    from napari_textif.cli import CommandError
    from napari_textif.engines.textif import checkpoints
    from napari_textif.io import atomic_path, same_file

    output = args.output or args.source.with_suffix(".safetensors")
    if same_file(output, args.source):
        raise CommandError(f"OUTPUT {output} is the SOURCE {args.source}; name another file")
    if output.exists() and not args.force:
        raise CommandError(f"output {output} exists; pass --force to overwrite it")
    try:
        ckpt = checkpoints.load_checkpoint(args.source)
    except checkpoints.CheckpointError as exc:
        raise CommandError(str(exc)) from exc
    with atomic_path(output) as tmp:  # a complete file or none, even if interrupted
        digest = checkpoints.export_safetensors(ckpt, tmp)
    print(f"read    {args.source} ({ckpt.format}, sha256 {ckpt.sha256})")
    print(f"keys    {ckpt.report.summary()}")
    if ckpt.clip is None:
        print("note    the file has no CLIP part; give the engine clip_weights when using the export")
    print(f"wrote   {output} (sha256 {digest})")
    return 0
