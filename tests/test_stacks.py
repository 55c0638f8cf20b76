"""fuse_stack: lazy stacks, tiled huge frames, zarr output with resume, and bad input."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from napari_textif import fuse, stacks
from napari_textif.samples import synthetic_pair

da = pytest.importorskip("dask.array")
zarr = pytest.importorskip("zarr")


@pytest.fixture(scope="module")
def frames():
    pairs = [synthetic_pair(shape=(48, 64), seed=s) for s in range(3)]
    return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])


def test_import_stays_light():
    code = ("import sys, napari_textif; napari_textif.fuse_stack; "
            "print([m for m in ('dask.distributed', 'distributed', 'zarr', 'torch') if m in sys.modules])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_a_stack_is_lazy_one_task_per_frame_and_equals_fuse(frames):
    ir, vis = frames
    lazy = stacks.fuse_stack(da.from_array(ir), vis, "dark visible image", engine="lite")
    assert isinstance(lazy, da.Array) and lazy.numblocks == (3, 1, 1, 1)
    assert lazy.shape == (3, 48, 64, 3) and lazy.dtype == np.float32
    expected = fuse(ir[2], vis[2], "dark visible image", engine="lite").image
    np.testing.assert_array_equal(lazy[2].compute(), expected)


def test_two_leading_axes_and_gray_frames(frames):
    ir, vis = frames
    gray = vis[..., 1]
    lazy = stacks.fuse_stack(np.stack([ir, ir]), np.stack([gray, gray]), engine="classic")
    assert lazy.shape == (2, 3, 48, 64)
    np.testing.assert_allclose(lazy[1, 0].compute(), fuse(ir[0], gray[0], engine="classic").image)


def test_a_tiled_frame_equals_the_engines_own_tiling(monkeypatch):
    monkeypatch.setattr(stacks, "CHUNK", 256)
    ir, vis = synthetic_pair(shape=(600, 700), seed=5)
    options = {"tile_size": 256}
    lazy = stacks.fuse_stack(ir, vis, engine="lite", options=options, memory_budget_mb=1)
    assert lazy.numblocks == (3, 3, 1)
    expected = fuse(ir, vis, engine="lite", options=options, severity="words")
    assert expected.provenance["tiles"] > 4
    # Weighted as the engine's own tiling weights its tiles (border, margin): the same to rounding.
    assert np.abs(lazy.compute() - expected.image).max() <= 1e-5


def test_tiled_frames_refuse_what_would_differ_per_tile():
    ir, vis = synthetic_pair(shape=(300, 300))
    with pytest.raises(ValueError, match="uint16"):
        stacks.fuse_stack(ir.astype(np.uint16) * 200, vis, engine="classic", memory_budget_mb=1)
    with pytest.raises(ValueError, match="auto"):
        stacks.fuse_stack(ir, vis, engine="classic", auto=True, memory_budget_mb=1)


def test_to_zarr_writes_provenance_ome_and_resumes(tmp_path, frames):
    ir, vis = frames
    lazy = stacks.fuse_stack(ir, vis[..., 0], "noisy thermal", engine="classic")
    plan = stacks.make_plan("noisy thermal", engine="classic")
    store = tmp_path / "out.zarr"
    stacks.to_zarr(lazy, store, attrs=stacks.provenance(plan, infrared="ir.npy"))
    attrs = dict(zarr.open_group(str(store), mode="r").attrs)
    assert attrs["napari_textif"]["engine"] == "classic"
    assert attrs["napari_textif"]["controls"]["ir_noise"] > 0
    assert [a["name"] for a in attrs["ome"]["multiscales"][0]["axes"]] == ["t", "y", "x"]
    json.dumps(attrs)
    written = np.asarray(stacks.open_stack(store)[...])
    np.testing.assert_array_equal(written, lazy.compute())
    done = zarr.open_array(str(store / stacks.DONE), mode="r+")
    done[1] = 0
    left = stacks.to_zarr(lazy, store, resume=True, compute=False)
    assert list(left) == [(1, 0, 0)]
    with pytest.raises(FileExistsError, match=r"out\.zarr"):
        stacks.to_zarr(lazy, store)


def test_leading_shapes_that_differ_are_refused_naming_both(frames):
    ir, vis = frames
    with pytest.raises(ValueError, match=r"infrared \(3,\), visible \(2,\).*\(3, 48, 64\).*\(2, 48, 64, 3\)"):
        stacks.fuse_stack(ir, vis[:2], engine="classic")


def test_a_zarr_store_that_is_no_image_is_refused_with_its_path(tmp_path):
    group = tmp_path / "group.zarr"
    zarr.open_group(str(group), mode="w")
    with pytest.raises(ValueError, match=r"group\.zarr is a zarr group without an image"):
        stacks.fuse_stack(str(group), str(group))
    table = tmp_path / "table.zarr"
    zarr.create_array(str(table), shape=(10, 4), dtype="int64")
    with pytest.raises(ValueError, match=r"table\.zarr is a zarr array of dtype int64"):
        stacks.open_stack(table)
    with pytest.raises(ValueError, match=r"nothing\.zarr is not a zarr store"):
        stacks.open_stack(tmp_path / "nothing.zarr")


def test_an_unanswered_scheduler_is_a_clear_error_within_seconds():
    pytest.importorskip("distributed")
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    start = time.perf_counter()
    with pytest.raises(ConnectionError, match=f"no dask scheduler answered at tcp://127.0.0.1:{port}"):
        with stacks.dask_client(f"tcp://127.0.0.1:{port}", timeout=2):
            pass
    assert time.perf_counter() - start < 10


STREAM = textwrap.dedent("""
    import json, resource, sys, tempfile
    import dask, dask.array as da, numpy as np, zarr
    from napari_textif import stacks
    from napari_textif.samples import synthetic_pair

    SCENES = [synthetic_pair(shape=(256, 256), seed=seed) for seed in range(4)]

    def frame(block_id=None, channels=False):  # made when read: the stack never exists whole
        ir, vis = SCENES[block_id[0] % len(SCENES)]
        return (vis if channels else ir)[None].copy()

    n = int(sys.argv[1])
    ir = da.map_blocks(frame, chunks=((1,) * n, (256,), (256,)), dtype=np.uint8)
    vis = da.map_blocks(frame, chunks=((1,) * n, (256,), (256,), (3,)), dtype=np.uint8, channels=True)
    fused = stacks.fuse_stack(ir, vis, "dark visible image", engine="lite")
    with tempfile.TemporaryDirectory() as folder, dask.config.set(scheduler="threads", num_workers=2):
        stacks.to_zarr(fused, folder + "/out.zarr")
        marks = int(np.asarray(zarr.open_array(folder + "/out.zarr/chunks_done")[...]).sum())
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over fork/exec, so a child of a large pytest
    # process would report the parent's peak (2 GB after the suite's other tests) as its own.
    hwm = [line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM")]
    peak = int(hwm[0]) / 1024 if hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"marks": marks, "peak_mb": peak}))
""")


@pytest.mark.slow
def test_a_lazy_1000_frame_stack_streams_to_zarr_within_1_5_gb():
    done = subprocess.run([sys.executable, "-c", STREAM, "1000"], capture_output=True, text=True,
                          timeout=900, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    record = json.loads(done.stdout.strip().splitlines()[-1])
    assert record["marks"] == 1000
    assert record["peak_mb"] < 1536, record
