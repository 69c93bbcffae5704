"""``forecast_run``: the dense, time-forward, calibrated forecast cube of a finished run (what the
``espb forecast RUN`` command calls).

The cube ``forecast(time, lat, lon)`` covers the whole grid (NaN outside the eligible cells, as the
baselines' arrays) and the days of the requested period:

- ``score``: the classifier's sigmoid score (uncalibrated; paper Section 3.2), per cell-day;
- ``probability``: the calibrated probability of at least one target event (``Mw >=
  samples.eq_min_mag``) in the cell on the day (:mod:`espb.forecast.calibration`);
- ``snapshot(time)``: the meta-epoch whose weights scored the day (-1: none, NaN maps);
  ``in_sample(time)``: that model was trained on data from the day's segment or later (only with
  ``snapshot=latest`` or a fixed ``K``); ``prior(time)`` and ``calibration(time)``: the real prior
  and the calibration applied.

Cached by (run, settings) under ``<cache>/forecasts/`` (:mod:`espb.forecast.store`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from espb import __version__
from espb.errors import ConfigError, EspbError
from espb.forecast.calibration import CODES, CalibrationConfig, calibrate, expit, logit
from espb.forecast.engine import Progress, dense_logits
from espb.forecast.folded import fold
from espb.forecast.run_inputs import RunInputs, load_run_inputs, read_config, tune_allocator
from espb.forecast.snapshots import (
    Schedule,
    assign_snapshots,
    load_snapshot,
    read_schedule,
    weights_path,
)
from espb.forecast.store import cache_root, cached, file_digest, forecast_key, store_path
from espb.forecast.targets import Eligible, target_cube

PERIODS = ("test", "dev", "all")


def period_days(period: str | tuple[str, str], elig: Eligible, grid, dev_end: str) -> np.ndarray:
    """Eligible forecast days of ``period``: ``dev`` (up to ``training.dev_end``), ``test``
    (after it), ``all``, or ``(first, last)`` dates (inclusive)."""
    d = np.arange(elig.day_lo, elig.n_days, dtype=np.int64)
    if isinstance(period, tuple | list):
        a, e = (grid.day_of(x) for x in period)
        d = d[(d >= a) & (d <= e)]
    elif period in PERIODS:
        end = grid.day_of(dev_end)

        d = d if period == "all" else d[d <= end] if period == "dev" else d[d > end]
    else:
        raise ConfigError(f"forecast period={period!r}; use test, dev, all or (first, last) dates")
    if not len(d):
        raise EspbError(
            f"forecast period {period!r} has no eligible day (the cube's eligible days are "
            f"{grid.date(elig.day_lo).strftime('%Y-%m-%d')} .. "
            f"{grid.date(elig.n_days - 1).strftime('%Y-%m-%d')}, dev_end {dev_end})"
        )
    return d


@dataclass
class _Job:
    """Everything a forecast is computed from, and its cache key."""

    run_dir: Path
    cfg: dict
    cal: CalibrationConfig
    inp: RunInputs
    elig: Eligible
    sched: Schedule
    days: np.ndarray  # the period's days (output)
    d0: int  # first scored day (earlier than days[0] when the calibration map needs history)
    assign: np.ndarray  # snapshot per scored day
    in_sample: np.ndarray
    used: list[int]
    config_hash: str
    settings: dict
    key: str


def forecast_run(
    run_dir: str | Path,
    period: str | tuple[str, str] = "test",
    snapshot: str | int = "time_forward",
    calibration: CalibrationConfig | None = None,
    *,
    cache_dir: str | Path | None = None,
    inputs: RunInputs | None = None,
    budget_mb: int = 1024,
    refresh: bool = False,
    progress: Progress | None = None,
    say: Callable[[str], None] = print,
) -> xr.Dataset:
    """The forecast cube of the run in ``run_dir`` (cached; ``refresh`` recomputes it).

    ``snapshot``: ``time_forward`` (each day by the snapshot trained before its segment),
    ``latest`` or a meta-epoch index. ``inputs``: catalog, cube and autoencoder, if already loaded
    (else :func:`espb.forecast.run_inputs.load_run_inputs`)."""
    job = _plan(Path(run_dir), period, snapshot, calibration, inputs, say)
    root = cache_root(cache_dir or job.cfg.get("cache_dir"))
    path = store_path(root, job.run_dir.parent.name, job.config_hash, job.key)
    ds, built = cached(
        path, job.key, lambda: _compute(job, budget_mb << 20, progress), refresh, on_wait=say
    )
    say(f"forecast {path.name}: {'computed' if built else 'from cache'}")
    return ds


def _plan(run_dir: Path, period, snapshot, calibration, inputs, say) -> _Job:
    cfg = read_config(run_dir)
    cal = calibration or CalibrationConfig()
    cal.validate()
    inp = inputs or load_run_inputs(run_dir, cfg, say)
    lookback, patch = int(cfg["samples"]["lookback"]), int(cfg["samples"]["patch"])
    elig = Eligible.of(inp.grid, lookback, patch)
    sched = read_schedule(run_dir, cfg, inp.grid.n_days)
    days = period_days(period, elig, inp.grid, cfg["training"]["dev_end"])
    # the dense calibration map needs scores of the days before the period too
    d0 = max(int(days[0]) - cal.dense_history, elig.day_lo)
    assign, in_sample = assign_snapshots(np.arange(d0, int(days[-1]) + 1), sched, snapshot)
    used = sorted(int(k) for k in np.unique(assign[assign >= 0]))
    config_hash = _config_hash(run_dir)
    settings = {
        "period": [str(inp.grid.date(int(days[0])))[:10], str(inp.grid.date(int(days[-1])))[:10]],
        "snapshot": str(snapshot),
        "calibration": cal.key_fields(),
    }
    key = forecast_key(
        {
            "config_hash": config_hash,
            "weights": {k: file_digest(weights_path(run_dir, k)) for k in used},
            "cube": inp.cube_key,
            "autoencoder": inp.ae_key,
            "catalog": inp.catalog_hash,
            "settings": settings,
        }
    )
    return _Job(
        run_dir,
        cfg,
        cal,
        inp,
        elig,
        sched,
        days,
        d0,
        assign,
        in_sample,
        used,
        config_hash,
        settings,
        key,
    )


def _compute(job: _Job, budget: int, progress: Progress | None) -> xr.Dataset:
    """Dense scores (:func:`espb.forecast.engine.dense_logits`), calibration, the Dataset."""
    tune_allocator()
    t0 = time.perf_counter()
    cfg, elig, inp = job.cfg, job.elig, job.inp
    nets = {k: fold(load_snapshot(job.run_dir, k, cfg)) for k in job.used}
    lg, timing = dense_logits(
        nets, job.assign, job.d0, inp.b, elig, inp.autoencoder, budget, progress
    )
    box = (slice(None), slice(elig.row_lo, elig.row_hi + 1), slice(elig.col_lo, elig.col_hi + 1))
    target_mag = float(cfg["samples"]["eq_min_mag"])
    targets = target_cube(inp.events, inp.grid, target_mag)[box]
    cal = job.cal
    val = (
        _validation(job.run_dir, cfg)
        if cal.method in ("isotonic", "logistic") and cal.source == "validation"
        else None
    )
    c = calibrate(lg, job.d0, targets, job.sched.bounds, cal, val)
    timing["total_s"] = time.perf_counter() - t0
    k = int(job.days[0]) - job.d0
    per_day = {
        "snapshot": job.assign[k:],
        "in_sample": job.in_sample[k:],
        "prior": c.prior[k:],
        "calibration": c.code[k:],
    }
    ds = xr.Dataset(
        _variables(
            inp.grid, elig, expit(lg[k:]).astype(np.float32), c.prob[k:], per_day, target_mag
        ),
        coords=_coords(inp.grid, job.days),
    )
    ds.attrs = _attrs(job, target_mag, timing)
    return ds


def _config_hash(run_dir: Path) -> str:
    st = run_dir / "state.json"
    if st.is_file():
        h = json.loads(st.read_text()).get("config_hash")
        if h:
            return str(h)
    return run_dir.name


def _validation(run_dir: Path, cfg: dict) -> pd.DataFrame:
    """The run's validation samples with the day their label became known (``available``, as
    the training schedule's ``available``) and the logit of their score."""
    p = run_dir / "predictions.parquet"
    if not p.is_file():
        raise EspbError(f"{p}: missing; calibration.source=validation needs the run's predictions")
    v = pd.read_parquet(p, columns=["target", "label", "score"])
    s = cfg["samples"]
    delay = int(s.get("exclusion_after", 7)) if s.get("label_delay", True) else 0
    lab = v["label"].to_numpy()
    return pd.DataFrame(
        {
            "available": v["target"].to_numpy() + np.where(lab == 0, delay, 0),
            "label": lab,
            "logit": logit(v["score"].to_numpy()),
        }
    )


def _coords(g, days: np.ndarray) -> dict:
    return {
        "time": ("time", g.date(days), {"long_name": "forecast day (UTC)"}),
        "lat": (
            "lat",
            g.lat_centres(),
            {"units": "degrees_north", "long_name": "cell centre latitude"},
        ),
        "lon": (
            "lon",
            g.lon_centres(),
            {"units": "degrees_east", "long_name": "cell centre longitude"},
        ),
    }


def _variables(g, elig: Eligible, score, prob, per_day: dict, mag: float) -> dict:
    """The Dataset's variables: the eligible box's maps on the whole grid (NaN elsewhere) and the
    per-day records, with CF attributes."""
    rs, cs = slice(elig.row_lo, elig.row_hi + 1), slice(elig.col_lo, elig.col_hi + 1)

    def on_grid(v):
        out = np.full((v.shape[0], g.nlat, g.nlon), np.nan, np.float32)
        out[:, rs, cs] = v
        return out

    cube = ("time", "lat", "lon")
    return {
        "score": (
            cube,
            on_grid(score),
            {
                "long_name": "CNN-TCN anomaly score (sigmoid of the logit), uncalibrated",
                "units": "1",
                "comment": "balanced-training score; not a probability (docs/forecasts.md)",
            },
        ),
        "probability": (
            cube,
            on_grid(prob),
            {
                "long_name": f"probability of at least one Mw >= {mag:g} event in the cell on the day",
                "units": "1",
            },
        ),
        "snapshot": (
            ("time",),
            per_day["snapshot"].astype(np.int16),
            {"long_name": "meta-epoch whose weights scored the day (-1: none)", "units": "1"},
        ),
        "in_sample": (
            ("time",),
            per_day["in_sample"].astype(np.int8),
            {
                "long_name": "1: the scoring model was trained on data of the day's segment or later",
                "flag_values": np.array([0, 1], np.int8),
                "flag_meanings": "time_forward in_sample",
            },
        ),
        "prior": (
            ("time",),
            per_day["prior"],
            {"long_name": "real prior: past rate of target cell-days (prior shift)", "units": "1"},
        ),
        "calibration": (
            ("time",),
            per_day["calibration"],
            {
                "long_name": "calibration applied to the day",
                "flag_values": np.array(list(CODES), np.int8),
                "flag_meanings": " ".join(CODES.values()),
            },
        ),
    }


def _attrs(job: _Job, mag: float, timing: dict) -> dict:
    inp, elig = job.inp, job.elig
    return {
        "title": "espb dense forecast",
        "Conventions": "CF-1.10",
        "source": "espb.forecast (Koehler et al., Sections 3.2-3.3; docs/forecasts.md)",
        "references": "Koehler et al., Detecting Spatiotemporal b-Value Anomalies with a Progressive "
        "Deep Learning Architecture; Saerens et al. 2002, Neural Computation 14(1)",
        "history": f"{pd.Timestamp.now('UTC').isoformat()} espb {__version__} forecast_run",
        "espb_version": __version__,
        "run_dir": str(job.run_dir),
        "config_hash": job.config_hash,
        "forecast_key": job.key,
        "cube_key": inp.cube_key,
        "catalog_hash": inp.catalog_hash,
        "autoencoder_key": inp.ae_key or "off",
        "settings": json.dumps(job.settings),
        "target_mag": mag,
        "lookback": int(job.cfg["samples"]["lookback"]),
        "patch": int(job.cfg["samples"]["patch"]),
        "time_forward": int(job.settings["snapshot"] == "time_forward"),
        "eligible_rows": f"{elig.row_lo}..{elig.row_hi}",
        "eligible_cols": f"{elig.col_lo}..{elig.col_hi}",
        "snapshots_used": json.dumps(job.used),
        "timing": json.dumps(timing),
    }
