"""One process per configuration: an exclusive lock on the run folder while a run trains.

The lock is an OS file lock (``flock``) on ``<out_dir>/.locks/<name>/<hash>.lock`` (outside
``runs/``, so a listing of run folders holds run folders only): the kernel

releases it when its holder exits in any way, SIGKILL included, so a killed run never leaves a
stale lock behind. Beside it, ``<hash>.lock.json`` names the holder (pid, host, start time) for
the message a second invocation prints. ``run.on_lock``: ``fail`` (espb-train: exit 2 at once,
naming the holder) or ``wait`` (sweep jobs: wait for the holder, then find the configuration
finished and skip it). On a network file system without working ``flock`` the lock is only as
good as the file system's locking (docs/reliability.md).
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import Timeout, UnixFileLock

from espb.errors import EspbError

ON_LOCK = ("fail", "wait")


def _holder(info: Path) -> str:
    try:
        h = json.loads(info.read_text())
        return f"pid {h['pid']} on {h['host']} since {h['since']}"
    except (OSError, ValueError, KeyError):
        return "another process"


def lock_dir(run_dir: Path) -> Path:
    """``<out_dir>/.locks/<name>/`` for ``<out_dir>/runs/<name>/<hash>``: out of the run listing."""
    return run_dir.parent.parent.parent / ".locks" / run_dir.parent.name


@contextmanager
def run_lock(
    run_dir: Path,
    on_lock: str = "fail",
    say: Callable[[str], None] = print,
    timeout: float = 7 * 86400.0,
) -> Iterator[None]:
    """Hold the configuration's lock for the duration of the block."""
    if on_lock not in ON_LOCK:
        raise EspbError(f"run.on_lock={on_lock!r}; use one of {list(ON_LOCK)}")
    locks = lock_dir(run_dir)
    locks.mkdir(parents=True, exist_ok=True)
    path = locks / f"{run_dir.name}.lock"
    info = locks / f"{run_dir.name}.lock.json"
    lock = UnixFileLock(str(path))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        who = _holder(info)
        if on_lock == "fail":
            raise EspbError(
                f"this configuration (run folder {run_dir}) is being run right now by {who} "
                f"(lock {path}); wait for it to finish, stop it, or set run.on_lock=wait"
            ) from None
        say(f"this configuration is being run by {who}; waiting for it (lock {path})")
        try:
            lock.acquire(timeout=timeout)
        except Timeout:
            raise EspbError(f"waited {timeout:.0f} s for {path} held by {who}") from None
    try:
        since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        info.write_text(
            json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": since})
        )
        yield
    finally:
        info.unlink(missing_ok=True)
        lock.release()
