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
from espb.forecast.snapshots import assign_snapshots, load_snapshot, read_schedule, weights_path
from espb.forecast.store import cache_root, cached, file_digest, forecast_key, store_path
from espb.forecast.targets import Eligible, target_cube

PERIODS = ("test", "dev", "all")


def period_days(period: str | tuple[str, str], elig: Eligible, grid, dev_end: str) -> np.ndarray:
    """Eligible forecast days of ``period``: ``dev`` (up to ``training.dev_end``), ``test``
    (after it), ``all``, or ``(first, last)`` dates (inclusive)."""
    d = np.arange(elig.day_lo, elig.n_days, dtype=np.int64)
    if isinstance(period, tuple | list):
        a, e = (
            int((pd.Timestamp(x, tz="UTC") - grid.start) // pd.Timedelta(days=1)) for x in period
        )
        d = d[(d >= a) & (d <= e)]
    elif period in PERIODS:
        end = int((pd.Timestamp(dev_end, tz="UTC") - grid.start) // pd.Timedelta(days=1))
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
    run_dir = Path(run_dir)
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
    score_days = np.arange(d0, int(days[-1]) + 1)
    assign, in_sample = assign_snapshots(score_days, sched, snapshot)
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
    path = store_path(
        cache_root(cache_dir or cfg.get("cache_dir")), run_dir.parent.name, config_hash, key
    )

    def build() -> xr.Dataset:
        tune_allocator()
        t0 = time.perf_counter()
        nets = {k: fold(load_snapshot(run_dir, k, cfg)) for k in used}
        lg, timing = dense_logits(
            nets, assign, d0, inp.b, elig, inp.autoencoder, budget_mb << 20, progress
        )
        box = (
            slice(None),
            slice(elig.row_lo, elig.row_hi + 1),
            slice(elig.col_lo, elig.col_hi + 1),
        )
        target_mag = float(cfg["samples"]["eq_min_mag"])
        targets = target_cube(inp.events, inp.grid, target_mag)[box]
        val = (
            _validation(run_dir, cfg, sched)
            if cal.method in ("isotonic", "logistic") and cal.source == "validation"
            else None
        )
        c = calibrate(lg, d0, targets, sched.bounds, cal, val)
        timing["total_s"] = time.perf_counter() - t0
        k0 = int(days[0]) - d0
        return _dataset(
            inp,
            elig,
            days,
            expit(lg[k0:]).astype(np.float32),
            c.prob[k0:],
            assign[k0:],
            in_sample[k0:],
            c.prior[k0:],
            c.code[k0:],
            dict(
                run_dir=str(run_dir),
                config_hash=config_hash,
                forecast_key=key,
                settings=settings,
                target_mag=target_mag,
                lookback=lookback,
                patch=patch,
                timing=timing,
                snapshots_used=used,
            ),
        )

    ds, built = cached(path, key, build, refresh=refresh, on_wait=say)
    say(f"forecast {path.name}: {'computed' if built else 'from cache'}")
    return ds


def _config_hash(run_dir: Path) -> str:
    st = run_dir / "state.json"
    if st.is_file():
        h = json.loads(st.read_text()).get("config_hash")
        if h:
            return str(h)
    return run_dir.name


def _validation(run_dir: Path, cfg: dict, sched) -> pd.DataFrame:
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


def _dataset(inp, elig, days, score, prob, snap, in_sample, prior, code, meta) -> xr.Dataset:
    g = inp.grid
    full = (len(days), g.nlat, g.nlon)
    rs, cs = slice(elig.row_lo, elig.row_hi + 1), slice(elig.col_lo, elig.col_hi + 1)

    def grid_var(v):
        out = np.full(full, np.nan, np.float32)
        out[:, rs, cs] = v
        return out

    mag = meta["target_mag"]
    coords = {
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
    tf = bool(meta["settings"]["snapshot"] == "time_forward")
    data = {
        "score": (
            ("time", "lat", "lon"),
            grid_var(score),
            {
                "long_name": "CNN-TCN anomaly score (sigmoid of the logit), uncalibrated",
                "units": "1",
                "comment": "balanced-training score; not a probability (docs/forecasts.md)",
            },
        ),
        "probability": (
            ("time", "lat", "lon"),
            grid_var(prob),
            {
                "long_name": f"probability of at least one Mw >= {mag:g} event in the cell on the day",
                "units": "1",
                "calibration": json.dumps(meta["settings"]["calibration"]),
            },
        ),
        "snapshot": (
            ("time",),
            snap.astype(np.int16),
            {"long_name": "meta-epoch whose weights scored the day (-1: none)", "units": "1"},
        ),
        "in_sample": (
            ("time",),
            in_sample.astype(np.int8),
            {
                "long_name": "1: the scoring model was trained on data of the day's segment or later",
                "flag_values": np.array([0, 1], np.int8),
                "flag_meanings": "time_forward in_sample",
            },
        ),
        "prior": (
            ("time",),
            prior,
            {"long_name": "real prior: past rate of target cell-days (prior shift)", "units": "1"},
        ),
        "calibration": (
            ("time",),
            code,
            {
                "long_name": "calibration applied to the day",
                "flag_values": np.array(list(CODES), np.int8),
                "flag_meanings": " ".join(CODES.values()),
            },
        ),
    }
    attrs = {
        "title": "espb dense forecast",
        "Conventions": "CF-1.10",
        "source": "espb.forecast (Koehler et al., Sections 3.2-3.3; docs/forecasts.md)",
        "references": "Koehler et al., Detecting Spatiotemporal b-Value Anomalies with a Progressive "
        "Deep Learning Architecture; Saerens et al. 2002, Neural Computation 14(1)",
        "history": f"{pd.Timestamp.now('UTC').isoformat()} espb {__version__} forecast_run",
        "espb_version": __version__,
        "run_dir": meta["run_dir"],
        "config_hash": meta["config_hash"],
        "forecast_key": meta["forecast_key"],
        "cube_key": inp.cube_key,
        "catalog_hash": inp.catalog_hash,
        "autoencoder_key": inp.ae_key or "off",
        "settings": json.dumps(meta["settings"]),
        "target_mag": mag,
        "lookback": meta["lookback"],
        "patch": meta["patch"],
        "time_forward": int(tf),
        "eligible_rows": f"{elig.row_lo}..{elig.row_hi}",
        "eligible_cols": f"{elig.col_lo}..{elig.col_hi}",
        "snapshots_used": json.dumps(meta["snapshots_used"]),
        "timing": json.dumps(meta["timing"]),
    }
    return xr.Dataset(data, coords=coords, attrs=attrs)
