"""Console output shared by the CLI commands."""

from __future__ import annotations

import time
from contextlib import contextmanager

from rich.console import Console
from rich.markup import escape

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def say(line: str) -> None:
    """Print data (no rich markup: catalog text may contain brackets)."""
    out.print(line, markup=False, highlight=False)


@contextmanager
def _status(message: str):
    """A spinner whose text follows the library's progress messages."""
    t0 = time.perf_counter()
    with err.status(message) as st:

        def update(msg: str) -> None:
            st.update(f"{escape(message)}  [dim]{escape(msg)}[/dim]")
            err.print(f"  [dim]{time.perf_counter() - t0:6.1f}s[/dim] " + escape(msg), highlight=False)

        yield update
