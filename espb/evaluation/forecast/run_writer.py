"""The files of a run's forecast evaluation (:class:`.run.ForecastReport`): per period the score
tables, the pyCSEP tests, the curves (CSV), the figures (PNG: Molchan diagram with the model and
every baseline, reliability diagram, information gain over time, the forecast map of one day with
its targets), one Markdown page ``forecast.md``, ``summary.json`` and the forecast cube as
``forecast_cube.zarr.zip`` (a zarr v3 store; ``xarray.open_zarr(zarr.storage.ZipStore(path,
mode="r"))`` reads it). Written under ``<run_dir>/forecast/<period>-<snapshot>-<calibration>/``,
each file atomically."""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from espb.evaluation.forecast.figures import (
    forecast_map_figure,
    ig_time_figure,
    molchan_figure,
    reliability_figure,
)
from espb.evaluation.forecast.run_period import PeriodResult
from espb.safeio import atomic_write

#: the columns of the page's score table: (score, header)
MAIN = [
    ("ig_nats", "IG/target vs ref (nats)"),
    ("bss", "BSS vs ref"),
    ("auc", "AUC"),
    ("ass", "ASS"),
    ("ass_w", "ASS (ref-weighted)"),
    ("hit@0.01", "hit @1%"),
    ("hit@0.05", "hit @5%"),
    ("ll", "log-likelihood"),
    ("brier", "Brier"),
]
TESTS = [("t_test_poisson", "T-test (Poisson)"), ("t_test_bernoulli", "T-test (Bernoulli)")]
TESTS += [("bootstrap_ig", "bootstrap IG")]


def fmt(v: float, digits: int = 4) -> str:
    return "–" if v is None or not np.isfinite(v) else f"{v:.{digits}g}"


def ci(r: pd.Series, digits: int = 4) -> str:
    return f"{fmt(r.value, digits)} [{fmt(r.lo, digits)}, {fmt(r.hi, digits)}]"


def md_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    return out + ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]


def score_rows(table: pd.DataFrame) -> list[list[str]]:
    """One row per forecast: ``value [lo, hi]`` of each :data:`MAIN` score."""
    t = table.set_index(["forecast", "score"])
    out = []
    for f in dict.fromkeys(table["forecast"]):
        out.append([f] + [ci(t.loc[(f, sc)]) if (f, sc) in t.index else "–" for sc, _ in MAIN])
    return out


def test_rows(table: pd.DataFrame) -> list[list[str]]:
    tt = table[table["score"].isin([k for k, _ in TESTS])]
    rows = []
    for (m, b), g in tt.groupby(["forecast", "against"], sort=False):
        cells = []
        for k, _ in TESTS:
            r = g[g["score"] == k]
            cells.append(f"{ci(r.iloc[0], 3)} p={fmt(r.iloc[0].p_value, 2)}" if len(r) else "–")
        rows.append([f"{m} vs {b}", *cells])
    return rows


def csep_rows(csep: pd.DataFrame) -> list[list[str]]:
    rows = []
    for r in csep.itertuples(index=False):
        q = fmt(r.quantile, 3) + (f" / {fmt(r.quantile_2, 3)}" if np.isfinite(r.quantile_2) else "")
        cons = "" if not isinstance(r.consistent, bool) else ("yes" if r.consistent else "**no**")
        extra = f" [{fmt(r.lower, 3)}, {fmt(r.upper, 3)}]" if np.isfinite(r.lower) else ""
        rows.append(
            [r.window, r.dates, r.forecast, r.test + (f" vs {r.reference}" if r.reference else ""),
             fmt(r.statistic, 5) + extra, q, cons]
        )  # fmt: skip
    return rows


def _save_fig(fig, path: Path) -> Path:
    with atomic_write(path) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    return path


def _save_csv(df: pd.DataFrame, path: Path) -> Path:
    with atomic_write(path) as tmp:
        df.to_csv(tmp, index=False)
    return path


def curves_frame(res: PeriodResult) -> pd.DataFrame:
    return pd.concat(
        [pd.DataFrame({"forecast": f, "tau": m.tau, "nu": m.nu}) for f, m in res.molchan.items()],
        ignore_index=True,
    )


def _tables(res: PeriodResult, out: Path, dates) -> dict[str, Path]:
    from espb.evaluation.forecast.table import wide_table

    n = res.name
    rel = pd.concat([t.assign(forecast=f) for f, t in res.reliability.items()], ignore_index=True)
    ig = pd.concat(
        [t.assign(comparison=k, date=dates[t["day"].to_numpy()]) for k, t in res.ig_time.items()],
        ignore_index=True,
    )
    frames = {
        f"scores_{n}.csv": res.table,
        f"scores_{n}_wide.csv": wide_table(res.table).reset_index(),
        f"csep_{n}.csv": res.csep,
        f"molchan_{n}.csv": curves_frame(res),
        f"reliability_{n}.csv": rel,
        f"ig_time_{n}.csv": ig,
    }
    return {k: _save_csv(v, out / k) for k, v in frames.items()}


def _figures(rep, res: PeriodResult, out: Path, dates) -> dict[str, Path]:
    n, span = res.name, f"{res.first}..{res.last}"
    who = f"{rep.run_name}/{rep.config_hash[:8]}"
    day = f"{dates[res.map_day]:%Y-%m-%d}"
    figs = {
        f"molchan_{n}.png": molchan_figure(res.molchan, title=f"Molchan, {n} {span} ({who})"),
        f"molchan_{n}_log.png": molchan_figure(
            res.molchan, log_tau=True, title=f"Molchan (log alarm axis), {n} {span}"
        ),
        f"reliability_{n}.png": reliability_figure(
            res.reliability, title=f"Reliability, {n} {span}"
        ),
        f"ig_time_{n}.png": ig_time_figure(
            res.ig_time, dates=dates, title=f"Information gain per target over time, {n}"
        ),
        f"map_{n}.png": forecast_map_figure(
            res.map_prob,
            rep.lat,
            rep.lon,
            event_lat=res.map_targets[0],
            event_lon=res.map_targets[1],
            title=f"{rep.model} on {day}: P(Mw >= {rep.target_mag:g}) and observed targets",
        ),
    }
    return {k: _save_fig(f, out / k) for k, f in figs.items()}


def zip_cube(store: Path, path: Path) -> Path:
    """The zarr store folder as one zip (stored, not recompressed: the chunks are compressed)."""
    with atomic_write(path) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as zf:
        for dirpath, _dirs, names in os.walk(store):
            for name in sorted(names):
                p = Path(dirpath) / name
                zf.write(p, p.relative_to(store).as_posix())
    return path


def summary(rep) -> dict:
    s = rep.settings
    return {
        "run_dir": str(rep.run_dir),
        "run": rep.run_name,
        "config_hash": rep.config_hash,
        "label": s.label,
        "model": rep.model,
        "settings": {k: v for k, v in vars(s).items()},
        "target_mag": rep.target_mag,
        "forecast_key": rep.cube_attrs.get("forecast_key"),
        "snapshots_used": rep.cube_attrs.get("snapshots_used"),
        "periods": {
            n: {
                "first": r.first,
                "last": r.last,
                "days": len(r.days),
                "cell_days": r.n_cell_days,
                "targets": r.n_targets,
                "days_without_model": r.n_unscored_days,
                "days_in_sample": r.n_in_sample_days,
                "map_day": r.map_day,
            }
            for n, r in rep.periods.items()
        },
        "notes": rep.notes + [x for r in rep.periods.values() for x in r.notes],
        "timing": rep.timing,
    }


def write_report(rep) -> dict[str, Path]:
    """Write every file of ``rep`` to ``rep.out_dir``; returns name -> path (also
    ``rep.files``)."""
    from espb.evaluation.forecast.run_page import markdown

    out = Path(rep.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    for res in rep.periods.values():
        files |= _tables(res, out, rep.dates)
        files |= _figures(rep, res, out, rep.dates)
    files["forecast_cube.zarr.zip"] = zip_cube(rep.cube_path, out / "forecast_cube.zarr.zip")
    with atomic_write(out / "summary.json") as tmp:
        tmp.write_text(json.dumps(summary(rep), indent=1, default=str))
    files["summary.json"] = out / "summary.json"
    with atomic_write(out / "forecast.md") as tmp:
        tmp.write_text("\n".join(markdown(rep)) + "\n", encoding="utf-8")
    files["forecast.md"] = out / "forecast.md"
    rep.files = files
    return files
