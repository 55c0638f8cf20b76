"""No public name of ``napari_textif`` is shadowed by a submodule (``nt.interpret`` once became one)."""

from __future__ import annotations

import importlib
import pkgutil
import types

import pytest

import napari_textif


def _import_every_submodule() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(napari_textif.__path__, "napari_textif."):
        if info.name.endswith(".__main__"):
            continue  # runs the CLI
        if info.name.startswith("napari_textif._napari"):
            continue  # the napari face: imported by the widget tests
        importlib.import_module(info.name)
        names.append(info.name)
    return names


def test_public_names_stay_what_they_are_after_every_submodule_is_imported():
    pytest.importorskip("torch")
    imported = _import_every_submodule()
    assert "napari_textif.interpretation" in imported and "napari_textif.detection" in imported
    for name in napari_textif.__all__:
        value = getattr(napari_textif, name)
        assert not isinstance(value, types.ModuleType), f"napari_textif.{name} is a module"
    assert napari_textif.interpret("dark").controls.vis_low_light > 0
    assert callable(napari_textif.detect) and callable(napari_textif.fuse)


def test_no_submodule_shares_a_name_with_a_public_function():
    submodules = {info.name for info in pkgutil.iter_modules(napari_textif.__path__)}
    assert not submodules & set(napari_textif.__all__)
