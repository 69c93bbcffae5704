"""Forecast skill beside accuracy in the sweep report: the configurations ranked by their
development-period information gain per target earthquake over the **best baseline** of the
run (the baseline other than the oracle with the highest IG over the spatial base rate on the
run's own cell-days: spatial, uniform or recent activity), and by the paper's accuracy on the
balanced development samples (Eq. 7, what the report selects on), and where the two rankings
disagree: Spearman's rank correlation (scipy.stats.spearmanr) and the top-k of each (issue 14).

Read from the metrics a run logs when the sweep ran with ``forecast.enabled=true``
(:mod:`espb.evaluation.forecast.run_log`): ``forecast/dev/<forecast>/ig_nats`` (IG per target
over the spatial base rate) of the model and of every baseline, and the paired block-bootstrap
``forecast/dev/<model>/bootstrap_ig_vs_<baseline>`` with its interval. The Bernoulli IG over a
baseline ``b`` is ``IG_model - IG_b`` (both over the same reference, targets and cell-days), and
the bootstrap metric is that difference with its paired interval; the oracle ETAS is left out of
"best" since it knows the generating process (an honest ceiling, not a competitor).

Compute (:func:`forecast_ranking`) -> draw (:func:`fig_forecast_vs_accuracy`) -> Markdown lines
(:func:`markdown_section`); :func:`espb.evaluation.sweep.writer.write_report` writes them only
when some configuration has the metric, so a report without forecasts is unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from espb.evaluation.sweep.factors import FACTORS, describe_config

METRIC = "forecast/dev/{model}/ig_nats"
#: baselines never counted as "best": the oracle knows the generating process
NOT_COMPETITORS = ("oracle",)
#: other development-period scores shown beside it
EXTRA = ("bss", "auc", "ass", "hit_1pct", "hit_5pct")


@dataclass
class ForecastRanking:
    """``table``: one row per configuration with both numbers (``run_id``, ``configuration``,
    the factors, ``acc_all``, ``n_all``, ``ig``, ``ig_lo``, ``ig_hi`` (over the spatial base
    rate), ``best_baseline``, ``ig_best``, ``ig_best_lo``, ``ig_best_hi`` (over the best
    baseline), ``n_targets``, the :data:`EXTRA` scores, ``rank_acc``, ``rank_ig`` (1 = best, by
    ``ig_best``)) sorted by ``rank_ig``; ``spearman``
    and ``p_value`` of the two rankings; the top ``k`` run ids of each; ``n_configs`` with
    accuracies, ``n_missing`` of them without the forecast metric."""

    model: str
    table: pd.DataFrame
    spearman: float
    p_value: float
    k: int
    top_acc: list[str]
    top_ig: list[str]
    n_configs: int
    n_missing: int
    notes: list[str] = field(default_factory=list)

    @property
    def both(self) -> list[str]:
        return [r for r in self.top_ig if r in self.top_acc]


def _model_name(metrics: Mapping[str, Mapping[str, float]]) -> str | None:
    """``model`` if any run logged it, else the most frequent ``model_*`` variant."""
    seen: dict[str, int] = {}
    for m in metrics.values():
        for key in m:
            parts = key.split("/")
            if len(parts) == 4 and parts[1] == "dev" and parts[3] == "ig_nats":
                if parts[2].startswith("model"):
                    seen[parts[2]] = seen.get(parts[2], 0) + 1
    if not seen:
        return None
    return "model" if "model" in seen else max(sorted(seen), key=seen.get)


def forecast_ranking(
    acc: pd.DataFrame, metrics: Mapping[str, Mapping[str, float]], k: int = 5
) -> ForecastRanking | None:
    """The two rankings of the configurations of ``acc`` (development-period accuracies,
    :func:`~espb.evaluation.sweep.analysis.period_accuracy`) and ``metrics`` (run id -> its
    ``forecast/dev/...`` metrics); None when no run has the forecast metric. Ties rank by the
    order of ``acc`` (mergesort)."""
    from scipy import stats

    model = _model_name(metrics)
    if model is None:
        return None
    key = METRIC.format(model=model)
    base = key[: -len("ig_nats")]
    d = acc[acc["acc_all"].notna()].copy()
    m = d["run_id"].map(lambda r: metrics.get(r, {}))
    d["ig"] = m.map(lambda x: x.get(key, np.nan))
    d["ig_lo"] = m.map(lambda x: x.get(key + "_lo", np.nan))
    d["ig_hi"] = m.map(lambda x: x.get(key + "_hi", np.nan))
    d["n_targets"] = m.map(lambda x: x.get("forecast/dev/n_targets", np.nan))
    for s in EXTRA:
        d[s] = m.map(lambda x, s=s: x.get(base + s, np.nan))
    best = m.map(lambda x: best_baseline(x, model))
    d["best_baseline"] = best.map(lambda t: t[0])
    d["ig_best"], d["ig_best_lo"], d["ig_best_hi"] = (
        best.map(lambda t, i=i: t[i]) for i in (1, 2, 3)
    )
    n_cfg = len(d)
    d = d[d["ig"].notna()].reset_index(drop=True)
    d["configuration"] = [describe_config(r) for r in d.to_dict("records")]
    order = np.arange(len(d))
    d["rank_acc"] = _ranks(d["acc_all"].to_numpy(float), order)
    d["rank_ig"] = _ranks(d["ig_best"].to_numpy(float), order)
    rho, p = (math.nan, math.nan)
    notes = []
    if len(d) >= 3:
        res = stats.spearmanr(d["acc_all"], d["ig_best"])
        rho, p = float(res.statistic), float(res.pvalue)
    else:
        notes.append(f"only {len(d)} configurations with both numbers: no rank correlation")
    cols = ["run_id", "configuration", *[f for f in FACTORS if f in d], "acc_all", "n_all"]
    cols += ["ig", "ig_lo", "ig_hi", "best_baseline", "ig_best", "ig_best_lo", "ig_best_hi"]
    cols += ["n_targets", *EXTRA, "rank_acc", "rank_ig"]
    table = d[cols].sort_values(["rank_ig"], kind="mergesort").reset_index(drop=True)
    k = min(k, len(table))
    top_acc = table.sort_values("rank_acc", kind="mergesort")["run_id"].head(k).tolist()
    top_ig = table["run_id"].head(k).tolist()
    return ForecastRanking(model, table, rho, p, k, top_acc, top_ig, n_cfg, n_cfg - len(d), notes)


def best_baseline(metrics: Mapping[str, float], model: str) -> tuple[str, float, float, float]:
    """The run's best baseline (highest ``forecast/dev/<b>/ig_nats`` among the logged
    forecasts other than the model variants and :data:`NOT_COMPETITORS`; ties: the first name
    in sorted order) and the model's IG per target over it with the paired bootstrap interval
    (``bootstrap_ig_vs_<b>``; without it the difference of the two IGs and no interval).
    ``("", nan, nan, nan)`` when the run logged no baseline."""
    nan = math.nan
    ig = {}
    for key, v in metrics.items():
        parts = key.split("/")
        if len(parts) == 4 and parts[1] == "dev" and parts[3] == "ig_nats":
            if not parts[2].startswith("model") and parts[2] not in NOT_COMPETITORS:
                ig[parts[2]] = float(v)
    own = metrics.get(METRIC.format(model=model), nan)
    if not ig or not np.isfinite(own):
        return "", nan, nan, nan
    b = max(sorted(ig), key=lambda k: ig[k])
    key = f"forecast/dev/{model}/bootstrap_ig_vs_{b}"
    if key in metrics:
        return b, float(metrics[key]), metrics.get(key + "_lo", nan), metrics.get(key + "_hi", nan)
    return b, own - ig[b], nan, nan


def _ranks(v: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Rank 1 = the largest value; ties in the given order."""
    idx = np.lexsort((order, -v))
    r = np.empty(len(v), np.int64)
    r[idx] = np.arange(1, len(v) + 1)
    return r


def fig_forecast_vs_accuracy(rank: ForecastRanking, path: str | Path) -> Path:
    """Scatter of development-period IG per target (with its interval) against accuracy; the
    top-k of each ranking marked."""
    from matplotlib.figure import Figure

    t = rank.table
    fig = Figure(figsize=(6.4, 5.0), layout="constrained")
    ax = fig.add_subplot()
    err = np.vstack([t["ig_best"] - t["ig_best_lo"], t["ig_best_hi"] - t["ig_best"]])
    err = np.nan_to_num(err, nan=0.0).clip(min=0)
    ax.errorbar(t["acc_all"], t["ig_best"], yerr=err, fmt="o", ms=4, color="0.5", lw=0.8, zorder=1)
    for ids, mk, lab in ((rank.top_acc, "s", "top by accuracy"), (rank.top_ig, "^", "top by IG")):
        sel = t[t["run_id"].isin(ids)]
        ax.scatter(sel["acc_all"], sel["ig_best"], marker=mk, s=70, facecolors="none", label=lab)
    ax.axhline(0.0, color="0.4", ls="--", lw=1)
    ax.set_xlabel("accuracy, development period (balanced samples, Eq. 7)")
    ax.set_ylabel("IG per target over the best baseline (nats), dev")
    ax.set_title(f"Forecast skill vs accuracy (Spearman {rank.spearman:.2f}, n={len(t)})")
    ax.legend(fontsize=8)
    path = Path(path)
    fig.savefig(path, dpi=110)
    return path


def _row(r: Mapping[str, Any]) -> list[str]:
    f = lambda v, d=3: "–" if not np.isfinite(v) else f"{v:.{d}f}"  # noqa: E731
    return [
        f"{r['rank_ig']}",
        f"{r['rank_acc']}",
        r["configuration"],
        f(r["acc_all"]),
        f"{f(r['ig_best'])} [{f(r['ig_best_lo'])}, {f(r['ig_best_hi'])}]",
        r["best_baseline"],
        f"{f(r['ig'])} [{f(r['ig_lo'])}, {f(r['ig_hi'])}]",
        f(r["bss"], 5),
        f(r["auc"]),
        f"`{r['run_id']}`",
    ]


def markdown_section(rank: ForecastRanking) -> list[str]:
    t = rank.table.set_index("run_id", drop=False)
    heads = ["IG rank", "acc rank", "configuration", "accuracy", "IG over best [95 %]", "best"]
    heads += ["IG over spatial [95 %]", "BSS", "AUC"]
    heads.append("run")
    rows = [_row(r) for r in t.to_dict("records")]
    top = max(rank.k, 1)
    lines = [
        "## Forecast skill beside accuracy (development period)",
        "",
        f"- forecast skill: information gain per target earthquake of `{rank.model}` over the "
        "run's best baseline other than the oracle (nats, paired block-bootstrap interval; "
        f"from `{METRIC.format(model=rank.model)}` and `bootstrap_ig_vs_<baseline>`, "
        "`forecast.enabled=true`) beside the accuracy on the balanced development samples "
        "(Eq. 7); IG > 0: the model beats every baseline",
        f"- configurations with both: {len(t)} of {rank.n_configs} ({rank.n_missing} without "
        "forecast metrics)",
        f"- Spearman rank correlation of the two rankings: {rank.spearman:.3f} "
        f"(p = {rank.p_value:.3g}, n = {len(t)})",
        f"- top {top} by accuracy: " + ", ".join(t.loc[r, "configuration"] for r in rank.top_acc),
        f"- top {top} by IG: " + ", ".join(t.loc[r, "configuration"] for r in rank.top_ig),
        f"- in both top {top}: {', '.join(t.loc[r, 'configuration'] for r in rank.both) or 'none'}",
        *(f"- {n}" for n in rank.notes),
        "",
        *(
            ["| " + " | ".join(heads) + " |", "|" + "|".join("---" for _ in heads) + "|"]
            + ["| " + " | ".join(r) + " |" for r in rows[:20]]
        ),
        "",
        "![forecast skill vs accuracy](fig_forecast_vs_accuracy.png)",
        "",
    ]
    return lines
