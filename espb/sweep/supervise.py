"""Child processes, stop signals and the tracking store of parallel jobs, for both sweep paths
(``espb sweep run``: the Hydra multirun; ``espb optuna run``: the study's worker processes).

- stop signals: :func:`espb.signals.interrupts` (SIGINT and SIGTERM raise ``KeyboardInterrupt``
  in the main thread, so a stop by a terminal (Ctrl-C), ``kill`` or a batch system runs the same
  clean-up) and :func:`espb.signals.signals_ignored`.
- :func:`run_children`: start commands, each in its own process group, wait for them; on a stop,
  forward SIGTERM to every group, then SIGKILL the groups that outlive the grace period
  (:func:`espb.signals.stop_groups`).
- :func:`tracking_for_parallel`: jobs that run in parallel without a given tracking URI log
  through a loopback MLflow server over the default SQLite store (SQLite locks under concurrent
  writers; the server serialises them).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from espb.signals import die_with_parent, interrupts, signals_ignored, stop_groups

Say = Callable[[str], None]


def run_children(
    cmds: Sequence[Sequence[str]],
    env: Mapping[str, str] | None = None,
    term_wait: float = 30.0,
    kill_wait: float = 10.0,
    on_interrupt: Callable[[], None] | None = None,
    on_start: Callable[[subprocess.Popen], None] | None = None,
) -> tuple[bool, list[int | None]]:
    """Run ``cmds`` at once, each in its own process group (a new session), until all exit.

    Ctrl-C or SIGTERM here: ``on_interrupt()``, then :func:`stop_groups` (SIGTERM to every
    group, SIGKILL after ``term_wait`` s). Any other error: the groups are killed at once and the
    error re-raised. Returns (interrupted, the exit status of each command)."""
    procs: list[subprocess.Popen] = []
    interrupted = False
    with interrupts():
        try:
            for cmd in cmds:
                procs.append(
                    subprocess.Popen(
                        list(cmd),
                        env=dict(env) if env is not None else None,
                        start_new_session=True,
                        preexec_fn=die_with_parent,
                    )
                )
                if on_start is not None:
                    on_start(procs[-1])
            for p in procs:
                p.wait()
        except KeyboardInterrupt:
            interrupted = True
            with signals_ignored():
                if on_interrupt is not None:
                    on_interrupt()
                stop_groups(procs, term_wait, kill_wait)
        except BaseException:
            with signals_ignored():
                stop_groups(procs, 0.0, kill_wait)
            raise
    return interrupted, [p.returncode for p in procs]


@contextmanager
def tracking_for_parallel(
    parallel: bool,
    tracking_uri: str | None,
    out_dir: str | Path,
    log_path: str | Path,
    say: Say = print,
    what: str = "the jobs",
    on_start: Callable[[int], None] | None = None,
) -> Iterator[str | None]:
    """The rule for jobs that log to MLflow at the same time: when ``parallel`` and no
    ``tracking_uri`` is given, start a loopback tracking server over the default store of
    ``out_dir`` (``<out_dir>/mlruns.db``, artifacts in ``<out_dir>/mlartifacts``, its log at
    ``log_path``) and yield its URI, stopping it on exit; otherwise yield None (the jobs log to
    ``tracking_uri`` or their default store themselves)."""
    if not parallel or tracking_uri:
        yield None
        return
    from espb.sweep.server import tracking_server
    from espb.tracking import default_uri, ui_base

    out = Path(out_dir)
    store = default_uri(out)
    Path(log_path).parent.mkdir(parents=True, exist_ok=True)
    with (
        tracking_server(store, out / "mlartifacts", log_path=log_path, on_start=on_start) as uri,
        _ui_base_for_jobs(ui_base(store)),
    ):
        say(f"MLflow tracking server for {what}: {uri} (store {store}; log {log_path})")
        yield uri


@contextmanager
def _ui_base_for_jobs(base: str) -> Iterator[None]:
    """The jobs print links to the UI of the store (``make ui``), not to the loopback server
    that stops with the sweep (``$ESPB_UI_BASE``, read by :func:`espb.tracking.ui_base`)."""
    from espb.tracking_links import UI_BASE_ENV

    old = os.environ.get(UI_BASE_ENV)
    os.environ[UI_BASE_ENV] = base
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(UI_BASE_ENV, None)
        else:
            os.environ[UI_BASE_ENV] = old
