"""espb.signals, the one module for stop signals and process groups: TERM, a grace period, then
KILL, for the sweep supervisor's children (leaders we wait for), the tracking server (stopped
even when its leader is gone) and the groups a dead sweep owner left (polled: not our children)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from espb.signals import interrupts, stop_groups
from espb.sweep.owner import stop_orphans

#: a child that exits 130 on SIGTERM (``trap``) or ignores it (``ignore``); prints when ready
CHILD = (
    "import signal, sys, time\n"
    "h = (lambda s, f: sys.exit(130)) if sys.argv[1] == 'trap' else signal.SIG_IGN\n"
    "signal.signal(signal.SIGTERM, h)\n"
    "print('ready', flush=True)\n"
    "time.sleep(120)\n"
)


def _child(mode: str) -> subprocess.Popen:
    p = subprocess.Popen(
        [sys.executable, "-c", CHILD, mode],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert p.stdout is not None and p.stdout.readline() == "ready\n"
    return p


def _gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return False
    except ProcessLookupError:
        return True


def test_stop_groups_terms_then_kills_the_stubborn_group() -> None:
    trap, stubborn = _child("trap"), _child("ignore")
    t0 = time.monotonic()
    stop_groups([trap, stubborn], term_wait=1.0, kill_wait=5.0)
    assert time.monotonic() - t0 < 10
    assert (trap.returncode, stubborn.returncode) == (130, -signal.SIGKILL)


def test_stop_groups_with_term_wait_zero_kills_at_once() -> None:
    p = _child("trap")
    stop_groups([p], term_wait=0.0, kill_wait=5.0)
    assert p.returncode == -signal.SIGKILL


def test_stop_groups_of_an_exited_leader_is_quiet() -> None:
    p = subprocess.Popen([sys.executable, "-c", "pass"], start_new_session=True)
    p.wait()
    stop_groups([p], term_wait=1.0, kill_wait=0.0, running_only=False)  # no error: group gone
    assert p.returncode == 0


def test_stop_orphans_polls_groups_that_are_not_our_children(tmp_path) -> None:
    p = _child("ignore")  # stands for a group a dead owner left behind
    record = {"host": socket.gethostname(), "pid": 1, "since": "then", "groups": [p.pid]}
    said: list[str] = []
    assert stop_orphans(record, said.append, wait=1.0) == [p.pid]
    assert "died and left 1 process group(s)" in said[0]
    p.wait(timeout=10)  # reap it (a zombie still counts as a member of its group)
    assert p.returncode == -signal.SIGKILL and _gone(p.pid)


def test_interrupts_only_the_signals_given() -> None:
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    with interrupts((signal.SIGTERM,)):  # espb-train's: SIGINT is Python's own
        assert signal.getsignal(signal.SIGINT) is before[0]
        with pytest.raises(KeyboardInterrupt, match="signal 15"):
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before
