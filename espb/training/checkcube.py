"""The checks that need the cube (:mod:`espb.training.check` has those that do not): the nEQ
candidates (exclusion, ``samples.min_mean_events``; paper Section 2.2), the cells with b-values,
the EQ samples of the development and the test period and the meta-epoch schedule (paper
Section 3.3), each problem with the fix computed for this catalog (docs/regions.md).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from espb.samples.config import SampleConfig
from espb.samples.labels import Grid
from espb.training.check import Check, Finding, _mismatch

#: days of the cube read at once (the counts stream over time)
CHUNK = 256


def _neq_counts(samples, s: SampleConfig) -> dict[str, Any]:
    usable = excluded = low = 0
    top = -np.inf
    for t0 in range(0, samples.mean_counts.shape[0], CHUNK):
        mc = samples.mean_counts[t0 : t0 + CHUNK]
        fit = np.isfinite(mc)
        free = fit & ~samples.excluded[t0 : t0 + CHUNK]
        usable += int(fit.sum())
        excluded += int((fit & ~free).sum())
        low += int((free & (mc < s.min_mean_events)).sum())
        if free.any():
            top = max(top, float(mc[free].max()))
    return {
        "pool": len(samples.pool), "usable": usable, "excluded": excluded, "low_mean": low,
        "m_lim": s.m_lim, "min_mean": s.min_mean_events, "top_mean": top,
    }  # fmt: skip


def _no_neq(n: dict[str, Any]) -> Finding:
    if n["usable"] and n["excluded"] >= n["usable"]:
        return Finding(
            f"no nEQ candidate: every one of the {n['usable']:,} cell-days where a block fits "
            f"has an event of Mw >= {n['m_lim']:g} within samples.l1_radius and the exclusion "
            "days",
            "a higher samples.m_lim (at most samples.eq_min_mag), a smaller samples.l1_radius "
            "or fewer samples.exclusion_before / exclusion_after days",
        )
    return Finding(
        f"no nEQ candidate: of {n['usable']:,} cell-days where a block fits, {n['excluded']:,} "
        f"are excluded and the other {n['low_mean']:,} have a block mean below "
        f"samples.min_mean_events={n['min_mean']:g} events per cylinder (the largest is "
        f"{n['top_mean']:.3g})",
        f"samples.min_mean_events below {n['top_mean']:.3g} (e.g. {n['top_mean'] / 2:.2g}), "
        "or a larger bvalue.dr / bvalue.dt (more events per cylinder)",
    )


def _no_meta_epoch(table, bounds, warmup: int, l_me: int, grid: Grid) -> Finding:
    n_eq = np.bincount(table.loc[table["label"] == 1, "segment"].to_numpy(), minlength=len(bounds))
    segs = np.flatnonzero(n_eq)
    head = f"no meta-epoch: {len(bounds)} segments of {l_me} d"
    if len(segs) == 1:
        days = table.loc[table["label"] == 1, "target"]
        span = int(days.max() - days.min())
        d0 = grid.date(np.atleast_1d(int(bounds[segs[0], 0])))[0]
        return Finding(
            f"{head}; all {int(n_eq.sum())} EQ samples fall in one segment (from {d0:%Y-%m-%d}), "
            "so no meta-epoch has an EQ sample to train on before its validation segment",
            (f"a shorter training.l_me (<= {span} d splits them)" if span >= 1 else
             "more EQ samples (a lower region.target_mag)") + " or a longer period",
        )  # fmt: skip
    last = int(segs[-1])
    return Finding(
        f"{head} and {int(n_eq.sum())} EQ samples; the last segment with EQ samples is segment "
        f"{last}, inside the training.warmup={warmup} segments of warm-up",
        f"training.warmup <= {last}, a shorter training.l_me, or a longer period "
        "(region.end / region.start)",
    )


def cube_cells(ds) -> dict[str, Any]:
    """How many grid cells get a b-value: on at least one day, and on the average day (the
    cube's ``b`` > 0; it is 0 where a cylinder holds fewer than two events or no usable
    magnitude differences: paper Section 2.1, docs/bvalue.md)."""
    b = ds["b"]
    n_t, n_lat, n_lon = (int(b.sizes[d]) for d in ("time", "lat", "lon"))
    ever = np.zeros((n_lat, n_lon), dtype=bool)
    total = 0
    for t0 in range(0, n_t, CHUNK):
        x = np.asarray(b.isel(time=slice(t0, t0 + CHUNK)).values)
        fin = np.isfinite(x) & (x > 0)
        ever |= fin.any(axis=0)
        total += int(fin.sum())
    return {
        "cells": n_lat * n_lon,
        "ever": int(ever.sum()),
        "mean_per_day": total / n_t if n_t else 0.0,
    }


def eq_split(eq: pd.DataFrame, grid: Grid, dev_end: str) -> dict[str, int]:
    """EQ samples of the development period (target day <= ``dev_end``) and of the test period."""
    end = grid.day_of(dev_end)
    dev = int(np.count_nonzero(eq["target"].to_numpy() <= end)) if len(eq) else 0
    return {"n_eq_dev": dev, "n_eq_test": len(eq) - dev}


def complete(
    chk: Check,
    samples,
    table: pd.DataFrame,
    bounds,
    mes,
    t_cfg,
    events=None,
    cube=None,
    ds=None,
) -> Check:
    """Add the nEQ candidates, the EQ samples per period, (with the cube ``ds``) the cells with
    b-values and the schedule (paper Sections 2.2, 3.3) to ``chk``."""
    s = samples.cfg
    chk.eq.update({"n_eq": len(samples.eq), **eq_split(samples.eq, samples.grid, t_cfg.dev_end)})
    if ds is not None:
        chk.cells = cube_cells(ds)
    chk.neq = _neq_counts(samples, s)
    n_eq = np.bincount(table.loc[table["label"] == 1, "segment"].to_numpy(), minlength=len(bounds))
    per_seg = table.groupby("segment")["label"].agg(["sum", "size"])
    chk.schedule = {
        "segments": len(bounds),
        "segments_with_eq": int(np.count_nonzero(n_eq)),
        "meta_epochs": len(mes),
        "test": sum(m.phase == "test" for m in mes),
        "short": int(((2 * per_seg["sum"] - per_seg["size"]) > 0).sum()),
    }
    if chk.problems:
        return chk
    if len(samples.eq) and not len(samples.pool):
        chk.problems.append(_no_neq(chk.neq))
    elif not mes:
        f = _no_meta_epoch(table, bounds, t_cfg.warmup, t_cfg.l_me, samples.grid)
        if events is not None and cube is not None and (mm := _mismatch(chk, events, cube)):
            f = Finding(f"{f.problem}; {mm.problem}", f"{mm.fix}; or {f.fix}")
        chk.problems.append(f)
    elif mes and all(m.phase == "test" for m in mes):
        chk.warnings.append(
            "every meta-epoch lies after training.dev_end: the development period has none "
            "(a later region.dev_end)"
        )
    return chk


__all__ = ["complete", "cube_cells", "eq_split"]
