"""The inputs of one run: event table -> b-value cube -> labelled samples -> meta-epoch schedule
(paper Sections 2.1-2.2 and 3.3), and the :class:`RunCache` that sweep workers keep between jobs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from espb.bvalue.cache import CubeResult, cache_root, get_cube
from espb.catalog.source import catalog_path
from espb.progress import Reporter
from espb.samples.table import Samples
from espb.training.check import preflight
from espb.training.checkcube import complete
from espb.training.plan import RunPlan
from espb.training.schedule import MetaEpoch, meta_epochs


@dataclass
class RunCache:
    """What consecutive runs of one process share: the last event table read (by path, mtime
    and size) and the last labelled samples built (by cube key and sample rules). A sweep worker
    holds one for all its jobs; a single run makes its own."""

    _events: dict[tuple, tuple[pd.DataFrame, str]] = field(default_factory=dict)
    _samples: dict[tuple, Samples] = field(default_factory=dict)

    def _load(self, path: Path) -> tuple[pd.DataFrame, str]:
        from espb.catalog.schema import catalog_hash, load_events

        st = path.stat()
        key = (str(path.resolve()), st.st_mtime_ns, st.st_size)
        if key not in self._events:
            self._events.clear()
            ev = load_events(path)
            self._events[key] = (ev, catalog_hash(ev))
        return self._events[key]

    def events(self, path: Path) -> pd.DataFrame:
        return self._load(path)[0].copy(deep=False)

    def catalog_hash(self, path: Path) -> str:
        """The content hash of the event table at ``path`` (computed once per file version)."""
        return self._load(path)[1]

    def samples(self, key: tuple, build) -> Samples:
        if key not in self._samples:
            self._samples.clear()
            self._samples[key] = build()
        return self._samples[key]


@dataclass
class RunInputs:
    """Everything training needs besides its settings."""

    events: pd.DataFrame
    cube: CubeResult
    ds: Any  # xarray.Dataset
    samples: Samples
    table: pd.DataFrame
    bounds: np.ndarray
    meta_epochs: list[MetaEpoch]
    dev_end: int
    #: nEQ missing in segments with fewer candidates than EQ samples
    n_short: int
    #: the cache of cubes and autoencoders
    cache_root: Path


def dev_end_day(grid, dev_end: str) -> int:
    """The cube day index of ``dev_end`` (the last development day)."""
    return grid.day_of(dev_end)


def load_events(plan: RunPlan, rep: Reporter, cache: RunCache) -> pd.DataFrame:
    t0 = time.perf_counter()
    path = catalog_path(plan.settings.catalog, plan.out_dir, rep.say)
    events = cache.events(path)
    rep.say(f"catalog: {len(events):,} events ({time.perf_counter() - t0:.1f} s)")
    return events


def input_identity(plan: RunPlan, rep: Reporter, cache: RunCache) -> dict[str, str]:
    """What the run is computed from: the catalog's content hash and the cube's key (which
    covers the catalog and every cube setting). Part of a run's identity besides its config
    hash: a re-ingested catalog under the same path is a different run (docs/reliability.md)."""
    from espb.bvalue.cache import cube_key

    path = catalog_path(plan.settings.catalog, plan.out_dir, rep.say)
    h = cache.catalog_hash(path)
    return {"catalog_hash": h, "cube_key": cube_key(h, plan.settings.cube)}


def load_cube(
    plan: RunPlan, events: pd.DataFrame, rep: Reporter, croot: Path, catalog_hash: str | None = None
):
    """The run's cube (cached; built if absent) and the opened dataset."""
    t0 = time.perf_counter()

    def progress(done, total, text=""):
        rep.bar("cube", done, total, text)

    cube = get_cube(
        events,
        plan.settings.cube,
        croot,
        catalog_hash=catalog_hash,
        progress=progress,
        on_wait=rep.say,
    )
    ds = cube.open()
    rep.say(
        f"cube {cube.path.name}: {dict(ds.sizes)} ({'built' if cube.built else 'from cache'}, "
        f"{time.perf_counter() - t0:.1f} s)"
    )
    return cube, ds


def _schedule_summary(plan: RunPlan, samples: Samples, table, bounds, mes) -> str:
    s = samples.summary()
    dropped = ", ".join(f"{k[11:]} {v}" for k, v in s.items() if k.startswith("eq_dropped_"))
    n_test = sum(m.phase == "test" for m in mes)
    return (
        f"samples: {s['n_eq']} EQ of {s['n_eq_candidates']} events with Mw >= "
        f"{plan.settings.samples.eq_min_mag} (dropped: {dropped}); nEQ pool {s['n_neq_pool']:,}; "
        f"{len(table)} samples in {len(bounds)} segments of {plan.settings.training.l_me} d; "
        f"{len(mes)} meta-epochs ({n_test} in the test period)"
    )


def build_inputs(plan: RunPlan, rep: Reporter, cache: RunCache | None = None) -> RunInputs:
    """Catalog, cube, samples and schedule of ``plan`` (paper Sections 2.2, 3.3)."""
    from espb.training.regions import region_of

    cache = cache or RunCache()
    s_cfg, t_cfg = plan.settings.samples, plan.settings.training
    events = load_events(plan, rep, cache)
    chk = preflight(events, plan.settings.cube, s_cfg, region_of(plan.resolved))  # no cube yet
    for w in chk.warnings:
        rep.say(f"warning: {w}")
    chk.raise_if_problems()
    croot = cache_root(plan.cfg.get("cache_dir"))
    h = cache.catalog_hash(catalog_path(plan.settings.catalog, plan.out_dir, rep.say))
    cube, ds = load_cube(plan, events, rep, croot, h)
    t0 = time.perf_counter()
    samples = cache.samples((cube.key, repr(s_cfg)), lambda: Samples.build(events, ds, s_cfg))
    dev_end = dev_end_day(samples.grid, t_cfg.dev_end)
    table = samples.table(t_cfg.l_me, t_cfg.seed, dev_end)
    bounds = table.attrs["bounds"]
    mes = meta_epochs(table, bounds, t_cfg.warmup, dev_end)
    rep.say(
        _schedule_summary(plan, samples, table, bounds, mes)
        + f" ({time.perf_counter() - t0:.1f} s)"
    )
    # no EQ, no nEQ or no meta-epoch: the cause and the fix for this catalog (training/check.py)
    complete(chk, samples, table, bounds, mes, t_cfg, events, plan.settings.cube)
    chk.raise_if_problems()
    per_seg = table.groupby("segment")["label"].agg(["sum", "size"])
    missing = 2 * per_seg["sum"] - per_seg["size"]  # EQ minus nEQ per segment
    short, n_short = int(missing.sum()), int((missing > 0).sum())
    if short:
        rep.say(
            f"note: {n_short} segments had fewer nEQ candidates than EQ samples "
            f"({short} nEQ short in all)"
        )
    return RunInputs(events, cube, ds, samples, table, bounds, mes, dev_end, short, croot)
