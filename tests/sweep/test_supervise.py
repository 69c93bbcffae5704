"""Child processes and stop signals of both sweep paths (espb.sweep.supervise), on tiny Python
children: each child in its own process group, a stop forwarded as SIGTERM, SIGKILL for a child
that outlives the grace period, and the rule for a loopback tracking server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from espb.sweep.supervise import interrupts, run_children, tracking_for_parallel

#: a child that records its process group, then exits 130 on SIGTERM (``trap``) or ignores it
CHILD = textwrap.dedent(
    """
    import os, signal, sys, time
    name, mode = sys.argv[1], sys.argv[2]
    def on_term(signum, frame):
        open(name + ".term", "w").write("1")
        sys.exit(130)
    signal.signal(signal.SIGTERM, on_term if mode == "trap" else signal.SIG_IGN)
    open(name + ".start", "w").write(f"{os.getpid()} {os.getpgid(0)}")
    time.sleep(120)
    """
)
#: a parent that runs the two children under run_children and prints what it returned
PARENT = textwrap.dedent(
    """
    import json, sys
    from espb.sweep.supervise import run_children
    child, d = sys.argv[1], sys.argv[2]
    cmds = [[sys.executable, child, f"{d}/a", "trap"], [sys.executable, child, f"{d}/b", "ignore"]]
    got = run_children(cmds, term_wait=1.0, kill_wait=5.0, on_interrupt=lambda: print("stopping"))
    print(json.dumps(got))
    """
)


def test_children_run_to_their_end() -> None:
    cmds = [[sys.executable, "-c", "pass"], [sys.executable, "-c", "raise SystemExit(3)"]]
    assert run_children(cmds) == (False, [0, 3])


def test_a_stop_reaches_every_child_group_and_a_stubborn_one_is_killed(tmp_path: Path) -> None:
    child, parent = tmp_path / "child.py", tmp_path / "parent.py"
    child.write_text(CHILD)
    parent.write_text(PARENT)
    proc = subprocess.Popen(
        [sys.executable, str(parent), str(child), str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    t0 = time.monotonic()
    while not ((tmp_path / "a.start").exists() and (tmp_path / "b.start").exists()):
        assert proc.poll() is None and time.monotonic() - t0 < 60
        time.sleep(0.1)
    os.kill(proc.pid, signal.SIGTERM)  # the parent only: the children are in their own groups
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    interrupted, rcs = json.loads(out.splitlines()[-1])
    assert interrupted and "stopping" in out
    assert rcs == [130, -signal.SIGKILL]  # a: stopped by the forwarded SIGTERM; b: killed
    assert (tmp_path / "a.term").exists()
    for name in ("a", "b"):
        pid, pgid = map(int, (tmp_path / f"{name}.start").read_text().split())
        assert pgid == pid != proc.pid  # its own process group, not the parent's (a session)
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


#: a group leader (as the Hydra process of a multirun) that starts a worker in its own process
#: group (as a loky worker) and exits at once on SIGTERM; the worker cleans up for ``cleanup``
#: s on SIGTERM (as a job that ends its MLflow run) or ignores it (``cleanup`` < 0)
LEADER = textwrap.dedent(
    """
    import os, signal, subprocess, sys, time
    d, cleanup = sys.argv[1], float(sys.argv[2])
    worker = subprocess.Popen([sys.executable, "-c", WORKER, d, str(cleanup)])
    while not os.path.exists(d + "/w.start"):
        time.sleep(0.05)
    signal.signal(signal.SIGTERM, lambda *a: os._exit(130))
    open(d + "/l.start", "w").write("1")
    time.sleep(120)
    """
).replace(
    "WORKER",
    repr(
        textwrap.dedent(
            """
            import os, signal, sys, time
            d, cleanup = sys.argv[1], float(sys.argv[2])
            def on_term(signum, frame):
                time.sleep(cleanup)
                open(d + "/w.cleaned", "w").write("1")
                sys.exit(0)
            signal.signal(signal.SIGTERM, on_term if cleanup >= 0 else signal.SIG_IGN)
            open(d + "/w.start", "w").write(str(os.getpid()))
            time.sleep(120)
            """
        )
    ),
)


@pytest.mark.parametrize("cleanup", [1.5, -1.0], ids=["cleans-up", "ignores-sigterm"])
def test_a_stop_waits_for_the_whole_group_not_only_its_leader(
    tmp_path: Path, cleanup: float
) -> None:
    """A group's leader can exit before the processes it started: the stop waits (within the
    grace period) until no member of the group runs - so a job's clean-up reaches the tracking
    server before the sweep stops it - and kills what is left after it. Fails on a stop that
    waits for the leader only (the worker outlives ``run_children``)."""
    from espb.signals import _running_members, stop_groups

    leader = tmp_path / "leader.py"
    leader.write_text(LEADER)
    proc = subprocess.Popen(
        [sys.executable, str(leader), str(tmp_path), str(cleanup)], start_new_session=True
    )
    try:
        t0 = time.monotonic()
        while not (tmp_path / "l.start").exists():
            assert proc.poll() is None and time.monotonic() - t0 < 60
            time.sleep(0.05)
        t0 = time.monotonic()
        stop_groups([proc], term_wait=6.0, kill_wait=5.0)
        took = time.monotonic() - t0
        assert proc.returncode == 130  # the leader exited on the SIGTERM at once
        # the worker is not running any more when the stop returns (a zombie at most, until
        # the system reaps the orphan)
        assert _running_members(proc.pid) == 0
        if cleanup >= 0:
            assert (tmp_path / "w.cleaned").exists()  # its clean-up ran to its end
            assert cleanup * 0.9 <= took < 6.0
        else:
            assert not (tmp_path / "w.cleaned").exists()
            assert took >= 6.0  # killed only once the grace period was over
    finally:  # nothing left behind, whatever failed
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.poll()


def test_interrupts_turn_sigterm_into_keyboard_interrupt() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt), interrupts():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)
    assert signal.getsignal(signal.SIGTERM) is before


def test_a_server_only_for_parallel_jobs_without_a_tracking_uri(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    with tracking_for_parallel(False, None, tmp_path, log) as uri:
        assert uri is None
    with tracking_for_parallel(True, "http://tracking:5000", tmp_path, log) as uri:
        assert uri is None  # the jobs log to the given store themselves
    assert not log.exists()


def test_jobs_behind_the_loopback_server_print_links_to_the_lasting_ui(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While a sweep's jobs log through its loopback server (which stops with the sweep), the
    links they print point at the UI of the store (``make ui``), not at that server."""
    from contextlib import contextmanager

    import espb.sweep.server as server
    from espb.tracking import LOCAL_UI, run_url, ui_base

    @contextmanager
    def fake_server(*a, **k):
        yield "http://127.0.0.1:43210"

    monkeypatch.setattr(server, "tracking_server", fake_server)
    monkeypatch.delenv("ESPB_UI_BASE", raising=False)
    with tracking_for_parallel(True, None, tmp_path, tmp_path / "s.log", say=lambda m: None) as uri:
        assert uri == "http://127.0.0.1:43210"
        assert ui_base(uri) == LOCAL_UI
        assert run_url(ui_base(uri), "1", "r").startswith(f"{LOCAL_UI}/#/")
    assert "ESPB_UI_BASE" not in os.environ
    assert ui_base("http://127.0.0.1:43210") == "http://127.0.0.1:43210"
