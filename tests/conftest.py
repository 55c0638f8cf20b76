"""Shared fixtures: synthetic pairs for every test, real data only when it is present."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path | None:
    """The real-data folder (``$NAPARI_TEXTIF_SHARED`` or ``<repo>/../shared``), if present."""
    root = Path(os.environ.get("NAPARI_TEXTIF_SHARED", REPO.parent / "shared"))
    data = root / "data"
    return data if data.is_dir() else None


def require_shared(*parts: str) -> Path:
    """Return ``shared/data/<parts>`` or skip the test, saying why."""
    data = shared_data_dir()
    if data is None or not data.joinpath(*parts).exists():
        pytest.skip(f"needs the real data folder shared/data/{'/'.join(parts)} (absent here)")
    return data.joinpath(*parts)


def jpeg_round_trip(image: np.ndarray, quality: int) -> np.ndarray:
    """``image`` (float in [0, 1]) saved as an 8-bit JPEG at ``quality`` and read back as float32."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    eight_bit = np.clip(np.rint(image * 255), 0, 255).astype(np.uint8)
    Image.fromarray(eight_bit).save(buffer, "JPEG", quality=quality)
    return np.asarray(Image.open(buffer), dtype=np.float32) / 255.0


@pytest.fixture(autouse=True)
def _no_user_settings(monkeypatch, tmp_path_factory):
    """Tests never read the developer's own napari-textif config file or NAPARI_TEXTIF_* defaults."""
    monkeypatch.setenv("NAPARI_TEXTIF_CONFIG_DIR", str(tmp_path_factory.getbasetemp() / "no-user-config"))
    for name in ("ENGINE", "DEVICE", "THREADS", "CHECKPOINT", "ALLOW_DOWNLOAD", "SCHEDULER"):
        monkeypatch.delenv(f"NAPARI_TEXTIF_{name}", raising=False)


@pytest.fixture(scope="session")
def pair() -> tuple[np.ndarray, np.ndarray]:
    """A small synthetic uint8 pair: infrared (H, W), visible (H, W, 3)."""
    from napari_textif.samples import synthetic_pair

    return synthetic_pair(shape=(96, 128), seed=3)


@pytest.fixture(scope="session")
def dark_pair() -> tuple[np.ndarray, np.ndarray]:
    """The same scene with a dark, noisy visible image."""
    from napari_textif.samples import synthetic_pair

    return synthetic_pair(shape=(96, 128), seed=3, dark=0.8)
