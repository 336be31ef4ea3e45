"""Fixtures shared by the Python package's tests: a real vernier-server (and
real workers) from the build tree, each on its own port and database.

The binaries come from $VERNIER_BIN_DIR (CTest sets it to build/bin), else
build/bin beside this checkout.
"""
from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import sys
import time
from typing import Iterator, List, Optional

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
BIN_DIR = pathlib.Path(os.environ.get("VERNIER_BIN_DIR", REPO / "build" / "bin"))


def _wait_for(path: pathlib.Path, proc: subprocess.Popen, what: str, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return path.read_text().strip()
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode} before it was ready")
        time.sleep(0.02)
    raise RuntimeError(f"{what} not ready after {timeout} s")


class Server:
    """A vernier-server process on 127.0.0.1 and an ephemeral port."""

    def __init__(self, workdir: pathlib.Path, extra_args: Optional[List[str]] = None):
        self.workdir = workdir
        self.db = workdir / "vernier.db"
        self.extra_args = list(extra_args or ["--insecure"])
        self.proc: Optional[subprocess.Popen] = None
        self.port: Optional[int] = None
        self.workers: List[subprocess.Popen] = []

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> "Server":
        """Starts the server; a restart keeps the port and the database."""
        port_file = self.workdir / "port"
        port_file.unlink(missing_ok=True)
        listen = f"127.0.0.1:{self.port or 0}"
        log = open(self.workdir / "server.log", "ab")
        self.proc = subprocess.Popen(
            [str(BIN_DIR / "vernier-server"), "--db", str(self.db), "--listen", listen,
             "--port-file", str(port_file), "--lease-seconds", "5", "--heartbeat-seconds", "0.5",
             *self.extra_args],
            stdout=log, stderr=subprocess.STDOUT)
        self.port = int(_wait_for(port_file, self.proc, "vernier-server"))
        return self

    def kill9(self) -> None:
        """Kills the server with SIGKILL (no clean shutdown) and reaps it."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def start_worker(self, slots: int = 1, env: Optional[dict] = None) -> subprocess.Popen:
        """A vernier-worker with `slots` CPU slots; trials inherit `env`."""
        full_env = dict(os.environ, **(env or {}))
        log = open(self.workdir / f"worker{len(self.workers)}.log", "ab")
        worker = subprocess.Popen(
            [str(BIN_DIR / "vernier-worker"), "--server", self.address, "--cpu-slots", str(slots),
             "--work-dir", str(self.workdir / f"work{len(self.workers)}"),
             "--name", f"pytest-{len(self.workers)}", "--drain-seconds", "1"],
            stdout=log, stderr=subprocess.STDOUT, env=full_env)
        self.workers.append(worker)
        return worker

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """Runs the `vernier` CLI against this server."""
        result = subprocess.run([str(BIN_DIR / "vernier"), "--server", self.address, *args],
                                capture_output=True, text=True, timeout=120)
        if check and result.returncode != 0:
            raise AssertionError(f"vernier {' '.join(args)} exited {result.returncode}: "
                                 f"{result.stderr}")
        return result

    def stop(self) -> None:
        for proc in [*self.workers, self.proc]:
            if proc is not None and proc.poll() is None:
                proc.terminate()
        for proc in [*self.workers, self.proc]:
            if proc is None:
                continue
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
def vernier_server(tmp_path: pathlib.Path) -> Iterator[Server]:
    """A fresh insecure vernier-server; stopped (with its workers) afterwards."""
    server = Server(tmp_path).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def python_env() -> dict:
    """Environment under which `python3` imports this checkout's package."""
    path = os.pathsep.join(p for p in [str(REPO / "python"), os.environ.get("PYTHONPATH", "")] if p)
    return {"PYTHONPATH": path}
