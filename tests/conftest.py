"""Shared fixtures and helpers: a throw-away store home, the real CLI, a tmpfs, waiting, threads."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

if TYPE_CHECKING:
    from mtl.runs.store import RunStore

ROOT = Path(__file__).resolve().parents[1]

T = TypeVar("T")

# Warm spare workers are tested on purpose (tests/runs/test_spare.py, the browser test);
# elsewhere a lingering spare process would outlive its test.
os.environ.setdefault("MTL_WARM_WORKER", "0")
# Likewise the queue supervisor (tests/runs/test_supervisor.py turns it on): a test that
# fakes workers would otherwise leave one that starts real workers after the test.
os.environ.setdefault("MTL_SUPERVISOR", "0")
# Small models on a shared 2-core machine: one intra-op thread per process is faster and
# steadier (set before torch is imported; worker subprocesses inherit it).
os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(autouse=True)
def _keep_main_module() -> Iterator[None]:
    """Put ``sys.modules["__main__"]`` back after each test: AppTest runs a page script as
    ``__main__`` and can leave it there, and a process spawned later in this interpreter (the
    data-parallel ranks) would run that page again while it starts."""
    main = sys.modules["__main__"]
    yield
    sys.modules["__main__"] = main


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty store home; workers started from it are killed at teardown."""
    folder = tmp_path / "home"
    monkeypatch.setenv("MTL_HOME", str(folder))
    monkeypatch.setenv("MTL_HEARTBEAT_TIMEOUT", "2")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # tiny models on a shared 2-core machine
    yield folder
    stop_workers(folder)


def stop_workers(home: Path) -> None:
    """Stop what runs for store ``home``: its warm spares, its supervisor, its running workers."""
    from mtl.runs.spare import stop_spares
    from mtl.runs.supervisor import stop_supervisor

    stop_spares(home)
    stop_supervisor(home)  # first: it would start queued runs once their workers are killed
    if (home / "store.sqlite").exists():
        from mtl.runs.store import RunStore

        for pid in RunStore(home).list_runs(["running"])["pid"].dropna():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(int(pid), signal.SIGKILL)


@pytest.fixture(scope="module")
def app_on_new_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """`streamlit run app.py` for this test module on a fresh store home: (its URL, the home).

    Started and stopped (with what it launched) by ``browser_support.app_server``.
    """
    from browser_support import app_server

    home = tmp_path_factory.mktemp("app-home")
    with app_server(home, tmp_path_factory.mktemp("app-server")) as url:
        yield url, home


@pytest.fixture(scope="module")
def one_thread() -> Iterator[None]:
    """One intra-op torch thread for a module of small models (faster on busy cores).

    Use with ``pytestmark = pytest.mark.usefixtures("one_thread")``; torch is imported
    only here, so modules that never train do not pay for it.
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def float64() -> Iterator[None]:
    """Train in float64, so that the only differences left are summation orders (torch is
    imported only here, as in ``one_thread``)."""
    import torch

    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(before)


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    """An 8 MB tmpfs mounted at ``tmp_path/disk`` (root only: skipped otherwise), then unmounted.

    For the disk-full and read-only-disk tests (a second conftest.py would shadow this
    module for the tests' ``from conftest import ...``, so the fixture lives here).
    """
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(disk)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip() or 'mount failed'})")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=True)


def wait_for(
    predicate: Callable[[], T], timeout: float = 90.0, what: str = "condition", every: float = 0.1
) -> T:
    """Poll ``predicate`` until it returns a truthy value, and return that value.

    Raises AssertionError naming ``what`` if it is still falsy after ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"{what}: not met within {timeout} s")


def status(store: RunStore, run_id: str) -> str:
    """The run's current status as the store has it."""
    return store.get_run(run_id)["status"]


def cli_env(home: Path | None = None) -> dict[str, str]:
    """Environment for a CLI subprocess: the project on PYTHONPATH, a short heartbeat timeout."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env["MTL_HEARTBEAT_TIMEOUT"] = "2"
    env["OMP_NUM_THREADS"] = "1"
    if home is not None:
        env["MTL_HOME"] = str(home)
    return env


def run_fresh(
    argv: list[str], env: dict[str, str], cwd: Path, timeout: float
) -> subprocess.CompletedProcess[str]:
    """``python ARGV`` in a new interpreter (no stdin), output captured."""
    return subprocess.run(
        [sys.executable, *argv],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def _run_python(
    argv: list[str], home: Path | None, timeout: float
) -> subprocess.CompletedProcess[str]:
    """Run ``python ARGV`` from the project root (env from ``cli_env``), output captured."""
    return run_fresh(argv, cli_env(home), ROOT, timeout)


class CliServer:
    """Client of ``tests/cli_server.py``: ``python -m mtl`` calls forked from one warm interpreter.

    Each call is still its own process (own pid, environment, files, exit code); only the
    import of numpy, pandas, scikit-learn and torch is paid once per test session.
    """

    def __init__(self, env: dict[str, str]) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="mtl-cli-server-"))
        self.env = env
        self.log = (self.folder / "server.log").open("w")
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("cli_server.py")), self.socket_path],
            cwd=ROOT,
            env=self.env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            start_new_session=True,
        )
        assert self.proc.stdout is not None
        ready = self.proc.stdout.readline()
        self.calls = 0
        if ready != b"ready\n":
            log = self.log_text()
            self.close()
            raise RuntimeError(f"the CLI fork server did not start: {log}")

    @property
    def socket_path(self) -> str:
        return str(self.folder / "cli.sock")

    def log_text(self) -> str:
        self.log.flush()
        return (self.folder / "server.log").read_text(errors="replace")

    def run(
        self, argv: list[str], env: dict[str, str], cwd: Path, timeout: float
    ) -> subprocess.CompletedProcess[str]:
        self.calls += 1
        name = secrets.token_hex(8)  # unique even for calls made from several threads
        out, err = self.folder / f"{name}.out", self.folder / f"{name}.err"
        request = {
            "argv": argv,
            "env": env,
            "cwd": str(cwd),
            "stdin": os.devnull,
            "stdout": str(out),
            "stderr": str(err),
        }
        pid = None
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
            connection.settimeout(timeout)
            connection.connect(self.socket_path)
            stream = connection.makefile("rwb")
            stream.write(json.dumps(request).encode() + b"\n")
            stream.flush()
            try:
                pid = json.loads(stream.readline())["pid"]
                line = stream.readline()
            except TimeoutError:
                line = b""
            if not line:  # timed out (or the server died): kill the call as subprocess.run does
                if pid is not None:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                raise subprocess.TimeoutExpired(
                    [sys.executable, *argv], timeout, self.read(out), self.read(err)
                )
            returncode = json.loads(line)["returncode"]
        stdout, stderr = self.read(out), self.read(err)
        out.unlink(missing_ok=True)
        err.unlink(missing_ok=True)
        return subprocess.CompletedProcess([sys.executable, *argv], returncode, stdout, stderr)

    @staticmethod
    def read(path: Path) -> str:
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    def close(self) -> None:
        """Stop the server (by its pid) and remove its folder."""
        from browser_support import stop_process

        if self.proc.stdin is not None:
            self.proc.stdin.close()  # the server exits on its own when stdin closes
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            stop_process(self.proc)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self.log.close()
        shutil.rmtree(self.folder, ignore_errors=True)


_cli_servers: dict[tuple[tuple[str, str], ...], CliServer] = {}
"""The running fork servers, by the start-up variables they were started with."""

STARTUP_PREFIXES = ("PYTHON", "OMP_", "MKL_", "OPENBLAS_", "TORCH_", "LD_", "MALLOC")
"""Variables the interpreter or the preloaded libraries read when they start (not
TORCHINDUCTOR_CACHE_DIR & co: torch sets those in this process once it is imported)."""


SERIAL_GROUPS = {
    "ray": ("tests/runs/test_ray_cluster.py", "tests/runs/test_ray_executor.py",
            "tests/train/test_ddp_ray.py"),
    "browser": ("tests/e2e/", "tests/ui/test_live_chart_browser.py", "tests/viz/test_report.py"),
}  # fmt: skip
"""Tests that must not run beside each other under ``pytest -n 2 --dist loadgroup``: a Ray head
takes fixed ports besides its own (the client server's, the dashboard agent's), so one cluster
at a time; a Streamlit server, Chromium and the runs they start fill both cores, so one
browser test at a time. Each group runs on one worker, in file order."""


@pytest.hookimpl(tryfirst=True)  # before xdist reads the marks
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        path = Path(str(item.fspath)).relative_to(ROOT).as_posix()
        for group, prefixes in SERIAL_GROUPS.items():
            if path.startswith(prefixes):
                item.add_marker(pytest.mark.xdist_group(group))


def pytest_unconfigure(config: pytest.Config) -> None:
    for server in _cli_servers.values():
        server.close()
    _cli_servers.clear()


def server_key(env: dict[str, str]) -> tuple[tuple[str, str], ...]:
    """The start-up variables of ``env``: calls with equal keys share a fork server."""
    return tuple(sorted((k, v) for k, v in env.items() if k.startswith(STARTUP_PREFIXES)))


def run_module(
    argv: list[str], env: dict[str, str], cwd: Path, timeout: float
) -> subprocess.CompletedProcess[str]:
    """``python -m MODULE ...`` (``argv``) forked from a warm server, output captured.

    Calls whose start-up variables (``STARTUP_PREFIXES``: PYTHONPATH, OMP_NUM_THREADS, ...)
    differ get a server of their own, started with them; any other variable (MTL_HOME, ...)
    is applied in the child. ``MTL_TEST_FRESH_CLI=1`` starts a fresh interpreter instead.
    """
    if os.environ.get("MTL_TEST_FRESH_CLI") == "1":
        return run_fresh(argv, env, cwd, timeout)
    key = server_key(env)
    server = _cli_servers.get(key)
    if server is None or server.proc.poll() is not None:
        server = _cli_servers[key] = CliServer(env)
    return server.run(argv, env, cwd, timeout)


def run_cli(
    *args: str, home: Path | None = None, timeout: float = 180, fresh: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m mtl ARGS`` in a real subprocess and capture its output.

    The process is forked from a warm interpreter (``tests/cli_server.py``) that already
    imported the heavy libraries; ``fresh=True`` (or ``MTL_TEST_FRESH_CLI=1`` for all calls)
    starts a new interpreter instead, as a user's shell does.
    """
    if fresh:
        return _run_python(["-m", "mtl", *args], home, timeout)
    return run_module(["-m", "mtl", *args], cli_env(home), ROOT, timeout)


def cli_json(*args: str, home: Path | None = None, timeout: float = 180) -> Any:
    """The report ``python -m mtl ARGS --json`` prints, after checking that it exited 0."""
    result = run_cli(*args, "--json", home=home, timeout=timeout)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def run_python(
    code: str, home: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``python -c CODE`` in a real subprocess (as ``run_cli`` does) and capture its output."""
    return _run_python(["-c", code], home, timeout)


def python_output(code: str, home: Path | None = None, timeout: float = 120) -> str:
    """What ``python -c CODE`` prints (stripped), after checking that it exited 0."""
    result = run_python(code, home, timeout)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def config_error(data: Any) -> str:
    """The one-line ConfigError message for config ``data``; fails the test if it is accepted."""
    from mtl.config import ConfigError, ExperimentConfig

    with pytest.raises(ConfigError) as info:
        ExperimentConfig.from_dict(data)
    message = str(info.value)
    assert "\n" not in message
    return message


def assert_user_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    """The CLI refused a user error: exit 2, one ``error:`` line holding ``fragments``, no traceback."""
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
