"""Training and fine-tuning of trainable fusion engines on registered pairs.

The trainable-engine protocol
-----------------------------
An engine (:class:`napari_textif.engines.Engine`) with ``trainable = True`` provides

``default_config(self) -> dict``
    The architecture config of a fresh network (JSON-ready).
``create_model(self, config: Mapping | None = None) -> torch.nn.Module``
    A fresh, untrained network for ``config`` (``None``: the default).
``load_init(self, model, state, config)`` (optional)
    Put the ``--init`` weights ``state`` (recorded with architecture ``config``, or
    None) into ``model``; without it the state must fit ``model`` exactly.
``train_forward(self, model, batch: dict) -> torch.Tensor``
    The fused image in ``[0, 1]``: ``(B, 1, H, W)`` luminance for engines whose
    ``output`` is ``"luminance"``, ``(B, 3, H, W)`` RGB for ``"rgb"`` engines.

``batch`` holds tensors ``"ir"`` ``(B, 1, H, W)`` degraded infrared, ``"vis"``
``(B, 3, H, W)`` degraded visible RGB, ``"ir_clean"``, ``"vis_clean"`` (the clean
targets, same shapes), ``"controls"`` ``(B, K)`` float vectors in the layout of
:data:`napari_textif.controls.CONTROL_NAMES`, and ``"prompt"``, a list of
sentences describing each sample's degradations (for text-conditioned engines).

What :func:`train` does
-----------------------
AdamW with linear warm-up then cosine (or poly) decay; a progress bar with the
loss terms; validation every ``val_every`` steps on held-out pairs (loss and
:func:`napari_textif.metrics.compute_all`); checkpoints written atomically
(temporary file, fsync, ``os.replace``) every ``checkpoint_every`` steps or
``checkpoint_seconds``, whichever comes first, and on Ctrl-C, holding the
config, step, model, optimiser and scheduler state and the data list; resume
continues from the saved step with the same batches as an uninterrupted run;
the result is exported as safetensors plus a JSON sidecar. Runs on the CPU
with ``threads`` threads, or on CUDA with bf16 autocast.

Over 600 lines on purpose: the config, the resume logic (which must know every
config field to decide what may change between runs) and the run itself change
together whenever a training option is added; the data sets, the losses and the
weight records it uses live in their own modules.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from napari_textif.controls import CONTROL_NAMES, CONTROLS_VERSION
from napari_textif.engines.records import export_weights, torch_load_problem
from napari_textif.io import atomic_open, remove_stale_temporaries
from napari_textif.training.datasets import (
    DegradationPolicy,
    PairDataset,
    PairRecord,
    find_pairs,
    split_holdout,
    split_slices,
    split_three,
)
from napari_textif.training.losses import LOSS_TERMS, fusion_loss

CHECKPOINT_FORMAT = "napari-textif-checkpoint"
CHECKPOINT_VERSION = 1
SCHEDULES = ("cosine", "poly")


def _factors(values: Any) -> tuple[int, ...]:
    """A JSON list of pyramid factors as the tuple of ints the loss takes."""
    return tuple(int(f) for f in values)


#: Options of :func:`napari_textif.training.losses.fusion_loss` that ``TrainConfig.loss`` may set.
LOSS_OPTIONS: dict[str, Callable[[Any], Any]] = {
    "gradient_scales": _factors,
    "correlation_weight": float,
    "contrast_weight": float,
    "contrast_scales": _factors,
    "preference_weight": float,
}
#: Smallest validation crop: VIF's largest window is 17 pixels at the coarsest of 4 scales.
MIN_VAL_CROP = 48

#: ``callback(step, terms)`` after each step; it may raise KeyboardInterrupt to stop (a checkpoint is saved).
StepCallback = Callable[[int, Mapping[str, float]], None]


@dataclasses.dataclass
class TrainConfig:
    """Everything that defines a training run (stored in checkpoints and sidecars).

    Attributes
    ----------
    engine : str
        A registered engine with ``trainable = True``.
    data : list of str
        Training folders (see :func:`napari_textif.training.datasets.find_pairs`).
    out : str
        Output weights file, ``*.safetensors``; the sidecar is ``*.json`` and the
        checkpoint ``*.checkpoint.pt`` beside it.
    steps, batch, crop : int
        Optimiser steps, samples per step and crop side.
    val : list of str
        Validation folders; empty: hold out a few training pairs.
    lr, weight_decay : float
        AdamW settings; ``lr`` is the peak after warm-up.
    warmup : int or None
        Warm-up steps (default ``min(1000, steps // 20)``).
    schedule : {"cosine", "poly"}
        Decay after warm-up, to ``lr * min_lr_ratio`` (cosine) or 0 (poly, power 0.9).
    init : str or None
        Start from these weights (``*.safetensors`` of the same architecture): fine-tuning.
    loss : dict
        Options of :func:`napari_textif.training.losses.fusion_loss` (``gradient_scales``).
    holdout_every : int or None
        Keep every n-th pair of each ``data`` folder (sorted by name, the first one
        included) out of training and validate on those; ignored when ``val`` is given.
    validation_every : int or None
        With ``holdout_every``: of the pairs left for training in each folder, every n-th
        (the first included) is a validation pair instead, never trained on; validation
        then uses these and the held-out pairs are never read
        (:func:`napari_textif.training.datasets.split_three`).
    holdout_slices : bool
        Split volumes of slices (medical pairs named ``VVSSS``) by slice-number ranges
        (:func:`napari_textif.training.datasets.split_slices`): train on the training
        range, validate on the validation range, never touch the held-out range.
    """

    engine: str
    data: list[str]
    out: str
    steps: int
    batch: int = 8
    crop: int = 96
    val: list[str] = dataclasses.field(default_factory=list)
    lr: float = 1e-3
    weight_decay: float = 0.05
    warmup: int | None = None
    schedule: str = "cosine"
    min_lr_ratio: float = 0.01
    grad_clip: float = 1.0
    seed: int = 0
    val_every: int = 500
    val_pairs: int = 8
    val_crop: int = 256
    checkpoint_every: int = 250
    checkpoint_seconds: float = 300.0
    device: str = "auto"
    threads: int = 2
    workers: int = 0
    model_config: dict[str, Any] | None = None
    policy: dict[str, Any] = dataclasses.field(default_factory=dict)
    init: str | None = None
    holdout_every: int | None = None
    holdout_slices: bool = False
    validation_every: int | None = None
    loss: dict[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("steps", "batch", "crop", "val_every", "checkpoint_every", "threads", "val_pairs"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if self.crop < 16:
            raise ValueError(f"crop must be at least 16 pixels, got {self.crop}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}, got {self.schedule!r}")
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr!r}")
        if not str(self.out).endswith(".safetensors"):
            raise ValueError(f"out must be a .safetensors file name, got {self.out!r}")
        if not self.data:
            raise ValueError("data must name at least one folder of pairs")
        if self.holdout_every is not None and (
            isinstance(self.holdout_every, bool) or not isinstance(self.holdout_every, int)
            or self.holdout_every < 2
        ):
            raise ValueError(f"holdout_every must be an int of at least 2, got {self.holdout_every!r}")
        if self.validation_every is not None and (
            isinstance(self.validation_every, bool) or not isinstance(self.validation_every, int)
            or self.validation_every < 2 or self.holdout_every is None
        ):
            raise ValueError(
                f"validation_every must be an int of at least 2 given with holdout_every, got "
                f"{self.validation_every!r} (holdout_every {self.holdout_every!r})"
            )
        if self.init is not None and not str(self.init).endswith(".safetensors"):
            raise ValueError(f"init must be a .safetensors weights file, got {self.init!r}")
        unknown = sorted(set(self.loss) - set(LOSS_OPTIONS))
        if unknown:
            raise ValueError(f"loss has unknown options {unknown}; known: {list(LOSS_OPTIONS)}")
        self.data = [str(d) for d in self.data]
        self.val = [str(v) for v in self.val]
        DegradationPolicy.from_dict(self.policy)

    @property
    def warmup_steps(self) -> int:
        """Warm-up length actually used."""
        return min(1000, self.steps // 20) if self.warmup is None else min(int(self.warmup), self.steps)

    @property
    def paths(self) -> dict[str, Path]:
        """Output files: ``weights``, ``sidecar``, ``checkpoint``."""
        weights = Path(self.out)
        return {
            "weights": weights,
            "sidecar": weights.with_suffix(".json"),
            "checkpoint": weights.with_name(weights.stem + ".checkpoint.pt"),
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return dataclasses.asdict(self)


@dataclasses.dataclass
class TrainResult:
    """What a run produced."""

    weights: Path
    sidecar: Path
    checkpoint: Path
    start_step: int
    steps: int
    losses: list[float]
    metrics: dict[str, float]
    seconds: float
    steps_per_second: float


# ----------------------------------------------------------------------------- entry point


def train(
    config: TrainConfig,
    *,
    resume: bool = False,
    progress: bool = True,
    log: Callable[[str], None] = print,
    callback: StepCallback | None = None,
) -> TrainResult:
    """Train ``config.engine`` and export its weights.

    Parameters
    ----------
    config : TrainConfig
    resume : bool
        Continue from the checkpoint beside ``config.out`` when there is one
        (a fresh start otherwise, said in the log).
    progress : bool
        Show a progress bar with the loss terms.
    log : callable
        Receives one line per event (validation results, checkpoints, notes).
    callback : callable, optional
        See :data:`StepCallback`.

    Returns
    -------
    TrainResult
    """
    engine = _trainable_engine(config.engine)
    paths = config.paths
    for stale in remove_stale_temporaries(paths["weights"].parent, names=[p.name for p in paths.values()]):
        log(f"removed {stale}, left by an earlier run that was killed while writing")
    device = _setup_torch(config)
    state = _load_resume_state(config, log) if resume else None
    if state is not None:
        config = _merge_resumed_config(config, localize_config(state["config"], paths["checkpoint"]))
    train_set, val_set = _build_data(config)
    if state is not None:
        _check_same_data(state, train_set)
    model_config = dict(
        state["model_config"] if state
        else config.model_config or _init_config(config.init) or engine.default_config()
    )
    model = engine.create_model(model_config)
    if state is None and config.init is not None:
        _load_init_weights(model, Path(config.init), engine)
        log(f"starting from the weights {config.init}")
    model = model.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _lr_factor(config))
    start = 0
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        start = int(state["step"])
        log(f"resumed from {config.paths['checkpoint']} at step {start}")
    run = _Run(config, engine, model, model_config, optimizer, scheduler, device, train_set, val_set, log)
    run.metrics = dict(state.get("metrics", {})) if state else {}
    return run.loop(start, progress=progress, callback=callback)


def _trainable_engine(name: str) -> Any:
    from napari_textif.engines import get_engine

    engine = get_engine(name)
    missing = [m for m in ("create_model", "default_config", "train_forward") if not hasattr(engine, m)]
    if not engine.trainable or missing:
        from napari_textif.engines import list_engines

        trainable = [info.name for info in list_engines() if info.trainable]
        raise ValueError(
            f"engine {name!r} is not trainable; trainable engines: {', '.join(trainable) or 'none'}"
        )
    return engine


def _init_config(init: str | None) -> dict[str, Any] | None:
    """The architecture recorded beside ``init`` weights (their JSON sidecar), if any."""
    import json

    sidecar = Path(init).with_suffix(".json") if init else None
    if sidecar is None or not sidecar.is_file():
        return None
    try:
        config = json.loads(sidecar.read_text(encoding="utf-8")).get("config")
    except ValueError:
        return None
    return dict(config) if isinstance(config, dict) else None


def _load_init_weights(model: torch.nn.Module, path: Path, engine: Any = None) -> None:
    """Load ``path`` (safetensors) into ``model``; a different architecture is a clear error.

    An engine with ``load_init(model, state, config)`` decides itself (the lite engine
    widens narrower weights into a wider network); ``config`` is the one recorded beside them.
    """
    from safetensors.torch import load_file

    if not path.is_file():
        raise FileNotFoundError(f"init weights not found: {path}")
    try:
        if hasattr(engine, "load_init"):
            engine.load_init(model, load_file(str(path)), _init_config(str(path)))
            return
        model.load_state_dict(load_file(str(path)))
    except RuntimeError as exc:
        raise ValueError(
            f"init weights {path} do not fit the model (pass the --model-config they were trained "
            f"with): {str(exc).splitlines()[0]}"
        ) from exc


def _setup_torch(config: TrainConfig) -> str:
    from napari_textif.engines.base import resolve_device

    device = resolve_device(config.device)
    if device == "cpu":
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    return device


def _lr_factor(config: TrainConfig) -> Callable[[int], float]:
    warmup, total, floor = config.warmup_steps, config.steps, config.min_lr_ratio

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        progress = min(1.0, (step - warmup) / max(1, total - warmup))
        if config.schedule == "poly":
            return (1.0 - progress) ** 0.9
        return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))

    return factor


# ----------------------------------------------------------------------------- data


def _build_data(config: TrainConfig) -> tuple[PairDataset, PairDataset | None]:
    if config.val:
        records, val_records = find_pairs(config.data), find_pairs(config.val)[: config.val_pairs]
    elif config.holdout_slices:
        parts = split_slices(find_pairs(config.data))
        records, val_records = parts["train"], _spread(parts["val"], config.val_pairs)
    elif config.holdout_every:
        parts = split_three(config.data, config.holdout_every, config.validation_every)
        records = parts["train"]
        chosen = parts["val"] if config.validation_every else parts["held_out"]
        val_records = _spread(chosen, config.val_pairs)
    else:
        records, val_records = split_holdout(
            find_pairs(config.data), max_count=config.val_pairs, seed=config.seed
        )
    policy = DegradationPolicy.from_dict(config.policy)
    train_set = PairDataset(
        records, crop=config.crop, seed=config.seed, length=config.steps * config.batch, policy=policy
    )
    val_set = None
    if val_records:
        crop = _val_crop(val_records, config.val_crop)
        val_set = PairDataset(val_records, crop=crop, seed=config.seed + 1, policy=policy, augment=False)
    return train_set, val_set


def _spread(records: Sequence[PairRecord], count: int) -> list[PairRecord]:
    """``count`` records evenly spread over ``records`` (all of them when there are fewer)."""
    if len(records) <= count:
        return list(records)
    return [records[i] for i in np.linspace(0, len(records) - 1, count).round().astype(int)]


def _val_crop(records: Sequence[PairRecord], wanted: int) -> int:
    from PIL import Image

    smallest = wanted
    for record in records:
        with Image.open(record.infrared[0].path) as img:
            smallest = min(smallest, *img.size)
    return max(MIN_VAL_CROP, smallest // 8 * 8)


def _collate(samples: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    batch: dict[str, Any] = {}
    for key, value in samples[0].items():
        if isinstance(value, np.ndarray):
            batch[key] = torch.from_numpy(np.stack([s[key] for s in samples]))
        else:
            batch[key] = [s[key] for s in samples]
    return batch


def _to_device(batch: Mapping[str, Any], device: str) -> dict[str, Any]:
    return {k: v.to(device, non_blocking=True) if torch.is_tensor(v) else v for k, v in batch.items()}


# ----------------------------------------------------------------------------- checkpoints


def save_checkpoint(path: Path, payload: Mapping[str, Any]) -> None:
    """Write ``payload`` with ``torch.save`` atomically (:func:`napari_textif.io.atomic_open`)."""
    with atomic_open(path, "wb") as fh:
        torch.save(dict(payload), fh)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a training checkpoint safely (``weights_only=True``) and check its format.

    Raises
    ------
    ValueError
        When the file is damaged, truncated, refers to Python objects that are
        not weights, or is not a napari-textif training checkpoint (the message
        names the file).
    """
    try:
        state = torch.load(Path(path), map_location="cpu", weights_only=True)
    except MemoryError:
        raise
    except Exception as exc:  # arbitrary bytes make the unpickler raise KeyError, IndexError...
        refused, reason = torch_load_problem(exc, path)
        verb = "refused to load" if refused else "could not read"
        raise ValueError(f"{verb} the training checkpoint {path}: {reason}") from exc
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not a napari-textif training checkpoint")
    if state.get("version") != CHECKPOINT_VERSION:
        raise ValueError(
            f"{path} has checkpoint version {state.get('version')}, expected {CHECKPOINT_VERSION}"
        )
    return state


def _load_resume_state(config: TrainConfig, log: Callable[[str], None]) -> dict[str, Any] | None:
    path = config.paths["checkpoint"]
    if not path.is_file():
        log(f"no checkpoint at {path}; starting from step 0")
        return None
    state = load_checkpoint(path)
    if state["engine"] != config.engine:
        raise ValueError(f"checkpoint {path} is for engine {state['engine']!r}, not {config.engine!r}")
    return state


#: Settings that may change when a run is resumed; every other one must match the checkpoint.
#: ``out`` may change because the run folder may be moved: the checkpoint read is the one beside it.
RESUMABLE_CHANGES = (
    "steps", "val_every", "checkpoint_every", "checkpoint_seconds", "device", "threads", "workers", "out",
)
#: Config fields holding folder or file paths; a checkpoint stores those inside the run folder relative to it.
PATH_FIELDS = ("data", "val", "init")


def portable_config(config: TrainConfig) -> dict[str, Any]:
    """``config.to_dict()`` as a checkpoint stores it, so that the run folder can be moved.

    ``out`` becomes its file name and the paths of :data:`PATH_FIELDS` inside the
    run folder (the folder of ``out``) become relative to it; other paths become
    absolute. :func:`localize_config` undoes this for the folder a checkpoint is
    read from.
    """
    run_dir = Path(config.out).resolve().parent
    saved = config.to_dict()
    saved["out"] = Path(config.out).name
    for field in PATH_FIELDS:
        value = saved[field]
        if isinstance(value, list):
            saved[field] = [_portable(v, run_dir) for v in value]
        elif value is not None:
            saved[field] = _portable(value, run_dir)
    return saved


def _portable(path: str, run_dir: Path) -> str:
    absolute = Path(path).resolve()
    return absolute.relative_to(run_dir).as_posix() if absolute.is_relative_to(run_dir) else str(absolute)


def localize_config(saved: Mapping[str, Any], checkpoint: Path) -> dict[str, Any]:
    """A checkpoint's config with its run-relative paths resolved against the checkpoint's folder.

    Absolute paths (and every path of checkpoints written before paths were
    stored relative to the run folder) are kept as they are.
    """
    run_dir = Path(checkpoint).resolve().parent
    local = dict(saved)
    local["out"] = str(run_dir / Path(saved["out"]).name)
    for field in PATH_FIELDS:
        value = local.get(field)
        if isinstance(value, list):
            local[field] = [str(run_dir / v) for v in value]  # an absolute v stays itself
        elif value is not None:
            local[field] = str(run_dir / value)
    return local


def _same_setting(key: str, wanted: Any, fixed: Any) -> bool:
    if key not in PATH_FIELDS or wanted is None or fixed is None:
        return wanted == fixed
    if isinstance(wanted, list) and isinstance(fixed, list):
        return len(wanted) == len(fixed) and all(
            Path(a).resolve() == Path(b).resolve() for a, b in zip(wanted, fixed, strict=True)
        )
    return Path(wanted).resolve() == Path(fixed).resolve()


def _merge_resumed_config(config: TrainConfig, saved: Mapping[str, Any]) -> TrainConfig:
    """The saved run's settings with the changeable ones of ``config``; other differences are errors.

    Paths are compared once resolved (``saved`` as :func:`localize_config` gives it).
    """
    wanted = config.to_dict()
    fixed = TrainConfig(**saved).to_dict()
    differ = [k for k in fixed if k not in RESUMABLE_CHANGES and not _same_setting(k, wanted[k], fixed[k])]
    if differ:
        shown = ", ".join(f"{k}: checkpoint {fixed[k]!r}, now {wanted[k]!r}" for k in differ)
        raise ValueError(
            f"cannot resume with other settings ({shown}); resume with the same --data and options "
            "as the checkpoint, or start a new run with another --out"
        )
    return TrainConfig(**{**fixed, **{k: wanted[k] for k in RESUMABLE_CHANGES}})


def _check_same_data(state: Mapping[str, Any], train_set: PairDataset) -> None:
    saved = [r["name"] for r in state["data"]]
    now = [r.name for r in train_set.records]
    if saved != now:
        raise ValueError(
            f"the training pairs differ from the checkpoint's ({len(now)} now, {len(saved)} saved); "
            "resume with the same --data, or start a new run with another --out"
        )


# ----------------------------------------------------------------------------- the loop


class _Run:
    """One training session: the loop, validation, checkpoints and export."""

    def __init__(self, config, engine, model, model_config, optimizer, scheduler, device, train_set,
                 val_set, log) -> None:
        self.config, self.engine, self.model, self.model_config = config, engine, model, model_config
        self.optimizer, self.scheduler, self.device = optimizer, scheduler, device
        self.train_set, self.val_set, self.log = train_set, val_set, log
        self.loss_options = {k: LOSS_OPTIONS[k](v) for k, v in config.loss.items()}
        self.autocast = device.startswith("cuda") and torch.cuda.is_bf16_supported()
        self.metrics: dict[str, float] = {}
        self.losses: list[float] = []
        self.overhead = 0.0  # seconds spent validating and checkpointing

    def loop(self, start: int, *, progress: bool, callback: StepCallback | None) -> TrainResult:
        from tqdm.auto import tqdm

        config, t0 = self.config, time.perf_counter()
        last_save, saved_step = time.monotonic(), start
        bar = tqdm(total=config.steps, initial=start, desc=f"train {config.engine}", disable=not progress,
                   dynamic_ncols=True)
        self.log_line = bar.write if progress else self.log
        try:
            for step, batch in enumerate(self._batches(start), start=start + 1):
                terms = self._step(batch)
                self.losses.append(terms["loss"])
                bar.update(1)
                bar.set_postfix_str(_format_terms(terms, self.scheduler.get_last_lr()[0]), refresh=False)
                if callback is not None:
                    callback(step, terms)
                if step % config.val_every == 0 or step == config.steps:
                    self._validate(step)
                overdue = time.monotonic() - last_save > config.checkpoint_seconds
                if step % config.checkpoint_every == 0 or overdue:
                    self._checkpoint(step)
                    last_save, saved_step = time.monotonic(), step
        except KeyboardInterrupt:
            done = start + len(self.losses)
            self._checkpoint(done)
            self.log_line(f"interrupted at step {done}; resume with --resume")
            raise
        finally:
            bar.close()
        if saved_step != config.steps:
            self._checkpoint(config.steps)
        seconds = time.perf_counter() - t0
        train_seconds = seconds - self.overhead
        rate = len(self.losses) / train_seconds if train_seconds > 0 else 0.0
        self._export(seconds, rate)
        paths = config.paths
        return TrainResult(paths["weights"], paths["sidecar"], paths["checkpoint"], start, config.steps,
                           self.losses, dict(self.metrics), seconds, rate)

    def _batches(self, start: int) -> Any:
        from torch.utils.data import DataLoader

        config = self.config
        indices = range(start * config.batch, config.steps * config.batch)
        loader = DataLoader(self.train_set, batch_size=config.batch, sampler=indices, collate_fn=_collate,
                            num_workers=config.workers, pin_memory=self.device.startswith("cuda"))
        return iter(loader)

    def _forward(self, batch: Mapping[str, Any]) -> torch.Tensor:
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.autocast):
            fused = self.engine.train_forward(self.model, batch)
        channels = 1 if self.engine.output == "luminance" else 3
        expected = (batch["ir"].shape[0], channels, *batch["ir"].shape[2:])
        if tuple(fused.shape) != expected:
            raise RuntimeError(
                f"engine {self.config.engine!r} train_forward returned shape {tuple(fused.shape)}, "
                f"expected {expected} for a {self.engine.output!r} engine"
            )
        return fused.float()

    def _step(self, batch: Mapping[str, Any]) -> dict[str, float]:
        self.model.train()
        batch = _to_device(batch, self.device)
        fused = self._forward(batch)
        loss, terms = fusion_loss(fused, batch["ir_clean"], batch["vis_clean"], batch["controls"],
                                  **self.loss_options)
        if not torch.isfinite(loss):
            raise RuntimeError(f"the loss is not finite ({loss.item()}); lower --lr or check the data")
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.config.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip)
        self.optimizer.step()
        self.scheduler.step()
        return {"loss": float(loss.detach()), **{k: float(v) for k, v in terms.items()}}

    @torch.no_grad()
    def _validate(self, step: int) -> None:
        if self.val_set is None:
            return
        t0 = time.perf_counter()
        self.model.eval()
        rows = [self._validate_one(self.val_set[i]) for i in range(len(self.val_set))]
        self.metrics = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
        shown = "  ".join(f"{k} {v:.3f}" for k, v in self.metrics.items())
        self.log_line(f"val step {step} ({len(rows)} pairs, {self.val_set.crop}px): {shown}")
        self.overhead += time.perf_counter() - t0

    def _validate_one(self, sample: Mapping[str, Any]) -> dict[str, float]:
        batch = _to_device(_collate([sample]), self.device)
        fused = self._forward(batch).clamp(0.0, 1.0)
        loss, _ = fusion_loss(fused, batch["ir_clean"], batch["vis_clean"], batch["controls"],
                              **self.loss_options)
        row = {"loss": float(loss)}
        try:
            from napari_textif.metrics import compute_all
        except ImportError:  # pragma: no cover - metrics ship with the package
            return row
        image = fused[0].permute(1, 2, 0).cpu().numpy()
        image = image[..., 0] if image.shape[2] == 1 else image
        ir = sample["ir_clean"][0]
        vis = np.moveaxis(sample["vis_clean"], 0, 2)
        row.update(compute_all(np.clip(image, 0, 1), ir, vis))
        return row

    def _checkpoint(self, step: int) -> None:
        payload = {
            "format": CHECKPOINT_FORMAT,
            "version": CHECKPOINT_VERSION,
            "engine": self.config.engine,
            "config": portable_config(self.config),
            "model_config": self.model_config,
            "step": step,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "data": self.train_set.describe_data(),
            "val_data": self.val_set.describe_data() if self.val_set else [],
            "metrics": dict(self.metrics),
            "controls_version": CONTROLS_VERSION,
            "controls_names": list(CONTROL_NAMES),
        }
        t0 = time.perf_counter()
        save_checkpoint(self.config.paths["checkpoint"], payload)
        self.overhead += time.perf_counter() - t0

    def _export(self, seconds: float, rate: float) -> None:
        training = {
            "data_sets": [_describe_folder(d) for d in self.config.data],
            "val_sets": [_describe_folder(d) for d in self.config.val],
            "pairs": len(self.train_set.records),
            "val_pairs": [r.name for r in self.val_set.records] if self.val_set else [],
            "steps": self.config.steps,
            "final_loss": float(np.mean(self.losses[-50:])) if self.losses else None,
            "metrics": dict(self.metrics),
            "seconds_this_session": round(seconds, 1),
            "steps_per_second": round(rate, 3),  # training steps only (not validation, checkpoints)
            "device": self.device,
            "precision": "bf16 autocast" if self.autocast else "float32",
            "torch": torch.__version__,
            "config": self.config.to_dict(),
        }
        export_weights(self.model, self.config.paths["weights"], engine=self.config.engine,
                       model_config=self.model_config, training=training)


def _format_terms(terms: Mapping[str, float], lr: float) -> str:
    short = {"intensity": "int", "ssim": "ssim", "gradient": "grad", "color": "col", "correlation": "corr",
             "contrast": "con"}
    parts = [f"loss {terms['loss']:.3f}"] + [f"{short[k]} {terms[k]:.3f}" for k in LOSS_TERMS]
    return " ".join(parts) + f" lr {lr:.2e}"


def _describe_folder(folder: str) -> dict[str, Any]:
    path = Path(folder)
    return {"path": str(path), "name": path.name, "pairs": len(find_pairs(path))}
