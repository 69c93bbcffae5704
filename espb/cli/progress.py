"""The progress reporter of the command-line tools: rich progress bars on a terminal, and one
plain, parseable line per step where output goes to a file or a batch scheduler's log
(docs/training.md, "Progress in a log file"):

    progress task=meta-epochs done=12 total=46 elapsed_s=65 remaining_s=184 | 2008-03-01 acc 0.62 cum 0.581

Fields before ``|`` are ``key=value`` pairs; after it, the step's own text. ``remaining_s`` is
the elapsed time per step so far times the steps left (absent before the first step).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from espb.progress import Reporter

#: above this many steps, a plain reporter writes a line per percent instead of per step
MAX_LINES = 1000


def progress_line(task: str, done: int, total: int, elapsed: float, text: str = "") -> str:
    """One plain progress line (the format above)."""
    parts = [
        f"task={task.replace(' ', '-')}",
        f"done={done}",
        f"total={total}",
        f"elapsed_s={elapsed:.0f}",
    ]
    if done > 0 and total >= done:
        parts.append(f"remaining_s={elapsed / done * (total - done):.0f}")
    return "progress " + " ".join(parts) + (f" | {text}" if text else "")


def plain_reporter(write: Callable[[str], None]) -> Reporter:
    """A reporter writing messages and progress as plain lines through ``write``."""
    started: dict[str, float] = {}
    last: dict[str, int] = {}

    def bar(name, done, total, text):
        t0 = started.setdefault(name, time.monotonic())
        step = 1 if total <= MAX_LINES else max(total // 100, 1)
        if done == last.get(name) or (done % step and done != total):
            return
        last[name] = done
        write(progress_line(name, done, total, time.monotonic() - t0, text))

    return Reporter(say=write, bar=bar)


def console_reporter(show_progress: bool = True, stream=None):
    """``(reporter, progress)``: on a terminal, a :class:`Reporter` printing to stderr with rich
    bars and the rich ``Progress`` to stop when the work ends; elsewhere (a log file, a pipe), a
    plain reporter (``progress`` is then a stand-in with ``stop()``)."""
    stream = stream or sys.stderr
    if not stream.isatty():

        def write(line: str) -> None:
            print(line, file=stream, flush=True)

        rep = plain_reporter(write)
        if not show_progress:
            rep = Reporter(say=write)
        return rep, _NoProgress()
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    console = Console(file=stream, soft_wrap=True)
    progress = Progress(
        TextColumn("{task.description:<16}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[text]}"),
        console=console,
        disable=not show_progress,
        transient=False,
    )
    tasks: dict[str, int] = {}

    def bar(name, done, total, text):
        if name not in tasks:
            if not progress.live.is_started:
                progress.start()
            tasks[name] = progress.add_task(name, total=total, text="")
        progress.update(tasks[name], completed=done, total=total, text=text)

    def say(line):
        console.print(line, highlight=False, markup=False)

    return Reporter(say=say, bar=bar), progress


class _NoProgress:
    def stop(self) -> None:
        return None
