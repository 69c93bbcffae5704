"""Where long work reports progress: ``say(line)`` for messages and ``bar(name, done, total,
text)`` for progress. Library code takes a :class:`Reporter`; the command-line tools pass one
that draws bars on a terminal and writes plain lines to a log (espb.cli.progress)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


def _no_bar(name: str, done: int, total: int, text: str) -> None:
    return None


@dataclass
class Reporter:
    """``say(line)`` and ``bar(name, done, total, text)``; the default prints lines, no bars."""

    say: Callable[[str], None] = print
    bar: Callable[[str, int, int, str], None] = _no_bar


def quiet() -> Reporter:
    """A reporter that drops everything (parallel workers, tests)."""
    return Reporter(say=lambda line: None)
