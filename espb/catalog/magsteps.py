"""The magnitude steps of the ingest that report as well as act: placeholder magnitudes (drop
what was asked, say what looks suspicious) and the conversion report (which relation converted
how many events of each family, and how far values were extrapolated outside a relation's
range). Used by :func:`espb.catalog.build.build_events`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from espb.catalog.config import FilterConfig
from espb.catalog.magnitudes import MagnitudeConfig
from espb.catalog.quality import find_placeholders, spike_mask
from espb.catalog.report import DropReport


def drop_placeholders(
    mag: np.ndarray, mtype: np.ndarray, f: FilterConfig, report: DropReport
) -> np.ndarray:
    """Mask of chosen magnitudes that are placeholders and dropped; notes undropped spikes."""
    drop = np.zeros(mag.shape, dtype=bool)
    detail: dict[str, int] = {}
    for v in f.drop_mags:
        hit = mag == float(v)
        drop |= hit
        detail[f"--drop-mag {v:g}"] = int(hit.sum())
    spikes = find_placeholders(mag[~drop], mtype[~drop])
    if spikes and f.drop_placeholders:
        hit = spike_mask(mag, mtype, spikes) & ~drop
        drop |= hit
        for s in spikes:
            detail[f"spike {s.mag_type} = {s.value:g}"] = int(
                ((mtype == s.mag_type) & (mag == s.value)).sum()
            )
    elif spikes:
        report.note(
            "suspected placeholder magnitudes (kept): "
            + "; ".join(s.describe() for s in spikes)
            + "; drop them with --drop-placeholders or --drop-mag VALUE"
        )
    report.add("placeholder_magnitude", int(drop.sum()), detail)
    return drop


def report_relations(
    mtype: np.ndarray,
    fam: np.ndarray,
    conv_out: np.ndarray,
    by: np.ndarray,
    cfg: MagnitudeConfig,
    report: DropReport,
) -> None:
    """Which relation converted how many events of each family; extrapolations per type."""
    for fm in pd.unique(fam.astype(str)):
        sel = fam == fm
        name = cfg.family_relation.get(fm, "drop")
        report.flag("relation", {f"{fm} via {name}": int(sel.sum())})
        if fm == "ML" and name == "identity":
            report.note(
                f"ML taken as Mw for {int(sel.sum()):,} events (espb's default where no regional "
                "ML relation is chosen; Mw was defined to match ML over M 3-7, Hanks & Kanamori "
                "1979, but below about M 3 Mw ~ 2/3 ML + c, Deichmann 2017): choose with "
                "--ml-relation (mjma = the paper's Japan preset, or a relation file)"
            )
        elif fm == "ML" and name == "mjma":
            report.note(
                f"ML converted with the MJMA relation (paper Eq. 4, Japan) for {int(sel.sum()):,} "
                "events; outside Japan choose --ml-relation identity or a regional relation"
            )
    for t in pd.unique(mtype[conv_out].astype(str)):
        sel = conv_out & (mtype == t)
        below, above = sel & (by < 0), sel & (by > 0)
        far = sel & (np.abs(by) > 1.0)
        detail = {
            f"{t} below its range (down to {by[below].min():+.2f} beyond it)"
            if below.any()
            else "": int(below.sum()),
            f"{t} above its range (up to {by[above].max():+.2f} beyond it)"
            if above.any()
            else "": int(above.sum()),
            f"{t} of those, more than 1 unit outside": int(far.sum()),
        }
        report.flag("extrapolated", {k: v for k, v in detail.items() if k})


__all__ = ["drop_placeholders", "report_relations"]
