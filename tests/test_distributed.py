"""``batch`` on dask.distributed: a LocalCluster of processes, a killed worker, separate processes."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO, require_shared
from napari_textif.cli import main
from napari_textif.io import read_image

sys.path.insert(0, str(REPO / "benchmarks"))
from scale_out import link_pairs  # the benchmark's helper, not a copy

distributed = pytest.importorskip("distributed")

pytestmark = pytest.mark.slow


def pair_folders(tmp: Path, count: int) -> tuple[Path, Path]:
    """Links to the first ``count`` real roadscene pairs in ``tmp/ir`` and ``tmp/vi``."""
    return link_pairs(tmp, count, data=require_shared("ivif", "roadscene"))


@pytest.fixture(scope="module")
def cluster():
    """A LocalCluster of two one-thread worker processes that import this worktree's package."""
    before = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), before or ""])
    try:
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                      dashboard_address=None, silence_logs=40) as local, \
                distributed.Client(local) as client:
            yield local, client
    finally:
        os.environ.pop("PYTHONPATH") if before is None else os.environ.update(PYTHONPATH=before)


def batch(ir: Path, vis: Path, out: Path, *extra: str) -> int:
    return main(["batch", str(ir), str(vis), str(out), "--engine", "lite", *extra])


def read_all(folder: Path) -> dict[str, np.ndarray]:
    return {p.name: read_image(p).astype(np.int16) for p in sorted(folder.iterdir())}


def test_two_worker_processes_fuse_8_real_pairs_as_in_process(tmp_path, cluster):
    local, client = cluster
    ir, vis = pair_folders(tmp_path, 8)
    assert batch(ir, vis, tmp_path / "here") == 0
    assert batch(ir, vis, tmp_path / "there", "--scheduler", local.scheduler_address) == 0
    here, there = read_all(tmp_path / "here"), read_all(tmp_path / "there")
    assert sorted(here) == sorted(there) and len(here) == 8
    for name in here:
        assert np.abs(here[name] - there[name]).max() <= 1, name  # within 1/255
    loads = client.run(lambda: __import__("napari_textif.engines.lite.engine", fromlist=["x"])
                       ._load_model_cached.cache_info().misses)
    assert sorted(loads.values()) == [1, 1], loads  # the weights loaded once per worker, not per pair


def test_a_killed_worker_loses_no_pair_and_leaves_no_partial_file(tmp_path, cluster):
    local, client = cluster
    ir, vis = pair_folders(tmp_path, 20)
    out = tmp_path / "out"
    codes = []
    address = local.scheduler_address
    run = threading.Thread(target=lambda: codes.append(batch(ir, vis, out, "--scheduler", address)))
    run.start()
    deadline = time.time() + 300
    while run.is_alive() and time.time() < deadline and len(list(out.glob("*.png"))) < 3:
        time.sleep(0.05)
    pids = client.run(os.getpid)
    victim = sorted(pids.values())[0]
    os.kill(victim, signal.SIGKILL)
    run.join(600)
    assert codes == [0]
    written = sorted(out.iterdir())
    assert [p.name for p in written] == sorted(p.stem + ".png" for p in ir.iterdir())  # no temporaries
    for path in written:
        assert read_image(path).ndim == 3


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_batch_on_a_scheduler_and_a_worker_started_as_processes(tmp_path):
    ir, vis = pair_folders(tmp_path, 3)
    dask = Path(sys.executable).with_name("dask")
    if not dask.exists() and shutil.which("dask") is None:
        pytest.skip("the 'dask' command of dask.distributed is not installed beside this Python")
    dask_cmd = str(dask) if dask.exists() else "dask"
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    quiet = {"env": env, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    scheduler = subprocess.Popen([dask_cmd, "scheduler", "--host", "127.0.0.1", "--port", str(port),
                                  "--no-dashboard"], **quiet)
    worker = subprocess.Popen([dask_cmd, "worker", address, "--nthreads", "1", "--no-dashboard"], **quiet)
    try:
        with distributed.Client(address, timeout="60s") as client:
            client.wait_for_workers(1, timeout=120)
        command = [sys.executable, "-m", "napari_textif.cli", "batch", str(ir), str(vis),
                   str(tmp_path / "out"), "--engine", "lite", "--scheduler", address]
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600, check=False)
    finally:
        for process in (worker, scheduler):
            process.terminate()
            process.wait(30)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "fused 3 of 3 pairs" in done.stdout
    assert len(list((tmp_path / "out").iterdir())) == 3
