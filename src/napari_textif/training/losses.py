"""Fusion losses against the clean sources, weighted per sample by its Controls.

The terms follow the Text-IF paper (DESIGN.md section 2), all on BT.601
luminance ``Y`` in ``[0, 1]``:

* **intensity** — L1 of ``Y_F`` to the per-pixel brighter clean source
  ``max(IR, Y_vis)``;
* **ssim** — ``(1 - SSIM(Y_F, Y_vis)) + (1 - SSIM(Y_F, IR))``, with the window
  and constants of :mod:`napari_textif.metrics` (7x7 uniform window, sample
  covariance, ``K1 = 0.01``, ``K2 = 0.03``, data range 1);
* **gradient** — L1 of ``|Sobel_x F|`` and ``|Sobel_y F|`` to the element-wise
  maximum of the sources' (replicate padding);
* **color** — L1 of the fused image's Cb and Cr to the clean visible image's,
  weight :data:`COLOR_WEIGHT`; only for RGB outputs (a luminance engine takes
  its chroma from the visible image, so the term is zero).

Weights (intensity, SSIM, gradient) per degradation: the paper's table for its
four kinds; our choices for the other five (see :data:`KIND_WEIGHTS`). A sample
with strengths ``c_k`` gets ``w = NEUTRAL + sum_k c_k (W_k - NEUTRAL)``, clipped at
zero, so one degradation at strength 1 gets exactly its table row and
strength 0 the neutral weights. Preferences shape the targets, so a network
learns to go past the sources when asked (weights alone cannot move the
optimum beyond the target): ``thermal_emphasis`` ``t`` moves the intensity
target where the infrared is brighter, ``max(IR, Y) + k (IR - Y)`` with
``k = t`` for ``t < 0`` (down to the visible intensity at ``t = -1``) and
``k = THERMAL_GAIN * t`` above (a boosted infrared; ``engines.lite.net.thermal_factor``, which the
lite network also applies to its output explicitly); ``detail_emphasis`` ``d``
scales the target gradient magnitudes by ``1 + DETAIL_SHIFT * d``.

Differences from the reference code, on purpose: every term is L1 (the paper
used L2 for the over-exposure intensity), intensity and SSIM use luminance for
RGB outputs too, and its auxiliary "consistency" term is left out.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
import torch.nn.functional as F

from napari_textif.controls import CONTROL_NAMES, DEGRADATIONS
from napari_textif.engines.lite.net import thermal_factor
from napari_textif.imaging import tensor_chroma as chroma
from napari_textif.imaging import tensor_luminance as luminance
from napari_textif.metrics import SSIM_K1, SSIM_K2, SSIM_WINDOW

LOSS_TERMS: tuple[str, ...] = ("intensity", "ssim", "gradient", "color", "correlation", "contrast")
#: Side of the windows of the local-contrast term.
CONTRAST_WINDOW = 9
COLOR_WEIGHT = 12.0
#: (intensity, ssim, gradient) with no degradation: the middle of the paper's table.
NEUTRAL_WEIGHTS: tuple[float, float, float] = (6.0, 1.0, 10.0)
#: (intensity, ssim, gradient) for one degradation at full strength.
KIND_WEIGHTS: dict[str, tuple[float, float, float]] = {
    # The paper's table (reference code, per task).
    "vis_low_light": (8.0, 1.0, 10.0),
    "vis_overexposure": (4.0, 0.0, 2.0),
    "ir_low_contrast": (8.0, 1.0, 10.0),
    "ir_noise": (6.0, 1.0, 10.0),
    # Our choices. Haze, like low light, is a loss of contrast and brightness range:
    # weight intensity up. Noise and rain put false structure in the input: weight
    # SSIM to the clean sources up and the gradient term down so edges are not
    # invented. Blur removes edges: weight the gradient term up. Stripe noise is
    # infrared noise with structure: as the paper's infrared noise.
    "vis_haze": (8.0, 1.0, 10.0),
    "vis_noise": (6.0, 2.0, 6.0),
    "vis_rain": (6.0, 2.0, 8.0),
    "vis_blur": (6.0, 1.0, 14.0),
    "ir_stripe_noise": (6.0, 1.0, 10.0),
}
DETAIL_SHIFT = 0.5

_SOBEL_X = ((-1.0, 0.0, 1.0), (-2.0, 0.0, 2.0), (-1.0, 0.0, 1.0))
_SOBEL_Y = ((-1.0, -2.0, -1.0), (0.0, 0.0, 0.0), (1.0, 2.0, 1.0))
_THERMAL = CONTROL_NAMES.index("thermal_emphasis")
_DETAIL = CONTROL_NAMES.index("detail_emphasis")
assert set(KIND_WEIGHTS) == set(DEGRADATIONS)


def ssim(x: torch.Tensor, y: torch.Tensor, *, data_range: float = 1.0) -> torch.Tensor:
    """Per-sample SSIM ``(B,)`` of one-channel images, as :func:`napari_textif.metrics.ssim`.

    Mean over the fully contained :data:`~napari_textif.metrics.SSIM_WINDOW`-square
    uniform windows, sample (co)variances, ``C1 = (K1 L)^2``, ``C2 = (K2 L)^2``.
    """
    n = SSIM_WINDOW * SSIM_WINDOW
    pool = lambda t: F.avg_pool2d(t, SSIM_WINDOW, stride=1)  # noqa: E731
    mx, my = pool(x), pool(y)
    cov = n / (n - 1)
    vx = (pool(x * x) - mx * mx) * cov
    vy = (pool(y * y) - my * my) * cov
    vxy = (pool(x * y) - mx * my) * cov
    c1, c2 = (SSIM_K1 * data_range) ** 2, (SSIM_K2 * data_range) ** 2
    value = ((2 * mx * my + c1) * (2 * vxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return value.flatten(1).mean(1)


def sobel(image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(|Sobel_x|, |Sobel_y|)`` of one-channel images, replicate padding."""
    kernel = torch.tensor([_SOBEL_X, _SOBEL_Y], dtype=image.dtype, device=image.device)[:, None]
    grads = F.conv2d(F.pad(image, (1, 1, 1, 1), mode="replicate"), kernel).abs()
    return grads[:, 0:1], grads[:, 1:2]


def loss_weights(controls: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per-sample term weights ``(B,)`` from a ``(B, K)`` Controls batch (before preferences).

    Examples
    --------
    >>> from napari_textif.controls import Controls
    >>> c = torch.tensor([Controls(vis_overexposure=1.0).to_vector()])
    >>> {k: float(v) for k, v in loss_weights(c).items()}
    {'intensity': 4.0, 'ssim': 0.0, 'gradient': 2.0, 'color': 12.0}
    """
    _check_controls(controls)
    options = {"dtype": controls.dtype, "device": controls.device}
    neutral = torch.tensor(NEUTRAL_WEIGHTS, **options)
    table = torch.tensor([KIND_WEIGHTS[k] for k in DEGRADATIONS], **options)
    strengths = controls[:, : len(DEGRADATIONS)]
    weights = (neutral + strengths @ (table - neutral)).clamp_min(0.0)
    return {
        "intensity": weights[:, 0],
        "ssim": weights[:, 1],
        "gradient": weights[:, 2],
        "color": torch.full_like(weights[:, 0], COLOR_WEIGHT),
    }


def _check_controls(controls: torch.Tensor) -> None:
    if controls.ndim != 2 or controls.shape[1] != len(CONTROL_NAMES):
        raise ValueError(
            f"controls must have shape (B, {len(CONTROL_NAMES)}) in the Controls layout, "
            f"got {tuple(controls.shape)}"
        )


def fusion_loss(
    fused: torch.Tensor,
    ir_clean: torch.Tensor,
    vis_clean: torch.Tensor,
    controls: torch.Tensor,
    *,
    gradient_scales: tuple[int, ...] = (1,),
    correlation_weight: float = 0.0,
    contrast_weight: float = 0.0,
    contrast_scales: tuple[int, ...] | None = None,
    preference_weight: float = 0.0,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The Controls-weighted fusion loss of a batch.

    Parameters
    ----------
    fused : Tensor
        ``(B, 1, H, W)`` luminance or ``(B, 3, H, W)`` RGB in ``[0, 1]``.
    ir_clean : Tensor
        ``(B, 1, H, W)`` clean infrared.
    vis_clean : Tensor
        ``(B, 3, H, W)`` clean visible RGB (or ``(B, 1, H, W)`` gray).
    controls : Tensor
        ``(B, K)`` Controls vectors describing each sample.
    gradient_scales : tuple of int
        Compare gradients also on images average-pooled by these factors, each
        weighted by ``1 / factor``: targets for the contrast of larger structures
        (the paper uses full resolution only, ``(1,)``).
    correlation_weight : float
        Weight of ``2 - corr(F - Y_vis, IR) - corr(F - IR, Y_vis)``, the complement
        of the sum of the correlations of differences (the SCD metric): it asks the
        fused image to carry what each source adds to the other (0: off, as the paper).
    contrast_weight : float
        Weight of the local-contrast term: L1 of the fused image's local standard deviation
        (:data:`CONTRAST_WINDOW`-square windows, on the ``gradient_scales`` pyramid) to the
        larger of the sources' (scaled by ``detail_emphasis`` as the gradient target): the
        contrast of each region from whichever source has more of it (0: off).
    contrast_scales : tuple of int, optional
        The pyramid of the contrast term when it should differ from ``gradient_scales``
        (None: the same). Coarse factors ask for contrast between whole regions, which
        in a flat area beside a structure of opposite polarity in the two sources (a
        bright sky beside trees that are dark in the visible image and bright in the
        infrared) can only be met by a halo.
    preference_weight : float
        Scales the intensity weight by ``1 + p |thermal_emphasis|`` and the gradient
        weight by ``1 + p |detail_emphasis|``: a sample that asks for a preference is
        held to its moved target harder, so the other terms (which pull towards the
        sources) do not shrink the preference's range (0: off).

    Returns
    -------
    total : Tensor
        Scalar, the batch mean of the per-sample weighted sums.
    terms : dict of str to Tensor
        Batch means of each weighted term (detached), keys :data:`LOSS_TERMS`.

    Examples
    --------
    >>> ir = torch.rand(2, 1, 16, 16); vis = torch.rand(2, 3, 16, 16)
    >>> total, terms = fusion_loss(torch.maximum(ir, luminance(vis)), ir, vis, torch.zeros(2, 11))
    >>> float(terms["intensity"]), float(terms["color"])
    (0.0, 0.0)
    """
    _check_shapes(fused, ir_clean, vis_clean, controls)
    fused, ir_clean, vis_clean = fused.float(), ir_clean.float(), vis_clean.float()
    weights = loss_weights(controls.float())
    if preference_weight:
        weights["intensity"] = weights["intensity"] * (1.0 + preference_weight * controls[:, _THERMAL].abs())
        weights["gradient"] = weights["gradient"] * (1.0 + preference_weight * controls[:, _DETAIL].abs())
    y_f, y_v = luminance(fused), luminance(vis_clean)
    raw = {
        "intensity": _intensity(y_f, ir_clean, y_v, controls[:, _THERMAL].float()),
        "ssim": (1.0 - ssim(y_f, y_v)) + (1.0 - ssim(y_f, ir_clean)),
        "gradient": _multiscale_gradient(
            y_f, ir_clean, y_v, 1.0 + DETAIL_SHIFT * controls[:, _DETAIL].float(), gradient_scales
        ),
        "color": _color(fused, vis_clean),
        "correlation": _correlation_deficit(y_f, ir_clean, y_v) if correlation_weight else torch.zeros_like(
            weights["color"]
        ),
    }
    raw["contrast"] = (
        _multiscale_contrast(y_f, ir_clean, y_v, 1.0 + DETAIL_SHIFT * controls[:, _DETAIL].float(),
                             gradient_scales if contrast_scales is None else contrast_scales)
        if contrast_weight else torch.zeros_like(weights["color"])
    )
    weights["correlation"] = torch.full_like(weights["color"], float(correlation_weight))
    weights["contrast"] = torch.full_like(weights["color"], float(contrast_weight))
    weighted = {k: weights[k] * raw[k] for k in LOSS_TERMS}
    total = torch.stack([weighted[k] for k in LOSS_TERMS]).sum(0).mean()
    return total, {k: v.mean().detach() for k, v in weighted.items()}


def _check_shapes(fused: torch.Tensor, ir: torch.Tensor, vis: torch.Tensor, controls: torch.Tensor) -> None:
    _check_controls(controls)
    b, _, h, w = fused.shape
    if fused.shape[1] not in (1, 3):
        raise ValueError(f"fused must have 1 or 3 channels, got shape {tuple(fused.shape)}")
    if ir.shape != (b, 1, h, w) or vis.shape[0] != b or vis.shape[2:] != (h, w) or vis.shape[1] not in (1, 3):
        raise ValueError(
            f"ir_clean must be ({b}, 1, {h}, {w}) and vis_clean ({b}, 3, {h}, {w}) to match fused, got "
            f"{tuple(ir.shape)} and {tuple(vis.shape)}"
        )
    if min(h, w) < SSIM_WINDOW:
        raise ValueError(f"images must be at least {SSIM_WINDOW}x{SSIM_WINDOW} pixels, got {h}x{w}")
    if controls.shape[0] != b:
        raise ValueError(f"controls must have {b} rows (one per sample), got {controls.shape[0]}")


def _per_sample(t: torch.Tensor) -> torch.Tensor:
    return t.flatten(1).mean(1)


def intensity_target(ir: torch.Tensor, y_v: torch.Tensor, thermal: torch.Tensor) -> torch.Tensor:
    """The per-pixel intensity target under ``thermal_emphasis`` ``(B,)`` (see the module docstring).

    Examples
    --------
    >>> ir, y = torch.full((3, 1, 1, 1), 0.8), torch.full((3, 1, 1, 1), 0.2)
    >>> [round(v, 3) for v in intensity_target(ir, y, torch.tensor([-1.0, 0.0, 1.0])).flatten().tolist()]
    [0.2, 0.8, 1.0]
    """
    k = thermal_factor(thermal)[:, None, None, None]
    return (torch.maximum(ir, y_v) + k * torch.relu(ir - y_v)).clamp(0.0, 1.0)


def _intensity(y_f: torch.Tensor, ir: torch.Tensor, y_v: torch.Tensor, thermal: torch.Tensor) -> torch.Tensor:
    return _per_sample((y_f - intensity_target(ir, y_v, thermal)).abs())


def _correlation_deficit(y_f: torch.Tensor, ir: torch.Tensor, y_v: torch.Tensor) -> torch.Tensor:
    return 2.0 - _pearson(y_f - y_v, ir) - _pearson(y_f - ir, y_v)


def _pearson(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    a, b = a.flatten(1), b.flatten(1)
    a, b = a - a.mean(1, keepdim=True), b - b.mean(1, keepdim=True)
    return (a * b).sum(1) / ((a * a).sum(1) * (b * b).sum(1)).clamp_min(1e-12).sqrt()


def _multiscale_gradient(
    y_f: torch.Tensor, ir: torch.Tensor, y_v: torch.Tensor, gain: torch.Tensor, scales: tuple[int, ...]
) -> torch.Tensor:
    total = torch.zeros_like(gain)
    for factor, images in _pyramid((y_f, ir, y_v), scales, "gradient_scales"):
        total = total + _gradient(*images, gain) / factor
    return total


def _pyramid(
    images: tuple[torch.Tensor, ...], scales: tuple[int, ...], option: str
) -> Iterator[tuple[int, list[torch.Tensor]]]:
    """Each factor of ``scales`` with ``images`` average-pooled by it; ``option`` names the
    loss option in the error for a factor that leaves fewer than 3 pixels."""
    for factor in scales:
        if factor < 1 or min(images[0].shape[-2:]) // factor < 3:
            raise ValueError(f"{option} must be factors >= 1 that leave 3 pixels, got {factor}")
        yield factor, [F.avg_pool2d(t, factor) if factor > 1 else t for t in images]


def local_std(image: torch.Tensor, window: int = CONTRAST_WINDOW) -> torch.Tensor:
    """Standard deviation of ``image`` over ``window``-square windows (reflect padding)."""
    pad = window // 2
    padded = F.pad(image, (pad, pad, pad, pad), mode="reflect")
    mean = F.avg_pool2d(padded, window, stride=1)
    var = F.avg_pool2d(padded * padded, window, stride=1) - mean * mean
    return var.clamp_min(1e-8).sqrt()


def _multiscale_contrast(
    y_f: torch.Tensor, ir: torch.Tensor, y_v: torch.Tensor, gain: torch.Tensor, scales: tuple[int, ...]
) -> torch.Tensor:
    total = torch.zeros_like(gain)
    g = gain[:, None, None, None]
    for factor, images in _pyramid((y_f, ir, y_v), scales, "contrast_scales"):
        window = min(CONTRAST_WINDOW, min(images[0].shape[-2:]) // 2 * 2 - 1)
        sf, si, sv = (local_std(t, window) for t in images)
        total = total + _per_sample((sf - g * torch.maximum(si, sv)).abs()) / factor
    return total


def _gradient(y_f: torch.Tensor, ir: torch.Tensor, y_v: torch.Tensor, gain: torch.Tensor) -> torch.Tensor:
    fx, fy = sobel(y_f)
    ix, iy = sobel(ir)
    vx, vy = sobel(y_v)
    g = gain[:, None, None, None]
    error_x = (fx - g * torch.maximum(ix, vx)).abs()
    return _per_sample(error_x) + _per_sample((fy - g * torch.maximum(iy, vy)).abs())


def _color(fused: torch.Tensor, vis: torch.Tensor) -> torch.Tensor:
    if fused.shape[1] == 1 or vis.shape[1] == 1:
        return torch.zeros(fused.shape[0], dtype=fused.dtype, device=fused.device)
    return _per_sample((chroma(fused) - chroma(vis)).abs()) * 2.0

