"""Walk-forward evaluation (EarthquakeNet, arXiv 2605.21437, Section 4.1: refit on all data before
each test year, 2018-2023): folds, one fit per fold, one-period-ahead forecasts of the fold.

Within a fold the model is fixed; the features of each test period come from the periods before
it (:mod:`espb.rates.features`), so every forecast uses only data available when it is issued.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from espb.errors import ConfigError
from espb.rates.config import EvalConfig, ModelConfig
from espb.rates.counts import RateGrid
from espb.rates.features import FeatureTable
from espb.rates.glm import fit_glm, glm_predict
from espb.rates.net import fit_net, net_predict


@dataclass
class Fold:
    """Test periods [start, stop) of one fold; it trains on the periods before ``start``."""

    index: int
    label: str
    start: int
    stop: int


def make_folds(grid: RateGrid, cfg: EvalConfig, warmup: int) -> list[Fold]:
    """Folds from ``test_start`` to ``test_end``, one per calendar year (``step: year``) or
    every ``step`` periods."""
    s = pd.Timestamp(cfg.test_start, tz="UTC")
    e = pd.Timestamp(cfg.test_end, tz="UTC") + pd.Timedelta(days=1)
    if cfg.step == "year":
        bounds = [s, *[pd.Timestamp(f"{y}-01-01", tz="UTC") for y in range(s.year + 1, e.year + 1)]]
        bounds = [b for b in bounds if b < e] + [e]
    else:
        bounds = None
    starts = grid.period_start
    # a period is tested if it starts in [test_start, test_end] and lies wholly in the grid
    if bounds is not None:
        idx = [int(np.searchsorted(starts, b, side="left")) for b in bounds]
        labels = [str(b.year) if cfg.step == "year" else b.date().isoformat() for b in bounds[:-1]]
    else:
        t0 = int(np.searchsorted(starts, s, side="left"))
        t1 = int(np.searchsorted(starts, e, side="left"))
        idx = [*range(t0, t1, int(cfg.step)), t1]
        labels = [starts[i].date().isoformat() for i in idx[:-1]]
    folds = [
        Fold(k, labels[k], max(idx[k], warmup), idx[k + 1])
        for k in range(len(labels))
        if idx[k + 1] > max(idx[k], warmup)
    ]
    if not folds:
        raise ConfigError(
            f"evaluation.test_start/test_end {cfg.test_start}..{cfg.test_end} hold no period of "
            f"the data ({starts[0].date()} .. {starts[-1].date()})"
        )
    if folds[0].start - warmup < 2:
        raise ConfigError(
            f"evaluation.test_start {cfg.test_start}: no training periods before the first fold "
            f"(the first {warmup} periods are feature warm-up); move test_start later"
        )
    return folds


def fit_predict(
    model: ModelConfig,
    train: pd.DataFrame,
    test: pd.DataFrame,
    features: list[str],
    n_cells: int,
    seed: int,
) -> tuple[np.ndarray, np.ndarray, dict]:
    """Fit ``model.kind`` on ``train`` and forecast (mu, alpha) for ``test``; fit diagnostics."""
    if model.kind == "earthquakenet":
        fit = fit_net(train, features, n_cells, model, seed)
        mu, alpha = net_predict(fit, test, features)
        info = {
            "best_epoch": fit.best_epoch,
            "epochs": len(fit.history),
            "best_val_nll": fit.best_val_nll,
        }
        return mu, alpha, {**info, "history": fit.history}
    fit = fit_glm(model.kind, train, features, n_cells, model.cell_effects, model.maxiter)
    mu, alpha = glm_predict(fit, test, features, n_cells, model.cell_effects)
    info = {"converged": float(fit.converged), "alpha": fit.alpha, "train_llf": fit.llf}
    return mu, alpha, {**info, "notes": fit.info.get("notes", [])}


def walk_forward(
    table: FeatureTable,
    folds: list[Fold],
    model: ModelConfig,
    n_cells: int,
    progress: Callable[[int, int, str], None] | None = None,
) -> tuple[pd.DataFrame, list[dict]]:
    """Every fold's forecasts (rows of ``table`` with ``mu``, ``alpha``, ``fold``, ``year``) and
    its fit record (``n_train``, ``fit_s`` and the model's diagnostics)."""
    rows, feats = table.rows, table.features
    out, infos = [], []
    for f in folds:
        train = rows[rows["period"] < f.start]
        test = rows[(rows["period"] >= f.start) & (rows["period"] < f.stop)]
        t0 = time.perf_counter()
        mu, alpha, info = fit_predict(model, train, test, feats, n_cells, model.seed + f.index)
        info.update(fold=f.index, label=f.label, n_train=len(train), n_test=len(test))
        info["fit_s"] = time.perf_counter() - t0
        infos.append(info)
        out.append(test.assign(mu=mu, alpha=alpha, fold=f.index, fold_label=f.label))
        if progress is not None:
            progress(f.index + 1, len(folds), f"fold {f.label}: {info['fit_s']:.1f} s")
    return pd.concat(out, ignore_index=True), infos
