"""One table of every forecast score, with block-bootstrap intervals, for a set of named
forecasts (model and baselines) on the same cell-days, and the paired tests of each model
against each baseline: what the forecast command and ``espb report forecast`` print."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from espb.errors import EspbError
from espb.evaluation.forecast._arrays import cell_days
from espb.evaluation.forecast.bootstrap import bootstrap_scores
from espb.evaluation.forecast.paired import bootstrap_ig_test, paired_t_test

#: columns of :func:`score_table` (long format: one row per forecast and score)
COLUMNS = ["forecast", "score", "value", "lo", "hi", "against", "p_value", "n_targets"]

#: row order of the scores of one forecast
SCORES = [
    "ig_nats",
    "ig_bits",
    "probability_gain",
    "ll",
    "ll_mean",
    "brier",
    "bss",
    "auc",
    "ass",
    "ass_w",
]


def _select(
    forecasts: Mapping[str, np.ndarray], y: np.ndarray, day: np.ndarray, mask: np.ndarray | None
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    flat = {}
    base = None
    for name, p in forecasts.items():
        try:
            cd = cell_days(p, y, mask=mask, day=day if base is None else None, open_interval=True)
        except EspbError as e:
            raise EspbError(f"score_table: forecast '{name}': {e}") from e
        if base is None:
            base = cd
        flat[name] = cd.p
    return flat, base.y, base.day


def score_table(
    forecasts: Mapping[str, np.ndarray],
    y: np.ndarray,
    day: np.ndarray,
    *,
    reference: str = "spatial",
    models: Sequence[str] | None = None,
    mask: np.ndarray | None = None,
    n_boot: int = 1000,
    block_days: int = 1,
    seed: int = 0,
    level: float = 0.95,
    alarm_fractions: Sequence[float] = (0.01, 0.05),
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Every score of every forecast over one period, and the paired tests.

    ``forecasts``: name -> probabilities on the cell-days of ``y`` (same shape; ``mask``
    selects the eligible ones); ``day``: day index per cell-day (block bootstrap);
    ``reference``: the forecast the information gain, BSS and weighted alarm fraction refer to
    (the spatial base rate by default); ``models``: the forecasts compared with every other one
    (default: the first). Per forecast the scores :data:`SCORES` and ``hit@<tau>`` with their
    block-bootstrap percentile intervals (:func:`.bootstrap.bootstrap_scores`; ``ass_w`` is the
    ASS with the alarm fraction weighted by the reference's probability); per model and
    baseline ``t_test_poisson`` and ``t_test_bernoulli`` (IG per target event, its
    ``1 - alpha`` interval and p-value, :func:`.paired.paired_t_test`) and ``bootstrap_ig``
    (:func:`.paired.bootstrap_ig_test`). All forecasts see the same bootstrap replicates.
    Returns the long table of :data:`COLUMNS`; :func:`wide_table` pivots it for printing."""
    if reference not in forecasts:
        raise EspbError(
            f"score_table: reference '{reference}' is not among the forecasts "
            f"{list(forecasts)}; pass reference= one of them"
        )
    models = [next(iter(forecasts))] if models is None else list(models)
    unknown = [m for m in models if m not in forecasts]
    if unknown:
        raise EspbError(
            f"score_table: model(s) {unknown} not among the forecasts {list(forecasts)}"
        )
    flat, yf, df = _select(forecasts, y, day, mask)
    ref = flat[reference]
    n1 = int(np.count_nonzero(yf))
    boot = {"n_boot": n_boot, "block_days": block_days, "seed": seed, "level": level}
    rows = []
    for name, p in flat.items():
        res = bootstrap_scores(p, yf, df, r=ref, w=ref, alarm_fractions=alarm_fractions, **boot)
        order = SCORES + [f"hit@{a:g}" for a in alarm_fractions]
        for score in order:
            iv = res[score]
            against = (
                reference if score in ("ig_nats", "ig_bits", "probability_gain", "bss") else ""
            )
            rows.append([name, score, iv.value, iv.lo, iv.hi, against, np.nan, n1])
    for m in models:
        for b in flat:
            if b == m:
                continue
            for kind in ("poisson", "bernoulli"):
                t = paired_t_test(flat[m], flat[b], yf, alpha=alpha, kind=kind)
                rows.append(
                    [
                        m,
                        f"t_test_{kind}",
                        t.information_gain,
                        t.ig_lower,
                        t.ig_upper,
                        b,
                        t.p_value,
                        n1,
                    ]
                )
            bt = bootstrap_ig_test(flat[m], flat[b], yf, df, **boot)
            rows.append([m, "bootstrap_ig", bt.ig.value, bt.ig.lo, bt.ig.hi, b, bt.p_value, n1])
    return pd.DataFrame(rows, columns=COLUMNS)


def wide_table(table: pd.DataFrame, digits: int = 4) -> pd.DataFrame:
    """The per-forecast scores of :func:`score_table` as one row per forecast and one column
    per score, each cell ``value [lo, hi]``; paired tests as columns ``<test> vs <baseline>``
    with the p-value appended."""

    def cell(r: pd.Series) -> str:
        s = f"{r.value:.{digits}g} [{r.lo:.{digits}g}, {r.hi:.{digits}g}]"
        return s + (f" p={r.p_value:.2g}" if np.isfinite(r.p_value) else "")

    t = table.assign(
        column=np.where(
            table["score"].str.startswith(("t_test", "bootstrap_ig")),
            table["score"] + " vs " + table["against"],
            table["score"],
        ),
        text=table.apply(cell, axis=1),
    )
    out = t.pivot(index="forecast", columns="column", values="text")
    cols = list(dict.fromkeys(t["column"]))
    return out.loc[list(dict.fromkeys(t["forecast"])), cols].fillna("")
