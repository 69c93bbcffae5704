"""One ``espb sweep run`` per sweep, and no orphans: the owner record of a running sweep.

``espb sweep run`` holds an OS file lock (``flock``) on ``<out_dir>/hydra/<name>/.sweep.lock``
while it runs, and writes ``sweep.json`` beside it: its pid and host, and the process groups of
its children (the multirun and its workers, the loopback tracking server). The kernel releases
the lock when the owner dies in any way; its children, each in their own process group, would
live on, so a re-run of the same command would run every configuration twice. Before it starts
anything, the next owner therefore stops the process groups a dead owner left behind on this
host (SIGTERM, then SIGKILL) and says so. A second ``espb sweep run`` while the first is alive
exits 2 naming it. (docs/reliability.md, "Nothing run twice")
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
from espb.safeio import atomic_write
from espb.signals import group_alive, group_gone_within, terminate_groups

Say = Callable[[str], None]


def stop_orphans(record: dict, say: Say, wait: float = 30.0) -> list[int]:
    """Stop the process groups of a dead owner's ``record`` still alive on this host; returns
    the groups it stopped."""
    if record.get("host") != socket.gethostname():
        return []
    groups = [int(g) for g in record.get("groups", []) if group_alive(int(g))]
    if not groups:
        return []
    say(
        f"a previous `espb sweep run` (pid {record.get('pid')}, since {record.get('since')}) "
        f"died and left {len(groups)} process group(s) running ({', '.join(map(str, groups))}); "
        "stopping them so that no configuration runs twice"
    )
    terminate_groups(groups, group_gone_within, wait)
    return groups


class SweepOwner:
    """The running owner of a sweep: :meth:`add_group` records a child's process group."""

    def __init__(self, folder: Path) -> None:
        self.record_path = folder / "sweep.json"
        self.record = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "groups": [],
        }

    def add_group(self, pgid: int) -> None:
        self.record["groups"].append(int(pgid))
        self._write()

    def _write(self) -> None:
        with atomic_write(self.record_path) as tmp:
            tmp.write_text(json.dumps(self.record, indent=1))


@contextmanager
def own_sweep(folder: str | Path, name: str, say: Say = print) -> Iterator[SweepOwner]:
    """Be the one owner of sweep ``name`` (its Hydra folder ``folder``) for the block: refuse
    when a live owner holds it; stop what a dead one left running."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    lock = UnixFileLock(str(folder / ".sweep.lock"))
    owner = SweepOwner(folder)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        try:
            rec = json.loads(owner.record_path.read_text())
            who = f"pid {rec['pid']} on {rec['host']} since {rec['since']}"
        except (OSError, ValueError, KeyError):
            who = "another process"
        raise EspbError(
            f"sweep '{name}' is running already ({who}; lock {folder / '.sweep.lock'}); wait "
            "for it, or stop it (Ctrl-C or kill its pid) and run the command again to resume"
        ) from None
    try:
        if owner.record_path.exists():
            try:
                stop_orphans(json.loads(owner.record_path.read_text()), say)
            except ValueError:  # a torn record names no process
                say(f"note: {owner.record_path} is unreadable; no earlier process group to stop")

        owner._write()
        yield owner
    finally:
        owner.record["groups"] = []
        owner._write()
        lock.release()
