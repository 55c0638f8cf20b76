"""``train``: train or fine-tune a trainable fusion engine on folders of registered pairs."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from napari_textif.cli import CommandError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``train`` command."""
    p = subparsers.add_parser(
        "train", help="train a fusion engine on registered pairs",
        description="Train a trainable engine (see 'napari-textif engines') on folders of registered "
        "infrared/visible pairs (ir/ + vi/ matched by name, the EMS layout or degraded_pairs), with "
        "degradations simulated on the fly and the loss weighted by the Controls that describe them. "
        "Writes OUT (.safetensors), OUT's .json record and a checkpoint beside them; --resume continues "
        "an interrupted run from its checkpoint.",
    )
    p.add_argument("--engine", default="lite", help="trainable engine (default lite)")
    p.add_argument("--data", nargs="+", required=True, type=Path, metavar="DIR", help="training folders")
    p.add_argument("--steps", type=int, required=True, metavar="N", help="optimiser steps")
    p.add_argument("--batch", type=int, default=8, metavar="B", help="samples per step (default 8)")
    p.add_argument("--crop", type=int, default=96, metavar="C", help="crop side in pixels (default 96)")
    p.add_argument("--out", type=Path, required=True, metavar="W", help="output weights, *.safetensors")
    p.add_argument("--resume", action="store_true", help="continue from the checkpoint beside --out")
    p.add_argument("--val", nargs="+", type=Path, default=[], metavar="DIR",
                   help="validation folders (default: hold out a few training pairs)")
    p.add_argument("--lr", type=float, default=1e-3, help="peak learning rate (default 1e-3)")
    p.add_argument("--weight-decay", type=float, default=0.05, help="AdamW weight decay (default 0.05)")
    p.add_argument("--warmup", type=int, default=None, help="warm-up steps (default min(1000, N/20))")
    p.add_argument("--schedule", choices=("cosine", "poly"), default="cosine", help="decay after warm-up")
    p.add_argument("--seed", type=int, default=0, help="seed of data sampling and initialisation")
    p.add_argument("--val-every", type=int, default=500, help="validate every N steps (default 500)")
    p.add_argument("--val-pairs", type=int, default=8,
                   help="validation pairs, spread over the split (default 8)")
    p.add_argument("--checkpoint-every", type=int, default=250, help="checkpoint every N steps (default 250)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default auto)")
    p.add_argument("--threads", type=int, default=2, help="CPU threads (default 2)")
    p.add_argument("--workers", type=int, default=0, help="data-loading processes (default 0)")
    p.add_argument("--model-config", default=None, help="JSON object overriding the engine's default config")
    p.add_argument("--init", type=Path, default=None, metavar="W",
                   help="start from these weights (*.safetensors of the same architecture): fine-tune")
    p.add_argument("--holdout-every", type=int, default=None, metavar="N",
                   help="keep every N-th pair of each --data folder (by name, first included) out of "
                   "training and validate on them (when no --val is given)")
    p.add_argument("--validation-every", type=int, default=None, metavar="M",
                   help="with --holdout-every: every M-th of the remaining pairs of each folder is a "
                   "validation pair (never trained on) and validation uses those, not the held-out ones")
    p.add_argument("--holdout-slices", action="store_true",
                   help="medical volumes (pairs named VVSSS): split by slice-number ranges, train on "
                   "the training range and validate on the validation range; the held-out range is "
                   "never used (napari_textif.training.datasets.split_slices)")
    p.add_argument("--loss", default=None,
                   help="JSON object of loss options: gradient_scales, contrast_scales (lists of int), "
                   "correlation_weight, contrast_weight, preference_weight (floats), e.g. "
                   "'{\"gradient_scales\": [1, 2, 4]}' (napari_textif.training.losses.fusion_loss)")
    p.add_argument("--policy", default=None,
                   help="JSON object of degradation-policy fields, e.g. '{\"unnamed_prob\": 0.3}' "
                   "(see napari_textif.training.datasets.DegradationPolicy)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run_train)


def _json_object(text: str | None, option: str) -> dict | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise CommandError(f"{option} must be a JSON object, got {text!r} ({exc})") from exc
    if not isinstance(value, dict):
        raise CommandError(f"{option} must be a JSON object, got {text!r}")
    return value


def run_train(args: argparse.Namespace) -> int:
    """Build the config, train, and print where the results are."""
    # Spinning OpenMP workers waste the CPU on a shared machine (measured 5x slower steps with
    # two threads); it is read when torch loads, so set it before the first torch import.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from napari_textif.training import TrainConfig, train

    config = TrainConfig(
        engine=args.engine, data=[str(d) for d in args.data], out=str(args.out), steps=args.steps,
        batch=args.batch, crop=args.crop, val=[str(v) for v in args.val], lr=args.lr,
        weight_decay=args.weight_decay, warmup=args.warmup, schedule=args.schedule, seed=args.seed,
        val_every=args.val_every, val_pairs=args.val_pairs, checkpoint_every=args.checkpoint_every,
        device=args.device,
        threads=args.threads, workers=args.workers,
        model_config=_json_object(args.model_config, "--model-config"),
        policy=_json_object(args.policy, "--policy") or {},
        loss=_json_object(args.loss, "--loss") or {},
        init=None if args.init is None else str(args.init), holdout_every=args.holdout_every,
        holdout_slices=args.holdout_slices, validation_every=args.validation_every,
    )
    result = train(config, resume=args.resume, progress=not args.no_progress)
    print(f"trained {config.engine} for steps {result.start_step}..{result.steps} "
          f"({result.steps_per_second:.2f} steps/s this session, not counting validation and checkpoints)")
    if result.metrics:
        print("validation: " + "  ".join(f"{k} {v:.3f}" for k, v in result.metrics.items()))
    print(f"weights:    {result.weights}\nrecord:     {result.sidecar}\ncheckpoint: {result.checkpoint}")
    return 0
