"""Score fused image files against their sources: one triple or whole folders.

Fused files are matched to their sources by file stem: a fused ``x.png``
scores against ``IR_DIR/x.jpg`` and ``VIS_DIR/x.png`` (any readable suffix).
The result holds one row per image and their mean, and writes CSV or a JSON
object that other tools can read.

Examples
--------
>>> import tempfile
>>> from pathlib import Path
>>> from napari_textif.io import write_image
>>> from napari_textif.samples import synthetic_pair
>>> ir, vis = synthetic_pair(shape=(48, 64))
>>> tmp = tempfile.TemporaryDirectory()
>>> folder = Path(tmp.name)
>>> paths = [write_image(folder / n, im / 255) for n, im in (("f.png", vis), ("i.png", ir), ("v.png", vis))]
>>> result = evaluate_files(*paths, ssim_convention="correct")
>>> result.to_dict()["pairs"], round(result.mean["SSIM"] - result.rows[0]["SSIM"], 12)
(1, 0.0)
>>> tmp.cleanup()
"""

from __future__ import annotations

import csv
import dataclasses
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from napari_textif import metrics
from napari_textif.io import READ_SUFFIXES, atomic_open, list_images, read_image

#: ``progress(done, total)`` after each scored image.
Progress = Callable[[int, int], None]


@dataclasses.dataclass(frozen=True)
class Triple:
    """A fused image file and its two source files."""

    name: str
    fused: Path
    infrared: Path
    visible: Path


@dataclasses.dataclass(frozen=True)
class Evaluation:
    """Per-image scores and their mean.

    Attributes
    ----------
    rows : list of dict
        One per image: ``name``, the three paths, and a float per metric of
        :data:`napari_textif.metrics.METRIC_NAMES`.
    ssim_convention : str
        The SSIM convention every row used.
    failures : list of dict
        The images that could not be scored (``name``, ``error``), e.g. a fused
        image whose size differs from its sources'; empty when all were scored.
    """

    rows: list[dict[str, Any]]
    ssim_convention: str
    failures: list[dict[str, str]] = dataclasses.field(default_factory=list)

    @property
    def mean(self) -> dict[str, float]:
        """The mean of each metric over the images."""
        return {k: math.fsum(r[k] for r in self.rows) / len(self.rows) for k in metrics.METRIC_NAMES}

    def to_dict(self) -> dict[str, Any]:
        """``{"pairs", "mean", "ssim_convention", "per_image", "failed"}``, ready for :func:`json.dumps`."""
        return {
            "pairs": len(self.rows),
            "mean": self.mean,
            "ssim_convention": self.ssim_convention,
            "per_image": [dict(r) for r in self.rows],
            "failed": [dict(f) for f in self.failures],
        }

    def write_csv(self, path: str | Path) -> Path:
        """Write a row per image and a final ``mean`` row; the last column names the SSIM convention.

        The file is written under a temporary name and renamed when complete
        (:func:`napari_textif.io.atomic_open`).
        """
        path = Path(path)
        columns = ["name", *metrics.METRIC_NAMES]
        with atomic_open(path, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow([*columns, "ssim_convention"])
            for row in [*self.rows, {"name": "mean", **self.mean}]:
                writer.writerow([*(row[c] for c in columns), self.ssim_convention])
        return path

    def format_table(self) -> str:
        """A plain-text table of the rows, the mean and the SSIM convention."""
        width = max(4, *(len(r["name"]) for r in self.rows))
        header = f"{'image':<{width}} " + " ".join(f"{k:>8}" for k in metrics.METRIC_NAMES)
        lines = [header]
        for row in [*self.rows, {"name": "mean", **self.mean}]:
            values = " ".join(f"{row[k]:8.4f}" for k in metrics.METRIC_NAMES)
            lines.append(f"{row['name']:<{width}} {values}")
        lines.insert(len(lines) - 1, "-" * len(header))
        lines.append(f"{len(self.rows)} image(s); SSIM convention: {_describe(self.ssim_convention)}")
        if self.failures:
            lines.append(f"{len(self.failures)} image(s) not scored: "
                         + "; ".join(f"{f['name']}: {f['error']}" for f in self.failures))
        return "\n".join(lines)


def _describe(convention: str) -> str:
    return f"{convention} (data_range {metrics.ssim_data_range(convention):g} on 0..255)"


def match_folders(fused_dir: str | Path, ir_dir: str | Path, vis_dir: str | Path) -> list[Triple]:
    """Pair every fused image with the infrared and visible images of the same stem.

    Sources without a fused image are ignored; a fused image without both
    partners is an error that lists every such image.
    """
    fused = list_images(fused_dir, role="fused")
    if not fused:
        raise ValueError(f"no images ({', '.join(READ_SUFFIXES)}) found in the fused folder {fused_dir}")
    infrared = list_images(ir_dir, role="infrared")
    visible = list_images(vis_dir, role="visible")
    _check_partners(fused, infrared, ir_dir, "infrared")
    _check_partners(fused, visible, vis_dir, "visible")
    return [Triple(stem, path, infrared[stem], visible[stem]) for stem, path in fused.items()]


def _check_partners(fused: dict[str, Path], sources: dict[str, Path], folder: str | Path, role: str) -> None:
    missing = [fused[stem].name for stem in fused if stem not in sources]
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise FileNotFoundError(
            f"no {role} image in {folder} for {len(missing)} fused image(s): {shown} "
            "(fused files are matched to sources by file name without suffix)"
        )


def score_triple(triple: Triple, *, ssim_convention: str = metrics.DEFAULT_SSIM_CONVENTION) -> dict[str, Any]:
    """Read one triple of files and compute every metric; the row of an :class:`Evaluation`."""
    images = {role: read_image(getattr(triple, role)) for role in ("fused", "infrared", "visible")}
    sizes = {role: image.shape[:2] for role, image in images.items()}
    if len(set(sizes.values())) > 1:
        listed = ", ".join(
            f"{role} {getattr(triple, role).name} is {h}x{w}" for role, (h, w) in sizes.items()
        )
        raise ValueError(f"{triple.name}: image sizes differ (height x width): {listed}")
    scores = metrics.compute_all(
        images["fused"], images["infrared"], images["visible"], ssim_convention=ssim_convention
    )
    paths = {role: str(getattr(triple, role)) for role in images}
    return {"name": triple.name, **paths, **scores}


def evaluate_triples(
    triples: Sequence[Triple],
    *,
    ssim_convention: str = metrics.DEFAULT_SSIM_CONVENTION,
    progress: Progress | None = None,
    keep_going: bool = False,
) -> Evaluation:
    """Score each triple in order; ``progress(done, total)`` is called after each.

    Parameters
    ----------
    triples : sequence of Triple
    ssim_convention : str
    progress : callable, optional
    keep_going : bool
        Record a triple that cannot be scored (sizes differ, unreadable file) in
        :attr:`Evaluation.failures` and go on, instead of raising.

    Raises
    ------
    ValueError
        When there is nothing to score, when a triple fails and ``keep_going``
        is False, or when every triple failed.
    """
    metrics.ssim_data_range(ssim_convention)
    if not triples:
        raise ValueError("nothing to evaluate: no fused images were given")
    rows, failures = [], []
    for done, triple in enumerate(triples, start=1):
        try:
            rows.append(score_triple(triple, ssim_convention=ssim_convention))
        except (OSError, ValueError) as exc:
            if not keep_going:
                raise
            message = str(exc).removeprefix(f"{triple.name}: ")
            failures.append({"name": triple.name, "error": " ".join(message.split())})
        if progress is not None:
            progress(done, len(triples))
    if not rows:
        first = failures[0]
        raise ValueError(
            f"none of the {len(triples)} image(s) could be scored; first {first['name']}: {first['error']}"
        )
    return Evaluation(rows, ssim_convention, failures)


def evaluate_folder(
    fused_dir: str | Path,
    ir_dir: str | Path,
    vis_dir: str | Path,
    *,
    ssim_convention: str = metrics.DEFAULT_SSIM_CONVENTION,
    progress: Progress | None = None,
    keep_going: bool = True,
) -> Evaluation:
    """Score every fused image of ``fused_dir`` against its sources in ``ir_dir`` and ``vis_dir``.

    An image that cannot be scored (sizes differ, unreadable) is listed in
    :attr:`Evaluation.failures` and the others are scored, unless ``keep_going``
    is False (see :func:`evaluate_triples`).
    """
    triples = match_folders(fused_dir, ir_dir, vis_dir)
    return evaluate_triples(triples, ssim_convention=ssim_convention, progress=progress,
                            keep_going=keep_going)


def evaluate_files(
    fused: str | Path,
    infrared: str | Path,
    visible: str | Path,
    *,
    ssim_convention: str = metrics.DEFAULT_SSIM_CONVENTION,
) -> Evaluation:
    """Score one fused image file against its infrared and visible source files."""
    triple = Triple(Path(fused).stem, Path(fused), Path(infrared), Path(visible))
    return evaluate_triples([triple], ssim_convention=ssim_convention)
