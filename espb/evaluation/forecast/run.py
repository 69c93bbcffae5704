"""``espb forecast RUN``: a finished run's dense forecast scored against the baselines on exactly
the same cell-days, per period, with figures, files and MLflow logging (issue 14,
docs/forecasts.md "Commands").

:func:`evaluate_run` is compute -> result -> figures -> writer -> log:

1. :func:`compute_report` - the run's inputs, its dense time-forward forecast cube
   (:func:`espb.forecast.api.forecast_run`, cached), the baselines on the days the model scores
   (:mod:`.baseline_set`, cached), the targets, and per period (development and test apart)
   every score, curve and pyCSEP test (:func:`.run_period.score_period`) -> :class:`ForecastReport`;
2. :func:`.run_writer.write_report` - tables (CSV), figures (PNG) and one Markdown page under
   ``<run_dir>/forecast/<period>-<snapshot>-<calibration>/``;
3. :func:`.run_log.log_report` - ``forecast/<period>/<forecast>/<score>`` metrics (once) and the
   files and the forecast cube as artifacts under ``forecast/`` of the run's MLflow run.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from espb.errors import EspbError
from espb.evaluation.forecast.baseline_set import baseline_configs, baseline_forecasts, is_synthetic
from espb.evaluation.forecast.run_period import PeriodData, PeriodResult, score_period
from espb.evaluation.forecast.settings import ForecastSettings
from espb.forecast.api import forecast_run, period_days
from espb.forecast.run_inputs import RunInputs, load_run_inputs, read_config
from espb.forecast.snapshots import Schedule, assign_snapshots, read_schedule
from espb.forecast.store import cache_root, store_path
from espb.forecast.targets import Eligible, target_cube


@dataclass
class ForecastReport:
    """What :func:`compute_report` computed for one run and one set of settings."""

    run_dir: Path
    settings: ForecastSettings
    model: str  # the model's name in tables and metric keys
    out_dir: Path  # <run_dir>/forecast/<label>
    periods: dict[str, PeriodResult]
    lat: np.ndarray  # the eligible box's cell centres
    lon: np.ndarray
    target_mag: float
    run_name: str
    config_hash: str
    cube_path: Path  # the cached forecast store
    cube_attrs: dict
    dates: pd.DatetimeIndex  # the date of every grid day index
    notes: list[str] = field(default_factory=list)
    timing: dict[str, float] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)
    logged_to: str | None = None


def run_state(run_dir: Path) -> dict:
    """``state.json`` of a run folder; EspbError when the folder was never trained."""
    p = Path(run_dir) / "state.json"
    if not p.is_file():
        raise EspbError(
            f"{run_dir}: no state.json, so no finished espb-train run; train it first "
            "(espb-train ... writes outputs/runs/<name>/<hash>/)"
        )
    try:
        return json.loads(p.read_text())
    except ValueError as exc:
        raise EspbError(f"{p}: not valid JSON ({exc}); the run folder is damaged") from exc


def _parts(period: str, elig: Eligible, grid, dev_end: str) -> dict[str, np.ndarray]:
    if period != "all":
        return {period: period_days(period, elig, grid, dev_end)}
    d = np.arange(elig.day_lo, elig.n_days, dtype=np.int64)
    end = grid.day_of(dev_end)
    parts = {"dev": d[d <= end], "test": d[d > end]}
    return {k: v for k, v in parts.items() if len(v)}


def _last_trained_day(sched: Schedule) -> int | None:
    """Last day the run's snapshots cover when it stopped early (None when it finished)."""
    if sched.complete or not len(sched.me_segment):
        return None if sched.complete else -1
    return int(sched.bounds[int(sched.me_segment[-1]), 1]) - 1


def covered_parts(s: ForecastSettings, sched: Schedule, parts: dict, grid, notes: list) -> dict:
    """The parts of the period the run's snapshots cover, each with its scored days (a model has
    a score) and the counts of days without a score and in sample; EspbError for a period the
    run did not train through or where no model exists."""
    last = _last_trained_day(sched)
    out = {}
    for name, days in parts.items():
        if last is not None and days[-1] > last:
            upto = "no meta-epoch" if last < 0 else f"through {grid.date(last):%Y-%m-%d}"
            if s.period == "all" and name == "test" and days[0] > last:
                notes.append(f"test period: not trained (the run stopped {upto}); dev only")
                continue
            raise EspbError(
                f"the run is not finished: it trained {upto} ({len(sched.me_segment)} "
                f"meta-epochs), the {name} period runs to {grid.date(int(days[-1])):%Y-%m-%d}; "
                "finish it (espb-train with the same settings resumes it) or choose --period dev"
            )
        a, in_s = assign_snapshots(days, sched, s.snapshot_arg)
        if not (a >= 0).any():
            first = (
                f"{grid.date(int(sched.bounds[sched.me_segment[0], 0])):%Y-%m-%d}"
                if len(sched.me_segment)
                else "nowhere (no meta-epoch)"
            )
            raise EspbError(
                f"no day of the {name} period has a model: the first validation segment starts "
                f"{first}; choose another --period"
            )
        out[name] = (days[a >= 0], int((a < 0).sum()), int(in_s[a >= 0].sum()))
    if not out:
        raise EspbError("no period left to score; choose another --period")
    return out


def _forecast(run_dir, s, parts, kept, grid, cache_dir, inp, say):
    """The dense forecast over the kept parts (the period's name when nothing was dropped)."""
    lo = min(int(v[0][0]) for v in kept.values())
    hi = max(int(v[0][-1]) for v in kept.values())
    same = set(kept) == set(parts)
    arg = s.period if same else (f"{grid.date(lo):%Y-%m-%d}", f"{grid.date(hi):%Y-%m-%d}")
    ds = forecast_run(
        run_dir, arg, s.snapshot_arg, s.calibration_config(), cache_dir=cache_dir, inputs=inp,
        say=say,
    )  # fmt: skip
    d0 = grid.day_of(pd.Timestamp(ds["time"].values[0]))
    return ds, d0


def _score_parts(s, model, kept, ds, d0, base, inp, elig, mag, notes, say):
    """Every kept part of the period scored (:func:`.run_period.score_period`), the model's
    probabilities and the baselines on the eligible box; under ``period=all`` a part without
    a target is left out with a note. Returns (periods, lat, lon)."""
    grid = inp.grid
    rs, cs = slice(elig.row_lo, elig.row_hi + 1), slice(elig.col_lo, elig.col_hi + 1)
    prob = np.asarray(ds["probability"].values, np.float64)[:, rs, cs]
    y_all = target_cube(inp.events, grid, mag)[:, rs, cs]
    lat, lon = grid.lat_centres()[rs], grid.lon_centres()[cs]
    periods, at = {}, 0
    for name, (days, n_unscored, n_in) in kept.items():
        rows = slice(at, at + len(days))
        at += len(days)
        p = {model: prob[days - d0], **{b: v[rows] for b, v in base.items()}}
        data = PeriodData(name, p, y_all[days], days, grid.date(days), lat, lon, mag)
        if s.period == "all" and not data.y.any():
            notes.append(
                f"{name} period ({data.dates[0]:%Y-%m-%d}..{data.dates[-1]:%Y-%m-%d}): no target "
                f"cell-day (Mw >= {mag:g}) on its {len(days)} scored days, not scored"
            )
            continue
        say(f"scoring the {name} period ({len(days)} days)")
        periods[name] = score_period(
            data, s, model, {"n_unscored_days": n_unscored, "n_in_sample_days": n_in}
        )
    if not periods:
        raise EspbError(
            "no period of the run has a target cell-day on the days the model scores: "
            + "; ".join(notes[-len(kept) :])
            + "; nothing to score (a run with a lower samples.eq_min_mag has more targets)"
        )
    return periods, lat, lon


def compute_report(
    run_dir: str | Path,
    settings: ForecastSettings,
    *,
    cache_dir: str | Path | None = None,
    inputs: RunInputs | None = None,
    say: Callable[[str], None] = print,
) -> ForecastReport:
    """Everything :func:`evaluate_run` writes and logs, computed (no file written but the
    caches)."""
    t0 = time.perf_counter()
    s = settings
    s.validate()
    run_dir = Path(run_dir).resolve()
    cfg = read_config(run_dir)
    run_state(run_dir)
    notes: list[str] = []
    inp = inputs or load_run_inputs(run_dir, cfg, say)
    grid = inp.grid
    elig = Eligible.of(grid, int(cfg["samples"]["lookback"]), int(cfg["samples"]["patch"]))
    sched = read_schedule(run_dir, cfg, grid.n_days)
    parts = _parts(s.period, elig, grid, cfg["training"]["dev_end"])
    kept = covered_parts(s, sched, parts, grid, notes)
    t_plan = time.perf_counter()
    ds, d0 = _forecast(run_dir, s, parts, kept, grid, cache_dir, inp, say)
    t_fc = time.perf_counter()
    mag = float(cfg["samples"]["eq_min_mag"])
    names = [b for b in s.baselines if b != "oracle" or is_synthetic(cfg["catalog"])]
    if "oracle" in s.baselines and "oracle" not in names:
        notes.append(
            f"oracle ETAS: left out, the catalog is not synthetic (catalog.path="
            f"{cfg['catalog'].get('path')}); no fitted ETAS is provided"
        )
    union = np.concatenate([v[0] for v in kept.values()])
    confs = baseline_configs(names, s, int(cfg["training"]["l_me"]))
    base, clipped = baseline_forecasts(confs, inp, cfg, elig, union, mag, cache_dir, say)
    notes += [
        f"baseline {b}: {n} values clipped into [1e-12, 1 - 1e-12]" for b, n in clipped.items() if n
    ]
    t_base = time.perf_counter()
    model = s.model_name
    periods, lat, lon = _score_parts(s, model, kept, ds, d0, base, inp, elig, mag, notes, say)
    root = cache_root(cache_dir or cfg.get("cache_dir"))
    cube = store_path(root, run_dir.parent.name, ds.attrs["config_hash"], ds.attrs["forecast_key"])
    t_end = time.perf_counter()
    timing = {
        "inputs_s": t_plan - t0,
        "forecast_s": t_fc - t_plan,
        "baselines_s": t_base - t_fc,
        "scores_s": t_end - t_base,
        "total_s": t_end - t0,
    }
    return ForecastReport(
        run_dir=run_dir,
        settings=s,
        model=model,
        out_dir=run_dir / "forecast" / s.label,
        periods=periods,
        lat=lat,
        lon=lon,
        target_mag=mag,
        run_name=run_dir.parent.name,
        config_hash=str(ds.attrs["config_hash"]),
        cube_path=cube,
        cube_attrs=dict(ds.attrs),
        dates=grid.date(np.arange(grid.n_days)),
        notes=notes,
        timing=timing,
    )


def evaluate_run(
    run_dir: str | Path,
    settings: ForecastSettings,
    *,
    cache_dir: str | Path | None = None,
    inputs: RunInputs | None = None,
    tracker=None,
    tracking_uri: str | None = None,
    say: Callable[[str], None] = print,
) -> ForecastReport:
    """Compute, write and (``settings.log``) log the forecast evaluation of the run in
    ``run_dir``: to ``tracker`` (the finisher's) or to the run's own MLflow run."""
    from espb.evaluation.forecast.run_log import log_report, run_tracker
    from espb.evaluation.forecast.run_writer import write_report

    rep = compute_report(run_dir, settings, cache_dir=cache_dir, inputs=inputs, say=say)
    t0 = time.perf_counter()
    write_report(rep)
    rep.timing["write_s"] = time.perf_counter() - t0
    if settings.log:
        t0 = time.perf_counter()
        log_report(rep, tracker or run_tracker(rep.run_dir, tracking_uri))
        rep.timing["log_s"] = time.perf_counter() - t0
    return rep
