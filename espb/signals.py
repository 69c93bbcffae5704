"""Stop signals and process groups: the one place that handles them (docs/architecture.md).

- :func:`interrupts`: stop signals (SIGINT, SIGTERM, or those given) raise ``KeyboardInterrupt``
  in the main thread, so a stop by a terminal (Ctrl-C), ``kill`` or a batch system runs the same
  clean-up as Ctrl-C; :func:`signals_ignored`: they are ignored while a clean-up runs.
- :func:`terminate_groups` / :func:`stop_groups`: stop process groups: SIGTERM to each, wait
  for them (all together) up to a grace period, then SIGKILL those still running;
  :func:`group_alive` probes one.
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
    """Whether process group ``pgid`` has a member we may signal (a probe: signal 0)."""
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's group with that number: not ours
        return False


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
    default only those still running): SIGTERM to each group, up to ``term_wait`` s for their
    leaders to exit (all together), then SIGKILL to the groups whose leader is still running
    and up to ``kill_wait`` s for it (``term_wait`` 0: SIGKILL at once)."""
    leaders = {p.pid: p for p in procs if not running_only or p.poll() is None}

    def ended(pgid: int, left: float) -> bool:
        try:
            leaders[pgid].wait(timeout=left)
            return True
        except subprocess.TimeoutExpired:
            return False

    def reap(pgid: int) -> None:
        try:
            leaders[pgid].wait(timeout=kill_wait)
        except subprocess.TimeoutExpired:
            pass  # unkillable (uninterruptible I/O): its status stays None

    terminate_groups(list(leaders), ended, term_wait, reap)
