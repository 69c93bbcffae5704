"""Before any long work: what a run's settings give on its catalog, which rule removed the
rest, and which setting to change (``espb region check``, the start of ``espb-train`` and of
``espb sweep``; docs/regions.md).

:func:`preflight` needs only the event table and the settings (no cube): the catalog against
the grid's box and days, the grid against the patch (the border rule of paper Section 2.2:
centres ``patch/2`` cells from every border), and the EQ samples. :func:`complete` adds what
the cube decides: the nEQ candidates (exclusion, ``min_mean_events``) and the meta-epoch
schedule (paper Section 3.3). A :class:`Check` holds the counts and its problems; each problem
is a cause and the fix computed for this catalog, and :meth:`Check.raise_if_problems` turns
the first into a :class:`~espb.errors.ConfigError` (exit code 2).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from espb.bvalue.config import CubeConfig
from espb.catalog.region import RegionSpec, presets_covering
from espb.errors import ConfigError
from espb.models.classifier import layout_for
from espb.samples.config import SampleConfig
from espb.samples.labels import Grid, eq_samples

#: events a target magnitude should reach for a suggestion (a few per meta-epoch)
MIN_TARGETS = 20
#: below this share of the catalog's events inside the grid, a problem names the mismatch
MISMATCH_SHARE = 0.5


@dataclass
class Finding:
    """A problem (what is wrong, on this catalog) and the fix (which setting, to what)."""

    problem: str
    fix: str

    def text(self) -> str:
        return f"{self.problem}. Fix: {self.fix}"


@dataclass
class Check:
    """The counts a run's settings give on its catalog, and what stops the run."""

    region: str
    grid: str
    n_events: int = 0
    n_in_period: int = 0
    n_in_box: int = 0
    n_in_both: int = 0
    catalog_box: str = ""
    catalog_days: str = ""
    eq: dict[str, int] = field(default_factory=dict)
    neq: dict[str, Any] = field(default_factory=dict)
    schedule: dict[str, int] = field(default_factory=dict)
    #: cells with b-values (:func:`espb.training.checkcube.cube_cells`)
    cells: dict[str, Any] = field(default_factory=dict)
    #: the completeness magnitude of the events in the grid (seismostats), in words
    mc: str = ""
    problems: list[Finding] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def raise_if_problems(self) -> None:
        if self.problems:
            f = self.problems[0]
            more = (
                f" ({len(self.problems) - 1} more: espb region check)" if self.problems[1:] else ""
            )
            raise ConfigError(f"{self.region}: {f.text()}{more}")

    def lines(self) -> list[str]:
        """The report of ``espb region check``."""
        out = [
            f"region   {_fmt_region(self.region)}",
            f"grid     {self.grid}",
            f"catalog  {self.n_events:,} events in {self.catalog_box}, {self.catalog_days}",
            f"         {self.n_in_box:,} in the grid's box, {self.n_in_period:,} in its days "
            f"(with the b-value window before), {self.n_in_both:,} in both",
        ]
        if self.mc:
            out.append(f"Mc       {self.mc}")
        if self.cells:
            c = self.cells
            out.append(
                f"cells    {c['ever']:,} of {c['cells']:,} get a b-value on some day, "
                f"{c['mean_per_day']:,.0f} on the average day"
            )
        if self.eq:
            e = self.eq
            drops = ", ".join(f"{k} {v:,}" for k, v in e.items() if k.startswith("dropped_") and v)
            out.append(
                f"EQ       {e['n_eq']:,} samples of {e['n_candidates']:,} events with Mw >= "
                f"{e['target']:g}"
                + (f" (removed: {drops.replace('dropped_', '')})" if drops else "")
            )
            if "n_eq_dev" in e:
                out.append(
                    f"         {e['n_eq_dev']:,} in the development period, {e['n_eq_test']:,} "
                    "in the test period"
                )
        if self.neq:
            n = self.neq
            out.append(
                f"nEQ      {n['pool']:,} candidate cell-days of {n['usable']:,} where a block "
                f"fits (removed: excluded by an event of Mw >= {n['m_lim']:g} nearby "
                f"{n['excluded']:,}, block mean below min_mean_events={n['min_mean']:g} "
                f"{n['low_mean']:,})"
            )
        if self.schedule:
            s = self.schedule
            out.append(
                f"schedule {s['segments']} segments, {s['segments_with_eq']} with EQ samples; "
                f"{s['meta_epochs']} meta-epochs ({s['test']} in the test period)"
                + (f"; {s['short']} segments short of nEQ" if s.get("short") else "")
            )
        out += [f"warning: {w}" for w in self.warnings]
        out += [f"PROBLEM: {f.text()}" for f in self.problems]
        out.append("ok: the settings give a trainable run" if self.ok else "not trainable")
        return out


def fmt_box(b) -> str:
    return f"{b[0]:.2f} to {b[1]:.2f} N, {b[2]:.2f} to {b[3]:.2f} E"


def grid_of(cube: CubeConfig) -> Grid:
    """The grid a cube of ``cube`` will have (as :meth:`Grid.from_cube` reads it back)."""
    la0, la1, lo0, lo1 = (float(x) for x in cube.region)
    res = float(cube.resolution)
    nlat, nlon = int(round((la1 - la0) / res)), int(round((lo1 - lo0) / res))
    return Grid(la0, lo0, res, nlat, nlon, cube.start_ts, cube.n_days)


def valid_patches(n_cells: int, lookback: int) -> list[int]:
    """The patches a grid of ``n_cells`` cells (its smaller side) can hold: powers of two
    (each spatial stage of the CNN-TCN halves the patch; :func:`layout_for`) up to it."""
    out, p = [], 2
    while p <= n_cells:
        try:
            layout_for(lookback, p)
            out.append(p)
        except ValueError:
            pass
        p *= 2
    return out


def _region_label(spec: RegionSpec | None) -> str:
    return f"region {spec.name!r}" if spec is not None else "the grid (no region preset)"


def _fmt_region(label: str) -> str:
    return label[len("region ") :].strip("'") if label.startswith("region '") else label


def _coverage(chk: Check, events: pd.DataFrame, cube: CubeConfig) -> np.ndarray:
    lat = events["latitude"].to_numpy(float)
    lon = events["longitude"].to_numpy(float)
    la0, la1, lo0, lo1 = cube.region
    in_box = (lat >= la0) & (lat <= la1) & (lon >= lo0) & (lon <= lo1)
    t = pd.to_datetime(events["time"], utc=True)
    lo_t = cube.start_ts - pd.Timedelta(days=int(cube.dt))
    in_period = ((t >= lo_t) & (t < cube.end_ts + pd.Timedelta(days=1))).to_numpy()
    chk.n_events, chk.n_in_box = len(events), int(in_box.sum())
    chk.n_in_period, chk.n_in_both = int(in_period.sum()), int((in_box & in_period).sum())
    if len(events):
        chk.catalog_box = fmt_box([lat.min(), lat.max(), lon.min(), lon.max()])
        chk.catalog_days = f"{t.min():%Y-%m-%d} to {t.max():%Y-%m-%d}"
    return in_box & in_period


def _mismatch(chk: Check, events: pd.DataFrame, cube: CubeConfig) -> Finding | None:
    """The grid and the catalog are two places or two periods: most events outside."""
    if chk.n_events and chk.n_in_both >= MISMATCH_SHARE * chk.n_events:
        return None
    some = f"only {chk.n_in_both:,}" if chk.n_in_both else "none"
    where = (
        f"{some} of the catalog's {chk.n_events:,} events lie in the grid "
        f"({fmt_box(cube.region)}, {cube.start}..{cube.end}); the catalog's events lie in "
        f"{chk.catalog_box}, {chk.catalog_days}"
    )
    if chk.n_in_box >= MISMATCH_SHARE * chk.n_events:  # the box is right, the dates are not
        fix = (
            f"set the region's dates to the catalog's: region.start / region.end (bvalue.start / "
            f"bvalue.end), e.g. region.start={chk.catalog_days[:10]} "
            f"region.end={chk.catalog_days[-10:]}, or region=auto"
        )
    else:
        names = presets_covering(events)
        pick = f"region={names[0]} (a preset whose box holds them), " if names else ""
        fix = (
            f"choose the catalog's region: {pick}region=auto (derived from the catalog), or "
            "region.box=[LAT_MIN,LAT_MAX,LON_MIN,LON_MAX]"
        )
    return Finding(where, fix)


def _grid_fits(chk: Check, grid: Grid, s: SampleConfig) -> None:
    n = min(grid.nlat, grid.nlon)
    if n >= s.patch:
        return
    ok = valid_patches(n, s.lookback)
    chk.problems.append(
        Finding(
            f"the grid is {grid.nlat} x {grid.nlon} cells ({grid.res:g} deg); a {s.patch}-cell "
            f"patch needs at least {s.patch} x {s.patch} cells ({s.patch * grid.res:g} x "
            f"{s.patch * grid.res:g} deg), since a block's centre keeps {s.half} cells from "
            "every border (paper Section 2.2)",
            f"samples.patch={ok[-1] if ok else 2} (region.patch); the patches this grid holds are "
            f"{ok or 'none'} (powers of two: each spatial stage of the CNN-TCN halves the "
            "patch), or a larger region.box or a finer bvalue.resolution",
        )
    )


def _suggest_target(mw: np.ndarray) -> float | None:
    mw = np.sort(mw[np.isfinite(mw)])[::-1]
    if not len(mw):
        return None
    m = mw[min(MIN_TARGETS, len(mw)) - 1]
    return float(np.floor(m * 10 + 1e-6) / 10)


def _no_eq(chk: Check, events, inside, cube: CubeConfig, s: SampleConfig, grid) -> Finding:
    e = chk.eq
    mm = _mismatch(chk, events, cube)
    if mm is not None:
        return Finding(f"no EQ sample: {mm.problem}", mm.fix)
    if e["n_candidates"] == 0 or e["dropped_outside_grid"] == max(
        e["dropped_outside_grid"], e["dropped_outside_time"], e["dropped_near_border"]
    ):
        mw = events["mw"].to_numpy(float)[inside]
        t = _suggest_target(mw)
        largest = f"{np.nanmax(mw):.1f}" if len(mw) else "none"
        fix = (
            f"a lower target: region.target_mag (samples.eq_min_mag) = {t:g} ({MIN_TARGETS} or "
            f"more events reach it), with samples.m_lim <= it"
            if t is not None
            else "a catalog with events in the grid"
        )
        return Finding(
            f"no EQ sample: {e['n_candidates']:,} events reach Mw >= {s.eq_min_mag:g} and none "
            f"of them lies on a usable centre of the grid (the largest Mw in the grid is "
            f"{largest})",
            fix,
        )
    if e["dropped_near_border"] >= e["dropped_outside_time"]:
        ok = valid_patches(min(grid.nlat, grid.nlon), s.lookback)
        smaller = [p for p in ok if p < s.patch]
        return Finding(
            f"no EQ sample: all {e['dropped_near_border']:,} events of Mw >= {s.eq_min_mag:g} in "
            f"the grid lie within {s.half} cells of its border ({grid.nlat} x {grid.nlon} "
            f"cells; a {s.patch}-cell patch keeps its centre {s.half} cells inside)",
            f"a smaller patch (region.patch / samples.patch; this grid holds {ok}, e.g. "
            f"{smaller[-1] if smaller else ok[0] if ok else 2}) or a larger region.box",
        )
    first = grid.date(np.atleast_1d(s.lookback))[0]
    return Finding(
        f"no EQ sample: the {e['dropped_outside_time']:,} events of Mw >= {s.eq_min_mag:g} lie "
        f"outside the forecast days ({first:%Y-%m-%d}, start + samples.lookback={s.lookback} "
        f"days, to {cube.end})",
        "region.start / region.end covering the catalog's large events, or a shorter "
        "samples.lookback (a power of two)",
    )


def _mc_text(mw: np.ndarray) -> str:
    """The completeness of the grid's events by seismostats' b-value stability, in words."""
    from espb.catalog.quality import estimate_mc

    mc = estimate_mc(mw)
    if mc.mc is None:
        return f"not estimated ({mc.problem})"
    b = f", b {mc.b:.2f}" if mc.b is not None else ""
    return f"{mc.mc:.1f}{b} ({len(mw):,} events in the grid; seismostats b-value stability)"


def preflight(
    events: pd.DataFrame,
    cube: CubeConfig,
    s: SampleConfig,
    spec: RegionSpec | None = None,
    with_mc: bool = False,
) -> Check:
    """The checks that need no cube: catalog against the grid, grid against the patch, the
    lookback against the days, the EQ samples (paper Section 2.2) and the catalog's ingest
    conventions against the region's; ``with_mc``: the completeness of the grid's events too
    (seismostats; ``espb region check``, not the start of every run)."""
    grid = grid_of(cube)
    chk = Check(
        _region_label(spec),
        f"{fmt_box(cube.region)} at {cube.resolution:g} deg = {grid.nlat} x {grid.nlon} cells, "
        f"{cube.start}..{cube.end} ({grid.n_days:,} days); blocks {s.lookback} days x "
        f"{s.patch} x {s.patch} cells",
    )
    inside = _coverage(chk, events, cube)
    if with_mc:  # seismostats over every event in the grid: espb region check only
        chk.mc = _mc_text(events["mw"].to_numpy(float)[inside])
    _grid_fits(chk, grid, s)
    if grid.n_days <= s.lookback:
        chk.problems.append(
            Finding(
                f"the cube has {grid.n_days} days and samples.lookback={s.lookback}: no forecast "
                "day is left",
                "a longer period (region.start / region.end) or a shorter samples.lookback (a "
                "power of two)",
            )
        )
    eq = eq_samples(events, grid, s)
    chk.eq = {
        "target": s.eq_min_mag,
        "n_candidates": int(eq.attrs["n_candidates"]),
        "n_eq": len(eq),
        **{f"dropped_{k}": int(v) for k, v in eq.attrs["dropped"].items()},
    }
    if not len(eq) and not chk.problems:
        chk.problems.append(_no_eq(chk, events, inside, cube, s, grid))
    elif len(eq) and (mm := _mismatch(chk, events, cube)) is not None:
        chk.warnings.append(mm.text())
    if not chk.problems:
        chk.warnings += convention_warnings(events.attrs.get("espb", {}), spec, cube)
    return chk


def convention_warnings(meta: dict, spec: RegionSpec | None, cube: CubeConfig) -> list[str]:
    """Where the table was ingested otherwise than the region says (its metadata)."""
    ing = (meta or {}).get("ingest_config")
    if not ing or spec is None:
        return []
    out = []
    f, m = ing.get("filters", {}), ing.get("magnitudes", {})
    fix = f"re-ingest with espb catalog ingest --region-preset {spec.name}"
    box = f.get("region")
    if box is not None and (
        box[0] > cube.region[0] or box[1] < cube.region[1]
        or box[2] > cube.region[2] or box[3] < cube.region[3]
    ):  # fmt: skip
        out.append(
            f"the table was ingested with the box {fmt_box(box)}, smaller than the grid's "
            f"{fmt_box(cube.region)}: cells beyond it see no events; {fix}"
        )
    want = spec.ingest.ml_relation
    have = (m.get("family_relation") or {}).get("ML")
    if want is not None and have is not None and want != have:
        out.append(f"the table converted ML with '{have}', the region uses '{want}'; {fix}")
    for key, name in (("max_depth_km", "depth limit"), ("min_mw", "minimum Mw")):
        want_v, have_v = getattr(spec.ingest, key), f.get(key)
        if want_v is not None and have_v != want_v:
            out.append(f"the table's {name} is {have_v}, the region's {want_v}; {fix}")
    return out


__all__ = [
    "Check",
    "Finding",
    "convention_warnings",
    "fmt_box",
    "grid_of",
    "preflight",
    "valid_patches",
]
