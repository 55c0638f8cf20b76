"""``fuse``, ``batch`` and ``demo``: the commands that make fused images."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from napari_textif.cli import CommandError, refuse_input_as_output
from napari_textif.cli.stacks import add_cluster_options
from napari_textif.io import (
    READ_SUFFIXES,
    WRITE_SUFFIXES,
    atomic_open,
    list_images,
    read_image,
    remove_stale_temporaries,
    same_file,
    write_image,
)


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
    parser.add_argument("--engine", default=None,
                        help="engine name (see 'napari-textif engines'; default: the configured one, "
                        "else the best available)")
    parser.add_argument("--device", default=None,
                        help="auto, cpu, cuda or mps (torch engines; default: the configured one, else auto)")
    parser.add_argument("--checkpoint", default=None, help="weights file for engines that need one")
    parser.add_argument("--bits", type=int, choices=(8, 16), default=8, help="bit depth of the output")
    add_kind_option(parser)


def add_kind_option(parser: argparse.ArgumentParser) -> None:
    """``--kind``: the pair kind (infrared/visible by default; MRI-CT, MRI-PET...)."""
    from napari_textif.pairkinds import DEFAULT_KIND, KINDS

    shown = "; ".join(f"{k.name}: {k.roles[0].label} then {k.roles[1].label}" for k in KINDS.values())
    parser.add_argument("--kind", default=DEFAULT_KIND, choices=tuple(KINDS),
                        help=f"pair kind, which says what the two images are, in order ({shown}); "
                        f"default {DEFAULT_KIND}")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``fuse``, ``batch`` and ``demo`` commands."""
    p = subparsers.add_parser(
        "fuse", help="fuse one infrared/visible pair",
        description="Fuse one registered infrared/visible pair into one image.",
    )
    p.add_argument("infrared", type=Path, help="infrared (thermal) image file; with --kind, the "
                   "kind's first image (e.g. the MRI)")
    p.add_argument("visible", type=Path, help="visible image file of the same size; with --kind, the "
                   "kind's second image (e.g. the CT, PET or SPECT)")
    p.add_argument("-o", "--output", type=Path, required=True, help="output file (.png, .tif, .jpg)")
    _add_fusion_options(p)
    p.add_argument("--metadata", action="store_true", help="also write OUTPUT.json with provenance")
    p.add_argument("--overwrite", action="store_true",
                   help="allow OUTPUT to be one of the input files (it is replaced by the result)")
    p.set_defaults(func=run_fuse)

    b = subparsers.add_parser(
        "batch", help="fuse every pair of two folders",
        description="Fuse the pairs of IR_DIR and VIS_DIR matched by file name (stem).",
    )
    b.add_argument("ir_dir", type=Path, help="folder of infrared images")
    b.add_argument("vis_dir", type=Path, help="folder of visible images with matching names")
    b.add_argument("out_dir", type=Path, help="folder for the fused images (created)")
    b.add_argument("--suffix", default=".png", help="output file type (default .png)")
    existing = b.add_mutually_exclusive_group()
    existing.add_argument("--resume", action="store_true",
                          help="keep the outputs that already exist (e.g. after Ctrl-C) and fuse the rest")
    existing.add_argument("--overwrite", action="store_true",
                          help="replace outputs that exist; allows OUT_DIR to be an input folder")
    _add_fusion_options(b)
    add_cluster_options(b)
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


def _fusion_kwargs(args: argparse.Namespace) -> dict:
    """``fuse`` keywords from the flags, else the configured settings (:mod:`napari_textif.settings`).

    The engine and device flags win over the configured ones (else the best
    available engine, ``auto``); the configured CPU threads are passed to engines
    that take a ``threads`` option.
    """
    from napari_textif import settings
    from napari_textif.engines import default_engine, get_engine

    configured = settings.load()
    engine = args.engine or configured.engine or default_engine()
    options = {"checkpoint": str(args.checkpoint)} if args.checkpoint else {}
    options.update(configured.engine_options(get_engine(engine).option_names))
    device = args.device or configured.device
    return {"engine": engine, "device": device, "auto": args.auto, "options": options, "kind": args.kind}


def _fuse_files(ir_path: Path, vis_path: Path, out: Path, args: argparse.Namespace):
    from napari_textif.api import fuse

    result = fuse(read_image(ir_path), read_image(vis_path), args.prompt, **_fusion_kwargs(args))
    write_image(out, result.image, bits=args.bits)
    return result


def run_fuse(args: argparse.Namespace) -> int:
    """Fuse one pair and print what was done; the output never replaces an input without --overwrite."""
    inputs = {"infrared input": args.infrared, "visible input": args.visible}
    refuse_input_as_output(args.output, inputs, option="-o/--output", overwrite=args.overwrite)
    meta_path = args.output.with_suffix(args.output.suffix + ".json")
    if args.metadata:
        refuse_input_as_output(meta_path, inputs, option="--metadata file", overwrite=args.overwrite)
    result = _fuse_files(args.infrared, args.visible, args.output, args)
    if args.metadata:
        meta = {"infrared": str(args.infrared), "visible": str(args.visible), **result.metadata()}
        with atomic_open(meta_path, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(meta, indent=2))
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
    """Fuse every matched pair (here, or on a dask cluster); go on past failures and report them.

    A pair that fails is tried once more, then reported with its error. Outputs
    are written atomically, so an interrupted run (Ctrl-C, a kill) leaves only
    complete files; Ctrl-C prints the summary of what was done and
    exits with 130. Existing outputs are kept with ``--resume`` and replaced
    only with ``--overwrite``.
    """
    if args.suffix not in WRITE_SUFFIXES:
        raise CommandError(f"--suffix must be .png, .tif or .jpg, got {args.suffix!r}")
    for role, folder in (("infrared folder IR_DIR", args.ir_dir), ("visible folder VIS_DIR", args.vis_dir)):
        refuse_input_as_output(args.out_dir, {role: folder}, option="OUT_DIR", overwrite=args.overwrite)
    pairs, unmatched = match_pairs(args.ir_dir, args.vis_dir)
    if not pairs:
        raise CommandError(
            f"no pairs: no file name appears in both {args.ir_dir} and {args.vis_dir} "
            f"(readable types: {', '.join(READ_SUFFIXES)})"
        )
    for stale in remove_stale_temporaries(args.out_dir, suffixes=WRITE_SUFFIXES):
        print(f"removed {stale}, left by an earlier batch that was killed while writing", file=sys.stderr)
    outputs = {stem: args.out_dir / f"{stem}{args.suffix}" for stem, _, _ in pairs}
    _refuse_name_clashes(args.out_dir, outputs)
    todo, kept = _pairs_to_fuse(pairs, outputs, args)
    done: list[str] = []
    failures: list[str] = []
    interrupted = False
    start = time.perf_counter()
    try:
        if args.scheduler or args.workers:
            from napari_textif.cli.stacks import fuse_pairs_on_cluster

            fuse_pairs_on_cluster(todo, outputs, args, _fusion_kwargs(args), done, failures)
        else:
            _fuse_pairs_here(todo, outputs, args, done, failures)
    except KeyboardInterrupt:
        interrupted = True
    for stale in remove_stale_temporaries(args.out_dir, suffixes=WRITE_SUFFIXES):
        print(f"removed {stale}, left by a worker that was killed while writing", file=sys.stderr)
    _print_batch_summary(len(pairs), len(done), kept, failures, unmatched, time.perf_counter() - start,
                         args.out_dir, interrupted=interrupted)
    if interrupted:
        return 130
    return 1 if failures else 0


def _fuse_pairs_here(todo: list[tuple[str, Path, Path]], outputs: dict[str, Path], args: argparse.Namespace,
                     done: list[str], failures: list[str]) -> None:
    """Fuse ``todo`` in this process, each pair tried twice; appends to ``done`` and ``failures``."""
    from tqdm import tqdm

    with tqdm(total=len(todo), desc="fusing", unit="pair", file=sys.stderr) as bar:
        for stem, ir_path, vis_path in todo:
            for attempt in (1, 2):
                try:
                    _fuse_files(ir_path, vis_path, outputs[stem], args)
                except Exception as exc:  # one bad pair must not stop the batch
                    if attempt == 2:
                        failures.append(f"{stem}: {exc}")
                else:
                    done.append(stem)
                    break
            bar.update(1)


def _refuse_name_clashes(out_dir: Path, outputs: dict[str, Path]) -> None:
    """Refuse outputs that would sit beside another image of the same stem (``x.png`` by ``x.jpg``).

    Such a folder can no longer be matched by name (``batch``, ``evaluate`` and
    training refuse it), so nothing is written.
    """
    if not out_dir.is_dir():
        return
    clashes = []
    for entry in sorted(out_dir.iterdir()):
        target = outputs.get(entry.stem)
        if target is not None and entry.suffix.lower() in READ_SUFFIXES and entry.name != target.name:
            clashes.append(f"{target.name} beside {entry.name}")
    if clashes:
        shown = ", ".join(clashes[:5]) + (f" and {len(clashes) - 5} more" if len(clashes) > 5 else "")
        raise CommandError(
            f"OUT_DIR {out_dir} already has images with the names of the outputs ({shown}); two images "
            "of one name cannot be matched to their pairs: choose another OUT_DIR or another --suffix"
        )


def _pairs_to_fuse(pairs: list[tuple[str, Path, Path]], outputs: dict[str, Path],
                   args: argparse.Namespace) -> tuple[list[tuple[str, Path, Path]], int]:
    """The pairs to fuse now and how many existing outputs are kept (``--resume``).

    Without ``--resume`` or ``--overwrite`` an existing output is an error
    listing them; with ``--resume`` an existing output that cannot be read
    back (a partial file from an older version) is fused again.
    """
    existing = [stem for stem, _, _ in pairs if outputs[stem].exists()]
    if existing and not (args.resume or args.overwrite):
        shown = ", ".join(outputs[s].name for s in existing[:5]) + (" ..." if len(existing) > 5 else "")
        raise CommandError(
            f"{len(existing)} of the {len(pairs)} outputs already exist in OUT_DIR {args.out_dir} ({shown}); "
            "pass --resume to keep them and fuse the rest, or --overwrite to replace them"
        )
    if not args.resume:
        return list(pairs), 0
    inputs = [path for _, ir_path, vis_path in pairs for path in (ir_path, vis_path)]
    todo, kept = [], 0
    for stem, ir_path, vis_path in pairs:
        out = outputs[stem]
        if out.exists() and (any(same_file(out, path) for path in inputs) or _reads_back(out)):
            kept += 1
        else:
            todo.append((stem, ir_path, vis_path))
    return todo, kept


def _reads_back(path: Path) -> bool:
    try:
        read_image(path)
    except (OSError, ValueError):
        print(f"fusing {path.name} again: the existing file is incomplete", file=sys.stderr)
        return False
    return True


def _print_batch_summary(total: int, fused: int, kept: int, failures: list[str], unmatched: list[str],
                         seconds: float, out_dir: Path, *, interrupted: bool = False) -> None:
    parts = [f"fused {fused} of {total} pairs into {out_dir} in {seconds:.1f} s"]
    if kept:
        parts.append(f"kept {kept} existing")
    if failures:
        parts.append(f"{len(failures)} failed")
    if interrupted:
        left = total - fused - kept - len(failures)
        parts.append(f"interrupted with {left} left (run again with --resume to fuse them)")
    print("; ".join(parts), flush=True)
    for line in failures:
        print(f"failed: {line}", file=sys.stderr)
    if unmatched:
        print(f"skipped {len(unmatched)} file(s) without a partner: {', '.join(unmatched[:10])}"
              + (" ..." if len(unmatched) > 10 else ""), file=sys.stderr)


def run_demo(args: argparse.Namespace) -> int:
    """Fuse the synthetic sample and write inputs and result beside each other."""
    from napari_textif import settings
    from napari_textif.api import fuse
    from napari_textif.samples import synthetic_pair

    ir, vis = synthetic_pair(dark=0.8)
    result = fuse(ir, vis, args.prompt, engine=args.engine or settings.load().engine or None)
    out = write_image(args.output, result.image)
    stem = out.with_suffix("")
    write_image(f"{stem}-infrared.png", ir / 255.0)
    write_image(f"{stem}-visible.png", vis / 255.0)
    print(f"prompt: {args.prompt!r} -> {result.controls.summary()}")
    print(f"wrote {out} (and {stem.name}-infrared.png, {stem.name}-visible.png) with engine "
          f"{result.engine} in {result.timings['total']:.2f} s")
    return 0
