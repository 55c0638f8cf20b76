"""The Text-IF fusion network (Yi et al., CVPR 2024), written for inference at any size.

Two Restormer-style encoders (visible -> ``encoder_A``, infrared -> ``encoder_B``)
meet at 1/8 resolution, where a cross-modal attention swaps queries between the
modalities and a spatial self-attention mixes the fused map. The decoder climbs
back to full resolution; at each of its four levels a text-conditioned affine
layer (the paper's SIGM) turns a 512-d CLIP text feature into ``gamma, beta``
and applies ``(1 + gamma) * x + beta``. Module names follow the authors' code so
that their checkpoints load unchanged (the CLIP part, ``model_clip.*``, is kept
outside this network; see :mod:`napari_textif.engines.textif.text_encoder`).

Two differences from the reference code, neither changing the result:

* the pixel-level attention at 1/8 resolution runs through
  :func:`torch.nn.functional.scaled_dot_product_attention`, which never holds the
  ``N x N`` map (``attention="explicit"`` builds it, for benchmarks and checks);
* in inference, a transformer block whose activations exceed
  :attr:`TextIFNet.strip_elements` is evaluated in horizontal strips: its
  channel attention only needs per-image sums (``q k^T`` and the norms of ``q``
  and ``k``), which are accumulated strip by strip, and everything else is
  local. Peak memory then grows with a few full-size feature maps, not with the
  block's hidden widths.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

AttentionKind = Literal["sdpa", "explicit"]

#: Height and width must be multiples of this (three 2x downsamplings).
SIZE_MULTIPLE = 8
TEXT_DIM = 512


@dataclasses.dataclass(frozen=True)
class TextIFConfig:
    """Architecture hyper-parameters; the defaults are those of the official checkpoints."""

    dim: int = 48
    blocks: tuple[int, int, int, int] = (2, 2, 2, 2)
    refinement_blocks: int = 4
    heads: tuple[int, int, int, int] = (1, 2, 4, 8)
    ffn_expansion: float = 2.0
    text_dim: int = TEXT_DIM
    norm_groups: int = 16

    def width(self, level: int) -> int:
        """Channels at encoder level ``level`` (1..4)."""
        return self.dim * 2 ** (level - 1)


class ChannelLayerNorm(nn.Module):
    """Layer normalisation over the channels of an ``(B, C, H, W)`` map, at every pixel."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.LayerNorm(channels, eps=1e-5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class TransposedAttention(nn.Module):
    """Restormer's channel ("transposed") attention: a ``C x C`` map per head."""

    def __init__(self, channels: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.temperature = nn.Parameter(torch.ones(heads, 1, 1))
        self.qkv = nn.Conv2d(channels, channels * 3, 1, bias=False)
        self.qkv_dwconv = nn.Conv2d(
            channels * 3, channels * 3, 3, padding=1, groups=channels * 3, bias=False
        )
        self.project_out = nn.Conv2d(channels, channels, 1, bias=False)

    def split_heads(self, t: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W)`` -> ``(B, heads, C / heads, H * W)``."""
        b, c, h, w = t.shape
        return t.reshape(b, self.heads, c // self.heads, h * w)

    def merge_heads(self, t: torch.Tensor, h: int, w: int) -> torch.Tensor:
        """Inverse of :meth:`split_heads`."""
        return t.reshape(t.shape[0], -1, h, w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        q, k, v = (self.split_heads(t) for t in self.qkv_dwconv(self.qkv(x)).chunk(3, dim=1))
        q, k = F.normalize(q, dim=-1), F.normalize(k, dim=-1)
        weights = torch.softmax(q @ k.transpose(-2, -1) * self.temperature, dim=-1)
        return self.project_out(self.merge_heads(weights @ v, h, w))


class ConvFeedForward(nn.Module):
    """1x1 expansion, a full 3x3 convolution, GELU and 1x1 projection (no gating)."""

    def __init__(self, channels: int, expansion: float) -> None:
        super().__init__()
        hidden = int(channels * expansion)
        self.project_in = nn.Conv2d(channels, hidden, 1, bias=False)
        # Named "dwconv" in the authors' code although it is a full convolution.
        self.dwconv = nn.Conv2d(hidden, hidden, 3, padding=1, bias=False)
        self.project_out = nn.Conv2d(hidden, channels, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.project_out(F.gelu(self.dwconv(self.project_in(x))))


class RestormerBlock(nn.Module):
    """Pre-norm transformer block: channel attention then feed-forward, both residual."""

    def __init__(self, channels: int, heads: int, expansion: float) -> None:
        super().__init__()
        self.norm1 = ChannelLayerNorm(channels)
        self.attn = TransposedAttention(channels, heads)
        self.norm2 = ChannelLayerNorm(channels)
        self.ffn = ConvFeedForward(channels, expansion)
        #: Element count above which inference runs in strips (set by the parent network).
        self.strip_elements: int | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self._use_strips(x):
            return _strip_block_forward(self, x, self._strip_rows(x))
        x = x + self.attn(self.norm1(x))
        return x + self.ffn(self.norm2(x))

    def _use_strips(self, x: torch.Tensor) -> bool:
        limit = self.strip_elements
        return limit is not None and not torch.is_grad_enabled() and x.numel() * 3 > limit

    def _strip_rows(self, x: torch.Tensor) -> int:
        b, c, _, w = x.shape
        assert self.strip_elements is not None
        return max(1, self.strip_elements // (b * 3 * c * w))


def _row_strips(height: int, rows: int) -> Iterator[tuple[int, int]]:
    for top in range(0, height, rows):
        yield top, min(top + rows, height)


def _with_halo(x: torch.Tensor, top: int, bottom: int) -> tuple[torch.Tensor, int]:
    """Rows ``top:bottom`` plus one neighbouring row each side where the image has one."""
    start = max(top - 1, 0)
    return x[:, :, start : min(bottom + 1, x.shape[2])], top - start


def _strip_block_forward(block: RestormerBlock, x: torch.Tensor, rows: int) -> torch.Tensor:
    """Exact, strip-by-strip evaluation of ``block`` (inference only)."""
    attn = block.attn
    b, c, height, width = x.shape
    heads, per_head = attn.heads, c // attn.heads
    gram = x.new_zeros(b, heads, per_head, per_head)
    q_sq = x.new_zeros(b, heads, per_head, 1)
    k_sq = x.new_zeros(b, heads, per_head, 1)
    qk_proj, v_proj = attn.qkv.weight[: 2 * c], attn.qkv.weight[2 * c :]
    qk_dw, v_dw = attn.qkv_dwconv.weight[: 2 * c], attn.qkv_dwconv.weight[2 * c :]
    for top, bottom in _row_strips(height, rows):
        part, skip = _with_halo(x, top, bottom)
        qk = F.conv2d(F.conv2d(block.norm1(part), qk_proj), qk_dw, padding=1, groups=2 * c)
        q, k = (attn.split_heads(t) for t in qk[:, :, skip : skip + bottom - top].chunk(2, dim=1))
        gram += q @ k.transpose(-2, -1)
        q_sq += q.square().sum(-1, keepdim=True)
        k_sq += k.square().sum(-1, keepdim=True)
    q_norm = q_sq.sqrt().clamp_min(1e-12)
    k_norm = k_sq.sqrt().clamp_min(1e-12)
    weights = torch.softmax(gram / (q_norm * k_norm.transpose(-2, -1)) * attn.temperature, dim=-1)
    y = torch.empty_like(x)
    for top, bottom in _row_strips(height, rows):
        part, skip = _with_halo(x, top, bottom)
        v = F.conv2d(F.conv2d(block.norm1(part), v_proj), v_dw, padding=1, groups=c)
        v = attn.split_heads(v[:, :, skip : skip + bottom - top])
        out = attn.project_out(attn.merge_heads(weights @ v, bottom - top, width))
        y[:, :, top:bottom] = x[:, :, top:bottom] + out
    return _strip_feed_forward_(block, y, rows)


def _strip_feed_forward_(block: RestormerBlock, y: torch.Tensor, rows: int) -> torch.Tensor:
    """``y + ffn(norm2(y))`` written into ``y`` strip by strip, keeping the row above intact."""
    height = y.shape[2]
    above: torch.Tensor | None = None
    for top, bottom in _row_strips(height, rows):
        below = y[:, :, bottom : bottom + 1]
        current = y[:, :, top:bottom]
        part = torch.cat([t for t in (above, current, below) if t is not None], dim=2)
        skip = 0 if above is None else 1
        update = block.ffn(block.norm2(part))[:, :, skip : skip + bottom - top]
        above = current[:, :, -1:].clone()
        current += update
    return y


def _blocks(count: int, channels: int, heads: int, expansion: float) -> nn.Sequential:
    return nn.Sequential(*(RestormerBlock(channels, heads, expansion) for _ in range(count)))


class Downsample(nn.Module):
    """Halve the resolution, double the channels (3x3 conv to C/2, then pixel-unshuffle)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels // 2, 3, padding=1, bias=False), nn.PixelUnshuffle(2)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class Upsample(nn.Module):
    """Double the resolution, halve the channels (3x3 conv to 2C, then pixel-shuffle)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels * 2, 3, padding=1, bias=False), nn.PixelShuffle(2)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class PatchEmbed(nn.Module):
    """3x3 convolution from image channels to the first feature width."""

    def __init__(self, in_channels: int, channels: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_channels, channels, 3, padding=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x)


class ModalityEncoder(nn.Module):
    """Four levels of Restormer blocks; returns the features of every level, finest first."""

    def __init__(self, config: TextIFConfig, in_channels: int = 3) -> None:
        super().__init__()
        widths = [config.width(level) for level in (1, 2, 3, 4)]
        self.patch_embed = PatchEmbed(in_channels, widths[0])
        self.encoder_level1 = _blocks(config.blocks[0], widths[0], config.heads[0], config.ffn_expansion)
        self.down1_2 = Downsample(widths[0])
        self.encoder_level2 = _blocks(config.blocks[1], widths[1], config.heads[1], config.ffn_expansion)
        self.down2_3 = Downsample(widths[1])
        self.encoder_level3 = _blocks(config.blocks[2], widths[2], config.heads[2], config.ffn_expansion)
        self.down3_4 = Downsample(widths[2])
        self.encoder_level4 = _blocks(config.blocks[3], widths[3], config.heads[3], config.ffn_expansion)

    def forward(self, image: torch.Tensor) -> list[torch.Tensor]:
        level1 = self.encoder_level1(self.patch_embed(image))
        level2 = self.encoder_level2(self.down1_2(level1))
        level3 = self.encoder_level3(self.down2_3(level2))
        level4 = self.encoder_level4(self.down3_4(level3))
        return [level1, level2, level3, level4]


def pixel_attention(
    query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, *, kind: AttentionKind = "sdpa"
) -> torch.Tensor:
    """Single-head attention between all pixels of ``(B, C, H, W)`` maps, scaled by ``1/sqrt(C)``.

    ``kind="sdpa"`` uses PyTorch's fused kernels (no ``N x N`` map held);
    ``kind="explicit"`` forms the full map, as the reference implementation does.
    """
    b, c, h, w = query.shape
    q, k, v = (t.reshape(b, 1, c, h * w).transpose(-2, -1) for t in (query, key, value))
    scale = c**-0.5
    if kind == "sdpa":
        # Contiguous inputs: with strided ones PyTorch falls back to a kernel that forms the map.
        out = F.scaled_dot_product_attention(q.contiguous(), k.contiguous(), v.contiguous(), scale=scale)
    elif kind == "explicit":
        out = torch.softmax((q @ k.transpose(-2, -1)) * scale, dim=-1) @ v
    else:
        raise ValueError(f"attention kind must be 'sdpa' or 'explicit', got {kind!r}")
    return out.transpose(-2, -1).reshape(b, c, h, w)


class CrossModalAttention(nn.Module):
    """Each modality attends with the *other* modality's queries to its own keys and values."""

    def __init__(self, channels: int, groups: int) -> None:
        super().__init__()
        self.norm_A = nn.GroupNorm(groups, channels)
        self.norm_B = nn.GroupNorm(groups, channels)
        self.qkv_A = nn.Conv2d(channels, channels * 3, 1, bias=False)
        self.out_A = nn.Conv2d(channels, channels, 1)
        self.qkv_B = nn.Conv2d(channels, channels * 3, 1, bias=False)
        self.out_B = nn.Conv2d(channels, channels, 1)
        self.kind: AttentionKind = "sdpa"

    def forward(self, feat_a: torch.Tensor, feat_b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # The reference adds the *normalised* inputs back as the residual.
        norm_a, norm_b = self.norm_A(feat_a), self.norm_B(feat_b)
        q_a, k_a, v_a = self.qkv_A(norm_a).chunk(3, dim=1)
        q_b, k_b, v_b = self.qkv_B(norm_b).chunk(3, dim=1)
        out_a = self.out_A(pixel_attention(q_b, k_a, v_a, kind=self.kind)) + norm_a
        out_b = self.out_B(pixel_attention(q_a, k_b, v_b, kind=self.kind)) + norm_b
        return out_a, out_b


class SpatialSelfAttention(nn.Module):
    """Single-head self-attention between all pixels, with a residual connection."""

    def __init__(self, channels: int, groups: int) -> None:
        super().__init__()
        self.norm = nn.GroupNorm(groups, channels)
        self.qkv = nn.Conv2d(channels, channels * 3, 1, bias=False)
        self.out = nn.Conv2d(channels, channels, 1)
        self.kind: AttentionKind = "sdpa"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self.qkv(self.norm(x)).chunk(3, dim=1)
        return self.out(pixel_attention(q, k, v, kind=self.kind)) + x


class FusionEmbed(nn.Module):
    """Concatenate the two modalities' features and project back with a 1x1 convolution."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.fusion_proj = nn.Conv2d(channels * 2, channels, 1, bias=False)

    def forward(self, feat_a: torch.Tensor, feat_b: torch.Tensor) -> torch.Tensor:
        # Same as projecting the concatenation, without holding the concatenated map.
        weight_a, weight_b = self.fusion_proj.weight.chunk(2, dim=1)
        out = F.conv2d(feat_a, weight_a)
        return out.add_(F.conv2d(feat_b, weight_b))


class TextAffine(nn.Module):
    """SIGM: an MLP turns the text feature into per-channel ``gamma, beta``."""

    def __init__(self, text_dim: int, channels: int) -> None:
        super().__init__()
        self.MLP = nn.Sequential(
            nn.Linear(text_dim, text_dim * 2), nn.LeakyReLU(), nn.Linear(text_dim * 2, channels * 2)
        )

    def forward(self, x: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        gamma, beta = self.MLP(text).reshape(x.shape[0], -1, 1, 1).chunk(2, dim=1)
        return torch.addcmul(beta, x, 1 + gamma)


class TextIFNet(nn.Module):
    """The Text-IF fusion network without its CLIP text encoder.

    Parameters
    ----------
    config : TextIFConfig, optional
        Architecture; the default matches the authors' checkpoints (63.84 M parameters).
    attention : {"sdpa", "explicit"}
        How the pixel attentions at 1/8 resolution are computed; both are exact.
    strip_elements : int or None
        In inference (no autograd), transformer blocks whose hidden activations would
        exceed this many elements run in horizontal strips; None disables it.

    Examples
    --------
    >>> import torch
    >>> net = TextIFNet(TextIFConfig(dim=8, heads=(1, 1, 1, 1), norm_groups=4)).eval()
    >>> with torch.no_grad():
    ...     out = net(torch.rand(1, 3, 16, 24), torch.rand(1, 3, 16, 24), torch.rand(1, 512))
    >>> tuple(out.shape)
    (1, 3, 16, 24)
    """

    def __init__(
        self,
        config: TextIFConfig | None = None,
        *,
        attention: AttentionKind = "sdpa",
        strip_elements: int | None = 2**25,
    ) -> None:
        super().__init__()
        cfg = config or TextIFConfig()
        self.config = cfg
        c1, c2, c3, c4 = (cfg.width(level) for level in (1, 2, 3, 4))
        exp, txt = cfg.ffn_expansion, cfg.text_dim
        self.encoder_A = ModalityEncoder(cfg)
        self.encoder_B = ModalityEncoder(cfg)
        self.cross_attention = CrossModalAttention(c4, cfg.norm_groups)
        self.attention_spatial = SpatialSelfAttention(c4, cfg.norm_groups)
        self.feature_fusion_4 = FusionEmbed(c4)
        self.prompt_guidance_4 = TextAffine(txt, c4)
        self.decoder_level4 = _blocks(cfg.blocks[3], c4, cfg.heads[3], exp)
        self.feature_fusion_3 = FusionEmbed(c3)
        self.prompt_guidance_3 = TextAffine(txt, c3)
        self.up4_3 = Upsample(c4)
        self.reduce_chan_level3 = nn.Conv2d(c4, c3, 1, bias=False)
        self.decoder_level3 = _blocks(cfg.blocks[2], c3, cfg.heads[2], exp)
        self.feature_fusion_2 = FusionEmbed(c2)
        self.prompt_guidance_2 = TextAffine(txt, c2)
        self.up3_2 = Upsample(c3)
        self.reduce_chan_level2 = nn.Conv2d(c3, c2, 1, bias=False)
        self.decoder_level2 = _blocks(cfg.blocks[1], c2, cfg.heads[1], exp)
        self.feature_fusion_1 = FusionEmbed(c1)
        self.prompt_guidance_1 = TextAffine(txt, c1)
        self.up2_1 = Upsample(c2)
        # Level 1 keeps 2 * dim channels after the skip concatenation (no reduction).
        self.decoder_level1 = _blocks(cfg.blocks[0], c2, cfg.heads[0], exp)
        self.refinement = _blocks(cfg.refinement_blocks, c2, cfg.heads[0], exp)
        self.output = nn.Conv2d(c2, 3, 3, padding=1, bias=False)
        self.set_attention(attention)
        self.set_strip_elements(strip_elements)

    def set_attention(self, kind: AttentionKind) -> None:
        """Switch the 1/8-resolution pixel attentions between ``"sdpa"`` and ``"explicit"``."""
        if kind not in ("sdpa", "explicit"):
            raise ValueError(f"attention must be 'sdpa' or 'explicit', got {kind!r}")
        self.cross_attention.kind = kind
        self.attention_spatial.kind = kind

    def set_strip_elements(self, limit: int | None) -> None:
        """Set the activation size above which blocks run strip by strip (None: never)."""
        if limit is not None and limit < 1:
            raise ValueError(f"strip_elements must be a positive int or None, got {limit!r}")
        for module in self.modules():
            if isinstance(module, RestormerBlock):
                module.strip_elements = limit

    def forward(self, visible: torch.Tensor, infrared: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        """Fuse ``(B, 3, H, W)`` images (H, W multiples of 8) guided by ``(B, 512)`` text features."""
        text = text.to(visible.dtype).expand(visible.shape[0], -1)
        feats_a = self.encoder_A(visible)
        feats_b = self.encoder_B(infrared)
        top_a, top_b = self.cross_attention(feats_a.pop(), feats_b.pop())
        x = self.attention_spatial(self.feature_fusion_4(top_a, top_b))
        del top_a, top_b
        x = self.decoder_level4(self.prompt_guidance_4(x, text))
        x = self.decoder_level3(self._merge(x, feats_a, feats_b, text, 3))
        x = self.decoder_level2(self._merge(x, feats_a, feats_b, text, 2))
        x = self._merge(x, feats_a, feats_b, text, 1)
        return self.output(self.refinement(self.decoder_level1(x)))

    def _merge(
        self, lower: torch.Tensor, feats_a: list[torch.Tensor], feats_b: list[torch.Tensor],
        text: torch.Tensor, level: int,
    ) -> torch.Tensor:
        """Upsample ``lower``, guide it by the text, append the fused skip features of ``level``.

        The skip features are popped from the encoder lists and the pieces written
        into one preallocated map, so that few full-size maps are alive at once.
        """
        up = getattr(self, f"up{level + 1}_{level}")(lower)
        gamma, beta = getattr(self, f"prompt_guidance_{level}").MLP(text).reshape(
            up.shape[0], -1, 1, 1).chunk(2, dim=1)
        fusion = getattr(self, f"feature_fusion_{level}")
        if torch.is_grad_enabled():
            merged = torch.cat([torch.addcmul(beta, up, 1 + gamma), fusion(feats_a.pop(), feats_b.pop())], 1)
        else:
            channels = up.shape[1]
            merged = up.new_empty(up.shape[0], 2 * channels, *up.shape[2:])
            torch.addcmul(beta, up, 1 + gamma, out=merged[:, :channels])
            del up
            merged[:, channels:] = fusion(feats_a.pop(), feats_b.pop())
        reduce = getattr(self, f"reduce_chan_level{level}", None)
        return merged if reduce is None else reduce(merged)


def count_parameters(module: nn.Module) -> int:
    """Number of parameters of ``module``."""
    return sum(p.numel() for p in module.parameters())
