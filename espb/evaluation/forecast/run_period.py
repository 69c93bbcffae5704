"""One period of a run's forecast evaluation, computed: the scores of the model and of every
baseline on the same cell-days (:func:`.table.score_table`), the Molchan trajectories, the
reliability tables, the information gain over time, the map of one day, and pyCSEP's gridded
tests on the chosen windows. Data in, data out (the figures and files are drawn and written by
:mod:`.run_writer`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from espb.errors import EspbError
from espb.evaluation.forecast.alarms import Molchan, molchan
from espb.evaluation.forecast.csep_bridge import export_window
from espb.evaluation.forecast.csep_tests import gridded_tests
from espb.evaluation.forecast.scores import ig_over_time, reliability
from espb.evaluation.forecast.settings import ForecastSettings
from espb.evaluation.forecast.table import score_table


@dataclass
class PeriodResult:
    """The scores of one period (``dev`` or ``test``) over its scored cell-days."""

    name: str
    days: np.ndarray  # grid day indices scored (the model has a score on each)
    first: str
    last: str
    table: pd.DataFrame  # score_table, long
    molchan: dict[str, Molchan]
    reliability: dict[str, pd.DataFrame]
    ig_time: dict[str, pd.DataFrame]
    csep: pd.DataFrame
    map_day: int
    map_prob: np.ndarray  # (rows, cols) the model's probability on the map day
    map_targets: tuple[np.ndarray, np.ndarray]  # (lat, lon) of the map day's target cell-days
    n_targets: int
    n_cell_days: int
    n_unscored_days: int = 0
    n_in_sample_days: int = 0
    notes: list[str] = field(default_factory=list)


@dataclass
class PeriodData:
    """What one period is scored on: ``p`` name -> ``(days, rows, cols)`` probabilities (the
    model first), ``y`` the targets, ``days`` grid day indices, ``dates`` their dates, the
    eligible box's cell centres ``lat``/``lon``, the target magnitude."""

    name: str
    p: dict[str, np.ndarray]
    y: np.ndarray
    days: np.ndarray
    dates: pd.DatetimeIndex
    lat: np.ndarray
    lon: np.ndarray
    target_mag: float


def choose_map_day(y: np.ndarray, days: np.ndarray, dates, wanted: str | None) -> int:
    """Index into ``days`` of the mapped day: ``wanted`` (a date inside the period) or the day
    with the most target cell-days (the earliest of ties)."""
    if wanted is not None:
        hit = np.flatnonzero(dates == pd.Timestamp(wanted))
        if hit.size:
            return int(hit[0])
    return int(np.argmax(y.reshape(len(days), -1).sum(axis=1)))


def csep_window(spec: str, dates: pd.DatetimeIndex, k_map: int) -> tuple[dt.datetime, dt.datetime]:
    """``[start, end)`` of a pyCSEP window: ``map_day``, ``period`` or ``FIRST:LAST`` dates
    (inclusive) clipped to the period."""
    one = pd.Timedelta(days=1)
    if spec == "map_day":
        a, e = dates[k_map], dates[k_map] + one
    elif spec == "period":
        a, e = dates[0], dates[-1] + one
    else:
        lo, hi = (pd.Timestamp(x) for x in spec.split(":"))
        a, e = max(lo, dates[0]), min(hi, dates[-1]) + one
    return a.to_pydatetime(), e.to_pydatetime()


def csep_tests(
    data: PeriodData, windows: Sequence[str], reference: str, k_map: int, n_sim: int, seed: int
) -> tuple[pd.DataFrame, list[str]]:
    """pyCSEP's gridded tests of every forecast on every window (the T-test against
    ``reference``); windows outside the period or without a target are left out and noted."""
    rows, notes = [], []
    for spec in windows:
        a, e = csep_window(spec, data.dates, k_map)
        sel = (data.dates >= a) & (data.dates < e)
        if not sel.any():
            notes.append(f"pyCSEP window {spec}: outside the {data.name} period, left out")
            continue
        if not data.y[sel].any():
            notes.append(f"pyCSEP window {spec} ({a:%Y-%m-%d}..): no target, left out")
            continue
        exported = {}
        for name, p in data.p.items():
            exported[name] = export_window(
                p, data.y.astype(np.int64), data.dates.to_numpy(), data.lat, data.lon,
                start=a, end=e, target_mag=data.target_mag, name=name,
            )  # fmt: skip
        ref_fc = exported[reference][0]
        n_obs = int(data.y[sel].sum())
        if n_obs < 2:
            notes.append(f"pyCSEP window {spec}: {n_obs} target, no paired T-test (needs 2)")
        for name, (fc, cat) in exported.items():
            t = gridded_tests(
                fc,
                cat,
                reference=None if name == reference or n_obs < 2 else ref_fc,
                num_simulations=n_sim,
                seed=seed,
            )
            label = f"{a:%Y-%m-%d}..{(e - dt.timedelta(days=1)):%Y-%m-%d}"
            rows.append(t.assign(window=spec, dates=label, n_days=int(sel.sum())))
    table = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
    return table, notes


def ig_series(data: PeriodData, reference: str) -> dict[str, pd.DataFrame]:
    """Running information gain per target of every forecast over ``reference``."""
    day = np.broadcast_to(data.days[:, None, None], data.y.shape)
    r = data.p[reference]
    return {
        f"{name} vs {reference}": ig_over_time(p, r, data.y, day)
        for name, p in data.p.items()
        if name != reference
    }


def score_period(
    data: PeriodData, s: ForecastSettings, model: str, extra: Mapping[str, int] | None = None
) -> PeriodResult:
    """Every score of ``data`` (:class:`PeriodResult`); EspbError when it has no target."""
    n1 = int(np.count_nonzero(data.y))
    if n1 == 0:
        raise EspbError(
            f"the {data.name} period ({data.dates[0]:%Y-%m-%d}..{data.dates[-1]:%Y-%m-%d}) has "
            f"no target cell-day (Mw >= {data.target_mag:g}) on the {len(data.days)} days the "
            "model scores; choose another --period (or a run with a lower samples.eq_min_mag)"
        )
    day = np.broadcast_to(data.days[:, None, None], data.y.shape)
    notes = []
    if n1 < 2:
        notes.append(
            f"{data.name}: {n1} target cell-day: the paired tests need at least 2, left out"
        )
    table = score_table(
        data.p,
        data.y,
        day,
        reference=s.reference,
        models=[model] if n1 >= 2 else [],
        n_boot=s.n_boot,
        block_days=s.block_days,
        seed=s.seed,
        level=s.level,
    )
    curves = {name: molchan(p, data.y) for name, p in data.p.items()}
    rel = {name: reliability(p, data.y, n_bins=10, strategy="log") for name, p in data.p.items()}
    k = choose_map_day(data.y, data.days, data.dates, s.map_day)
    csep, more = csep_tests(data, s.csep_windows, s.reference, k, s.csep_simulations, s.seed)
    notes += more
    ii, jj = np.nonzero(data.y[k])
    return PeriodResult(
        name=data.name,
        days=data.days,
        first=f"{data.dates[0]:%Y-%m-%d}",
        last=f"{data.dates[-1]:%Y-%m-%d}",
        table=table,
        molchan=curves,
        reliability=rel,
        ig_time=ig_series(data, s.reference),
        csep=csep,
        map_day=int(data.days[k]),
        map_prob=np.asarray(data.p[model][k]),
        map_targets=(data.lat[ii], data.lon[jj]),
        n_targets=n1,
        n_cell_days=int(data.y.size),
        notes=notes,
        **dict(extra or {}),
    )
