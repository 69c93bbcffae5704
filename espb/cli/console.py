"""Console output shared by the CLI commands."""

from __future__ import annotations

import time
from contextlib import contextmanager

from rich.console import Console
from rich.markup import escape

from espb.errors import EspbError

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
            err.print(
                f"  [dim]{time.perf_counter() - t0:6.1f}s[/dim] " + escape(msg), highlight=False
            )

        yield update


def parse_region(spec: str, allow_none: bool = False) -> list[float] | None:
    """``--region LAT_MIN,LAT_MAX,LON_MIN,LON_MAX`` (or ``none`` / ``all`` when allowed)."""
    if allow_none and spec.strip().lower() in ("none", "all", ""):
        return None
    try:
        vals = [float(x) for x in spec.split(",")]
    except ValueError as exc:
        hint = " or 'none'" if allow_none else ""
        raise EspbError(f"--region: {spec!r} is not LAT_MIN,LAT_MAX,LON_MIN,LON_MAX{hint}") from exc
    if len(vals) != 4:
        raise EspbError(f"--region: need 4 numbers LAT_MIN,LAT_MAX,LON_MIN,LON_MAX, got {spec!r}")
    return vals
