"""Scores of a walk-forward run (EarthquakeNet, arXiv 2605.21437, Section 4): per fold and pooled
deviance / NLL / CRPS, tail strata, PIT, Moran's I of the residuals, the alpha map and the
pyCSEP tests, as data (plots are in :mod:`espb.rates.figures`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
import xarray as xr

from espb.rates.config import EvalConfig
from espb.rates.counts import RateGrid
from espb.rates.diagnostics import MoranResult, alpha_map, moran_test, pearson_residuals
from espb.rates.scores import PitHistogram, pit_histogram, randomised_pit, scores, summarise


@dataclass
class Evaluation:
    """Everything measured on the forecasts of one run."""

    summary: dict[str, float]  #: pooled over all test rows (keys as in scores.summarise)
    per_fold: pd.DataFrame  #: one row per fold: label and the same metrics
    per_row: pd.DataFrame  #: the forecasts with deviance, nll, crps, pit, r (residual)
    pit: PitHistogram
    moran: MoranResult
    alpha: xr.DataArray
    csep_periods: pd.DataFrame | None = None
    csep: dict[str, float] = field(default_factory=dict)

    def metrics(self) -> dict[str, float]:
        """Flat summary metrics (MLflow names)."""
        out = {f"test/{k}": v for k, v in self.summary.items()}
        out["pit/max_deviation"] = self.pit.max_deviation
        m = asdict(self.moran)
        out.update({f"moran/{k}": float(v) for k, v in m.items()})
        out.update({f"csep/{k}": v for k, v in self.csep.items()})
        a = self.per_row["alpha"].to_numpy()
        out["alpha/mean"] = float(a.mean())
        out["alpha/cell_min"] = float(np.nanmin(self.alpha.to_numpy()))
        out["alpha/cell_max"] = float(np.nanmax(self.alpha.to_numpy()))
        return out


def evaluate(
    pred: pd.DataFrame,
    grid: RateGrid,
    cfg: EvalConfig,
    observed: pd.DataFrame | None = None,
    name: str = "model",
) -> Evaluation:
    """Score the walk-forward forecasts ``pred`` (columns period, cell, y, mu, alpha, fold,
    fold_label); ``observed``: the counted events (for pyCSEP; None skips it)."""
    y, mu, alpha = (pred[c].to_numpy() for c in ("y", "mu", "alpha"))
    rows = pd.concat([pred.reset_index(drop=True), scores(y, mu, alpha)], axis=1)
    rng = np.random.default_rng([cfg.seed, 7])
    rows["pit"] = randomised_pit(y, mu, alpha, rng)
    rows["r"] = pearson_residuals(y, mu, alpha)
    summary = summarise(y, rows, cfg.tail_min)
    folds = []
    for (k, label), g in rows.groupby(["fold", "fold_label"], sort=True):
        folds.append({"fold": k, "label": label, **summarise(g["y"].to_numpy(), g, cfg.tail_min)})
    ev = Evaluation(
        summary=summary,
        per_fold=pd.DataFrame(folds),
        per_row=rows,
        pit=pit_histogram(rows["pit"].to_numpy(), cfg.pit_bins),
        moran=moran_test(rows, grid, cfg.neighbours, cfg.moran_permutations, cfg.seed),
        alpha=alpha_map(rows, grid),
    )
    if cfg.pycsep and observed is not None:
        from espb.rates.csep_eval import period_tests, summarise_tests

        obs = observed[observed["period"].isin(np.unique(pred["period"]))]
        ev.csep_periods = period_tests(pred, obs, grid, name, cfg.pycsep_sims, cfg.seed)
        ev.csep = summarise_tests(ev.csep_periods)
    return ev
