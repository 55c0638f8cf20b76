"""One place reads the settings: defaults < config file < napari preferences < environment."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from napari_textif import settings

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def clean(monkeypatch, tmp_path):
    """No user config, no napari values and no NAPARI_TEXTIF_* variables unless a test sets them."""
    for variable in settings.ENV.values():
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv(settings.ENV_CONFIG_DIR, str(tmp_path / "config"))
    settings.use_napari_settings(None)
    yield
    settings.use_napari_settings(None)


def write_config(data):
    path = settings.config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_defaults_without_any_source():
    found = settings.load()
    assert (found.engine, found.device, found.threads, found.checkpoint) == ("", "auto", 0, "")
    assert found.warm_up and not found.allow_download and found.origins == {} and not found.problems
    assert found.cache_folder() == settings.default_cache_dir()


def test_precedence_config_then_napari_then_environment(monkeypatch, tmp_path):
    path = write_config({"engine": "classic", "device": "cpu", "threads": 2, "cache_dir": "/c",
                         "textif": {"checkpoint": "/from/config.pth", "allow_download": True}})
    found = settings.load()
    got = (found.engine, found.device, found.threads, found.checkpoint)
    assert got == ("classic", "cpu", 2, "/from/config.pth")
    assert found.allow_download and found.origins["engine"] == f"config file {path}"
    settings.use_napari_settings({"default_engine": "lite", "device": "auto", "cpu_threads": 3,
                                  "textif_checkpoint": "/from/napari.pth", "cache_folder": "",
                                  "unknown": 1})
    found = settings.load()
    # napari's untouched defaults ("auto", "") never hide the config file's values.
    got = (found.engine, found.device, found.threads, found.checkpoint)
    assert got == ("lite", "cpu", 3, "/from/napari.pth")
    assert found.cache_dir == "/c" and found.origins["checkpoint"] == "napari preferences"
    monkeypatch.setenv("NAPARI_TEXTIF_CHECKPOINT", str(tmp_path / "env.pth"))
    monkeypatch.setenv("NAPARI_TEXTIF_THREADS", "4")
    monkeypatch.setenv("NAPARI_TEXTIF_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("NAPARI_TEXTIF_WARMUP", "0")
    found = settings.load()
    assert found.checkpoint == str(tmp_path / "env.pth") and found.threads == 4 and not found.warm_up
    assert found.origins["checkpoint"] == "$NAPARI_TEXTIF_CHECKPOINT"
    assert found.cache_folder() == tmp_path / "cache"


def test_invalid_values_are_skipped_and_reported(monkeypatch):
    write_config({"threads": -2, "device": "gpu9"})
    monkeypatch.setenv("NAPARI_TEXTIF_THREADS", "many")
    monkeypatch.setenv("NAPARI_TEXTIF_WARMUP", "maybe")
    found = settings.load()
    assert found.threads == 0 and found.device == "auto" and found.warm_up
    assert len(found.problems) == 4 and any("NAPARI_TEXTIF_THREADS" in p for p in found.problems)


@pytest.mark.parametrize("content", ["not json", "[1, 2]", '{"textif": 5}'])
def test_unreadable_config_file_is_ignored(content):
    settings.config_path().parent.mkdir(parents=True)
    settings.config_path().write_text(content, encoding="utf-8")
    assert settings.load().checkpoint == ""


def test_textif_engine_and_samples_read_the_settings(monkeypatch, tmp_path):
    from napari_textif._napari import sample_data
    from napari_textif.engines.textif import engine as textif_engine

    ckpt = tmp_path / "text_fusion.pth"
    ckpt.write_bytes(b"x")
    settings.use_napari_settings({"textif_checkpoint": str(ckpt), "cache_folder": str(tmp_path / "c")})
    path, origin = textif_engine.find_checkpoint({})
    assert path == ckpt and origin == "napari preferences"
    assert textif_engine.find_checkpoint({"checkpoint": "/explicit.pth"})[0] == Path("/explicit.pth")
    assert textif_engine.config_path() == settings.config_path()
    calls = []
    monkeypatch.setattr(sample_data, "_fetch", lambda url, sha, folder: calls.append((url, folder)) or folder)
    monkeypatch.setenv(sample_data.URL_ENV, "http://example.invalid/x/")
    sample_data.fetch_pair("00016N")
    assert len(calls) == 2
    folder = tmp_path / "c" / "samples"
    assert all(u.startswith("http://example.invalid/x/") and f == folder for u, f in calls)


def test_manifest_configuration_matches_the_settings():
    import npe2

    manifest = npe2.PluginManifest.from_file(REPO / "napari.yaml")
    (key, general), = manifest.contributions.configurations.items()
    assert key == "general" and set(general.properties) == set(settings.NAPARI_KEYS)
    for prop, name in settings.NAPARI_KEYS.items():
        assert general.properties[prop].default == settings.DEFAULTS[name]


def test_settings_module_imports_no_gui_nor_torch():
    code = ("import sys, napari_textif.settings as s; s.load();"
            "print(any(m.split('.')[0] in {'torch', 'napari', 'qtpy', 'magicgui'} for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
