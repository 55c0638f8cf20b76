"""Helpers shared by the textif tests: deterministic weights and authors-format checkpoints."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

DATA = Path(__file__).resolve().parent / "data"
MANIFEST = DATA / "textif_state_dict_manifest.json"
PARITY_CASE = DATA / "textif_parity_case.npz"


def manifest() -> list[dict]:
    """The official state dict's keys and shapes, in file order."""
    return json.loads(MANIFEST.read_text())["keys"]


def parity_weights() -> dict[str, torch.Tensor]:
    """DESIGN.md section 6: seeded N(0, 0.02) draws in manifest order, temperatures set to one."""
    g = torch.Generator().manual_seed(1234)
    weights = {}
    for row in manifest():
        if row["key"].startswith("model_clip."):
            continue
        value = torch.randn(row["shape"], generator=g) * 0.02
        weights[row["key"]] = torch.ones(row["shape"]) if row["key"].endswith("temperature") else value
    return weights


def clip_weights(seed: int = 7) -> dict[str, torch.Tensor]:
    """Random CLIP weights (image and text towers) in half precision, as the authors store them."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for row in manifest():
        if row["key"].startswith("model_clip."):
            value = torch.randn(row["shape"], generator=g) * 0.02
            if ".ln_" in row["key"] and row["key"].endswith("weight"):
                value = value + 1.0
            out[row["key"]] = value.half()
    return out


def training_entries() -> dict:
    """``optimizer``, ``lr_scheduler``, ``epoch`` and ``args`` as the authors' training script saves them."""
    param = torch.nn.Parameter(torch.zeros(4))
    optimizer = torch.optim.AdamW([param], lr=1e-4, weight_decay=5e-2)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0 - step / 100)
    param.sum().backward()
    optimizer.step()
    scheduler.step()
    args = argparse.Namespace(
        epochs=120, batch_size=8, lr=0.0001, low_light_path="./dataset/EMS_lite/Low_light",
        weights="", val_every_epcho=2, resume="", use_dp=False, device="cuda", gpu_id="0",
    )
    return {"optimizer": optimizer.state_dict(), "lr_scheduler": scheduler.state_dict(),
            "epoch": 11, "args": args}


def write_authors_checkpoint(path: Path, fusion: dict[str, torch.Tensor] | None = None) -> Path:
    """Write ``torch.save({"model": ..., ...})`` with the official key order (CLIP first, fp16)."""
    state = clip_weights()
    state.update(fusion if fusion is not None else parity_weights())
    torch.save({"model": state, **training_entries()}, path)
    return path
