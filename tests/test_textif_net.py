"""The Text-IF network: official state-dict layout, reference parity, exact memory-saving paths."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from napari_textif.engines.textif.net import (
    TextIFConfig,
    TextIFNet,
    count_parameters,
    pixel_attention,
)
from textif_helpers import PARITY_CASE, manifest, parity_weights

SMALL = TextIFConfig(dim=8, heads=(1, 2, 2, 4), norm_groups=4)


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """One intra-op thread: on a shared 2-core machine more threads only contend."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def parity_net() -> TextIFNet:
    torch.manual_seed(0)
    net = TextIFNet().eval()
    net.load_state_dict(parity_weights())
    return net


def _run_parity(net: TextIFNet) -> tuple[np.ndarray, np.ndarray]:
    case = np.load(PARITY_CASE)
    with torch.no_grad():
        out = net(*(torch.from_numpy(case[k]) for k in ("visible", "infrared", "text_features")))
    return out.numpy(), case["output"]


def test_state_dict_matches_official_manifest_in_order():
    with torch.device("meta"):
        net = TextIFNet()
    official = [(r["key"], tuple(r["shape"])) for r in manifest() if not r["key"].startswith("model_clip.")]
    ours = [(k, tuple(v.shape)) for k, v in net.state_dict().items()]
    assert ours == official
    assert count_parameters(net) == 63_839_230


@pytest.mark.parametrize("attention", ["sdpa", "explicit"])
def test_reproduces_reference_output(parity_net, attention):
    parity_net.set_attention(attention)
    ours, reference = _run_parity(parity_net)
    assert ours.shape == reference.shape == (1, 3, 64, 96)
    assert np.abs(ours - reference).max() <= 1e-4


def test_strip_wise_blocks_reproduce_reference(parity_net):
    parity_net.set_attention("sdpa")
    parity_net.set_strip_elements(200_000)  # strips of a few rows at the finer levels
    try:
        ours, reference = _run_parity(parity_net)
    finally:
        parity_net.set_strip_elements(2**25)
    assert np.abs(ours - reference).max() <= 1e-4


def test_strip_wise_blocks_equal_whole_blocks_on_small_net():
    torch.manual_seed(1)
    net = TextIFNet(SMALL, strip_elements=None).eval()
    for name, p in net.named_parameters():
        if "norm" in name or "temperature" in name:
            p.data.uniform_(0.5, 1.5)
    args = (torch.rand(1, 3, 24, 40), torch.rand(1, 3, 24, 40), torch.randn(1, 512))
    with torch.no_grad():
        whole = net(*args)
        net.set_strip_elements(3 * 16 * 20 * 4)  # four-row strips at level 1, fewer rows deeper
        strips = net(*args)
    assert whole.abs().max() > 1e-2  # the comparison is not between two near-zero maps
    assert torch.allclose(whole, strips, atol=1e-5 * float(whole.abs().max()), rtol=0)


def test_strips_are_not_used_while_training():
    net = TextIFNet(SMALL, strip_elements=10).train()
    out = net(torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16), torch.randn(1, 512))
    out.mean().backward()
    assert net.output.weight.grad is not None


def test_pixel_attention_variants_agree_and_reject_unknown_kind():
    torch.manual_seed(2)
    q, k, v = (torch.randn(2, 16, 6, 5) for _ in range(3))
    sdpa = pixel_attention(q, k, v, kind="sdpa")
    explicit = pixel_attention(q, k, v, kind="explicit")
    assert torch.allclose(sdpa, explicit, atol=1e-5)
    with pytest.raises(ValueError, match="attention kind"):
        pixel_attention(q, k, v, kind="flash")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="attention must be"):
        TextIFNet(SMALL, attention="dense")  # type: ignore[arg-type]


def test_text_feature_changes_the_output_and_batch_broadcasts():
    torch.manual_seed(3)
    net = TextIFNet(SMALL).eval()
    for p in net.parameters():
        p.data.normal_(0, 0.1)
    images = (torch.rand(2, 3, 16, 24), torch.rand(2, 3, 16, 24))
    with torch.no_grad():
        a = net(*images, torch.randn(1, 512))
        b = net(*images, torch.randn(1, 512))
    assert a.shape == (2, 3, 16, 24)
    assert (a - b).abs().max() > 1e-4
