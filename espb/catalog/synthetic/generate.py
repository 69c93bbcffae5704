"""The embedded default catalog: a deterministic synthetic ETAS catalog of the paper's region.

Pipeline (every random draw comes from a stream spawned from the seed, so ``planted`` and
``null`` runs share the same seismicity and differ only in the planted magnitudes):

1. a smooth b-value field (stream ``bfield``);
2. ETAS: background along a subduction band plus cascades, and a Tohoku-like M9 placed by hand
   (streams ``background`` and ``etas``), see :mod:`espb.catalog.synthetic.etas`;
3. precursor windows before a fraction of the Mw >= 5 events (stream ``plants``); in
   ``planted`` mode magnitudes there are mapped onto b = 0.7 (or as configured);
4. detection: magnitudes binned at 0.1, events below the short-term aftershock completeness
   are not recorded;
5. reports: each event gets the magnitude types an agency would publish (MJMA, MV, ML, mb, Ms,
   Mw), computed by inverting the conversion relations (stream ``reports``);
6. the same :func:`~espb.catalog.build.build_events` as every reader: conversion back to Mw
   (rounded to the 0.1 grid), region / depth / type filters, the drop report.
"""

from __future__ import annotations

import time as _time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from espb.catalog.build import IngestConfig, RawCatalog, build_events
from espb.catalog.magnitudes import PAPER_FAMILY_RELATION, MagnitudeConfig
from espb.catalog.report import DropReport
from espb.catalog.synthetic.config import SynthConfig
from espb.catalog.synthetic.etas import Events, gr_quantile_map, simulate
from espb.catalog.synthetic.fields import BField, rupture_length_km
from espb.catalog.synthetic.kernels import mark_precursor_windows, stai_completeness

STREAMS = ("bfield", "background", "etas", "plants", "reports")
FIRST_ID = 10_000_001


@dataclass
class SynthResult:
    """Everything ``espb catalog synth`` produces."""

    events: pd.DataFrame  #: the event table (schema of espb.catalog.schema)
    report: DropReport  #: what the filters dropped
    raw: RawCatalog  #: the catalog as an agency would publish it (all reported magnitudes)
    truth: pd.DataFrame  #: per recorded event: true magnitude, b used, planted flag, parent, ...
    plants: pd.DataFrame  #: precursor windows: target, time, place, window, applied
    meta: dict[str, Any] = field(default_factory=dict)
    #: the generating process's full event set (only with ``synthesize(keep_simulation=True)``)
    simulation: Simulation | None = None


@dataclass
class Simulation:
    """Every simulated event, as the cascade drew it, and what defines the generating process.

    ``events`` is time-sorted and holds every event the ETAS simulation produced (burn-in, outside
    the catalog's region or depth, below the completeness, all kept) with the magnitudes the
    cascade was drawn with, i.e. before precursor planting. Times are days since ``t0``. This is
    what an oracle forecast needs (:mod:`espb.forecast.baselines.oracle`); it changes nothing in
    the generated catalog."""

    events: Events
    t0: pd.Timestamp  #: simulation time origin (UTC): catalog start minus the burn-in
    t_end: float  #: end of the simulated interval (days since t0)
    t_main: float | None  #: the placed mainshock's time (days since t0), None without one
    main_index: int  #: its index in ``events``, -1 without one
    bfield: BField
    config: SynthConfig


def bin_magnitudes(m: np.ndarray, m_min: float, delta: float) -> np.ndarray:
    """Bin continuous magnitudes to the ``delta`` grid anchored at ``m_min`` (half-up)."""
    lo = m_min - delta / 2
    return np.round(m_min + np.floor((np.asarray(m) - lo) / delta + 1e-9) * delta, 6)


def _streams(seed: int) -> dict[str, np.random.Generator]:
    ss = np.random.SeedSequence(seed)
    return {
        name: np.random.default_rng(s)
        for name, s in zip(STREAMS, ss.spawn(len(STREAMS)), strict=True)
    }


def _ts(v: str) -> pd.Timestamp:
    t = pd.Timestamp(v)
    return t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")


def synthesize(
    cfg: SynthConfig,
    progress: Callable[[str], None] | None = None,
    keep_simulation: bool = False,
) -> SynthResult:
    """Generate the synthetic catalog described by ``cfg`` (deterministic in ``cfg.seed``).

    ``keep_simulation`` also returns the full simulated event set (:class:`Simulation`) in
    ``SynthResult.simulation``; the catalog is the same either way."""
    cfg.validate()
    t_start = _time.perf_counter()
    say = progress or (lambda _msg: None)
    rng = _streams(int(cfg.seed))
    e = cfg.etas
    start = _ts(cfg.start)
    end = _ts(cfg.end) + pd.Timedelta(days=1)  # end date inclusive
    t0 = start - pd.Timedelta(days=e.burn_in_days)
    t_end = (end - t0) / pd.Timedelta(days=1)
    t_main = None
    if cfg.mainshock.enabled:
        tm = _ts(cfg.mainshock.time)
        if t0 <= tm < end:
            t_main = (tm - t0) / pd.Timedelta(days=1)

    bfield = BField(cfg.b_field, cfg.sim_region, rng["bfield"])
    ev = simulate(cfg, rng["background"], rng["etas"], bfield, t_end, t_main, say)
    n_sim = len(ev)
    order = np.argsort(ev.t, kind="stable")
    new_pos = np.empty_like(order)
    new_pos[order] = np.arange(order.size)
    ev = ev.take(order)
    ev.parent = np.where(ev.parent >= 0, new_pos[np.maximum(ev.parent, 0)], -1)
    simulation = None
    if keep_simulation:
        main = -1
        if t_main is not None:
            hit = np.flatnonzero((ev.parent < 0) & (ev.t == t_main) & (ev.m == cfg.mainshock.mw))
            main = int(hit[0]) if hit.size else -1
        simulation = Simulation(
            ev.take(np.arange(len(ev))), t0, float(t_end), t_main, main, bfield, cfg
        )

    # --- precursor windows ---------------------------------------------------------------
    pc = cfg.precursors
    m_lo = e.m_min - e.delta_m / 2
    m_bin = bin_magnitudes(ev.m, e.m_min, e.delta_m)
    t_cat0 = (start - t0) / pd.Timedelta(days=1)
    cand = np.flatnonzero((m_bin >= pc.min_mag - 1e-9) & (ev.t >= t_cat0))
    k = int(round(pc.fraction * cand.size))
    targets = (
        np.sort(rng["plants"].choice(cand, size=k, replace=False)) if k else np.zeros(0, np.int64)
    )
    flag, count = mark_precursor_windows(
        ev.t,
        ev.lat,
        ev.lon,
        ev.m,
        targets.astype(np.int64),
        float(pc.days),
        float(pc.radius_km),
        float(pc.m_cap),
    )
    b_true = ev.b.copy()
    applied = pc.mode == "planted"
    if applied and flag.any():
        ev.m[flag] = gr_quantile_map(ev.m[flag], ev.b[flag], pc.b, m_lo, pc.m_cap)
        b_true[flag] = pc.b
        m_bin = bin_magnitudes(ev.m, e.m_min, e.delta_m)
    say(
        f"precursor windows: {targets.size} targets, {int(flag.sum()):,} events in windows ({pc.mode})"
    )

    # --- detection -----------------------------------------------------------------------
    cc = cfg.completeness
    mc = np.full(n_sim, m_lo)
    if cc.enabled:
        mains = np.flatnonzero(ev.m >= cc.min_main_mag)
        radius = np.maximum(cc.min_radius_km, cc.radius_factor * rupture_length_km(ev.m[mains]))
        if t_main is not None:
            is_m = np.isclose(ev.t[mains], t_main) & (ev.m[mains] >= cfg.mainshock.mw - 1e-9)
            radius[is_m] = np.maximum(radius[is_m], cfg.mainshock.length_km)
        m_eff = np.minimum(ev.m[mains], cc.saturation_mag)
        mc = stai_completeness(
            ev.t, ev.lat, ev.lon, mains.astype(np.int64), m_eff, radius, cc.a, cc.b, m_lo
        )
    detected = ev.m >= mc
    in_time = (ev.t >= t_cat0) & (ev.t < t_end)
    rec = np.flatnonzero(detected & in_time)
    say(
        f"recorded {rec.size:,} of {n_sim:,} simulated events "
        f"({int((~detected & in_time).sum()):,} below the short-term completeness)"
    )

    # --- the published catalog ---------------------------------------------------------
    ids = np.array([str(FIRST_ID + i) for i in range(rec.size)], dtype=object)
    id_of = np.full(n_sim, "", dtype=object)
    id_of[rec] = ids
    times = t0 + pd.to_timedelta(np.round(ev.t[rec] * 86_400_000).astype(np.int64), unit="ms")
    mw_true = m_bin[rec]
    raw_events = pd.DataFrame(
        {
            "event_id": ids,
            "time": times,
            "latitude": np.round(ev.lat[rec], 4),
            "longitude": np.round(ev.lon[rec], 4),
            "depth": np.round(ev.depth[rec], 1),
            "event_type": "ke",
            "line": np.arange(rec.size) + 1,
        }
    )
    mags = _reports(mw_true, cfg, rng["reports"])
    raw = RawCatalog("synthetic", None, raw_events, mags)
    ingest = IngestConfig(
        magnitudes=MagnitudeConfig(
            relations=cfg.reports.relations,
            family_relation=dict(PAPER_FAMILY_RELATION),  # Japan: JMA/NIED ML on the MJMA scale
            mw_round=e.delta_m,
        ),
        filters=cfg.filters,
    )
    events, report = build_events(raw, ingest)
    say(f"event table: {len(events):,} events after filters")

    truth = pd.DataFrame(
        {
            "event_id": ids,
            "m_true": ev.m[rec],
            "mw": mw_true,
            "b_true": b_true[rec],
            "in_window": flag[rec],
            "planted": flag[rec] & applied,
            "mc": np.maximum(mc[rec], e.m_min - e.delta_m / 2),
            "background": ev.parent[rec] < 0,
            "generation": ev.gen[rec],
            "parent_id": id_of[np.maximum(ev.parent[rec], 0)] * (ev.parent[rec] >= 0),
        }
    )
    tt = t0 + pd.to_timedelta(np.round(ev.t[targets] * 86_400_000).astype(np.int64), unit="ms")
    plants = pd.DataFrame(
        {
            "target_id": id_of[targets],
            "time": tt,
            "latitude": ev.lat[targets],
            "longitude": ev.lon[targets],
            "mw": m_bin[targets],
            "window_start": tt - pd.Timedelta(days=pc.days),
            "window_end": tt,
            "radius_km": pc.radius_km,
            "b_plant": pc.b,
            "n_events": count,
            "applied": applied,
            "target_recorded": id_of[targets] != "",
        }
    )
    elapsed = _time.perf_counter() - t_start
    meta = {
        "synthetic": {
            "config": asdict(cfg),
            "n_simulated": int(n_sim),
            "n_recorded": int(rec.size),
            "n_below_completeness": int((~detected & in_time).sum()),
            "n_burn_in": int((ev.t < t_cat0).sum()),
            "n_targets": int(targets.size),
            "n_in_windows": int(flag.sum()),
            "seconds": round(elapsed, 2),
        },
        "ingest_config": asdict(ingest),
        "drop_report": report.to_dict(),
        "source": {"format": "synthetic", "preset": cfg.name, "seed": int(cfg.seed)},
    }
    return SynthResult(events, report, raw, truth, plants, meta, simulation)


def _reports(mw: np.ndarray, cfg: SynthConfig, rng: np.random.Generator) -> pd.DataFrame:
    """The magnitudes agencies would publish for events of true Mw ``mw`` (long format)."""
    rc = cfg.reports
    mcfg = MagnitudeConfig(relations=rc.relations, family_relation=dict(PAPER_FAMILY_RELATION))
    n = mw.size
    rows = np.arange(n)
    u = rng.random((5, n))
    jma_type = np.where(u[0] < rc.p_mjma, "MJMA", np.where(u[1] < 0.5, "MV", "ML"))
    parts = []
    for fam in ("MJMA", "MV", "ML"):
        sel = jma_type == fam
        parts.append((rows[sel], fam, "JMA" if fam != "ML" else "NIED", mw[sel]))
    sel = (mw >= 4.0 - 1e-9) & (u[2] < rc.p_mb)
    parts.append((rows[sel], "mb", "ISC", mw[sel]))
    sel = (mw >= 4.8 - 1e-9) & (u[3] < rc.p_ms)
    parts.append((rows[sel], "Ms", "ISC", mw[sel]))
    sel = (mw >= 5.0 - 1e-9) & (u[4] < np.where(mw >= 6.0 - 1e-9, rc.p_mw6, rc.p_mw5))
    parts.append((rows[sel], "Mw", "GCMT", mw[sel]))
    frames = []
    for r, fam, author, m in parts:
        rel = mcfg.relation_for(fam)
        assert rel is not None
        frames.append(
            pd.DataFrame(
                {"row": r, "mag": rel.from_mw(m, rc.decimals), "mag_type": fam, "author": author}
            )
        )
    out = pd.concat(frames, ignore_index=True)
    return out.sort_values(["row", "mag_type"], kind="stable").reset_index(drop=True)
