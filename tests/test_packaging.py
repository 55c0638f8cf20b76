"""The plugin manifest and the built wheel: what napari and its plugin manager see."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

from conftest import REPO


def test_manifest_is_one_file_shipped_in_the_package():
    packaged = REPO / "src" / "napari_textif" / "napari.yaml"
    assert packaged.resolve() == (REPO / "napari.yaml").resolve()


def test_npe2_validates_the_manifest():
    npe2 = pytest.importorskip("npe2")
    manifest = npe2.PluginManifest.from_file(REPO / "napari.yaml")
    assert manifest.name == "napari-textif"
    commands = {c.id: c.python_name for c in manifest.contributions.commands}
    for python_name in commands.values():
        module = python_name.split(":")[0]
        assert (REPO / "src" / Path(*module.split("."))).with_suffix(".py").is_file(), python_name


def test_entry_point_and_classifiers():
    tomllib = pytest.importorskip("tomllib")
    meta = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert meta["entry-points"]["napari.manifest"]["napari-textif"] == "napari_textif:napari.yaml"
    assert "Framework :: napari" in meta["classifiers"]
    assert meta["scripts"]["napari-textif"] == "napari_textif.cli:main"
    assert not any(dep.lower().startswith(("pyqt", "pyside")) for dep in meta["dependencies"])


def _borrow_dependencies(python: Path) -> None:
    """Let a fresh venv import this environment's packages (but not its editable checkout).

    A plain path in a .pth file does not run the .pth files inside it, so the
    editable install of the checkout stays invisible while numpy, napari, npe2...
    resolve from here, and the wheel installed into the venv wins.
    """
    child = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    parent = sysconfig.get_paths()["purelib"]
    Path(child, "borrowed-deps.pth").write_text(parent + "\n")


@pytest.mark.slow
def test_built_wheel_installs_and_npe2_discovers_it(tmp_path):
    """Build the wheel, install it (deps from this environment) and ask npe2 for the plugin."""
    pytest.importorskip("build")
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist), str(REPO)],
        check=True, capture_output=True,
    )
    wheel = next(dist.glob("napari_textif-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    for shipped in ("napari.yaml", "engines/lite/weights/lite_v2.safetensors",
                    "engines/lite/weights/lite_v2.json", "engines/lite/weights/lite_v3.safetensors",
                    "engines/lite/weights/lite_v3.json", "engines/lite/weights/lite_medical_v1.safetensors",
                    "engines/lite/weights/lite_medical_v1.json"):
        assert f"napari_textif/{shipped}" in names, f"the wheel lacks {shipped}"
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    _borrow_dependencies(python)
    subprocess.run([str(python), "-m", "pip", "install", "--no-deps", "-q", str(wheel)], check=True)
    code = (
        "import napari_textif, npe2; pm = npe2.PluginManager.instance(); pm.discover();"
        "mf = pm.get_manifest('napari-textif');"
        "print(napari_textif.__file__); print(mf.display_name);"
        "print(len(mf.contributions.widgets))"
    )
    out = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True)
    module_file, display_name, widgets = out.stdout.strip().splitlines()
    assert str(env_dir) in module_file, "the wheel, not the checkout, must provide the package"
    assert display_name == "Text-guided fusion" and int(widgets) >= 1
