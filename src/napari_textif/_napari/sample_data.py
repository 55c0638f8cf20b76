"""napari sample data: offline synthetic pairs and real pairs fetched once and cached.

The real infrared/visible pair is one of the demo pairs of the Text-IF repository
(MIT), the real MRI/PET pair a slice of the Harvard whole-brain atlas (AANLIB) from
the public Harvard medical fusion dataset repository; both are pinned to a commit and
checked against their sha256 before use. Downloads go through ``pooch``, which caches
files in the user's cache folder and re-downloads a file whose checksum does not match.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from napari_textif import settings
from napari_textif.samples import synthetic_mri_pet, synthetic_pair

BASE_URL = (
    "https://raw.githubusercontent.com/XunpengYi/Text-IF/"
    "92d5cbe1375ecc55f8fe35a0b1158a3113960f75/test_imgs"
)
#: sha256 of every file, by its path under :data:`BASE_URL`.
SHA256: dict[str, str] = {
    "Infrared/00016N.png": "29450b9ba81fdd417a868ab452ddc45488991a232c6a59b87f99cb5adea4101e",
    "Visible/00016N.png": "b55965e5bc43a699d64d16c6711a32a91ff8e6a0505ae11938bc1c6613d54ab0",
    "Infrared/00036N.png": "a2c93efd3002effbc1db68072699cd49491c1d956b2b738d4e462acf378265d9",
    "Visible/00036N.png": "3668f93d80882673209f29f23b5213f5cb23b5d79f3137535fe4a248e358f35d",
    "Infrared/010007.png": "2a843e1b2f89c981eb33fa3196028e8b97908712c392d26c3b61bb6d71bc2b2d",
    "Visible/010007.png": "bae47e73edf0b493d55308d3ef2789940e8a61ba8c81ff209d19601208bcb1a4",
    "Infrared/FLIR_01932.jpg": "86d3850a6f46561928cb2bfa63c6d4abe1716e030dd04cc1f6eabde4bb644984",
    "Visible/FLIR_01932.jpg": "da11ba06839d7a4baaf22b08e81342d7412b2166d782bbe1f7729bbbdb78e9d9",
}
#: ``{pair name: {role: path under BASE_URL}}``
SAMPLE_PAIRS: dict[str, dict[str, str]] = {
    name: {"infrared": f"Infrared/{name}{ext}", "visible": f"Visible/{name}{ext}"}
    for name, ext in (("00016N", ".png"), ("00036N", ".png"), ("010007", ".png"), ("FLIR_01932", ".jpg"))
}
DEFAULT_PAIR = "00016N"
#: The MRI/PET sample: AANLIB slice 30030 (cite the Harvard whole-brain atlas).
MEDICAL_BASE_URL = (
    "https://raw.githubusercontent.com/xianming-gu/Havard-Medical-Image-Fusion-Datasets/"
    "984d169e8abd01baa130db3c5b9be3ba80191c1f"
)
MEDICAL_SHA256: dict[str, str] = {
    "PET-MRI/MRI/30030.png": "086ac27dd7de4ea0bc3d5363ff02644a9941c7fc6024791f978dfd516e203a72",
    "PET-MRI/PET/30030.png": "c3cee060bf1944999245907b970a3f25f6fda9f4c2f43d5fbe1cd92c69afb9b3",
}
#: ``{pair name: {role: path under MEDICAL_BASE_URL}}``
MEDICAL_PAIRS: dict[str, dict[str, str]] = {
    "30030": {"mri": "PET-MRI/MRI/30030.png", "pet": "PET-MRI/PET/30030.png"},
}
DEFAULT_MEDICAL_PAIR = "30030"
#: Environment variables that override the download address and the cache folder
#: (read by :mod:`napari_textif.settings`).
URL_ENV = settings.ENV["sample_url"]
CACHE_ENV = settings.ENV["cache_dir"]
SYNTHETIC_HINT = (
    "The offline sample 'Synthetic infrared/visible pair' (File > Open Sample > napari-textif) "
    "needs no download."
)
MEDICAL_HINT = (
    "The offline sample 'Synthetic MRI/PET phantom' (File > Open Sample > napari-textif) "
    "needs no download."
)

LayerData = tuple[np.ndarray, dict[str, Any], str]


class SampleDownloadError(RuntimeError):
    """A sample pair could not be fetched or failed its checksum."""


def synthetic_sample() -> list[LayerData]:
    """The offline synthetic pair as napari layer data (a dark, noisy visible image)."""
    infrared, visible = synthetic_pair(shape=(480, 640), seed=0, dark=0.6)
    return [
        (infrared, {"name": "infrared (synthetic)", "colormap": "gray"}, "image"),
        (visible, {"name": "visible (synthetic)", "rgb": True}, "image"),
    ]


def synthetic_medical_sample() -> list[LayerData]:
    """The offline MRI/PET phantom as napari layer data (layer names pick the MRI-PET kind)."""
    mri, pet = synthetic_mri_pet(shape=(256, 256), seed=0)
    return [
        (mri, {"name": "MRI (synthetic)", "colormap": "gray"}, "image"),
        (pet, {"name": "PET (synthetic)", "rgb": True}, "image"),
    ]


def medical_sample() -> list[LayerData]:
    """The AANLIB MRI/PET slice 30030 (PET in pseudo-colour), downloaded once."""
    return medical_layers(DEFAULT_MEDICAL_PAIR)


def medical_layers(name: str = DEFAULT_MEDICAL_PAIR, **fetch_options: Any) -> list[LayerData]:
    """Fetch the MRI/PET pair ``name`` (see :func:`fetch_pair`) and return it as napari layer data."""
    paths = fetch_pair(name, **fetch_options)
    mri = _read(paths["mri"], gray=True)
    pet = _read(paths["pet"])
    return [
        (mri, {"name": f"{name} MRI", "colormap": "gray"}, "image"),
        (pet, {"name": f"{name} PET", "rgb": pet.ndim == 3}, "image"),
    ]


def real_sample() -> list[LayerData]:
    """The Text-IF demo pair 00016N (night scene, noisy infrared), downloaded once."""
    return sample_layers(DEFAULT_PAIR)


def sample_layers(name: str = DEFAULT_PAIR, **fetch_options: Any) -> list[LayerData]:
    """Fetch the pair ``name`` and return it as napari layer data."""
    paths = fetch_pair(name, **fetch_options)
    infrared = _read(paths["infrared"], gray=True)
    visible = _read(paths["visible"])
    return [
        (infrared, {"name": f"{name} infrared", "colormap": "gray"}, "image"),
        (visible, {"name": f"{name} visible", "rgb": visible.ndim == 3}, "image"),
    ]


def fetch_pair(
    name: str = DEFAULT_PAIR,
    *,
    base_url: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
) -> dict[str, Path]:
    """Download (once) and checksum the sample pair ``name``.

    Parameters
    ----------
    name : str
        One of :data:`SAMPLE_PAIRS` (infrared/visible) or :data:`MEDICAL_PAIRS` (MRI/PET).
    base_url : str, optional
        Where the files live; default the ``sample_url`` setting
        (``$NAPARI_TEXTIF_SAMPLE_URL``, see :mod:`napari_textif.settings`) or :data:`BASE_URL`
        (:data:`MEDICAL_BASE_URL` for a medical pair).
    cache_dir : path, optional
        Cache folder; default the ``cache_dir`` setting (``$NAPARI_TEXTIF_CACHE``,
        napari's Preferences, the config file) or the user cache folder.

    Returns
    -------
    dict of str to Path
        ``{"infrared": path, "visible": path}``, or ``{"mri": path, "pet": path}``.

    Raises
    ------
    SampleDownloadError
        When a file cannot be downloaded or its sha256 differs; the message says why
        and points to the offline synthetic pair.
    """
    medical = name in MEDICAL_PAIRS
    if name not in SAMPLE_PAIRS and not medical:
        known = ", ".join([*SAMPLE_PAIRS, *MEDICAL_PAIRS])
        raise ValueError(f"name must be one of {known}, got {name!r}")
    configured = settings.load()
    base = (base_url or configured.sample_url or (MEDICAL_BASE_URL if medical else BASE_URL)).rstrip("/")
    folder = (Path(cache_dir) if cache_dir else configured.cache_folder()) / "samples"
    files, sums = (MEDICAL_PAIRS[name], MEDICAL_SHA256) if medical else (SAMPLE_PAIRS[name], SHA256)
    try:
        return {role: _fetch(f"{base}/{path}", sums[path], folder) for role, path in files.items()}
    except SampleDownloadError as exc:
        if not medical:
            raise
        raise SampleDownloadError(str(exc).replace(SYNTHETIC_HINT, MEDICAL_HINT)) from exc.__cause__


def _fetch(url: str, sha256: str, folder: Path) -> Path:
    import pooch

    fname = url.rsplit("/", 2)[-2] + "_" + url.rsplit("/", 1)[-1]
    try:
        path = pooch.retrieve(url, known_hash=f"sha256:{sha256}", fname=fname, path=folder, progressbar=False)
    except ValueError as exc:
        raise SampleDownloadError(
            f"the sample file {url} failed its checksum (expected sha256 {sha256}); it was not "
            f"used. {exc} {SYNTHETIC_HINT}"
        ) from exc
    except Exception as exc:
        raise SampleDownloadError(
            f"could not download the sample file {url}: {type(exc).__name__}: {exc}. Check the "
            f"internet connection or proxy. {SYNTHETIC_HINT}"
        ) from exc
    return Path(path)


def _read(path: Path, *, gray: bool = False) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as image:
        if gray or image.mode not in ("L", "RGB"):
            image = image.convert("L" if gray else "RGB")
        return np.asarray(image)
