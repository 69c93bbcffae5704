"""Errors espb raises on bad input.

Every error that a user can cause names *where* (file, line, column or config key), *what*
is wrong, and *how to fix it*, so that a message alone is enough to act on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


class EspbError(Exception):
    """Base class of all errors espb raises on purpose (bad input, bad config)."""


@dataclass
class BadValue:
    """One offending value in an input file."""

    line: int | None
    column: str | None
    value: str
    problem: str

    def describe(self) -> str:
        where = []
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.column is not None:
            where.append(f"column '{self.column}'")
        loc = ", ".join(where)
        return f"{loc}: {self.problem} (value {self.value!r})" if loc else self.problem


@dataclass
class CatalogError(EspbError):
    """A catalog file cannot be read as asked.

    ``path`` names the file, ``problem`` says what is wrong, ``fix`` what would fix it and
    ``bad`` lists offending rows (the first few are shown; ``n_bad`` counts all).
    """

    path: str | Path | None
    problem: str
    fix: str = ""
    bad: list[BadValue] = field(default_factory=list)
    n_bad: int = 0

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        head = f"{self.path}: {self.problem}" if self.path is not None else self.problem
        lines = [head]
        shown = self.bad[:5]
        for b in shown:
            lines.append(f"  - {b.describe()}")
        if self.n_bad > len(shown):
            lines.append(f"  ... and {self.n_bad - len(shown)} more")
        if self.fix:
            lines.append(f"Fix: {self.fix}")
        return "\n".join(lines)


class ConfigError(EspbError):
    """A setting is missing, misspelled or out of range; the message names the key."""
