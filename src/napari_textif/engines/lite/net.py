"""The ``lite`` fusion network: small, Controls-conditioned, fast on a laptop CPU.

Layout (``widths=(16, 24, 32)``, the shipped configuration)::

    infrared Y ─ unshuffle(2) ─ enc ─┬─ 1/2 ──┬─ 1/4 ──┬─ 1/8
    visible Y(+CbCr) ─ unshuffle(2) ─ enc ─┘     │        │
                          per-scale 1x1 fusion ──┴────────┴──> decoder 1/8 -> 1/4 -> 1/2
                          Controls -> MLP -> (gamma, beta) per decoder stage (SIGM-style FiLM)
    head -> pixel-shuffle(2) -> blend weight w and residual r at full resolution
    fused Y = w * infrared + (1 - w) * visible Y + r, then thermal_shift(fused Y, thermal_emphasis)

Every layer runs at half resolution or below (pixel-unshuffle in, pixel-shuffle
out), which is what makes a 640x480 pair fast on two CPU cores. The network
has no global pooling or normalisation, so overlapping tiles agree away from
their borders and tiled inference shows no seams.

Size of the shipped configuration (:func:`describe`): 110,712 parameters and
1.83 GMACs for a 640x480 pair (counted by :func:`count_macs`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from napari_textif.controls import CONTROL_NAMES

#: Inputs are padded to a multiple of this (unshuffle by 2, then two stride-2 stages).
MULTIPLE = 8
#: ``thermal_emphasis`` above zero raises the luminance by this times ``t (IR - Y)`` where the
#: infrared is brighter (the training loss's intensity target moves by the same amount).
THERMAL_GAIN = 0.5
_THERMAL = CONTROL_NAMES.index("thermal_emphasis")


def thermal_factor(thermal: torch.Tensor) -> torch.Tensor:
    """``k(t)``: ``t`` below zero (down to the visible at -1), ``THERMAL_GAIN * t`` above."""
    return torch.where(thermal < 0, thermal, THERMAL_GAIN * thermal)


def thermal_shift(
    fused: torch.Tensor, infrared: torch.Tensor, vis_y: torch.Tensor, thermal: torch.Tensor
) -> torch.Tensor:
    """Move ``fused`` by ``k(t) * relu(IR - Y)``: the preference applied explicitly, per pixel.

    Where the infrared is brighter than the visible luminance, ``thermal_emphasis``
    ``t`` ``(B,)`` lifts the fusion towards a boosted infrared (``t > 0``) or lowers it
    towards the visible (``t < 0``), never below ``min(fused, Y)``; elsewhere, and at
    ``t = 0``, ``fused`` is unchanged. A trained network's own response to ``t`` is
    small, pulled back by the structure terms of its loss; this makes the slider's
    range the intensity target's (``training.losses.intensity_target``). Per pixel, so
    tiled and whole fusion agree.

    Examples
    --------
    >>> f, ir, y = (torch.full((3, 1, 1, 1), v) for v in (0.6, 0.8, 0.4))
    >>> thermal_shift(f, ir, y, torch.tensor([-1.0, 0.0, 1.0])).flatten().tolist()
    [0.4000000059604645, 0.6000000238418579, 0.800000011920929]
    """
    k = thermal_factor(thermal)[:, None, None, None]
    shifted = fused + k * torch.relu(infrared - vis_y)
    return torch.maximum(shifted, torch.minimum(fused, vis_y))


@dataclasses.dataclass(frozen=True)
class LiteNetConfig:
    """Architecture of :class:`LiteNet`; stored beside the weights.

    Attributes
    ----------
    widths : tuple of int
        Channels at 1/2, 1/4 and 1/8 resolution.
    use_chroma : bool
        Whether the visible encoder also sees Cb/Cr.
    n_controls : int
        Length of the Controls vector.
    film_hidden : int
        Hidden width of the Controls MLP.
    context_blocks : int
        Residual large-kernel blocks (:class:`ContextBlock`) on the fused 1/8 features
        (0 in ``lite_v2``): scene-level context for intensity decisions.
    context_kernel, context_dilation : int
        Depthwise kernel and dilation of those blocks; the receptive field at 1/8 grows by
        ``(kernel - 1) * dilation`` per block (8 times that in input pixels).
    thermal_input : bool
        Whether the Controls MLP sees ``thermal_emphasis`` (True in ``lite_v2``, False in
        the shipped ``lite_v3``). False: the slider acts through :func:`thermal_shift`
        alone, so a network trained with the shift in its forward cannot learn to undo it.
    """

    widths: tuple[int, int, int] = (16, 24, 32)
    use_chroma: bool = True
    n_controls: int = len(CONTROL_NAMES)
    film_hidden: int = 64
    context_blocks: int = 0
    context_kernel: int = 7
    context_dilation: int = 3
    thermal_input: bool = True

    @classmethod
    def from_mapping(cls, config: Mapping[str, Any] | None) -> LiteNetConfig:
        """Build a config from a plain mapping (unknown keys are an error)."""
        data = dict(config or {})
        unknown = sorted(set(data) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise ValueError(f"config has unknown keys {unknown} for the lite network")
        if "widths" in data:
            data["widths"] = tuple(int(w) for w in data["widths"])
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        out = dataclasses.asdict(self)
        out["widths"] = list(self.widths)
        return out


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1)


def _act() -> nn.Module:
    return nn.LeakyReLU(0.1, inplace=True)


class Encoder(nn.Module):
    """Three stages at 1/2, 1/4 and 1/8 of the input resolution."""

    def __init__(self, cin: int, widths: tuple[int, int, int]) -> None:
        super().__init__()
        c1, c2, c3 = widths
        self.stage1 = nn.Sequential(_conv(cin, c1), _act(), _conv(c1, c1), _act())
        self.stage2 = nn.Sequential(_conv(c1, c2, 2), _act(), _conv(c2, c2), _act())
        self.stage3 = nn.Sequential(_conv(c2, c3, 2), _act(), _conv(c3, c3), _act())

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        f1 = self.stage1(x)
        f2 = self.stage2(f1)
        return [f1, f2, self.stage3(f2)]


class ContextBlock(nn.Module):
    """``x + pw2(act(pw1(dwconv(x))))``: a dilated depthwise large kernel, then a 2x pointwise MLP.

    No pooling or normalisation over the image, so tiled inference still agrees with
    whole-image inference away from the tile borders.
    """

    def __init__(self, channels: int, kernel: int, dilation: int) -> None:
        super().__init__()
        pad = dilation * (kernel - 1) // 2
        self.spatial = nn.Conv2d(channels, channels, kernel, padding=pad, dilation=dilation, groups=channels)
        self.mix = nn.Sequential(
            nn.Conv2d(channels, 2 * channels, 1), _act(), nn.Conv2d(2 * channels, channels, 1)
        )
        nn.init.zeros_(self.mix[-1].weight)
        nn.init.zeros_(self.mix[-1].bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.mix(self.spatial(x))


class FiLM(nn.Module):
    """``(1 + gamma) * x + beta`` with gamma, beta per sample and channel."""

    def forward(self, x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
        return x * (1.0 + gamma[:, :, None, None]) + beta[:, :, None, None]


class ControlsMLP(nn.Module):
    """Controls vector -> gamma and beta for every decoder stage.

    The last layer starts at zero, so an untrained network ignores the Controls.
    """

    def __init__(self, n_controls: int, hidden: int, channels: tuple[int, ...]) -> None:
        super().__init__()
        self.channels = channels
        self.net = nn.Sequential(
            nn.Linear(n_controls, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(),
            nn.Linear(hidden, 2 * sum(channels)),
        )
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, controls: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        params = self.net(controls)
        out, start = [], 0
        for c in self.channels:
            out.append((params[:, start : start + c], params[:, start + c : start + 2 * c]))
            start += 2 * c
        return out


class DecoderStage(nn.Module):
    """Merge the upsampled coarser stage with this scale's fused skip, then FiLM."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.reduce = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()
        self.conv = nn.Sequential(_conv(cout, cout), _act(), _conv(cout, cout))
        self.film = FiLM()
        self.act = _act()

    def forward(
        self, coarse: torch.Tensor | None, skip: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor
    ) -> torch.Tensor:
        x = skip
        if coarse is not None:
            x = x + F.interpolate(self.reduce(coarse), size=skip.shape[-2:], mode="bilinear",
                                  align_corners=False)
        return self.act(self.film(self.conv(x), gamma, beta))


class LiteNet(nn.Module):
    """Fuse infrared and visible luminance, steered by a Controls vector.

    Parameters
    ----------
    config : LiteNetConfig, optional

    Inputs of :meth:`forward`
    -------------------------
    infrared : (B, 1, H, W) in [0, 1]
    visible : (B, 1, H, W) luminance or (B, 3, H, W) YCbCr when ``use_chroma``
    controls : (B, n_controls) in the layout of :data:`napari_textif.controls.CONTROL_NAMES`

    ``H`` and ``W`` must be multiples of :data:`MULTIPLE`. Returns the fused
    luminance ``(B, 1, H, W)`` in ``[0, 1]``.

    Examples
    --------
    >>> net = LiteNet()
    >>> y = net(torch.rand(1, 1, 16, 24), torch.rand(1, 3, 16, 24), torch.zeros(1, 11))
    >>> tuple(y.shape)
    (1, 1, 16, 24)
    """

    def __init__(self, config: LiteNetConfig | None = None) -> None:
        super().__init__()
        self.config = config or LiteNetConfig()
        c1, c2, c3 = widths = self.config.widths
        vis_channels = 3 if self.config.use_chroma else 1
        self.enc_ir = Encoder(4, widths)
        self.enc_vis = Encoder(4 * vis_channels, widths)
        self.fuse = nn.ModuleList(nn.Conv2d(2 * c, c, 1) for c in widths)
        cfg = self.config
        self.context = nn.Sequential(
            *(ContextBlock(c3, cfg.context_kernel, cfg.context_dilation) for _ in range(cfg.context_blocks))
        )
        self.dec3 = DecoderStage(c3, c3)
        self.dec2 = DecoderStage(c3, c2)
        self.dec1 = DecoderStage(c2, c1)
        self.controls_mlp = ControlsMLP(self.config.n_controls, self.config.film_hidden, (c3, c2, c1))
        self.head = nn.Conv2d(c1, 2 * 4, 3, padding=1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, infrared: torch.Tensor, visible: torch.Tensor, controls: torch.Tensor) -> torch.Tensor:
        vis_y = visible[:, :1]
        vis_in = visible if self.config.use_chroma else vis_y
        feats_ir = self.enc_ir(F.pixel_unshuffle(infrared, 2))
        feats_vis = self.enc_vis(F.pixel_unshuffle(vis_in, 2))
        fused = [f(torch.cat([a, b], 1)) for f, a, b in zip(self.fuse, feats_ir, feats_vis)]
        (g3, b3), (g2, b2), (g1, b1) = self.controls_mlp(self._mlp_controls(controls))
        x = self.dec3(None, self.context(fused[2]), g3, b3)
        x = self.dec2(x, fused[1], g2, b2)
        x = self.dec1(x, fused[0], g1, b1)
        out = F.pixel_shuffle(self.head(x), 2)
        weight = torch.sigmoid(out[:, :1])
        fused_y = weight * infrared + (1.0 - weight) * vis_y + out[:, 1:2]
        return thermal_shift(fused_y, infrared, vis_y, controls[:, _THERMAL]).clamp(0.0, 1.0)

    def _mlp_controls(self, controls: torch.Tensor) -> torch.Tensor:
        """The Controls the MLP sees: ``thermal_emphasis`` zeroed unless ``config.thermal_input``."""
        if self.config.thermal_input:
            return controls
        return controls.index_fill(1, torch.tensor([_THERMAL], device=controls.device), 0.0)


def widen_state(
    state: Mapping[str, torch.Tensor], config: LiteNetConfig, model: LiteNet
) -> dict[str, torch.Tensor]:
    """``model``'s state with a narrower net's ``state`` (of ``config``) embedded: the same function.

    Every old channel keeps its weights and its place at the start of each layer (the fusion
    layers' visible half starts at the new width); new channels keep ``model``'s random
    initialisation for their inputs, and every weight from a new channel into an old one is
    zero, as are new FiLM parameters and context blocks' last layers, so ``model`` computes
    exactly what the narrow net did and training grows from there (Net2Net-style widening).

    Raises
    ------
    ValueError
        When ``config`` is not narrower or equal in every width, or other settings differ.
    """
    big = model.config
    same = ("use_chroma", "n_controls", "film_hidden")
    if any(a > b for a, b in zip(config.widths, big.widths, strict=True)) or any(
        getattr(config, k) != getattr(big, k) for k in same
    ):
        raise ValueError(f"cannot widen a {config} network into a {big} one")
    out = {k: v.clone() for k, v in model.state_dict().items()}
    for key, small in state.items():
        if key not in out:
            raise ValueError(f"weights have {key!r}, which the {big} network does not")
        rows, cols = _widen_maps(key, small.shape, config, big)
        target = out[key]
        if small.ndim == 1:
            target[rows] = small
            continue
        target[rows] = 0.0
        target[rows[:, None], cols[None, :]] = small
    return out


def _widen_maps(
    key: str, shape: torch.Size, small: LiteNetConfig, big: LiteNetConfig
) -> tuple[torch.Tensor, torch.Tensor]:
    """Where the rows (outputs) and columns (inputs) of a narrow tensor go in the wide one."""
    rows = torch.arange(shape[0])
    cols = torch.arange(shape[1]) if len(shape) > 1 else torch.arange(0)
    if key.startswith("fuse."):
        c_small, c_big = shape[0], big.widths[int(key.split(".")[1])]
        cols = torch.cat([torch.arange(c_small), c_big + torch.arange(c_small)])
    elif key.startswith("controls_mlp.net.4"):
        parts, start = [], 0
        for c_small, c_big in zip(reversed(small.widths), reversed(big.widths)):
            parts += [start + torch.arange(c_small), start + c_big + torch.arange(c_small)]
            start += 2 * c_big
        rows = torch.cat(parts)
    return rows, cols


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def count_macs(model: LiteNet, height: int = 480, width: int = 640) -> int:
    """Multiply-accumulates of the convolutions and linear layers for one pair.

    Element-wise operations (activations, FiLM, interpolation) are not counted.
    """
    total = 0

    def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        nonlocal total
        if isinstance(module, nn.Conv2d):
            k = module.kernel_size[0] * module.kernel_size[1] * module.in_channels // module.groups
            total += output.numel() * k
        elif isinstance(module, nn.Linear):
            total += output.numel() * module.in_features

    layers = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    handles = [m.register_forward_hook(hook) for m in layers]
    try:
        vis_c = 3 if model.config.use_chroma else 1
        with torch.no_grad():
            model(torch.zeros(1, 1, height, width), torch.zeros(1, vis_c, height, width),
                  torch.zeros(1, model.config.n_controls))
    finally:
        for h in handles:
            h.remove()
    return total


#: Input pixels on either side of an output pixel that reach it through the layers of
#: ``lite_v2``'s layout, measured by back-propagating from one output pixel (62).
BASE_RECEPTIVE_RADIUS = 62


def receptive_radius(config: LiteNetConfig | None = None) -> int:
    """Input pixels on either side of an output pixel that can influence it.

    Each context block at 1/8 adds ``8 * dilation * (kernel - 1) / 2``; the shipped
    ``lite_v3`` (two 7-tap blocks of dilation 3) reaches 206 pixels, as measured.

    Examples
    --------
    >>> receptive_radius(), receptive_radius(LiteNetConfig(context_blocks=2))
    (62, 206)
    """
    config = config or LiteNetConfig()
    per_block = MULTIPLE * config.context_dilation * (config.context_kernel - 1) // 2
    return BASE_RECEPTIVE_RADIUS + config.context_blocks * per_block


def describe(config: LiteNetConfig | None = None) -> dict[str, int]:
    """Parameter count and MACs at 640x480 of a configuration."""
    model = LiteNet(config)
    return {"parameters": count_parameters(model), "macs_640x480": count_macs(model)}
