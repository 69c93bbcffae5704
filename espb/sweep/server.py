"""A loopback MLflow tracking server for parallel jobs (SQLite locks under concurrent writers;
the server serialises them). Used by ``espb sweep run`` and ``espb optuna`` when jobs run in
parallel and no ``tracking.uri`` is given."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from espb.errors import EspbError
from espb.signals import die_with_parent, stop_groups


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _mlflow_exe() -> list[str]:
    exe = Path(sys.executable).with_name("mlflow")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "mlflow"]


def server_command(
    store_uri: str, artifacts_dir: str | Path, host: str, port: int, workers: int = 1
) -> list[str]:
    """``mlflow server`` over ``store_uri`` with artifacts written straight into
    ``artifacts_dir`` (a local folder: the same files ``make ui`` and ``espb report`` read)."""
    return [
        *_mlflow_exe(),
        "server",
        "--backend-store-uri",
        store_uri,
        "--default-artifact-root",
        Path(artifacts_dir).resolve().as_uri(),
        "--no-serve-artifacts",
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]


def wait_healthy(url: str, proc: subprocess.Popen | None = None, timeout: float = 120.0) -> None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if proc is not None and proc.poll() is not None:
            raise EspbError(
                f"the MLflow server exited with status {proc.returncode} before it answered at {url}; "
                "its log is printed above"
            )
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise EspbError(f"the MLflow server did not answer at {url}/health within {timeout:.0f} s")


@contextmanager
def tracking_server(
    store_uri: str,
    artifacts_dir: str | Path,
    host: str = "127.0.0.1",
    port: int | None = None,
    log_path: str | Path | None = None,
    on_start: Callable[[int], None] | None = None,
) -> Iterator[str]:
    """Start ``mlflow server`` on ``host:port`` (a free port if None) in its own process group
    that dies with this process (``on_start(pgid)`` records it), wait until it answers, yield
    its URI, stop it (SIGTERM to its process group) on exit."""
    port = port or free_port(host)
    Path(artifacts_dir).mkdir(parents=True, exist_ok=True)
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL
    # MLflow 3's server also starts a job runner with a dozen worker processes (huey); a
    # tracking server for a sweep needs none of it
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    proc = subprocess.Popen(
        server_command(store_uri, artifacts_dir, host, port),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=die_with_parent,
        env=env,
    )
    if on_start is not None:
        on_start(proc.pid)
    url = f"http://{host}:{port}"

    try:
        wait_healthy(url, proc)
        yield url
    finally:
        stop_groups([proc], term_wait=30.0, kill_wait=0.0, running_only=False)
        if log_path:
            log.close()
