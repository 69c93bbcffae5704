"""The ingest report: every event a catalog loses on its way into the event table, by reason,
plus what was changed or assumed without dropping anything.

Invariant (tested): ``n_input == n_kept + sum(reasons.values())``. Nothing disappears
without being counted here. ``flags`` count events that were kept but altered or assumed
(times rolled over, naive times read in a time zone, depths flipped, magnitudes extrapolated
outside their relation's range, duplicate ids kept); ``notes`` state the assumptions in words
(which relation converted ML, which time zone naive times are in).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: Human-readable labels, in the order the pipeline applies the steps.
REASONS: dict[str, str] = {
    "bad_row": "bad rows skipped (--on-bad-rows skip)",
    "duplicate_id": "same event id and values as an earlier row",
    "superseded": "another version of the same event id was kept (--duplicate-ids)",
    "not_natural": "not a natural earthquake (event type)",
    "before_start": "before the start of the time range",
    "after_end": "after the end of the time range",
    "outside_region": "outside the region box",
    "depth_missing": "no depth",
    "too_deep": "deeper than the depth limit",
    "no_magnitude": "no magnitude at all",
    "no_usable_magnitude": "no magnitude of a usable type",
    "placeholder_magnitude": "placeholder magnitude (--drop-mag / --drop-placeholders)",
    "magnitude_out_of_range": "magnitude outside its relation's range (drop / max_extrapolation)",
    "below_min_mw": "below the minimum magnitude (--min-mw)",
    "below_event_mc": "below the event's own completeness magnitude (mc column)",
    "duplicate": "exact duplicate of an earlier row",
}

#: Things counted but not dropped, in report order.
FLAGS: dict[str, str] = {
    "time_rolled": "times rolled over (kept)",
    "time_zone": "time zones",
    "depth_flipped": "depths given positive-up, sign flipped",
    "negative_depth": "negative depths (above sea level) kept",
    "extrapolated": "magnitudes extrapolated outside their relation's range (kept)",
    "relation": "magnitudes converted to Mw, by type and relation",
    "duplicate_id_kept": "event ids appearing more than once, all versions kept",
}


@dataclass
class DropReport:
    """Counts of dropped events by reason, with optional per-reason breakdowns."""

    n_input: int = 0
    n_kept: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    details: dict[str, dict[str, int]] = field(default_factory=dict)
    flags: dict[str, dict[str, int]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add(self, reason: str, n: int, detail: dict[str, int] | None = None) -> None:
        if reason not in REASONS:
            raise KeyError(f"unknown drop reason {reason!r}")
        if n <= 0:
            return
        self.reasons[reason] = self.reasons.get(reason, 0) + int(n)
        if detail:
            d = self.details.setdefault(reason, {})
            for k, v in detail.items():
                if v:
                    d[str(k)] = d.get(str(k), 0) + int(v)

    def flag(self, kind: str, detail: dict[str, int]) -> None:
        """Count kept-but-altered events under ``kind`` (one of :data:`FLAGS`)."""
        if kind not in FLAGS:
            raise KeyError(f"unknown flag {kind!r}")
        for k, v in detail.items():
            if v:
                d = self.flags.setdefault(kind, {})
                d[str(k)] = d.get(str(k), 0) + int(v)

    def note(self, text: str) -> None:
        """State an assumption or a warning in words (shown after the counts)."""
        if text not in self.notes:
            self.notes.append(text)

    @property
    def n_dropped(self) -> int:
        return sum(self.reasons.values())

    def check(self) -> None:
        """Assert the accounting invariant (a bug, not user error, if it fails)."""
        if self.n_input != self.n_kept + self.n_dropped:
            raise AssertionError(
                f"drop report does not add up: {self.n_input} in, {self.n_kept} kept, "
                f"{self.n_dropped} dropped ({self.reasons})"
            )

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_input": self.n_input,
            "n_kept": self.n_kept,
            "reasons": dict(self.reasons),
            "details": {k: dict(v) for k, v in self.details.items()},
            "flags": {k: dict(v) for k, v in self.flags.items()},
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DropReport:
        return cls(
            n_input=int(d.get("n_input", 0)),
            n_kept=int(d.get("n_kept", 0)),
            reasons={k: int(v) for k, v in d.get("reasons", {}).items()},
            details={
                k: {kk: int(vv) for kk, vv in v.items()} for k, v in d.get("details", {}).items()
            },
            flags={k: {kk: int(vv) for kk, vv in v.items()} for k, v in d.get("flags", {}).items()},
            notes=[str(x) for x in d.get("notes", [])],
        )

    def lines(self) -> list[str]:
        """The report as text lines (used by the CLI and by ``espb catalog info``)."""
        out = [f"input rows      {self.n_input:>12,}"]
        for key in REASONS:
            if key in self.reasons:
                out.append(f"- {REASONS[key]:<58} {self.reasons[key]:>10,}")
                for k, v in sorted(self.details.get(key, {}).items(), key=lambda kv: -kv[1])[:8]:
                    out.append(f"    {k:<56} {v:>10,}")
        out.append(f"kept            {self.n_kept:>12,}")
        for key, label in FLAGS.items():
            if key in self.flags:
                out.append(f"* {label}")
                for k, v in sorted(self.flags[key].items(), key=lambda kv: -kv[1])[:12]:
                    out.append(f"    {k:<56} {v:>10,}")
        out += [f"note: {n}" for n in self.notes]
        return out
