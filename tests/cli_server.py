"""A fork server for the tests' ``python -m mtl`` calls (used by ``conftest.run_cli``).

A fresh interpreter spends 1-3 s importing numpy, pandas, scikit-learn and torch before the
CLI does anything, and the suite starts a few hundred of them. This server imports those
third-party libraries once (never ``mtl``: its modules are imported fresh by each call) and
then, per request, forks a child that runs ``python -m mtl ARGV`` as the interpreter would:
its own pid, the request's environment, working directory and argv, stdin/stdout/stderr on
the given files, ``sys.path[0]`` set to the working directory, exit code from ``sys.exit`` (or 1
with the traceback on stderr after an uncaught exception), atexit handlers and non-daemon
threads finished before it exits.

Protocol, one connection per call on the Unix socket given as ``argv[1]``: the client sends one
JSON line ``{"argv", "env", "cwd", "stdin", "stdout", "stderr"}``; the server answers
``{"pid": N}`` once the child exists and ``{"returncode": N}`` when it ended (``-signal`` if
killed). The server prints ``ready`` when it listens and exits when its stdin closes (the test
process ended). It waits for its handlers, so their CPU time counts for whoever started it.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import runpy
import select
import socket
import sys
import threading
import traceback
from typing import Any

PRELOADED = (
    "numpy", "pandas", "yaml", "pydantic", "PIL.Image", "sklearn.compose", "sklearn.impute",
    "sklearn.preprocessing", "torch",
)  # fmt: skip
"""Third-party modules every ``mtl`` command that trains imports (none of them read MTL_*)."""


def _exit_code(error: SystemExit) -> int:
    """The process exit code the interpreter derives from ``SystemExit``."""
    code = error.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def _flush() -> int:
    """Flush stdout and stderr as the interpreter does at exit: 120 if that failed."""
    failed = False
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            failed = True
    return 120 if failed else 0


def _run_cli(request: dict[str, Any]) -> None:
    """In the forked child: become ``python ARGV`` for ``request``, then exit (never returns)."""
    code = 1
    try:
        for fd, (path, flags) in enumerate(
            [
                (request["stdin"], os.O_RDONLY),
                (request["stdout"], os.O_WRONLY | os.O_TRUNC | os.O_CREAT),
                (request["stderr"], os.O_WRONLY | os.O_TRUNC | os.O_CREAT),
            ]
        ):
            opened = os.open(path, flags, 0o600)
            os.dup2(opened, fd)
            os.close(opened)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        argv = request["argv"]
        if argv[:1] != ["-m"] or len(argv) < 2:
            raise ValueError(f"only `python -m MODULE ...` is served, not {argv!r}")
        sys.argv = [argv[1], *argv[2:]]
        sys.path[0] = os.getcwd()  # what `python -m` puts first
        try:
            runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
            code = 0
        except SystemExit as error:
            code = _exit_code(error)
        except BaseException:
            sys.excepthook(*sys.exc_info())
            code = 1
        threading._shutdown()  # type: ignore[attr-defined]  # joins non-daemon threads
        atexit._run_exitfuncs()
        if _flush():
            code = 120  # as the interpreter does when its final flush fails
    except BaseException:
        traceback.print_exc()
        _flush()
    finally:
        os._exit(code)


def _serve(connection: socket.socket) -> None:
    """In a forked handler: start the call's child, report its pid and then its exit code."""
    stream = connection.makefile("rwb")
    request = json.loads(stream.readline())
    pid = os.fork()
    if pid == 0:
        stream.close()
        connection.close()
        _run_cli(request)
    stream.write(json.dumps({"pid": pid}).encode() + b"\n")
    stream.flush()
    _, status = os.waitpid(pid, 0)
    stream.write(json.dumps({"returncode": os.waitstatus_to_exitcode(status)}).encode() + b"\n")
    stream.flush()


def _reap() -> None:
    """Wait for the handlers that ended (their CPU time then counts for this process tree)."""
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass


def main() -> None:
    for name in PRELOADED:
        __import__(name)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(sys.argv[1])
    listener.listen(16)
    print("ready", flush=True)
    while True:
        readable, _, _ = select.select([listener, sys.stdin], [], [], 1.0)
        _reap()
        if sys.stdin in readable and not os.read(sys.stdin.fileno(), 1):
            return  # the test process is gone
        if listener in readable:
            connection, _ = listener.accept()
            if os.fork() == 0:
                listener.close()
                code = 0
                try:
                    _serve(connection)
                except BaseException:
                    traceback.print_exc()
                    code = 1
                os._exit(code)
            connection.close()


if __name__ == "__main__":
    main()
