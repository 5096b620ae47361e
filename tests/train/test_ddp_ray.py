"""Data-parallel ranks as Ray Train workers on another node of a real two-node Ray cluster.

The cluster runs on this machine: a head node without CPUs (``ray start --head``, via
tests/ray_support.py) and a worker node with 2 CPUs (``ray start --address``), each in its
own session and stopped by it. Rank 0 is this test process, a driver on the head node; rank 1
is a Ray Train worker, which Ray can only place on the worker node. A run sent through the Ray
executor with ``train.workers: 2`` then trains its rank 1 as a Ray Train worker too.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from ray_support import REPO, _stop, local_ray_cluster
from test_ddp import make_config, make_frame, max_difference

from conftest import status, wait_for
from mtl.data.prepare import prepare
from mtl.runs.ray_options import RayOptions
from mtl.runs.scheduler import launch as launch_run
from mtl.runs.store import RunStore
from mtl.train.callbacks import History
from mtl.train.distributed import launch, start_ray_train_ranks
from mtl.train.trainer import Trainer

if os.environ.get("CI") != "true":
    pytest.importorskip("ray")

pytestmark = pytest.mark.usefixtures("one_thread")

JOIN_TIMEOUT_S = 120.0


@contextlib.contextmanager
def worker_node(address: str, num_cpus: int) -> Iterator[None]:
    """A second Ray node joined to ``address`` in its own session; stopped by that session."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    env["RAY_USAGE_STATS_ENABLED"] = "0"
    ray_cli = Path(sys.executable).with_name("ray")
    proc = subprocess.Popen(
        [
            str(ray_cli) if ray_cli.exists() else "ray",
            "start",
            f"--address={address}",
            "--block",
            "--node-ip-address=127.0.0.1",
            f"--num-cpus={num_cpus}",
            "--num-gpus=0",
            "--disable-usage-stats",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        start_new_session=True,
    )
    try:
        yield
    finally:
        _stop(proc)


@pytest.fixture(scope="module")
def two_nodes() -> Iterator[str]:
    """A driver connected to a head node (no CPUs) and a worker node (2 CPUs)."""
    import ray

    with local_ray_cluster(num_cpus=0) as address, worker_node(address, num_cpus=2):
        ray.init(address=address, logging_level="WARNING", log_to_driver=False)
        try:
            deadline = time.monotonic() + JOIN_TIMEOUT_S
            while len([n for n in ray.nodes() if n["Alive"]]) < 2:  # the worker node joined
                if time.monotonic() > deadline:
                    raise RuntimeError("the Ray worker node did not join")
                time.sleep(0.5)
            yield address
        finally:
            ray.shutdown()


@pytest.mark.usefixtures("float64")
def test_ray_train_ranks_on_another_node_update_like_one_process(
    two_nodes: str, tmp_path: Path
) -> None:
    table = tmp_path / "table.csv"
    make_frame().to_csv(table, index=False)
    one = make_config(table, "pcgrad", 1)
    data = prepare(one)
    single = Trainer(one, data).fit()
    events = History()
    trainer = launch(
        make_config(table, "pcgrad", 2),
        data,
        [events],
        dtype=torch.float64,
        start_ranks=start_ray_train_ranks,
    )
    nodes = [info["node"] for info in trainer.rank_info]
    (ranks,) = trainer._ranks  # the Ray Train run of rank 1
    parallel = trainer.fit()
    assert None not in nodes and nodes[0] != nodes[1]  # the ranks sat on different nodes
    assert [info["train_rows"] for info in trainer.rank_info] == [53, 53]
    assert single.status == parallel.status == "finished"
    assert parallel.summary["steps"] == 20
    assert max_difference(single.model, parallel.model) < 1e-5
    assert parallel.summary["val"]["b"] == pytest.approx(single.summary["val"]["b"], rel=1e-6)
    assert len(events.steps) == 2  # rank 0's callbacks saw the run, here
    # across nodes, the bytes per step of a gradient-level method (float64, T = 2): the loss
    # values (3T + 1), the Jacobian on the shared parameters (T × P_shared), the rest's gradients
    shared = sum(p.numel() for p in parallel.model.shared_parameters())
    total = sum(p.numel() for p in parallel.model.parameters())
    sent = trainer.group.sent
    assert sent["losses"] == 20 * (3 * 2 + 1) * 8
    assert sent["jacobian"] == 20 * 2 * shared * 8
    assert sent["gradients"] == 20 * (total - shared) * 8
    assert ranks.exitcode == 0 and not ranks.is_alive()  # its worker ended without error
    assert [r["started_by"] for r in parallel.summary["ranks"]] == ["launcher", "ray train"]


def test_a_two_worker_run_through_the_ray_executor_trains_rank_1_as_a_ray_train_worker(
    two_nodes: str, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = tmp_path / "table.csv"
    make_frame().to_csv(table, index=False)
    monkeypatch.setenv("RAY_ADDRESS", two_nodes)
    store = RunStore(home)
    run_id = launch_run(
        make_config(table, "equal", 2, epochs=2), store, 1, ray=RayOptions.from_env()
    )
    end = wait_for(
        lambda: status(store, run_id) not in ("queued", "running") and status(store, run_id),
        300,
        "the Ray run to end",
        every=0.5,
    )
    assert end == "finished", store.get_run(run_id)["error"]
    summary = json.loads((store.run_dir(run_id) / "summary.json").read_text())
    assert [r["started_by"] for r in summary["ranks"]] == ["launcher", "ray train"]
    assert summary["ranks"][0]["node"] is not None  # rank 0: the run's actor, on the cluster
    # rank 0's rows and files reached the launcher's store, the whole split's metrics
    assert set(store.metrics(run_id)["split"]) >= {"train", "val"}
    assert (store.run_dir(run_id) / "checkpoint.pt").stat().st_size > 0
