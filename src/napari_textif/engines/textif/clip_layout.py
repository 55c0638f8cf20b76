"""Key names and shapes of the CLIP ViT-B/32 text tower (OpenAI/open_clip layout).

Owned here so that :mod:`.checkpoints` (which splits a Text-IF state dict into its
fusion and ``model_clip.*`` parts) and :mod:`.text_encoder` (which reads a checkpoint
for the text weights) both depend on it, and not on each other in a circle.
Pure Python: no torch, no open_clip.

Examples
--------
>>> text_tower_shapes()["token_embedding.weight"]
(49408, 512)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MODEL_NAME = "ViT-B-32-quickgelu"
CONTEXT_LENGTH = 77
VOCAB_SIZE = 49408
WIDTH = 512
LAYERS = 12
EMBED_DIM = 512
#: Prefix of the CLIP part inside an official Text-IF state dict.
CHECKPOINT_PREFIX = "model_clip."
#: Prefixes of CLIP keys the text tower does not use (the image tower, the logit scale).
UNUSED_PREFIXES = ("visual.", "logit_scale")


def text_tower_shapes() -> dict[str, tuple[int, ...]]:
    """Keys and shapes of the ViT-B/32 text tower in the OpenAI/open_clip layout."""
    shapes: dict[str, tuple[int, ...]] = {
        "positional_embedding": (CONTEXT_LENGTH, WIDTH),
        "text_projection": (WIDTH, EMBED_DIM),
        "token_embedding.weight": (VOCAB_SIZE, WIDTH),
        "ln_final.weight": (WIDTH,),
        "ln_final.bias": (WIDTH,),
    }
    for i in range(LAYERS):
        block = f"transformer.resblocks.{i}."
        shapes.update({
            block + "attn.in_proj_weight": (3 * WIDTH, WIDTH),
            block + "attn.in_proj_bias": (3 * WIDTH,),
            block + "attn.out_proj.weight": (WIDTH, WIDTH),
            block + "attn.out_proj.bias": (WIDTH,),
            block + "ln_1.weight": (WIDTH,),
            block + "ln_1.bias": (WIDTH,),
            block + "mlp.c_fc.weight": (4 * WIDTH, WIDTH),
            block + "mlp.c_fc.bias": (4 * WIDTH,),
            block + "mlp.c_proj.weight": (WIDTH, 4 * WIDTH),
            block + "mlp.c_proj.bias": (WIDTH,),
            block + "ln_2.weight": (WIDTH,),
            block + "ln_2.bias": (WIDTH,),
        })
    return shapes


def text_tower_state(state: Mapping[str, Any]) -> dict[str, Any]:
    """Pick the text-tower tensors out of a CLIP state dict in any known layout.

    Accepts keys with or without the ``model_clip.`` (Text-IF) or ``module.``
    prefixes; the image tower and the logit scale are dropped.
    """
    wanted = text_tower_shapes()
    picked = {}
    for key, value in state.items():
        short = key
        for prefix in (CHECKPOINT_PREFIX, "module."):
            short = short.removeprefix(prefix)
        if short in wanted:
            picked[short] = value
    return picked


def check_text_tower(state: Mapping[str, Any]) -> list[str]:
    """Problems (missing keys, wrong shapes) of a text-tower state dict; empty when usable."""
    problems = []
    for key, shape in text_tower_shapes().items():
        if key not in state:
            problems.append(f"missing {key}")
        elif tuple(state[key].shape) != shape:
            problems.append(f"{key}: expected shape {shape}, got {tuple(state[key].shape)}")
    return problems
