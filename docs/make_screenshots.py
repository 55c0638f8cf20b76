"""Regenerate the user guide's screenshots (run under a display, e.g. ``xvfb-run -a``).

Uses the Text-IF demo pair 00016N from ``../shared/data/ivif/samples`` when it is
there, otherwise the synthetic pair, and the default engine (lite when its
weights are installed). Images go to ``docs/images``; each is kept under 500 KB.
``python docs/make_screenshots.py medical`` makes only the MRI-PET screenshot (AANLIB
slice 30030 from ``../shared/data/medical/mri_pet``, else the synthetic phantom).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

DOCS = Path(__file__).resolve().parent
IMAGES = DOCS / "images"
MAX_BYTES = 500_000
PROMPT = "the visible image is dark and the thermal camera is noisy; keep people bright"
MEDICAL_PROMPT = "keep the PET uptake bright; more soft-tissue detail"


def load_pair() -> list:
    from napari_textif._napari import sample_data as _sample_data

    shared = Path(os.environ.get("NAPARI_TEXTIF_SHARED", DOCS.parents[1] / "shared"))
    folder = shared / "data" / "ivif" / "samples"
    if (folder / "ir" / "00016N.png").is_file():
        ir = _sample_data._read(folder / "ir" / "00016N.png", gray=True)
        vis = _sample_data._read(folder / "vi" / "00016N.png")
        return [
            (ir, {"name": "00016N infrared", "colormap": "gray"}),
            (vis, {"name": "00016N visible", "rgb": True}),
        ]
    return [(data, meta) for data, meta, _ in _sample_data.synthetic_sample()]


def load_medical_pair() -> list:
    from napari_textif._napari import sample_data as _sample_data

    shared = Path(os.environ.get("NAPARI_TEXTIF_SHARED", DOCS.parents[1] / "shared"))
    folder = shared / "data" / "medical" / "mri_pet"
    if (folder / "mri" / "30030.png").is_file():
        mri = _sample_data._read(folder / "mri" / "30030.png", gray=True)
        pet = _sample_data._read(folder / "pet" / "30030.png")
        return [(mri, {"name": "30030 MRI", "colormap": "gray"}), (pet, {"name": "30030 PET", "rgb": True})]
    return [(data, meta) for data, meta, _ in _sample_data.synthetic_medical_sample()]


def settle(app, seconds: float = 0.5) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.01)


def shoot(viewer, app, name: str) -> Path:
    from PIL import Image

    settle(app)
    path = IMAGES / name
    viewer.screenshot(str(path), canvas_only=False)
    image = Image.open(path).convert("RGB")
    if image.width > 1400:
        image = image.resize((1400, round(image.height * 1400 / image.width)), Image.LANCZOS)
    image.save(path, optimize=True)
    if path.stat().st_size > MAX_BYTES:
        image.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
    print(f"{path.relative_to(DOCS.parent)}: {image.width}x{image.height}, {path.stat().st_size // 1000} KB")
    return path


def grid(viewer, shape: tuple[int, int]) -> None:
    """Show the layers side by side and fit them in the canvas."""
    settings = getattr(viewer, "canvas", viewer).grid
    settings.enabled = True
    settings.shape = shape
    viewer.reset_view()


def open_viewer(pair: list) -> tuple:
    import napari
    from qtpy.QtWidgets import QApplication

    from napari_textif._napari.widget import FusionWidget

    IMAGES.mkdir(exist_ok=True)
    viewer = napari.Viewer(show=True, title="napari-textif")
    app = QApplication.instance()
    viewer.window._qt_window.resize(1500, 950)
    for data, meta in pair:
        viewer.add_image(data, **meta)
    widget = FusionWidget(viewer)
    viewer.window.add_dock_widget(widget, name="Text-guided fusion", area="right")
    while not widget.engines_ready:
        settle(app, 0.1)
    return viewer, widget, app


def medical() -> None:
    """The MRI-PET pair: the kind picked from the layer names, the PET's colour in the result."""
    viewer, widget, app = open_viewer(load_medical_pair())
    widget.prompt.value = MEDICAL_PROMPT
    widget.fuse()
    while widget.running:
        settle(app, 0.1)
    grid(viewer, (1, 3))
    shoot(viewer, app, "05-mri-pet.png")
    viewer.close()


def main() -> None:
    import napari
    from qtpy.QtWidgets import QApplication

    from napari_textif._napari.widget import FusionWidget

    IMAGES.mkdir(exist_ok=True)
    viewer = napari.Viewer(show=True, title="napari-textif")
    app = QApplication.instance()
    viewer.window._qt_window.resize(1500, 950)
    for data, meta in load_pair():
        viewer.add_image(data, **meta)
    widget = FusionWidget(viewer)
    viewer.window.add_dock_widget(widget, name="Text-guided fusion", area="right")
    while not widget.engines_ready:
        settle(app, 0.1)
    widget.prompt.value = PROMPT
    grid(viewer, (1, 2))
    shoot(viewer, app, "01-before.png")

    widget.fuse()
    while widget.running:
        settle(app, 0.1)
    grid(viewer, (2, 2))
    shoot(viewer, app, "02-after.png")

    widget.adjust.value = True
    widget.sliders["thermal_emphasis"].value = 1.0
    widget.keep_previous.value = True
    widget.fuse()
    while widget.running:
        settle(app, 0.1)
    grid(viewer, (2, 3))
    shoot(viewer, app, "03-adjust.png")

    widget.adjust.value = False
    widget.compute_metrics()
    settle(app, 5.0)
    shoot(viewer, app, "04-metrics.png")
    viewer.close()


if __name__ == "__main__":
    medical() if sys.argv[1:] == ["medical"] else main()
