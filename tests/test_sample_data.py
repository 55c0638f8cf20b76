"""napari sample data: the offline synthetic pair and the cached, checksummed real pair.

Downloads are tested against a local HTTP server on 127.0.0.1 (no internet here).
"""

from __future__ import annotations

import functools
import http.server
import socket
import threading
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO, require_shared
from napari_textif._napari import sample_data as samples

pytest.importorskip("pooch")


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves ``Infrared/<f>`` and ``Visible/<f>`` from a folder's ``ir`` and ``vi``."""

    requests: list[str]

    def translate_path(self, path):
        path = path.replace("/Infrared/", "/ir/").replace("/Visible/", "/vi/")
        self.requests.append(path)
        return super().translate_path(path)

    def log_message(self, *args):
        pass


@pytest.fixture
def serve():
    """``serve(folder)`` -> (base_url, list of requested paths)."""
    servers = []

    def start(folder: Path):
        handler = type("Handler", (_Handler,), {"requests": []})
        server = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(handler, directory=str(folder))
        )
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}", handler.requests

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_synthetic_sample_is_a_registered_named_pair():
    (ir, ir_meta, ir_kind), (vis, vis_meta, vis_kind) = samples.synthetic_sample()
    assert ir.shape == (480, 640) and vis.shape == (480, 640, 3)
    assert ir.dtype == np.uint8 and vis.dtype == np.uint8
    assert "infrared" in ir_meta["name"] and "visible" in vis_meta["name"] and vis_meta["rgb"]
    assert ir_kind == vis_kind == "image"


def test_real_pair_downloads_once_and_is_cached(serve, tmp_path):
    folder = require_shared("ivif", "samples")
    base, requests = serve(folder)
    paths = samples.fetch_pair("00016N", base_url=base, cache_dir=tmp_path)
    assert set(paths) == {"infrared", "visible"} and all(p.is_file() for p in paths.values())
    assert len(requests) == 2
    layers = samples.sample_layers("00016N", base_url=base, cache_dir=tmp_path)
    assert len(requests) == 2, "the second call must use the cache"
    (ir, ir_meta, _), (vis, vis_meta, _) = layers
    assert ir.shape == (480, 640) and vis.shape == (480, 640, 3)
    assert "infrared" in ir_meta["name"] and "visible" in vis_meta["name"]


def test_napari_command_reads_address_and_cache_from_the_environment(serve, tmp_path, monkeypatch):
    base, requests = serve(require_shared("ivif", "samples"))
    monkeypatch.setenv(samples.URL_ENV, base)
    monkeypatch.setenv(samples.CACHE_ENV, str(tmp_path))
    (ir, _, _), (vis, _, _) = samples.real_sample()
    assert ir.shape == vis.shape[:2] and len(requests) == 2
    assert len(list(tmp_path.rglob("*00016N.png"))) == 2


def test_every_listed_pair_matches_its_checksum(serve, tmp_path):
    folder = require_shared("ivif", "samples")
    base, _ = serve(folder)
    for name in samples.SAMPLE_PAIRS:
        (ir, _, _), (vis, _, _) = samples.sample_layers(name, base_url=base, cache_dir=tmp_path)
        assert ir.ndim == 2 and vis.shape[:2] == ir.shape


def test_checksum_mismatch_says_why_and_offers_the_synthetic_pair(serve, tmp_path):
    folder = tmp_path / "www"
    for sub in ("ir", "vi"):
        (folder / sub).mkdir(parents=True)
        (folder / sub / "00016N.png").write_bytes(b"not the real file")
    base, _ = serve(folder)
    with pytest.raises(samples.SampleDownloadError, match="checksum") as info:
        samples.fetch_pair("00016N", base_url=base, cache_dir=tmp_path / "cache")
    assert "Synthetic" in str(info.value)
    assert not list((tmp_path / "cache").rglob("*00016N.png"))


def test_unreachable_server_says_why_and_offers_the_synthetic_pair(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(samples.SampleDownloadError, match="could not download") as info:
        samples.fetch_pair("00016N", base_url=f"http://127.0.0.1:{port}", cache_dir=tmp_path)
    assert "Synthetic" in str(info.value)


def test_unknown_pair_name_is_refused():
    with pytest.raises(ValueError, match="name must be one of"):
        samples.fetch_pair("nope")


def test_manifest_lists_both_samples_and_the_menu_entry():
    npe2 = pytest.importorskip("npe2")
    manifest = npe2.PluginManifest.from_file(REPO / "napari.yaml")
    commands = {c.id: c.python_name for c in manifest.contributions.commands}
    keys = {s.key: commands[s.command] for s in manifest.contributions.sample_data}
    assert keys == {
        "synthetic_pair": "napari_textif._napari.sample_data:synthetic_sample",
        "real_pair": "napari_textif._napari.sample_data:real_sample",
        "synthetic_mri_pet": "napari_textif._napari.sample_data:synthetic_medical_sample",
        "mri_pet": "napari_textif._napari.sample_data:medical_sample",
    }
    menu = manifest.contributions.menus["napari/layers/filter"]
    assert [item.command for item in menu] == ["napari-textif.make_fusion_widget"]


# --- the MRI/PET pair -----------------------------------------------------------------------------


def _medical_mirror(tmp_path: Path) -> Path:
    """A folder laid out as the Harvard repository (PET-MRI/{MRI,PET}/30030.png), from shared/data."""
    source = require_shared("medical", "mri_pet")
    folder = tmp_path / "www"
    for role in ("MRI", "PET"):
        (folder / "PET-MRI" / role).mkdir(parents=True)
        original = source / role.lower() / "30030.png"
        (folder / "PET-MRI" / role / "30030.png").write_bytes(original.read_bytes())
    return folder


def test_synthetic_medical_sample_is_an_mri_and_a_pseudo_colour_pet():
    (mri, mri_meta, _), (pet, pet_meta, _) = samples.synthetic_medical_sample()
    assert mri.shape == (256, 256) and pet.shape == (256, 256, 3) and pet_meta["rgb"]
    assert "MRI" in mri_meta["name"] and "PET" in pet_meta["name"]
    assert np.ptp(pet.astype(int), axis=2).max() > 100, "the PET must be in colour"


def test_medical_pair_downloads_once_checks_sha256_and_is_cached(serve, tmp_path):
    base, requests = serve(_medical_mirror(tmp_path))
    paths = samples.fetch_pair("30030", base_url=base, cache_dir=tmp_path / "cache")
    assert set(paths) == {"mri", "pet"} and len(requests) == 2
    (mri, mri_meta, _), (pet, pet_meta, _) = samples.medical_layers(
        "30030", base_url=base, cache_dir=tmp_path / "cache")
    assert len(requests) == 2, "the second call must use the cache"
    assert mri.shape == (256, 256) and pet.shape == (256, 256, 3)
    assert mri_meta["name"] == "30030 MRI" and pet_meta["name"] == "30030 PET"


def test_medical_checksum_mismatch_offers_the_synthetic_phantom(serve, tmp_path):
    folder = tmp_path / "www"
    for role in ("MRI", "PET"):
        (folder / "PET-MRI" / role).mkdir(parents=True)
        (folder / "PET-MRI" / role / "30030.png").write_bytes(b"not the real file")
    base, _ = serve(folder)
    with pytest.raises(samples.SampleDownloadError, match="checksum") as info:
        samples.fetch_pair("30030", base_url=base, cache_dir=tmp_path / "cache")
    assert "Synthetic MRI/PET phantom" in str(info.value)
    assert not list((tmp_path / "cache").rglob("*30030.png"))
