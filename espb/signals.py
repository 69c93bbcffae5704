"""Stop signals and process groups: the one place that handles them (docs/architecture.md).

- :func:`interrupts`: stop signals (SIGINT, SIGTERM, or those given) raise ``KeyboardInterrupt``
  in the main thread, so a stop by a terminal (Ctrl-C), ``kill`` or a batch system runs the same
  clean-up as Ctrl-C; :func:`signals_ignored`: they are ignored while a clean-up runs.
- :func:`terminate_groups` / :func:`stop_groups`: stop process groups: SIGTERM to each, wait
  for them (all together) up to a grace period, then SIGKILL those still running;
  :func:`group_alive` probes one, :func:`group_gone_within` waits for one to end.
- :func:`die_with_parent`: a child started with it is killed when its parent dies.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

#: the signals that stop a command: Ctrl-C and ``kill`` / a batch system's stop
STOP_SIGNALS: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def interrupts(signals: Sequence[signal.Signals] = STOP_SIGNALS) -> Iterator[None]:
    """Each of ``signals`` raises ``KeyboardInterrupt`` while in this context (main thread only;
    elsewhere nothing changes). Explicit handlers: a shell's background job starts with SIGINT
    ignored, and SIGTERM would otherwise end Python without its clean-up."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    old = {s: signal.signal(s, handler) for s in signals}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


@contextmanager
def signals_ignored(signals: Sequence[signal.Signals] = STOP_SIGNALS) -> Iterator[None]:
    """``signals`` ignored while in this context (main thread only): a clean-up runs to its end."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = {s: signal.signal(s, signal.SIG_IGN) for s in signals}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def die_with_parent() -> None:
    """In a child before ``exec`` (``preexec_fn``): SIGKILL it when its parent dies (Linux
    ``prctl(PR_SET_PDEATHSIG)``; elsewhere nothing). What the child started itself is stopped
    by the next owner of the sweep (:mod:`espb.sweep.owner`)."""
    import ctypes
    import sys

    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG


def signal_group(pgid: int, sig: signal.Signals) -> None:
    """``sig`` to process group ``pgid``; nothing if the group is gone."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


def group_alive(pgid: int) -> bool:
    """Whether process group ``pgid`` has a member we may signal (a probe: signal 0) that is
    still running: on Linux, members that have exited but are not reaped yet (zombies, e.g.
    orphans of a container whose init does not reap) do not count (``/proc/<pid>/stat``)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's group with that number: not ours
        return False
    live = _running_members(pgid)
    return True if live is None else live > 0


def _running_members(pgid: int) -> int | None:
    """How many processes of group ``pgid`` are not zombies (Linux ``/proc``); None where
    ``/proc`` cannot say."""
    proc = "/proc"
    if not os.path.isdir(os.path.join(proc, "self")):
        return None
    n = 0
    for name in os.listdir(proc):
        if not name.isdigit():
            continue
        try:
            with open(os.path.join(proc, name, "stat"), "rb") as f:
                stat = f.read()
        except OSError:  # exited meanwhile, or not ours to read
            continue
        # pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses, so split after
        # its last ')'
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) >= 3 and int(fields[2]) == pgid and fields[0] not in (b"Z", b"X"):
            n += 1
    return n


def group_gone_within(pgid: int, seconds: float) -> bool:
    """Whether process group ``pgid`` has no running member within ``seconds`` (polled)."""
    deadline = time.monotonic() + seconds
    while group_alive(pgid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
    return True


def terminate_groups(
    pgids: Sequence[int],
    ended: Callable[[int, float], bool],
    term_wait: float = 30.0,
    after_kill: Callable[[int], None] | None = None,
) -> None:
    """Stop the process groups ``pgids``: SIGTERM to each (``term_wait`` 0: none), up to
    ``term_wait`` s for them all together - ``ended(pgid, seconds_left)`` waits for one and says
    whether it ended - then SIGKILL to each group that did not, and ``after_kill(pgid)``."""
    if term_wait > 0:
        for g in pgids:
            signal_group(g, signal.SIGTERM)
    deadline = time.monotonic() + term_wait
    for g in pgids:
        if not ended(g, max(deadline - time.monotonic(), 0.0)):
            signal_group(g, signal.SIGKILL)
            if after_kill is not None:
                after_kill(g)


def stop_groups(
    procs: Sequence[subprocess.Popen],
    term_wait: float = 30.0,
    kill_wait: float = 10.0,
    running_only: bool = True,
) -> None:
    """Stop the process groups led by ``procs`` (each started with ``start_new_session``; by
    default only those still running): SIGTERM to each group, up to ``term_wait`` s for each
    group to end (all together) - its leader exited *and* no other member running, since a
    leader can exit before the processes it started (a joblib/loky worker still cleaning up a
    job after the Hydra process ended) - then SIGKILL to the groups that did not, and up to
    ``kill_wait`` s for their leader (``term_wait`` 0: SIGKILL at once)."""
    leaders = {p.pid: p for p in procs if not running_only or p.poll() is None}

    def ended(pgid: int, left: float) -> bool:
        deadline = time.monotonic() + left
        try:
            leaders[pgid].wait(timeout=left)
        except subprocess.TimeoutExpired:
            return False
        return group_gone_within(pgid, max(deadline - time.monotonic(), 0.0))

    def reap(pgid: int) -> None:
        try:
            leaders[pgid].wait(timeout=kill_wait)
        except subprocess.TimeoutExpired:
            pass  # unkillable (uninterruptible I/O): its status stays None

    terminate_groups(list(leaders), ended, term_wait, reap)
