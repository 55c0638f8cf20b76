"""Training data: registered infrared/visible pairs, degraded on the fly, with the Controls that say how.

Folder layouts found by :func:`find_pairs` (folder names are matched without
regard to case, files by stem):

* **pairs**: ``ir/`` (or ``infrared/``) and ``vi/`` (or ``vis/``, ``visible/``),
  as in ``shared/data/ivif/*``, or ``mri/`` with ``ct/``, ``pet/`` or ``spect/``
  (the MRI in the visible slot, as in ``shared/data/medical/*``); a folder holding such folders at any depth
  (``m3svd/<sequence>/{ir,vi}``) is searched too;
* **EMS** (the Text-IF paper's set): ``Infrared/``, ``Visible/`` with clean
  references in ``Infrared_gt/``, ``Visible_gt/`` and prompts in ``text/``
  (``<stem>.txt``) or ``text.txt`` (one prompt a line); the degradation is
  read from the enclosing folder's name (``Low_light``, ``Over_exposure``,
  ``IR_Low_contrast``, ``IR_Noise``...);
* **degraded_pairs**: ``IR/<id>_{Norm,LC,RN,SN}``, ``VI/<id>_{Norm,LL,RN,Rain,Blur,haze}``
  with clean references ``IR_enhanced/<id>``, ``VI_enhanced/<id>``.

:class:`PairDataset` turns the records into samples: a random crop (with a
random zoom), flips, simulated degradations (:mod:`napari_textif.training.degrade`) on
captures that are not already degraded, random preferences, the
:class:`~napari_textif.controls.Controls` describing all of that and a prompt
sentence. Sample ``i`` depends only on ``(seed, i)``, so a run is reproducible
and a resumed run sees the same data.
"""

from __future__ import annotations

import dataclasses
import re
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage

from napari_textif import imaging
from napari_textif.controls import CONTROL_NAMES, DEGRADATIONS, PREFERENCES, Controls
from napari_textif.interpretation import DEFAULT_STRENGTH
from napari_textif.io import list_images, read_image
from napari_textif.pairkinds import slot_folders
from napari_textif.training.degrade import degrade_pair

#: Strength given to a capture that is really degraded (its true strength is unknown):
#: the strength the interpreter gives a plain mention such as "the image is dark".
REAL_STRENGTH = DEFAULT_STRENGTH
MAX_SEARCH_DEPTH = 4

#: Folder names of the intensity and detail images: ir/ + vi/, and those of the other pair kinds
#: (mri/ with ct/, pet/ or spect/; :mod:`napari_textif.pairkinds`).
_IR_DIRS = slot_folders("infrared")
_VIS_DIRS = slot_folders("visible")
_IR_GT_DIRS = ("ir_gt", "infrared_gt")
_VIS_GT_DIRS = ("vi_gt", "vis_gt", "visible_gt")
#: Words of an EMS folder name -> the degradation its captures carry.
_EMS_KINDS: tuple[tuple[str, str], ...] = (
    ("ir_low_contrast", "ir_low_contrast"),
    ("ir_noise", "ir_noise"),
    ("ir_stripe", "ir_stripe_noise"),
    ("low_light", "vis_low_light"),
    ("over_exposure", "vis_overexposure"),
    ("overexposure", "vis_overexposure"),
    ("haze", "vis_haze"),
    ("rain", "vis_rain"),
    ("blur", "vis_blur"),
    ("noise", "vis_noise"),
)
#: degraded_pairs file-name suffix -> degradation (``Norm``: none named).
_DP_IR_KINDS = {"norm": None, "lc": "ir_low_contrast", "rn": "ir_noise", "sn": "ir_stripe_noise"}
_DP_VIS_KINDS = {
    "norm": None, "ll": "vis_low_light", "rn": "vis_noise", "rain": "vis_rain",
    "blur": "vis_blur", "haze": "vis_haze",
}


# ----------------------------------------------------------------------------- records


@dataclasses.dataclass(frozen=True)
class Capture:
    """One image file of a scene and the real degradation it carries (None: none named)."""

    path: Path
    kind: str | None = None


@dataclasses.dataclass(frozen=True)
class PairRecord:
    """One registered scene: one or more captures per modality, optional clean references.

    Attributes
    ----------
    name : str
        ``<parent folder>/<folder>/<stem>``.
    infrared, visible : tuple of Capture
        Alternative captures of the scene; a sample picks one of each.
    infrared_clean, visible_clean : Path or None
        Restored references, the loss targets for really degraded captures.
    prompts : tuple of str
        Prompts shipped with the data (EMS), used when nothing is simulated.
    """

    name: str
    infrared: tuple[Capture, ...]
    visible: tuple[Capture, ...]
    infrared_clean: Path | None = None
    visible_clean: Path | None = None
    prompts: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description (for checkpoints and model cards)."""
        return {
            "name": self.name,
            "infrared": [[str(c.path), c.kind] for c in self.infrared],
            "visible": [[str(c.path), c.kind] for c in self.visible],
            "infrared_clean": None if self.infrared_clean is None else str(self.infrared_clean),
            "visible_clean": None if self.visible_clean is None else str(self.visible_clean),
        }


def find_pairs(folders: str | Path | Sequence[str | Path]) -> list[PairRecord]:
    """Find the registered pairs in one or several folders (layouts in the module docstring).

    Parameters
    ----------
    folders : path or sequence of paths

    Returns
    -------
    list of PairRecord
        In folder order, then sorted by name.

    Raises
    ------
    FileNotFoundError
        When a folder does not exist or holds no pairs in a known layout.
    """
    if isinstance(folders, (str, Path)):
        folders = [folders]
    records: list[PairRecord] = []
    for folder in folders:
        folder = Path(folder)
        if not folder.is_dir():
            raise FileNotFoundError(f"data folder not found: {folder}")
        found = _search(folder, MAX_SEARCH_DEPTH)
        if not found:
            raise FileNotFoundError(
                f"no image pairs found in {folder}: expected ir/ + vi/ folders with matching "
                "file names, the EMS layout (Infrared/, Visible/, *_gt/) or the degraded_pairs "
                "layout (IR/, VI/, IR_enhanced/, VI_enhanced/), at most "
                f"{MAX_SEARCH_DEPTH} folders deep"
            )
        records.extend(found)
    return records


def _subdirs(folder: Path) -> dict[str, Path]:
    return {p.name.lower(): p for p in sorted(folder.iterdir()) if p.is_dir()}


def _pick(subdirs: Mapping[str, Path], names: Iterable[str]) -> Path | None:
    return next((subdirs[n] for n in names if n in subdirs), None)


def _search(folder: Path, depth: int) -> list[PairRecord]:
    subdirs = _subdirs(folder)
    if "ir" in subdirs and "vi" in subdirs and ("ir_enhanced" in subdirs or "vi_enhanced" in subdirs):
        return _degraded_pairs(folder, subdirs)
    ir_dir, vis_dir = _pick(subdirs, _IR_DIRS), _pick(subdirs, _VIS_DIRS)
    if ir_dir is not None and vis_dir is not None:
        return _plain_or_ems(folder, subdirs, ir_dir, vis_dir)
    if depth == 0:
        return []
    return [r for sub in subdirs.values() for r in _search(sub, depth - 1)]


def _plain_or_ems(folder: Path, subdirs: Mapping[str, Path], ir_dir: Path, vis_dir: Path) -> list[PairRecord]:
    ir_gt, vis_gt = _pick(subdirs, _IR_GT_DIRS), _pick(subdirs, _VIS_GT_DIRS)
    ir_kind, vis_kind = _ems_kinds(folder) if (ir_gt or vis_gt) else (None, None)
    irs, viss = list_images(ir_dir), list_images(vis_dir)
    ir_refs = list_images(ir_gt) if ir_gt else {}
    vis_refs = list_images(vis_gt) if vis_gt else {}
    records = []
    for stem in sorted(set(irs) & set(viss)):
        records.append(
            PairRecord(
                name=f"{folder.parent.name}/{folder.name}/{stem}",
                infrared=(Capture(irs[stem], ir_kind if stem in ir_refs else None),),
                visible=(Capture(viss[stem], vis_kind if stem in vis_refs else None),),
                infrared_clean=ir_refs.get(stem),
                visible_clean=vis_refs.get(stem),
                prompts=_ems_prompts(folder, stem),
            )
        )
    return records


def _ems_kinds(folder: Path) -> tuple[str | None, str | None]:
    """The degradation an EMS folder's captures carry, from the folder names above it."""
    for part in reversed([p.lower() for p in folder.parts[-3:]]):
        for word, kind in _EMS_KINDS:
            if re.search(rf"(^|[^a-z]){word}($|[^a-z])", part):
                return (kind, None) if kind.startswith("ir_") else (None, kind)
    return None, None


def _ems_prompts(folder: Path, stem: str) -> tuple[str, ...]:
    for base in (folder, folder.parent):
        per_image = base / "text" / f"{stem}.txt"
        shared = base / "text.txt"
        for path in (per_image, shared):
            if path.is_file():
                lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
                return tuple(line.strip() for line in lines if line.strip())
    return ()


def _degraded_pairs(folder: Path, subdirs: Mapping[str, Path]) -> list[PairRecord]:
    ir_caps = _variants(list_images(subdirs["ir"]), _DP_IR_KINDS)
    vis_caps = _variants(list_images(subdirs["vi"]), _DP_VIS_KINDS)
    ir_refs = list_images(subdirs["ir_enhanced"]) if "ir_enhanced" in subdirs else {}
    vis_refs = list_images(subdirs["vi_enhanced"]) if "vi_enhanced" in subdirs else {}
    records = []
    for scene in sorted(set(ir_caps) & set(vis_caps)):
        records.append(
            PairRecord(
                name=f"{folder.parent.name}/{folder.name}/{scene}",
                infrared=tuple(ir_caps[scene]),
                visible=tuple(vis_caps[scene]),
                infrared_clean=ir_refs.get(scene),
                visible_clean=vis_refs.get(scene),
            )
        )
    return records


def _variants(files: Mapping[str, Path], kinds: Mapping[str, str | None]) -> dict[str, list[Capture]]:
    scenes: dict[str, list[Capture]] = {}
    for stem, path in files.items():
        match = re.fullmatch(r"(.+)_([A-Za-z]+)", stem)
        if match is None or match.group(2).lower() not in kinds:
            continue
        scenes.setdefault(match.group(1), []).append(Capture(path, kinds[match.group(2).lower()]))
    return scenes


def split_every(
    folders: str | Path | Sequence[str | Path], every: int
) -> tuple[list[PairRecord], list[PairRecord]]:
    """Hold out every ``every``-th pair of each folder (sorted by name, the first included).

    A fixed rule, so the held-out pairs can be named in advance by anyone (for
    example by a benchmark scoring only pairs a model was not trained on).

    Returns
    -------
    train, held_out : list of PairRecord
    """
    parts = split_three(folders, every, None)
    return parts["train"], parts["held_out"]


def split_three(
    folders: str | Path | Sequence[str | Path], every: int, validation_every: int | None
) -> dict[str, list[PairRecord]]:
    """Train, validation and held-out pairs of each folder by position (sorted by name).

    Pair ``i`` of a folder is held out when ``i % every == 0``; of the others, the
    ``j``-th (counting only them, from 0) is validation when ``j % validation_every == 0``
    (never, when ``validation_every`` is None).

    Returns
    -------
    dict of str to list of PairRecord
        ``train``, ``val`` and ``held_out``.

    Examples
    --------
    >>> [("h" if i % 5 == 0 else "v" if j % 4 == 0 else "t") for i, j in
    ...  zip(range(10), [None, 0, 1, 2, 3, None, 4, 5, 6, 7])]
    ['h', 'v', 't', 't', 't', 'h', 'v', 't', 't', 't']
    """
    for name, value in (("every", every), ("validation_every", validation_every)):
        if value is None and name == "validation_every":
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 2:
            raise ValueError(f"{name} must be an int of at least 2, got {value!r}")
    if isinstance(folders, (str, Path)):
        folders = [folders]
    out: dict[str, list[PairRecord]] = {"train": [], "val": [], "held_out": []}
    for folder in folders:
        kept = 0
        for i, record in enumerate(find_pairs(folder)):
            if i % every == 0:
                out["held_out"].append(record)
                continue
            is_val = validation_every is not None and kept % validation_every == 0
            out["val" if is_val else "train"].append(record)
            kept += 1
    return out


#: Where the held-out and validation slices of a volume lie: ranges of position among the
#: volume's slices sorted by slice number (0 the first, 1 past the last). The slice next to a
#: range is left out of the neighbouring split, so adjacent slices never straddle two splits.
SLICE_RANGES: dict[str, tuple[float, float]] = {"val": (0.35, 0.45), "held_out": (0.45, 0.70)}


def slice_id(record: PairRecord) -> tuple[str, int] | None:
    """``(volume, slice number)`` of a pair named like ``VVSSS`` (volume digits, 3 slice digits)."""
    stem = record.infrared[0].path.stem
    if not stem.isdigit() or len(stem) < 4:
        return None
    return stem[:-3], int(stem[-3:])


def split_slices(records: Sequence[PairRecord]) -> dict[str, list[PairRecord]]:
    """Split slices of volumes into ``train``, ``val`` and ``held_out`` by slice-number ranges.

    Pairs are grouped by volume (see :func:`slice_id`; a folder and a volume prefix) and
    each volume's slices, sorted by number, are cut at the positions of
    :data:`SLICE_RANGES`; a slice whose neighbour (slice number one more or one less)
    lies in another split is dropped (``gap``). Pairs not named like slices go to ``train``.

    Returns
    -------
    dict of str to list of PairRecord
        ``train``, ``val``, ``held_out`` and ``gap``, each in the input order.
    """
    volumes: dict[tuple[str, str], list[tuple[int, int]]] = {}
    for i, record in enumerate(records):
        ident = slice_id(record)
        if ident is not None:
            key = (str(record.infrared[0].path.parent), ident[0])
            volumes.setdefault(key, []).append((ident[1], i))
    roles = ["train"] * len(records)
    for members in volumes.values():
        members.sort()
        split = {number: _slice_split((j + 0.5) / len(members)) for j, (number, _) in enumerate(members)}
        for number, i in members:
            neighbours = {split[n] for n in (number - 1, number + 1) if n in split}
            roles[i] = "gap" if _needs_gap(split[number], neighbours) else split[number]
    out: dict[str, list[PairRecord]] = {"train": [], "val": [], "held_out": [], "gap": []}
    for role, record in zip(roles, records, strict=True):
        out[role].append(record)
    return out


def _slice_split(position: float) -> str:
    for name, (low, high) in SLICE_RANGES.items():
        if low <= position < high:
            return name
    return "train"


def _needs_gap(split: str, neighbours: set[str]) -> bool:
    """Train next to another split, or validation next to held-out, gives way."""
    if split == "train":
        return bool(neighbours - {"train"})
    return split == "val" and "held_out" in neighbours


def split_holdout(
    records: Sequence[PairRecord], *, fraction: float = 0.05, max_count: int = 8, seed: int = 0
) -> tuple[list[PairRecord], list[PairRecord]]:
    """Hold out a few records for validation: ``(train, val)``, deterministic in ``seed``.

    At least one record is held out when there are two or more, at most ``max_count``.
    """
    if len(records) < 2:
        return list(records), []
    count = int(np.clip(round(len(records) * fraction), 1, max_count))
    held = set(np.random.default_rng(seed).choice(len(records), size=count, replace=False).tolist())
    train = [r for i, r in enumerate(records) if i not in held]
    return train, [r for i, r in enumerate(records) if i in held]


# ----------------------------------------------------------------------------- sampling policy


@dataclasses.dataclass(frozen=True)
class DegradationPolicy:
    """How a sample's simulated degradations and preferences are drawn.

    Attributes
    ----------
    visible_counts, infrared_counts : tuple of float
        Probabilities of simulating 0, 1, 2... degradations on that modality.
    strength_range : tuple of float
        Strengths are uniform in this range.
    preference_prob : float
        Chance that each preference is non-zero (then uniform in ``[-1, 1]``).
    zoom_range : tuple of float
        A crop covers ``crop / zoom`` source pixels, zoom uniform in this range
        (never more than the image holds).
    unnamed_prob : float
        Chance that a sample's simulated degradations are left out of its Controls;
        its targets are then the degraded inputs themselves, so a network learns to
        restore only what it is told and to fuse faithfully otherwise.
    kinds : tuple of str
        The degradations that may be simulated (empty: all nine); e.g. those of a pair
        kind (:attr:`napari_textif.pairkinds.PairKind.controls`) for medical pairs.
    size_jitter : float
        Domain randomisation of spatial scale: the frame size the simulator scales blur
        radii, streak lengths and bloom by is multiplied by ``2 ** U(-j, j)``.
    strength_jitter : float
        Domain randomisation of severity: each degradation is simulated at
        ``s * 2 ** U(-j, j)`` (clipped to 1) while its Controls keep ``s``, so the
        network learns to read how much from the images, not from the number.
    preferences : tuple of str
        The preferences that may be drawn non-zero (all by default). A network that
        applies ``thermal_emphasis`` explicitly (``LiteNetConfig.thermal_input`` False)
        trains with ``("detail_emphasis",)``: its loss would otherwise teach it to pull
        the explicit shift back towards the sources.
    restored_first : tuple of str
        Degradations that the engine restores with the classic steps before the network
        (``engines.lite.engine.CLASSIC_RESTORED``). When a sample names one, its inputs go
        through the same steps at the named strength and the network's Controls show the
        kind as zero, as at inference, while the targets stay clean: the network learns to
        fuse what the classic step leaves (its over- and under-correction included, since
        ``strength_jitter`` lets the named strength differ from the simulated one) instead
        of inputs it never sees. Empty (default): every named kind reaches the network.
    """

    visible_counts: tuple[float, ...] = (0.3, 0.55, 0.15)
    infrared_counts: tuple[float, ...] = (0.45, 0.45, 0.1)
    strength_range: tuple[float, float] = (0.2, 1.0)
    preference_prob: float = 0.5
    zoom_range: tuple[float, float] = (0.5, 1.0)
    unnamed_prob: float = 0.0
    kinds: tuple[str, ...] = ()
    size_jitter: float = 0.0
    strength_jitter: float = 0.0
    preferences: tuple[str, ...] = PREFERENCES
    restored_first: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("kinds", "restored_first"):
            unknown = sorted(set(getattr(self, name)) - set(DEGRADATIONS))
            if unknown:
                raise ValueError(f"policy {name} has unknown degradations {unknown}; "
                                 f"known: {list(DEGRADATIONS)}")
        unknown = sorted(set(self.preferences) - set(PREFERENCES))
        if unknown:
            raise ValueError(f"policy preferences has unknown names {unknown}; known: {list(PREFERENCES)}")
        for name in ("preference_prob", "unnamed_prob"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"policy {name} must be a probability in [0, 1], got {value!r}")
        for name in ("size_jitter", "strength_jitter"):
            value = getattr(self, name)
            if not 0.0 <= value <= 3.0:
                raise ValueError(f"policy {name} must be in [0, 3] (octaves), got {value!r}")

    def jitter(self, simulated: Mapping[str, float], size: int, rng: np.random.Generator
               ) -> tuple[dict[str, float], int]:
        """The strengths actually simulated and the reference size (see the jitter fields)."""
        if self.size_jitter:
            size = max(16, round(size * 2.0 ** rng.uniform(-self.size_jitter, self.size_jitter)))
        if not self.strength_jitter:
            return dict(simulated), size
        j = self.strength_jitter
        return {k: float(min(1.0, v * 2.0 ** rng.uniform(-j, j))) for k, v in simulated.items()}, size

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (stored in checkpoints)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> DegradationPolicy:
        """Inverse of :meth:`to_dict`; missing fields keep their defaults."""
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data or {}) - fields)
        if unknown:
            raise ValueError(f"policy has unknown fields {unknown}; known: {sorted(fields)}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in (data or {}).items()})

    @property
    def allowed(self) -> tuple[str, ...]:
        """The degradations that may be simulated, in layout order."""
        return tuple(k for k in DEGRADATIONS if not self.kinds or k in self.kinds)

    def draw(self, rng: np.random.Generator, *, visible: bool, infrared: bool) -> dict[str, float]:
        """Draw simulated degradation strengths for the modalities that may be degraded."""
        chosen: dict[str, float] = {}
        groups = [
            (visible, self.visible_counts, [k for k in self.allowed if k.startswith("vis_")]),
            (infrared, self.infrared_counts, [k for k in self.allowed if k.startswith("ir_")]),
        ]
        for allowed, counts, kinds in groups:
            count = int(rng.choice(len(counts), p=np.asarray(counts) / np.sum(counts)))
            picked = list(rng.permutation(kinds)[:count]) if allowed else []
            if "vis_low_light" in picked and "vis_overexposure" in picked:
                picked.remove("vis_overexposure")
            chosen.update({k: float(rng.uniform(*self.strength_range)) for k in picked})
        return chosen

    def draw_preferences(self, rng: np.random.Generator) -> dict[str, float]:
        """Draw random preference values (zero with probability ``1 - preference_prob``,
        and always for a preference not in ``preferences``)."""
        values = rng.uniform(-1.0, 1.0, len(PREFERENCES))
        keep = rng.random(len(PREFERENCES)) < self.preference_prob
        return {name: float(v) if k and name in self.preferences else 0.0
                for name, v, k in zip(PREFERENCES, values, keep)}


# ----------------------------------------------------------------------------- prompts

#: Phrasings per degradation; ``{adv}`` becomes "slightly "/""/"very " and ``{adj}``
#: "mild "/""/"heavy " by strength (below 0.35, below 0.7, above).
_PHRASES: dict[str, tuple[str, ...]] = {
    "vis_low_light": ("the visible image is {adv}dark", "the visible camera shows a {adv}dim night scene"),
    "vis_overexposure": ("the visible image is {adv}overexposed", "there is {adj}glare in the visible image"),
    "vis_noise": ("the visible image is {adv}noisy", "the colour camera image is {adv}grainy"),
    "vis_haze": ("the visible image is {adv}hazy", "there is {adj}fog in the visible image"),
    "vis_rain": ("there is {adj}rain in the visible image", "the visible image has {adj}rain streaks"),
    "vis_blur": ("the visible image is {adv}blurry", "the visible image is {adv}out of focus"),
    "ir_low_contrast": ("the infrared image has {adv}low contrast", "the thermal image is {adv}flat"),
    "ir_noise": ("the infrared image is {adv}noisy", "the thermal camera has {adj}noise"),
    "ir_stripe_noise": ("the infrared image has {adj}stripe noise", "the thermal image shows {adj}striping"),
}
_PREFERENCE_PHRASES = {
    ("thermal_emphasis", 1): "keep hot targets bright",
    ("thermal_emphasis", -1): "favour the visible image's intensities",
    ("detail_emphasis", 1): "bring out fine details and edges",
    ("detail_emphasis", -1): "keep the result smooth",
}


def describe(controls: Controls, rng: np.random.Generator | None = None) -> str:
    """A sentence naming the degradations and preferences of ``controls`` (for text encoders).

    Phrasing varies with ``rng``; without one the first phrasing is used.

    Examples
    --------
    >>> describe(Controls(vis_low_light=0.9, ir_stripe_noise=0.3))
    'The visible image is very dark; the infrared image has mild stripe noise.'
    >>> describe(Controls())
    'Fuse the infrared and visible images.'
    """
    parts = []
    for kind in DEGRADATIONS:
        strength = getattr(controls, kind)
        if strength > 0.0:
            options = _PHRASES[kind]
            template = options[int(rng.integers(len(options)))] if rng is not None else options[0]
            level = 0 if strength < 0.35 else (2 if strength >= 0.7 else 1)
            adv, adj = ("slightly ", "", "very ")[level], ("mild ", "", "heavy ")[level]
            parts.append(template.format(adv=adv, adj=adj))
    for name in PREFERENCES:
        value = getattr(controls, name)
        if abs(value) >= 0.3:
            parts.append(_PREFERENCE_PHRASES[(name, 1 if value > 0 else -1)])
    if not parts:
        return "Fuse the infrared and visible images."
    sentence = "; ".join(parts)
    return sentence[0].upper() + sentence[1:] + "."


# ----------------------------------------------------------------------------- dataset


class _ImageCache:
    """Decoded images (float16, package conventions) kept up to a byte budget, least recent out."""

    def __init__(self, budget_bytes: int) -> None:
        self.budget = budget_bytes
        self.used = 0
        self.items: OrderedDict[tuple[Path, str], np.ndarray] = OrderedDict()

    def get(self, path: Path, mode: str) -> np.ndarray:
        key = (path, mode)
        if key in self.items:
            self.items.move_to_end(key)
            return self.items[key]
        image = _load(path, mode).astype(np.float16)
        self.items[key] = image
        self.used += image.nbytes
        while self.used > self.budget and len(self.items) > 1:
            _, old = self.items.popitem(last=False)
            self.used -= old.nbytes
        return image


def _load(path: Path, mode: str) -> np.ndarray:
    data = imaging.prepare(read_image(path), name=str(path)).data
    if mode == "gray":
        return imaging.to_gray(data) if data.ndim == 3 else data
    return data if data.ndim == 3 else np.repeat(data[..., None], 3, axis=2)


class PairDataset:
    """A map-style dataset of degraded training samples (works with ``torch.utils.data.DataLoader``).

    Parameters
    ----------
    records : sequence of PairRecord
    crop : int
        Side of the square samples.
    seed : int
        Sample ``i`` depends only on ``(seed, i)``.
    length : int, optional
        Number of samples (default: one per record); indices wrap over the records.
    policy : DegradationPolicy, optional
    augment : bool
        Random zoom, crop position and flips (training); False gives a centre crop
        at full resolution (validation). Degradations are drawn either way.
    cache_mb : float
        Memory for decoded images (float16).

    Each item is a dict: ``"ir"`` ``(1, crop, crop)`` and ``"vis"`` ``(3, crop, crop)``
    degraded float32 arrays, ``"ir_clean"``, ``"vis_clean"`` their targets,
    ``"controls"`` ``(K,)`` float32 in the layout of
    :data:`~napari_textif.controls.CONTROL_NAMES`, ``"prompt"`` (str), ``"name"`` (str).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from napari_textif.io import write_image
    >>> from napari_textif.samples import synthetic_pair
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> ir, vis = synthetic_pair(shape=(40, 48))
    >>> _ = write_image(root / "ir" / "a.png", ir / 255), write_image(root / "vi" / "a.png", vis / 255)
    >>> sample = PairDataset(find_pairs(root), crop=32, seed=1)[0]
    >>> sample["ir"].shape, sample["vis"].shape, sample["controls"].shape
    ((1, 32, 32), (3, 32, 32), (11,))
    """

    def __init__(
        self,
        records: Sequence[PairRecord],
        *,
        crop: int,
        seed: int = 0,
        length: int | None = None,
        policy: DegradationPolicy | None = None,
        augment: bool = True,
        cache_mb: float = 1024.0,
    ) -> None:
        if not records:
            raise ValueError("records must hold at least one pair, got none")
        if isinstance(crop, bool) or not isinstance(crop, int) or crop < 8:
            raise ValueError(f"crop must be an int of at least 8 pixels, got {crop!r}")
        self.records = list(records)
        self.crop = crop
        self.seed = int(seed)
        self.length = len(self.records) if length is None else int(length)
        self.policy = policy or DegradationPolicy()
        self.augment = augment
        self._cache = _ImageCache(int(cache_mb * 1e6))

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not 0 <= index < self.length:
            raise IndexError(f"index must be in [0, {self.length}), got {index}")
        rng = np.random.default_rng([self.seed, int(index)])
        record = self.records[index % len(self.records)]
        return self._sample(record, rng)

    def _sample(self, record: PairRecord, rng: np.random.Generator) -> dict[str, Any]:
        ir_cap = record.infrared[int(rng.integers(len(record.infrared)))]
        vis_cap = record.visible[int(rng.integers(len(record.visible)))]
        images = self._load_views(record, ir_cap, vis_cap)
        full_size = max(images[0].shape[:2])
        images = self._crop(images, rng)
        ir, vis, ir_clean, vis_clean = (im.astype(np.float32) for im in images)
        simulated = self.policy.draw(rng, visible=vis_cap.kind is None, infrared=ir_cap.kind is None)
        applied, size = self.policy.jitter(simulated, full_size, rng) if simulated else ({}, full_size)
        ir, vis = degrade_pair(ir, vis, applied, rng, reference_size=size)
        if simulated and self.policy.unnamed_prob > 0 and rng.random() < self.policy.unnamed_prob:
            simulated = {}
            ir_clean = ir if ir_cap.kind is None else ir_clean
            vis_clean = vis if vis_cap.kind is None else vis_clean
        real = {c.kind: REAL_STRENGTH for c in (ir_cap, vis_cap) if c.kind is not None}
        controls = Controls(**real, **simulated, **self.policy.draw_preferences(rng))
        if self.policy.restored_first:
            ir, vis, controls = _restore_first(ir, vis, controls, self.policy.restored_first)
        if self.augment:
            ir, vis, ir_clean, vis_clean = _flip((ir, vis, ir_clean, vis_clean), rng)
        prompt = self._prompt(record, controls, simulated, rng)
        return {
            "ir": _chw(ir), "vis": _chw(vis), "ir_clean": _chw(ir_clean), "vis_clean": _chw(vis_clean),
            "controls": np.asarray(controls.to_vector(), np.float32), "prompt": prompt, "name": record.name,
        }

    def _load_views(self, record: PairRecord, ir_cap: Capture, vis_cap: Capture) -> list[np.ndarray]:
        ir = self._cache.get(ir_cap.path, "gray")
        vis = self._cache.get(vis_cap.path, "rgb")
        ir_clean = self._cache.get(record.infrared_clean, "gray") if record.infrared_clean else ir
        vis_clean = self._cache.get(record.visible_clean, "rgb") if record.visible_clean else vis
        shapes = {im.shape[:2] for im in (ir, vis, ir_clean, vis_clean)}
        if len(shapes) != 1:
            raise ValueError(f"pair {record.name} has images of different sizes {sorted(shapes)}")
        return [ir, vis, ir_clean, vis_clean]

    def _crop(self, images: list[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
        h, w = images[0].shape[:2]
        if not self.augment:
            side = min(h, w, self.crop)
            top, left = (h - side) // 2, (w - side) // 2
            return [_fit(im[top : top + side, left : left + side], self.crop) for im in images]
        zoom = rng.uniform(*self.policy.zoom_range)
        side = int(min(h, w, max(self.crop, round(self.crop / zoom))))
        top, left = int(rng.integers(h - side + 1)), int(rng.integers(w - side + 1))
        return [_fit(im[top : top + side, left : left + side], self.crop) for im in images]

    @staticmethod
    def _prompt(
        record: PairRecord, controls: Controls, simulated: Mapping[str, float], rng: np.random.Generator
    ) -> str:
        if record.prompts and not simulated:
            return record.prompts[int(rng.integers(len(record.prompts)))]
        return describe(controls, rng)

    def describe_data(self) -> list[dict[str, Any]]:
        """The records as JSON-ready dicts (what a checkpoint stores as its data list)."""
        return [r.to_dict() for r in self.records]


def _restore_first(ir: np.ndarray, vis: np.ndarray, controls: Controls, kinds: Iterable[str]
                   ) -> tuple[np.ndarray, np.ndarray, Controls]:
    """The inputs after the engine's classic steps for the named ``kinds``, and the Controls
    the network then sees (those kinds zero)."""
    from napari_textif.engines.lite.engine import restore_first

    ir, vis, rest, _ = restore_first(ir, vis, controls, frozenset(kinds))
    return ir.astype(np.float32, copy=False), vis.astype(np.float32, copy=False), rest


def _fit(image: np.ndarray, crop: int) -> np.ndarray:
    """Resize a square region to ``crop`` (area-averaged when shrinking), or pad it up."""
    side = image.shape[0]
    if side == crop:
        return image
    if side < crop:
        pad = [(0, crop - side), (0, crop - image.shape[1])] + [(0, 0)] * (image.ndim - 2)
        return np.pad(image, pad, mode="reflect")
    factor = crop / side
    data = image.astype(np.float32)
    sigma = [0.5 / factor - 0.5] * 2 + [0.0] * (image.ndim - 2)
    data = ndimage.gaussian_filter(data, sigma)
    zoom = [crop / image.shape[0], crop / image.shape[1]] + [1.0] * (image.ndim - 2)
    out = ndimage.zoom(data, zoom, order=1, mode="nearest", grid_mode=True)
    return out[:crop, :crop]


def _flip(images: Sequence[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
    horizontal, vertical = rng.random(2) < 0.5
    out = []
    for image in images:
        if horizontal:
            image = image[:, ::-1]
        if vertical:
            image = image[::-1]
        out.append(image)
    return out


def _chw(image: np.ndarray) -> np.ndarray:
    data = image[None] if image.ndim == 2 else np.moveaxis(image, 2, 0)
    return np.ascontiguousarray(data, dtype=np.float32)


assert len(CONTROL_NAMES) == len(DEGRADATIONS) + len(PREFERENCES)
