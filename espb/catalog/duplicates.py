"""One event id, several rows: identical copies are dropped, differing versions resolved.

Overlapping downloads repeat events; revised catalogs repeat an id with new values (a relocated
origin, a revised magnitude). espb never keeps two rows of one id silently:

- rows with the same id *and* the same values (origin, depth, event type, every magnitude) are
  copies: all but the first are dropped, counted as ``duplicate_id``;
- rows with the same id and *different* values are versions of one event. ``duplicate_ids``
  chooses: ``newest`` (default) keeps the version with the latest ``updated`` time where the
  source gives one (ComCat's ``updated`` column; ``--map updated=COL`` for csv), else the last
  in the file (later rows of an appended download are newer); ``first`` / ``last`` by file
  order; ``error`` stops with examples; ``keep`` keeps all (counted as a flag). The versions
  not kept are counted as ``superseded``, with examples naming the id and what differed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from espb.catalog.report import DropReport
from espb.errors import CatalogError

_FIELDS = ("time", "latitude", "longitude", "depth", "event_type")
_N_EXAMPLES = 5


def _frame(ev: pd.DataFrame, mags: pd.DataFrame, rows: np.ndarray) -> pd.DataFrame:
    """The rows' ids, values and a signature of all their magnitudes."""
    f = pd.DataFrame(
        {
            "row": rows,
            "event_id": ev["event_id"].astype(str).to_numpy()[rows],
            "time": pd.DatetimeIndex(ev["time"]).asi8[rows],
            "latitude": ev["latitude"].to_numpy(dtype=float)[rows],
            "longitude": ev["longitude"].to_numpy(dtype=float)[rows],
            "depth": ev["depth"].to_numpy(dtype=float)[rows],
            "event_type": ev["event_type"].astype(str).to_numpy()[rows]
            if "event_type" in ev
            else "",
        }
    )
    m = mags[mags["row"].isin(rows)]
    sig = (
        (m["mag_type"].astype(str) + "|" + m["author"].astype(str) + "|" + m["mag"].map(repr))
        .groupby(m["row"].to_numpy())
        .agg(lambda s: ";".join(sorted(s)))
    )
    f["mags"] = f["row"].map(sig).fillna("")
    f["updated"] = (
        pd.DatetimeIndex(ev["updated"]).asi8[rows] if "updated" in ev else np.iinfo(np.int64).min
    )
    return f


def _differs(g: pd.DataFrame) -> str:
    cols = [c for c in (*_FIELDS, "mags") if g[c].nunique(dropna=False) > 1]
    return ", ".join("magnitudes" if c == "mags" else c for c in cols)


def _keepers(v: pd.DataFrame, policy: str) -> np.ndarray:
    """The row kept for each id (vectorised): first / last in the file, or the newest."""
    if policy == "first":
        return v.groupby("event_id", sort=False)["row"].min().to_numpy()
    if policy == "last":
        return v.groupby("event_id", sort=False)["row"].max().to_numpy()
    order = v.sort_values(["event_id", "updated", "row"], kind="stable")
    return order.groupby("event_id", sort=False)["row"].last().to_numpy()


def resolve_duplicate_ids(
    ev: pd.DataFrame,
    mags: pd.DataFrame,
    alive: np.ndarray,
    policy: str,
    report: DropReport,
    lines: np.ndarray,
    path: Path | None = None,
) -> np.ndarray:
    """Drop copies and resolve versions of repeated event ids among the ``alive`` rows.

    Returns the new ``alive`` mask; counts go to ``report`` (see the module docstring).
    """
    ids = ev["event_id"].astype(str).to_numpy()
    live = np.flatnonzero(alive)
    dup = pd.Series(ids[live]).duplicated(keep=False).to_numpy()
    if not dup.any():
        return alive
    f = _frame(ev, mags, live[dup])
    copy = f.duplicated(subset=["event_id", *_FIELDS, "mags"], keep="first").to_numpy()
    alive = alive.copy()
    alive[f["row"].to_numpy()[copy]] = False
    report.add("duplicate_id", int(copy.sum()))
    v = f[~copy]
    v = v[v["event_id"].duplicated(keep=False)]
    if not len(v):
        return alive
    n_ids = int(v["event_id"].nunique())
    first_ids = pd.unique(v["event_id"])[:_N_EXAMPLES]
    groups = [(e, v[v["event_id"] == e]) for e in first_ids]
    examples = [
        f"{eid}: {len(g)} versions (lines {', '.join(str(lines[r]) for r in g['row'][:3])}) "
        f"differ in {_differs(g)}"
        for eid, g in groups
    ]
    if policy == "error":
        raise CatalogError(
            path,
            f"{n_ids:,} event ids appear more than once with different values, e.g. "
            + "; ".join(examples),
            "choose which version to keep: --duplicate-ids newest (latest 'updated', else last "
            "in the file) | first | last, or keep them all with --duplicate-ids keep",
        )
    if policy == "keep":
        report.flag("duplicate_id_kept", {"ids with differing versions": n_ids})
        report.note("event ids with differing versions, all kept: " + "; ".join(examples))
        return alive
    keep = _keepers(v, policy)
    drop = np.setdiff1d(v["row"].to_numpy(), keep)
    alive[drop] = False
    kept_of = dict(
        zip(v.loc[v["row"].isin(keep), "event_id"], v.loc[v["row"].isin(keep), "row"], strict=False)
    )
    detail = {
        f"{ex}; kept line {lines[kept_of[e]]}": len(g) - 1
        for ex, (e, g) in zip(examples, groups, strict=True)
    }
    rest = len(drop) - sum(detail.values())
    if rest:
        detail["(other ids)"] = rest
    report.add("superseded", len(drop), detail)
    rule = {
        "newest": "the newest version (latest 'updated' time, else the last in the file)",
        "first": "the first version in the file",
        "last": "the last version in the file",
    }[policy]
    report.note(f"{n_ids:,} event ids had differing versions; kept {rule} (--duplicate-ids)")
    return alive


__all__ = ["resolve_duplicate_ids"]
