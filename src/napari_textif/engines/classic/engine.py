"""The training-free baseline: classical restoration plus Laplacian-pyramid fusion.

Runs without torch. The visible luminance is restored in the reverse of the
physical degradation order (noise, exposure, blur, rain, haze), the infrared
image is destriped, denoised and stretched, then the two are fused: detail
layers by local energy, the base layer weighted towards whichever source is
brighter (hot targets stay bright), shifted by the preferences.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from typing import ClassVar

import numpy as np

from napari_textif import imaging
from napari_textif.controls import Controls
from napari_textif.engines.base import Engine, EngineOutput, FusionRequest, OptionSpec, declare_options
from napari_textif.engines.classic import pyramid
from napari_textif.restoration import COLOUR_KINDS, restore_infrared, restore_visible, restore_visible_color

MAX_LEVELS = 5


def base_weight(ir_base: np.ndarray, vis_base: np.ndarray, thermal_emphasis: float) -> np.ndarray:
    """Infrared weight of the coarsest layer: favour the brighter source, shift by emphasis."""
    return np.clip(0.5 + 1.5 * (ir_base - vis_base) + 0.35 * thermal_emphasis, 0.05, 0.95)


def fuse_luminance(ir: np.ndarray, vis_y: np.ndarray, c: Controls) -> np.ndarray:
    """Multi-scale fusion of two restored luminance images under the preferences of ``c``."""
    levels = min(MAX_LEVELS, pyramid.max_levels(ir.shape))
    p_ir, p_vis = pyramid.build_laplacian(ir, levels), pyramid.build_laplacian(vis_y, levels)
    gain = 1.0 + 0.5 * c.detail_emphasis
    fused = [gain * pyramid.select_details(a, b) for a, b in zip(p_ir[:-1], p_vis[:-1])]
    w = base_weight(p_ir[-1], p_vis[-1], c.thermal_emphasis)
    fused.append(w * p_ir[-1] + (1.0 - w) * p_vis[-1])
    return np.clip(pyramid.collapse_laplacian(fused), 0.0, 1.0).astype(np.float32)


class ClassicEngine(Engine):
    """Training-free restoration and multi-scale fusion (numpy/scipy/scikit-image)."""

    name = "classic"
    description = "training-free: classical restoration + Laplacian-pyramid fusion (no torch)"
    output = "luminance"
    needs = ("numpy, scipy, scikit-image",)
    #: No options; it runs on the CPU only (a request for a GPU is refused, not ignored).
    options: ClassVar[Mapping[str, OptionSpec]] = declare_options()
    devices: ClassVar[tuple[str, ...]] = ("cpu",)
    #: ``benchmarks/strength_response.py --engine classic``: the highlight compression is best
    #: below the simulated strength (0.1 / 0.38 / 0.53), the grey opening for rain at full
    #: strength at every severity. Chosen end to end on the selection set
    #: (``restoration_selection.py --engine classic``): overexposure -0.58 / -0.29 / +0.05 ->
    #: -0.17 / +0.17 / +0.27, rain +0.29 / +0.42 / +0.42 -> +0.40 / +0.45 / +0.44.
    strength_response: ClassVar[Mapping[str, tuple[float, ...]]] = types.MappingProxyType({
        "vis_overexposure": (0.1, 0.4, 0.6),
        "vis_rain": (1.0, 1.0, 1.0),
    })

    def run(self, request: FusionRequest) -> EngineOutput:
        """Restore both images as the Controls ask, then fuse their luminance."""
        c = request.controls
        request.report(0.0, "restoring visible")
        vis_y, colour = self._restore_visible(request.visible, c)
        request.report(0.4, "restoring infrared")
        ir = restore_infrared(request.infrared, c)
        request.report(0.7, "fusing")
        fused = fuse_luminance(ir, vis_y, c)
        request.report(1.0, "done")
        return EngineOutput(fused, device="cpu", colour=colour)

    @staticmethod
    def _restore_visible(visible: np.ndarray, c: Controls) -> tuple[np.ndarray, np.ndarray | None]:
        """The restored luminance, and the restored colour image when a step restored colour."""
        if visible.ndim == 2:
            return restore_visible(visible, c), None
        # Fused from the luminance path: RGB's gamut clipping would move the restored luminance.
        vis_y = restore_visible(imaging.to_gray(visible), c.replace(vis_haze=0.0))
        if not any(getattr(c, k) > 0 for k in COLOUR_KINDS):
            return vis_y, None
        colour = restore_visible_color(visible, c, restored=vis_y)
        return (imaging.to_gray(colour) if c.vis_haze > 0 else vis_y), colour
