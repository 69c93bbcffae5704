"""One rate-forecast run: catalog -> counts -> features (-> b-value cube) -> walk-forward ->
scores -> figures -> MLflow (what ``espb-rates`` runs; EarthquakeNet, arXiv 2605.21437).

A run is one model on one data setting; its folder ``<out_dir>/rates/<name>/<config hash>/`` is
named by the hash of the resolved settings, so the same configuration lands in the same place
and a finished one is reported, not recomputed (``run.force=true`` recomputes it).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from omegaconf import DictConfig, OmegaConf

from espb.catalog.source import CatalogSource, catalog_path
from espb.config import from_node
from espb.errors import ConfigError
from espb.progress import Reporter
from espb.rates.bfeatures import b_feature_arrays, cube_for, period_cell_means
from espb.rates.counts import RateGrid, count_events, counted_events
from espb.rates.evaluate import Evaluation, evaluate
from espb.rates.features import FeatureTable, feature_table, lag_feature_arrays
from espb.rates.glm import LrtResult, poisson_vs_nb_lrt
from espb.rates.settings import RateSettings
from espb.rates.walkforward import make_folds, walk_forward
from espb.tracking import git_commit

SUMMARY = "summary.json"

#: the last event table read, by (path, mtime, size): a multirun's jobs share one process
_EVENTS: dict[tuple, pd.DataFrame] = {}


def load_catalog(node, out_dir: Path, rep: Reporter) -> pd.DataFrame:
    """The event table of the ``catalog`` node: ``path`` (an espb table) or the synthetic
    catalog ``synthetic``, generated once into ``<out_dir>/catalogs/`` (espb.catalog.source)."""
    from espb.catalog.schema import load_events

    syn = node.get("synthetic") if node is not None else None
    if syn is not None and not isinstance(syn, str):
        raise ConfigError(
            "catalog.synthetic must name a synthetic preset (demo, paper, smoke) or a YAML file, "
            "e.g. catalog.synthetic=demo"
        )
    path = catalog_path(from_node(CatalogSource, node, "catalog"), out_dir, rep.say)
    st = path.stat()
    key = (str(path.resolve()), st.st_mtime_ns, st.st_size)
    if key not in _EVENTS:
        _EVENTS.clear()
        _EVENTS[key] = load_events(path)
    return _EVENTS[key].copy(deep=False)


@dataclass
class Prepared:
    grid: RateGrid
    table: FeatureTable
    observed: pd.DataFrame
    info: dict = field(default_factory=dict)


def prepare(events: pd.DataFrame, s: RateSettings, cache_dir, say) -> Prepared:
    """Counts, lag features and (``features.bvalue``) the b features of the events."""
    grid = count_events(events, s.data)
    r = grid.report
    say(
        f"counts: {r['n_counted']:,} events >= {s.data.m_min:g} in {grid.n_cells} cells x "
        f"{grid.n_periods} periods of {s.data.period_days} d; left out: {r['n_outside_time']:,} "
        f"outside the time span, {r['n_outside_region']:,} outside the region, "
        f"{r['n_below_m_min']:,} below m_min, {r['n_missing_magnitude']:,} without magnitude"
    )
    arrays = lag_feature_arrays(grid, s.features)
    info: dict[str, Any] = {}
    if s.features.bvalue:
        t0 = time.perf_counter()
        ds, info = cube_for(events, s.data, grid, s.features, cache_dir)
        arrays.update(b_feature_arrays(period_cell_means(ds, grid), s.features.b_periods))
        info["cube_s"] = time.perf_counter() - t0
        say(
            f"b-value cube {'built' if info['cube_built'] else 'from the cache'}: {info['cube_path']}"
        )
    table = feature_table(grid, arrays, s.warmup)
    return Prepared(grid, table, counted_events(events, s.data), info)


def config_hash(resolved: dict) -> str:
    sem = {
        k: v
        for k, v in resolved.items()
        if k not in ("run", "tracking", "out_dir", "cache_dir", "hydra")
    }
    return hashlib.sha256(json.dumps(sem, sort_keys=True, default=str).encode()).hexdigest()[:16]


@dataclass
class RateResult:
    run_dir: Path
    label: str
    summary: dict
    evaluation: Evaluation | None
    lrt: LrtResult | None
    run_id: str | None
    tracking_uri: str | None
    experiment: str | None
    wall_s: float
    already_done: bool = False
    fold_info: list = field(default_factory=list)


def run_rates(cfg: DictConfig, rep: Reporter | None = None) -> RateResult:
    """Run (or report, when finished before) one configuration and log it to MLflow."""
    from espb.rates.record import finished_result, log_run

    rep = rep or Reporter()
    t_start = time.perf_counter()
    s = RateSettings.from_cfg(cfg)
    resolved = OmegaConf.to_container(cfg, resolve=True)
    resolved.pop("hydra", None)
    out_dir = Path(cfg.out_dir)
    h = config_hash(resolved)
    run_dir = out_dir / "rates" / str(cfg.name) / h
    force = bool(cfg.get("run", {}).get("force", False))
    if (run_dir / SUMMARY).exists() and not force:
        return finished_result(run_dir, s.label, t_start)
    run_dir.mkdir(parents=True, exist_ok=True)
    events = load_catalog(cfg.get("catalog"), out_dir, rep)
    prep = prepare(events, s, cfg.get("cache_dir"), rep.say)
    folds = make_folds(prep.grid, s.evaluation, prep.table.warmup)
    rep.say(
        f"walk-forward: {len(folds)} folds ({folds[0].label} .. {folds[-1].label}), model {s.label}, "
        f"{len(prep.table.features)} features"
    )
    t0 = time.perf_counter()
    lrt = poisson_vs_nb_lrt(
        prep.table.rows, prep.table.features, prep.grid.n_cells, False, s.model.maxiter
    )
    t_lrt = time.perf_counter() - t0
    t0, c0 = time.perf_counter(), time.process_time()

    def bar(done, total, text):
        rep.bar("walk-forward", done, total, text)

    pred, infos = walk_forward(prep.table, folds, s.model, prep.grid.n_cells, bar)
    t_wf, c_wf = time.perf_counter() - t0, time.process_time() - c0
    t0 = time.perf_counter()
    ev = evaluate(pred, prep.grid, s.evaluation, prep.observed, s.label)
    t_eval = time.perf_counter() - t0
    # CPU seconds of this process too: on a shared machine the wall time measures the load
    timing = {
        "lrt_s": t_lrt,
        "walkforward_s": t_wf,
        "walkforward_cpu_s": c_wf,
        "evaluate_s": t_eval,
    }
    timing["load_avg_1min"] = os.getloadavg()[0]
    return log_run(
        cfg,
        s,
        resolved,
        h,
        run_dir,
        prep,
        folds,
        pred,
        infos,
        ev,
        lrt,
        timing,
        t_start,
        git_commit(),
    )
