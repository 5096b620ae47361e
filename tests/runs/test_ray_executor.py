"""The Ray executor without a cluster: the recorder's sink and the files shipped from a node,
choosing the executor per run, and the one-line errors of a cluster that cannot be used.

The tests on a real local Ray cluster are in test_ray_cluster.py.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from ray_support import free_port
from streamlit.testing.v1 import AppTest

from conftest import ROOT, assert_user_error, python_output, run_cli, wait_for
from mtl import presets
from mtl.config import ExperimentConfig
from mtl.errors import UnsafePathError, UserError
from mtl.runs.local_executor import LocalExecutor
from mtl.runs.ray_actor import Batch, BufferSink, FileShipper, RemoteRun, write_files
from mtl.runs.ray_executor import RAY_TAG, RayExecutor, read_options, write_options
from mtl.runs.ray_options import RayOptions, check_cluster
from mtl.runs.recorder import StoreRecorder
from mtl.runs.scheduler import executor_for, launch
from mtl.runs.store import RunStore
from mtl.train.callbacks import EpochEnd, RunEnd, StepEnd


def test_the_store_recorder_records_into_the_sink_what_it_would_write_to_the_store(
    tmp_path: Path,
) -> None:
    sink = BufferSink(tmp_path)
    recorder = StoreRecorder(sink, "r")  # type: ignore[arg-type]
    trainer = None  # the recorder only needs a trainer to pass stop requests on
    step = StepEnd(step=3, epoch=0, wall_time=0.5, losses={"a": 0.7}, weights={"a": 1.0}, lr=0.01)
    val = (3, 1, 0.6, "a", "val", "loss", float("nan"), None)
    epoch = EpochEnd(step=3, epoch=1, wall_time=0.6, rows=[val], monitor=0.0, improved=True)
    recorder.on_step(trainer, step)  # type: ignore[arg-type]
    recorder.on_epoch_end(trainer, epoch)  # type: ignore[arg-type]
    recorder.on_run_end(trainer, RunEnd(status="finished", summary={"epochs": 1}))  # type: ignore[arg-type]
    batch = sink.take()
    assert batch.metrics == [
        (3, 0, 0.5, "a", "step", "loss", 0.7, None),
        (3, 0, 0.5, "*", "step", "lr", 0.01, None),
        (3, 1, 0.6, "a", "val", "loss", None, None),  # not finite: recorded as missing
    ]
    assert batch.weights == [(3, 0, 0.5, "a", 1.0)]
    assert (batch.status, batch.summary) == ("finished", {"epochs": 1})
    again = sink.take()  # each row is handed over once
    assert again.metrics == again.weights == [] and again.status == "finished"


def test_the_sink_keeps_the_first_final_status_and_passes_a_stop_request(tmp_path: Path) -> None:
    sink = BufferSink(tmp_path)
    assert sink.run_dir("r") == tmp_path and sink.get_run("r")["status"] == "running"
    assert not sink.stop_requested("r")
    sink.request_stop()
    assert sink.stop_requested("r")
    sink.set_status("r", "failed", error="boom")
    sink.set_status("r", "finished")
    assert (sink.take().status, sink.take().error) == ("failed", "boom")
    assert sink.get_run("r")["status"] == "failed"


def poll_until_end(actor: RemoteRun, store: RunStore, run_id: str) -> Batch:
    """Drive the actor as the driver does: write each batch into ``store``; return the last."""
    from mtl.runs.ray_driver import _apply

    def step() -> Batch | None:
        batch = actor.poll()
        _apply(store, run_id, batch)
        return batch if batch.status is not None else None

    return wait_for(step, 180, "the run to end", every=0.2)


def test_the_actor_trains_through_the_workers_path_and_ships_rows_and_files(
    tmp_path: Path,
) -> None:
    """The actor class itself, in this process (no cluster): a CSV that exists only as the
    bytes it was given, rows and files written back by the driver's own code; then the same
    (warm) actor trains a second run with the same config and seed into another run of the
    store: the same numbers, nothing carried over from the first."""
    csv = tmp_path / "gone" / "data.csv"  # the launcher's path; the node never sees it
    rows = "a,b,y\n" + "".join(f"{i % 7},{i * 0.5},{i % 2}\n" for i in range(80))
    config = ExperimentConfig.from_dict(
        {
            "name": "csv-on-a-node",
            "data": {"dataset": "csv", "path": str(csv)},
            "tasks": [{"name": "y", "target": "y", "kind": "binary"}],
            "train": {"epochs": 2},
        }
    )
    store = RunStore(tmp_path / "home")
    actor = RemoteRun(warm=False)
    curves = []
    for turn in (1, 2):
        run_id = store.create_run(config.name, config.to_dict(), status="running")
        where = actor.start(run_id, config.to_dict(), ("data.csv", rows.encode()))
        assert where["runs"] == turn and where["pid"] == os.getpid()
        node_folder = actor.folder
        end = poll_until_end(actor, store, run_id)
        assert (end.status, end.error) == ("finished", None)
        folder = store.run_dir(run_id)
        assert (folder / "checkpoint.pt").stat().st_size > 0
        assert (folder / "predictions" / "y.csv").exists()
        assert ExperimentConfig.load(folder / "config.yaml").data.path == str(csv)
        metrics = store.metrics(run_id)
        val = metrics[(metrics["split"] == "val") & (metrics["metric"] == "loss")]
        assert sorted(set(val["epoch"])) == [0, 1]
        curves.append(val["value"].tolist())
        assert node_folder is not None and not node_folder.exists()  # the node's copy is gone
    assert curves[0] == curves[1]


def test_a_failure_on_the_node_ships_its_traceback_beside_the_drivers_log(tmp_path: Path) -> None:
    config = presets.load("seed-example").with_overrides({"train.epochs": 2})
    store = RunStore(tmp_path / "home")
    run_id = store.create_run(config.name, config.to_dict(), status="running")
    (store.run_dir(run_id) / "worker.log").write_text("driver log\n")
    bad = dict(config.to_dict(), tasks=[{"name": "t", "target": "no-such-column"}])
    actor = RemoteRun(warm=False)
    actor.start(run_id, bad, None)
    end = poll_until_end(actor, store, run_id)
    assert end.status == "failed" and "no-such-column" in end.error
    assert (store.run_dir(run_id) / "worker.log").read_text() == "driver log\n"
    assert "Traceback" in (store.run_dir(run_id) / "ray_worker.log").read_text()


def test_files_are_shipped_when_new_or_changed_and_written_back_whole(tmp_path: Path) -> None:
    node, launcher = tmp_path / "node", tmp_path / "launcher"
    (node / "predictions").mkdir(parents=True)
    (node / "metrics.csv").write_text("step\n1\n")
    (node / "predictions" / "a.csv").write_bytes(b"y\n1\n")
    (node / ".metrics.csv.123.tmp").write_text("half")  # an atomic write in progress
    shipper = FileShipper(node)
    first = shipper.changed()
    assert first == {"metrics.csv": b"step\n1\n", "predictions/a.csv": b"y\n1\n"}
    assert shipper.changed() == {}
    (node / "metrics.csv").write_text("step\n1\n2\n")
    assert shipper.changed() == {"metrics.csv": b"step\n1\n2\n"}
    write_files(launcher, first)
    assert (launcher / "predictions" / "a.csv").read_bytes() == b"y\n1\n"
    assert (launcher / "metrics.csv").read_text() == "step\n1\n"


@pytest.mark.parametrize("name", ["../evil", "/etc/passwd", "a/../../b", "", "a\\..\\b", "a/\0"])
def test_a_shipped_file_never_lands_outside_the_run_folder(tmp_path: Path, name: str) -> None:
    with pytest.raises(UnsafePathError):
        write_files(tmp_path / "run", {name: b"x"})
    assert not (tmp_path / "evil").exists() and not list(tmp_path.rglob("*"))


def test_a_run_queued_for_ray_is_tagged_and_started_by_the_ray_executor(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "home")
    local_id = store.create_run("l", {})
    ray_id = store.create_run("r", {}, tags=["x", RAY_TAG])
    assert isinstance(executor_for(store, local_id, 2), LocalExecutor)
    assert isinstance(executor_for(store, ray_id, 2), RayExecutor)
    options = RayOptions("10.0.0.5:6379", num_cpus=2, num_gpus=0.5)
    write_options(store, ray_id, options)
    assert read_options(store, ray_id) == options


def test_launch_with_ray_options_tags_the_run_and_saves_them(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = RunStore(home)
    submitted: list[str] = []
    monkeypatch.setattr(RayExecutor, "submit", lambda self, run_id: submitted.append(run_id))
    config = presets.load("seed-example")
    run_id = launch(config, store, 1, tags=("mine",), ray=RayOptions(None, 3, 0))
    run = store.get_run(run_id)
    assert run["tags"] == ["mine", RAY_TAG] and run["status"] == "running"
    assert submitted == [run_id]  # claimed, then handed to the Ray executor
    assert json.loads((store.run_dir(run_id) / "ray.json").read_text())["num_cpus"] == 3


def test_resources_must_be_numbers_of_at_least_zero() -> None:
    with pytest.raises(ValueError, match="--ray-cpus -1 must be a number of at least 0"):
        RayOptions(num_cpus=-1)
    with pytest.raises(ValueError, match="--ray-gpus"):
        RayOptions(num_gpus=float("nan"))


def test_an_unreachable_cluster_is_one_line() -> None:
    port = free_port()  # nothing listens there
    with pytest.raises(UserError, match=f"cannot reach the Ray cluster at '127.0.0.1:{port}'"):
        check_cluster(f"127.0.0.1:{port}")
    with pytest.raises(UserError, match="not a cluster address"):
        check_cluster("no-port-here")


def test_cli_run_on_an_unreachable_cluster_exits_2_and_records_nothing(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAY_ADDRESS", f"127.0.0.1:{free_port()}")
    result = run_cli("run", "--preset", "seed-example", "--executor", "ray", home=home)
    assert_user_error(result, "cannot reach the Ray cluster", "RAY_ADDRESS")
    assert not (home / "store.sqlite").exists() or RunStore(home).list_runs().empty


def test_cli_sweep_on_an_unreachable_cluster_exits_2(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text("name: s\nbase: seed-example\nseeds: [0, 1]\n")
    monkeypatch.setenv("RAY_ADDRESS", f"127.0.0.1:{free_port()}")
    result = run_cli("sweep", str(spec), "--executor", "ray", home=home)
    assert_user_error(result, "cannot reach the Ray cluster")


def test_ray_resources_without_the_ray_executor_are_refused(home: Path) -> None:
    result = run_cli("run", "--preset", "seed-example", "--ray-cpus", "2", home=home)
    assert_user_error(result, "--ray-cpus needs --executor ray")


def test_the_scheduler_the_cli_and_the_dashboard_import_neither_ray_nor_torch() -> None:
    code = (
        "import sys, mtl.runs.scheduler, mtl.study.sweeps, mtl.commands.run, mtl.commands.sweep, "
        "mtl.runs.ray_executor, mtl.runs.ray_actor, mtl.ui.session\n"
        "print(sorted(m for m in ('ray', 'torch') if m in sys.modules))"
    )
    assert python_output(code) == "[]"


def test_ray_is_in_the_requirements() -> None:
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    assert any(line.startswith("ray==") for line in lines)
    assert sys.version_info[:2] == (3, 11)  # the wheel the pin was checked against


# ---- the dashboard's choice ------------------------------------------------------------


def dashboard(home: Path, monkeypatch: pytest.MonkeyPatch, page: str) -> AppTest:
    monkeypatch.setenv("MTL_HOME", str(home))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    at.switch_page(f"app_pages/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def radio_keys(at: AppTest) -> list[str]:
    return [r.key for r in at.radio]


def test_the_dashboard_offers_ray_only_when_a_cluster_is_configured(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.delenv("MTL_EXECUTOR", raising=False)
    assert "exp.executor" not in radio_keys(dashboard(home, monkeypatch, "experiment"))
    monkeypatch.setenv("MTL_EXECUTOR", "ray")
    at = dashboard(home, monkeypatch, "experiment")
    assert at.radio(key="exp.executor").value == "the Ray cluster"  # MTL_EXECUTOR: the default
    assert "sw.executor" in radio_keys(dashboard(home, monkeypatch, "sweep"))
    assert "tr.executor" in radio_keys(dashboard(home, monkeypatch, "transfer"))
    assert "vd.executor" in radio_keys(dashboard(home, monkeypatch, "verdict"))


def test_starting_on_an_unreachable_cluster_from_the_dashboard_is_a_plain_error(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()
    monkeypatch.setenv("RAY_ADDRESS", f"127.0.0.1:{port}")
    at = dashboard(home, monkeypatch, "experiment")
    assert at.radio(key="exp.executor").value == "this machine"  # RAY_ADDRESS alone: offered
    at.radio(key="exp.executor").set_value("the Ray cluster").run()
    at.button(key="exp.start").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("cannot reach the Ray cluster" in e.value for e in at.error), at.error
    assert RunStore(home).list_runs().empty  # nothing was queued

    for page, prefix in (("sweep", "sw"), ("transfer", "tr"), ("verdict", "vd")):
        at = dashboard(home, monkeypatch, page)
        at.radio(key=f"{prefix}.executor").set_value("the Ray cluster").run()
        at.button(key=f"{prefix}.start").click().run()
        assert not at.exception, [e.value for e in at.exception]
        assert any("cannot reach the Ray cluster" in e.value for e in at.error), (page, at.error)
        assert RunStore(home).list_runs().empty


# ---- the studies on Ray ----------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        ("study", "transfer", "--preset", "synthetic-related", "--target", "y1"),
        ("study", "verdict", "--preset", "synthetic-related"),
    ],
)
def test_cli_studies_on_an_unreachable_cluster_exit_2_and_queue_nothing(
    home: Path, monkeypatch: pytest.MonkeyPatch, command: tuple[str, ...]
) -> None:
    monkeypatch.setenv("RAY_ADDRESS", f"127.0.0.1:{free_port()}")
    result = run_cli(*command, "--executor", "ray", "--detach", home=home)
    assert_user_error(result, "cannot reach the Ray cluster")
    assert not (home / "store.sqlite").exists() or RunStore(home).list_runs().empty


def test_every_run_of_a_verdict_on_ray_is_tagged_with_its_options(tmp_path: Path) -> None:
    from mtl.study.verdict import VerdictOptions, start_verdict

    store = RunStore(tmp_path / "home")
    options = RayOptions("10.0.0.5:6379", num_cpus=2, num_gpus=0)
    config = presets.load("synthetic-related").with_overrides({"train.epochs": 1})
    verdict = VerdictOptions(seeds=(0, 1, 2), budget=1, methods=("uncertainty",), weights=0)
    start_verdict(store, config, verdict, validate_data=False, start=False, ray=options)
    runs = store.list_runs()
    assert len(runs) > 4 and any("baseline" in tags for tags in runs["tags"])
    for run_id, tags in zip(runs["id"], runs["tags"], strict=True):
        assert RAY_TAG in tags, tags
        assert read_options(store, run_id, wait_s=0) == options


def test_a_transfer_study_and_a_sweeps_baselines_on_ray_go_to_the_ray_executor(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mtl.study.sweeps import SweepSpec, launch_sweep
    from mtl.study.transfer import launch_transfer_study

    submitted: list[str] = []
    monkeypatch.setattr(RayExecutor, "submit", lambda self, run_id: submitted.append(run_id))
    store = RunStore(home)
    options = RayOptions(None, 1, 0)
    config = presets.load("synthetic-related").with_overrides({"train.epochs": 1})
    launch_transfer_study(store, config, "y1", (1.0,), 1, 100, validate_data=False, ray=options)
    spec = SweepSpec.from_dict({"name": "s", "base": "seed-example", "seeds": [0]})
    launch_sweep(store, spec, 100, baselines=True, ray=options)
    runs = store.list_runs()
    assert any("baseline" in tags for tags in runs["tags"])  # the sweep's baselines
    assert all(RAY_TAG in tags for tags in runs["tags"])
    assert sorted(submitted) == sorted(runs["id"])  # all claimed, each by the Ray executor
