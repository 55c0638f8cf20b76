"""The house plan is enforced: import-linter contracts in pyproject.toml (docs/architecture.md)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RUN_LINTER = (
    "import sys; from importlinter.cli import lint_imports; "
    "sys.exit(lint_imports(config_filename=sys.argv[1], no_cache=True, no_logo=True))"
)


def lint(project: Path, src: Path) -> subprocess.CompletedProcess[str]:
    """Run import-linter on the package under ``src`` with ``project``'s pyproject.toml."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    return subprocess.run(
        [sys.executable, "-c", RUN_LINTER, str(project / "pyproject.toml")],
        cwd=project, env=env, capture_output=True, text=True, timeout=300, check=False,
    )


def test_the_package_keeps_every_contract():
    done = lint(ROOT, ROOT / "src")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


@pytest.fixture
def package_copy(tmp_path):
    """A copy of the package (without weights) and its pyproject.toml, to break on purpose."""
    project = tmp_path / "project"
    (project / "src").mkdir(parents=True)
    shutil.copy(ROOT / "pyproject.toml", project / "pyproject.toml")
    shutil.copytree(
        ROOT / "src" / "napari_textif", project / "src" / "napari_textif",
        ignore=shutil.ignore_patterns("__pycache__", "*.safetensors"),
    )
    return project


@pytest.mark.parametrize(
    ("where", "line", "broken"),
    [
        ("engines/lite/_bad.py", "from napari_textif.training import losses",
         "napari_textif.engines is not allowed to import napari_textif.training"),
        ("engines/lite/_bad.py", "from napari_textif.engines.classic import pyramid",
         "napari_textif.engines.lite is not allowed to import napari_textif.engines.classic"),
        ("imaging.py", "import napari",
         "napari_textif.imaging is not allowed to import napari"),
        ("metrics.py", "from napari_textif import api",
         "napari_textif.metrics is not allowed to import napari_textif.api"),
        ("training/_bad.py", "from napari_textif._napari import jobs",
         "napari_textif.training is not allowed to import napari_textif._napari"),
    ],
)
def test_the_checker_reports_a_deliberately_bad_import(package_copy, where, line, broken):
    target = package_copy / "src" / "napari_textif" / where
    original = target.read_text() if target.exists() else ""
    target.write_text(original + f"\n{line}\n")
    done = lint(package_copy, package_copy / "src")
    assert done.returncode != 0, done.stdout
    assert broken in " ".join(done.stdout.split()), done.stdout
