"""The Ray executor on a real local Ray cluster (started here on 127.0.0.1 and a free port,
stopped at the end by its own session, see tests/ray_support.py).

A 4-run sweep through ``--executor ray`` ends with every run ``finished`` in the launcher's
store with its curves and files, and the Sweeps page shows it; stopping a run on Ray ends it
``stopped`` with its checkpoint; killing the Ray worker of a running run ends it
``interrupted`` with its rows kept. Under ``CI=true`` these run (Ray is in requirements.txt).
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from ray_support import local_ray_cluster

from conftest import ROOT, cli_json, status, wait_for
from mtl import presets
from mtl.config import ExperimentConfig
from mtl.runs.ray_drivers import driver_key, driver_pid, stop_drivers
from mtl.runs.ray_executor import RAY_TAG, worker_info
from mtl.runs.ray_options import RayOptions
from mtl.runs.scheduler import dispatch, launch, stop
from mtl.runs.store import RunStore

if os.environ.get("CI") != "true":
    pytest.importorskip("ray")


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """The address of a private one-node Ray cluster for this module."""
    with local_ray_cluster(num_cpus=4) as address:
        yield address


@pytest.fixture
def on_ray(cluster: str, home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunStore]:
    """A fresh store whose Ray runs go to ``cluster``; its driver is stopped at the end (its
    warm actors would otherwise hold the cluster's CPUs until it goes idle)."""
    monkeypatch.setenv("RAY_ADDRESS", cluster)
    yield RunStore(home)
    stop_drivers(home)
    assert driver_pid(home, driver_key(cluster)) is None


def long_config() -> ExperimentConfig:
    """A run that trains for minutes unless stopped or killed."""
    return presets.load("seed-example").with_overrides(
        {"train.epochs": 5000, "train.early_stopping": None, "name": "long"}
    )


def rows(store: RunStore, run_id: str) -> int:
    return len(store.metrics(run_id))


def short_config() -> ExperimentConfig:
    return presets.load("seed-example").with_overrides({"train.epochs": 2})


def run_to_end(store: RunStore, config: ExperimentConfig) -> tuple[str, dict]:
    """Launch ``config`` on Ray, wait until it ends ``finished``; its id and its worker info."""
    run_id = launch(config, store, 1, ray=RayOptions.from_env())
    wait_for(lambda: status(store, run_id) not in ("queued", "running"), 180, "the run to end")
    assert status(store, run_id) == "finished", store.get_run(run_id)["error"]
    return run_id, worker_info(store, run_id)


def cli_on_ray(home: Path, *args: str) -> dict:
    """The JSON report of ``python -m mtl ARGS`` sent to the Ray cluster, 2 runs at a time."""
    return cli_json(*args, "--executor", "ray", "--max-running", "2", home=home, timeout=600)


def val_loss(store: RunStore, run_id: str) -> list[float]:
    metrics = store.metrics(run_id)
    return metrics[(metrics["split"] == "val") & (metrics["metric"] == "loss")]["value"].tolist()


def test_a_sweep_through_ray_finishes_every_run_with_curves_and_the_page_shows_it(
    on_ray: RunStore, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = tmp_path / "sweep.yaml"
    spec.write_text(
        "name: on-ray\nbase: seed-example\noverrides: {train.epochs: 3}\n"
        "grid: {model.sharing: [hard, independent]}\nseeds: [0, 1]\n",
        encoding="utf-8",
    )
    report = cli_on_ray(home, "sweep", str(spec))
    assert report["progress"]["finished"] == report["progress"]["total"] == 4
    runs = on_ray.list_runs()
    assert len(runs) == 4 and set(runs["status"]) == {"finished"}
    for run_id in runs["id"]:
        run = on_ray.get_run(run_id)
        assert RAY_TAG in run["tags"]
        folder = on_ray.run_dir(run_id)
        assert worker_info(on_ray, run_id)["pid"] != run["pid"]  # trained in a Ray worker
        metrics = on_ray.metrics(run_id)
        val_loss = metrics[(metrics["split"] == "val") & (metrics["metric"] == "loss")]
        assert sorted(set(val_loss["epoch"])) == [0, 1, 2]  # a curve: one point per epoch
        assert len(on_ray.weights(run_id)) > 0
        # the files came back from the node: what Evaluate and the reports read
        assert (folder / "checkpoint.pt").stat().st_size > 0
        assert list((folder / "predictions").glob("*.csv"))
        summary = json.loads((folder / "summary.json").read_text())
        assert summary["status"] == "finished" and run["summary"]["test"] == summary["test"]
        epochs_in_csv = (folder / "metrics.csv").read_text().count(",val,loss,")
        assert epochs_in_csv == len(val_loss)
    drivers = {on_ray.get_run(run_id)["pid"] for run_id in runs["id"]}
    assert drivers == {driver_pid(home, driver_key(os.environ["RAY_ADDRESS"]))}  # one driver
    actors = {worker_info(on_ray, run_id)["pid"] for run_id in runs["id"]}
    assert len(actors) <= 2  # 2 at a time: the next runs reused the warm actors
    assert max(worker_info(on_ray, run_id)["runs"] for run_id in runs["id"]) >= 2

    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("MTL_HOME", str(home))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    at.switch_page("app_pages/sweep.py")
    at.query_params["sweep"] = report["sweep_id"]
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    table = at.dataframe[0].value
    assert set(table["sharing"]) == {"hard", "independent"} and (table["runs"] == 2).all()


def test_a_transfer_study_through_ray_fine_tunes_from_its_pretraining_run(
    on_ray: RunStore, home: Path
) -> None:
    """`study transfer --executor ray`: the fine-tuning run starts from the pretraining run's
    checkpoint, which the driver sends to the node once that run finished."""
    study = ["--preset", "synthetic-related", "--target", "y1", "--fractions", "0.25"]
    small = ["--seeds", "1", "--set", "train.epochs=2", "--set", "data.options.samples=300"]
    report = cli_on_ray(home, "study", "transfer", *study, *small)
    runs = on_ray.list_runs(with_config=True)
    assert len(runs) == 4 and set(runs["status"]) == {"finished"}, runs[["status", "error"]]
    assert all(RAY_TAG in tags for tags in runs["tags"])
    (source,) = [c["model"]["init_from"] for c in runs["config"] if c["model"]["init_from"]]
    assert source in set(runs["id"])
    methods = {r["method"] for r in report["results"]}
    assert methods == {"single", "mtl", "transfer"}


def test_stopping_a_run_on_ray_ends_it_stopped_with_its_checkpoint(on_ray: RunStore) -> None:
    run_id = launch(long_config(), on_ray, 1, ray=RayOptions.from_env())
    wait_for(lambda: rows(on_ray, run_id) > 0, 120, "the first rows from the Ray worker")
    assert stop(on_ray, run_id, grace_s=60) == "stopped"
    folder = on_ray.run_dir(run_id)
    assert (folder / "checkpoint.pt").stat().st_size > 0
    assert json.loads((folder / "summary.json").read_text())["status"] == "stopped"
    assert on_ray.get_run(run_id)["error"] is None  # it stopped itself, nothing was killed


def test_two_runs_in_a_row_train_in_the_same_warm_actor_with_the_same_numbers(
    on_ray: RunStore,
) -> None:
    first, where = run_to_end(on_ray, short_config())
    second, again = run_to_end(on_ray, short_config())
    assert again["pid"] == where["pid"] and again["actor_id"] == where["actor_id"]
    assert (where["runs"], again["runs"]) == (1, 2)
    assert on_ray.get_run(first)["pid"] == on_ray.get_run(second)["pid"]  # one driver
    assert val_loss(on_ray, first) == val_loss(on_ray, second)  # same config, same seed


def test_killing_the_ray_worker_ends_the_run_interrupted_and_a_new_actor_takes_over(
    on_ray: RunStore,
) -> None:
    run_id = launch(long_config(), on_ray, 1, ray=RayOptions.from_env())
    info = wait_for(lambda: worker_info(on_ray, run_id), 120, "the Ray worker's pid")
    before = wait_for(lambda: rows(on_ray, run_id), 120, "the first rows from the Ray worker")
    assert info["pid"] != on_ray.get_run(run_id)["pid"]  # the actor, not the local driver
    os.kill(info["pid"], signal.SIGKILL)
    wait_for(lambda: status(on_ray, run_id) != "running", 120, "the run to end")
    run = on_ray.get_run(run_id)
    assert run["status"] == "interrupted"
    assert "Ray worker" in run["error"]
    assert rows(on_ray, run_id) >= before  # every row received before the kill is kept
    assert not (on_ray.run_dir(run_id) / "checkpoint.pt").exists()

    # the driver replaced the killed actor: the next run trains in a new one
    _, replaced = run_to_end(on_ray, short_config())
    assert replaced["pid"] != info["pid"] and replaced["runs"] == 1
    # a warm actor killed while idle is replaced when the next run finds it dead
    os.kill(replaced["pid"], signal.SIGKILL)
    _, fresh = run_to_end(on_ray, short_config())
    assert fresh["pid"] not in (info["pid"], replaced["pid"]) and fresh["runs"] == 1


def test_a_killed_driver_leaves_its_run_interrupted_with_its_rows_and_a_new_one_serves(
    on_ray: RunStore, home: Path, cluster: str
) -> None:
    run_id = launch(long_config(), on_ray, 1, ray=RayOptions.from_env())
    before = wait_for(lambda: rows(on_ray, run_id), 120, "the first rows from the Ray worker")
    driver = on_ray.get_run(run_id)["pid"]
    assert driver == driver_pid(home, driver_key(cluster))
    os.killpg(driver, signal.SIGKILL)
    # the scheduler's usual path: a dead process and no heartbeat (MTL_HEARTBEAT_TIMEOUT=2)
    wait_for(lambda: dispatch(on_ray) is not None and status(on_ray, run_id) != "running", 60)
    run = on_ray.get_run(run_id)
    assert run["status"] == "interrupted" and rows(on_ray, run_id) >= before
    next_id, _ = run_to_end(on_ray, short_config())
    assert on_ray.get_run(next_id)["pid"] not in (None, driver)  # a new driver


def test_a_sweep_queued_on_the_ray_cluster_from_the_dashboard_trains_there(
    on_ray: RunStore, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("MTL_HOME", str(home))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    at.switch_page("app_pages/sweep.py").run()
    at.radio(key="sw.executor").set_value("the Ray cluster")
    at.text_input(key="sw.seeds").set_value("0")
    at.number_input(key="sw.epochs").set_value(2)
    at.multiselect(key="sw.sharing").set_value(["hard"])
    at.multiselect(key="sw.weighting").set_value(["equal"])
    at.checkbox(key="sw.baselines").uncheck()
    at.button(key="sw.start").click().run()
    assert not at.exception and not at.error, [e.value for e in (*at.exception, *at.error)]
    (run_id,) = on_ray.list_runs()["id"]
    assert RAY_TAG in on_ray.get_run(run_id)["tags"]
    wait_for(lambda: status(on_ray, run_id) != "running", 120, "the run to end")
    assert status(on_ray, run_id) == "finished"
    assert worker_info(on_ray, run_id)["pid"] != on_ray.get_run(run_id)["pid"]


def test_a_run_waits_for_a_node_with_its_resources_and_can_be_stopped_meanwhile(
    on_ray: RunStore,
) -> None:
    config = presets.load("seed-example").with_overrides({"train.epochs": 2})
    run_id = launch(config, on_ray, 1, ray=RayOptions.from_env(num_cpus=64))  # no node has 64
    wait_for(lambda: on_ray.get_run(run_id)["pid"], 60, "the driver to start")
    assert stop(on_ray, run_id, grace_s=60) == "stopped"
    run = on_ray.get_run(run_id)
    assert run["error"] == "stopped while waiting for a node"  # the driver ended it, unkilled
    assert worker_info(on_ray, run_id) is None and on_ray.metrics(run_id).empty
