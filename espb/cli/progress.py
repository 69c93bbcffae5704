"""The progress reporter of the command-line tools: rich progress bars on a terminal."""

from __future__ import annotations

from espb.progress import Reporter


def console_reporter(show_progress: bool = True):
    """``(reporter, progress)``: a :class:`Reporter` printing to stderr with rich bars, and the
    rich ``Progress`` to stop when the work ends."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    console = Console(stderr=True, soft_wrap=True)
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
