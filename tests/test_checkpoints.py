"""Checkpoint files: the authors' format, safety against code in pickles, our safetensors export."""

from __future__ import annotations

import hashlib
import os
import pickle

import pytest
import torch

from napari_textif.cli import main
from napari_textif.engines.textif import checkpoints
from napari_textif.engines.textif.clip_layout import text_tower_shapes
from textif_helpers import manifest, write_authors_checkpoint


@pytest.fixture(scope="module")
def authors_file(tmp_path_factory):
    torch.set_num_threads(1)
    return write_authors_checkpoint(tmp_path_factory.mktemp("ckpt") / "text_fusion.pth")


@pytest.fixture(scope="module")
def loaded(authors_file):
    return checkpoints.load_checkpoint(authors_file)


# Tests using the full-size generated checkpoint (~560 MB, tens of seconds on a shared CPU) are slow.
@pytest.mark.slow
def test_authors_format_loads_with_training_entries(authors_file, loaded):
    assert loaded.format == "authors"
    assert loaded.sha256 == hashlib.sha256(authors_file.read_bytes()).hexdigest()
    assert loaded.report.ok and loaded.report.summary() == "all keys and shapes match"
    fusion_rows = [r for r in manifest() if not r["key"].startswith("model_clip.")]
    assert list(loaded.fusion) == [r["key"] for r in fusion_rows]
    assert all(v.dtype == torch.float32 for v in loaded.fusion.values())
    assert set(loaded.clip) == set(text_tower_shapes())  # image tower and logit scale dropped
    assert loaded.clip["token_embedding.weight"].dtype == torch.float16
    assert loaded.info["epoch"] == 11
    assert loaded.info["args"]["batch_size"] == 8
    assert {"optimizer", "lr_scheduler", "args", "epoch"} <= set(loaded.info["entries"])


class _Payload:
    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("legacy", [False, True])
def test_pickle_with_code_is_refused(tmp_path, legacy):
    marker = tmp_path / "pwned"
    payload = _Payload()
    payload.marker = marker
    path = tmp_path / "evil.pth"
    obj = {"model": {"output.weight": torch.zeros(3, 96, 3, 3)}, "args": payload}
    if legacy:
        path.write_bytes(pickle.dumps(obj))
    else:
        torch.save(obj, path)
    with pytest.raises(checkpoints.CheckpointError, match="refused to load"):
        checkpoints.load_checkpoint(path)
    assert not marker.exists()


def test_missing_and_misshaped_keys_are_reported(tmp_path):
    expected = checkpoints.expected_fusion_shapes()
    state = {k: torch.zeros(s) for k, s in list(expected.items())[:3]}
    first = next(iter(state))
    state[first] = torch.zeros(1)
    state["extra.weight"] = torch.zeros(2)
    report = checkpoints.compare_keys(state, expected)
    assert not report.ok
    assert len(report.missing) == len(expected) - 3
    assert report.unexpected == ("extra.weight",)
    assert report.mismatched == ((first, expected[first], (1,)),)
    path = tmp_path / "partial.pth"
    torch.save({"model": state}, path)
    with pytest.raises(checkpoints.CheckpointError, match=r"missing .*wrong shape .*unexpected"):
        checkpoints.load_checkpoint(path)


def test_unreadable_or_absent_files_give_clear_errors(tmp_path):
    with pytest.raises(checkpoints.CheckpointError, match="does not exist"):
        checkpoints.load_checkpoint(tmp_path / "nope.pth")
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint at all")
    with pytest.raises(checkpoints.CheckpointError, match=r"could not read|refused"):
        checkpoints.load_checkpoint(junk)
    tensor_only = tmp_path / "tensor.pth"
    torch.save(torch.zeros(3), tensor_only)
    with pytest.raises(checkpoints.CheckpointError, match="not a state dict"):
        checkpoints.load_checkpoint(tensor_only)


@pytest.mark.slow
def test_convert_checkpoint_command_writes_equivalent_safetensors(authors_file, loaded, tmp_path, capsys):
    output = tmp_path / "text_fusion.safetensors"
    assert main(["convert-checkpoint", str(authors_file), str(output)]) == 0
    assert loaded.sha256 in capsys.readouterr().out
    assert checkpoints.is_safetensors(output)
    export = checkpoints.load_checkpoint(output)
    assert export.format == "safetensors"
    assert export.info["metadata"]["source_sha256"] == loaded.sha256
    assert export.sha256 == hashlib.sha256(output.read_bytes()).hexdigest()
    assert all(torch.equal(export.fusion[k], v) for k, v in loaded.fusion.items())
    for key, value in loaded.clip.items():
        assert torch.equal(export.clip[key], value) and export.clip[key].dtype == value.dtype
    assert main(["convert-checkpoint", str(authors_file), str(output)]) == 2
    assert "--force" in capsys.readouterr().err
