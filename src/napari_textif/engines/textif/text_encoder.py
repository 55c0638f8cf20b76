"""CLIP text features for the ``textif`` engine (the only module that imports open_clip).

Text-IF conditions its decoder on the 512-d feature that OpenAI's CLIP ViT-B/32
text transformer (QuickGELU activations) gives a prompt. This module builds that
text tower with open_clip (``ViT-B-32-quickgelu``), tokenises with open_clip's
tokenizer and caches one feature per prompt.

Weights come from the first of these that is available:

1. the ``model_clip.*`` part of an official Text-IF checkpoint (or of our
   safetensors export of one) -- one file carries both networks;
2. a local CLIP weights file (safetensors, or a plain ``torch.save`` state dict;
   open_clip's and the authors' key layouts are both understood);
3. open_clip's own download of the OpenAI weights into its cache, only when the
   caller allows network access.

The text tower's key names and shapes are in :mod:`.clip_layout`; checkpoint
files are read by :mod:`.checkpoints` (this module depends on it, not the reverse).

Examples
--------
>>> text_tower_state({"model_clip.ln_final.bias": 0, "model_clip.visual.proj": 1})
{'ln_final.bias': 0}
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from napari_textif.engines.textif import checkpoints
from napari_textif.engines.textif.clip_layout import (
    CONTEXT_LENGTH,
    MODEL_NAME,
    UNUSED_PREFIXES,
    check_text_tower,
    text_tower_state,
)


class TextEncoderUnavailable(RuntimeError):
    """Raised when no CLIP text weights can be found; the message lists the options."""


def read_clip_file(path: str | Path) -> dict[str, Any]:
    """Read a local CLIP weights file (safetensors or a ``torch.save`` state dict) safely.

    TorchScript archives (OpenAI's original ``ViT-B-32.pt``) are not read: they
    contain code. Convert them with open_clip once, or use its safetensors file.
    """
    state, _ = checkpoints.read_state_dict(path)
    picked = text_tower_state(state)
    problems = check_text_tower(picked)
    if problems:
        raise TextEncoderUnavailable(
            f"clip_weights file {path} is not a CLIP ViT-B/32 text tower: "
            + "; ".join(problems[:5])
            + (f" (and {len(problems) - 5} more)" if len(problems) > 5 else "")
        )
    return picked


def unavailable_message() -> str:
    """What to do when no CLIP weights are at hand (used in errors and availability)."""
    return (
        "no CLIP ViT-B/32 text weights are available. Options: (1) use an official Text-IF "
        "checkpoint (it carries CLIP under model_clip.*) or its safetensors export; "
        "(2) pass a local CLIP weights file with options={'clip_weights': path}; "
        "(3) allow open_clip to download the OpenAI weights once with "
        "options={'allow_download': True} or NAPARI_TEXTIF_ALLOW_DOWNLOAD=1"
    )


class TextEncoder:
    """CLIP ViT-B/32 (QuickGELU) text tower with a per-prompt feature cache.

    Parameters
    ----------
    state : mapping of str to tensor
        Text-tower weights in the OpenAI/open_clip layout (see :func:`text_tower_state`);
        half-precision weights are computed in float32.
    source : str
        Where the weights came from (reported in provenance).
    """

    def __init__(self, state: Mapping[str, Any], *, source: str) -> None:
        problems = check_text_tower(state)
        if problems:
            raise ValueError(f"state is not a CLIP ViT-B/32 text tower: {'; '.join(problems[:5])}")
        self.source = source
        self.model = _build_text_model(state)
        self._tokenizer = _tokenizer()
        self._cache: dict[str, Any] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_open_clip_download(cls) -> TextEncoder:
        """Load open_clip's pretrained OpenAI weights (downloads into its cache if needed)."""
        import open_clip

        model = open_clip.create_model(MODEL_NAME, pretrained="openai")
        return cls(text_tower_state(model.state_dict()), source="open_clip:openai")

    def tokenize(self, prompt: str) -> tuple[Any, bool]:
        """Token ids ``(1, 77)`` and whether the prompt was cut at CLIP's 77-token limit."""
        ids = self._tokenizer.encode(prompt) if hasattr(self._tokenizer, "encode") else None
        truncated = ids is not None and len(ids) > CONTEXT_LENGTH - 2
        return self._tokenizer([prompt]), truncated

    def encode(self, prompt: str) -> Any:
        """The ``(1, 512)`` float32 CLIP feature of ``prompt`` (cached, not normalised)."""
        import torch

        if not isinstance(prompt, str):
            raise TypeError(f"prompt must be a str, got {type(prompt).__name__}")
        with self._lock:
            if prompt not in self._cache:
                tokens, _ = self.tokenize(prompt)
                with torch.no_grad():
                    self._cache[prompt] = self.model.encode_text(tokens).float()
            return self._cache[prompt]

    def was_truncated(self, prompt: str) -> bool:
        """Whether ``prompt`` exceeds CLIP's context and loses its end."""
        return self.tokenize(prompt)[1]


def _tokenizer() -> Any:
    import open_clip

    return open_clip.get_tokenizer(MODEL_NAME)


def _build_text_model(state: Mapping[str, Any]) -> Any:
    """open_clip's CLIP with the text weights loaded and the image tower removed."""
    import open_clip
    import torch

    model = open_clip.create_model(MODEL_NAME, pretrained=None)
    model.visual = None
    weights = {k: torch.as_tensor(v).float() for k, v in state.items()}
    result = model.load_state_dict(weights, strict=False)
    unexpected = [k for k in result.unexpected_keys if not k.startswith(UNUSED_PREFIXES)]
    missing = [k for k in result.missing_keys if not k.startswith(UNUSED_PREFIXES)]
    if missing or unexpected:
        raise ValueError(f"CLIP text weights do not fit: missing {missing[:5]}, unexpected {unexpected[:5]}")
    return model.float().eval().requires_grad_(False)


def load_text_encoder(
    *,
    checkpoint_clip: Mapping[str, Any] | None = None,
    checkpoint_source: str = "checkpoint",
    clip_weights: str | Path | None = None,
    allow_download: bool = False,
) -> TextEncoder:
    """Build a :class:`TextEncoder` from the first available weight source.

    Parameters
    ----------
    checkpoint_clip : mapping, optional
        The ``model_clip.*`` tensors of a Text-IF checkpoint (prefix stripped or not).
    checkpoint_source : str
        How to name that source in provenance (e.g. the checkpoint's sha256).
    clip_weights : path, optional
        A local CLIP weights file.
    allow_download : bool
        Let open_clip fetch the OpenAI weights when nothing local is given.

    Raises
    ------
    TextEncoderUnavailable
        When no source is available; the message names the options.
    """
    if checkpoint_clip:
        state = text_tower_state(checkpoint_clip)
        if not check_text_tower(state):
            return TextEncoder(state, source=checkpoint_source)
    if clip_weights is not None:
        path = Path(clip_weights)
        if not path.is_file():
            raise TextEncoderUnavailable(f"clip_weights file {path} does not exist")
        return TextEncoder(read_clip_file(path), source=f"file:{path.name}")
    if allow_download:
        try:
            return TextEncoder.from_open_clip_download()
        except Exception as exc:  # network, cache or hub errors all mean the same here
            raise TextEncoderUnavailable(f"open_clip could not fetch the weights ({exc}); "
                                         + unavailable_message()) from exc
    raise TextEncoderUnavailable(unavailable_message())
