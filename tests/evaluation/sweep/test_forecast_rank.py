"""Forecast skill beside accuracy in the sweep report (issue 14): configurations ranked by the
development-period IG per target over the run's best baseline (the oracle never counts as one),
Spearman's correlation of the two rankings (scipy), and the report's section and files."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from espb.evaluation.sweep.analysis import period_accuracy
from espb.evaluation.sweep.forecast_rank import best_baseline, forecast_ranking
from espb.evaluation.sweep.writer import write_report
from tests.evaluation.sweep.test_writer import _small_sweep


def _metrics(ig_model: float, ig: dict[str, float], boot: bool = True) -> dict[str, float]:
    m = {"forecast/dev/model/ig_nats": ig_model, "forecast/dev/n_targets": 40.0}
    m |= {"forecast/dev/model/ig_nats_lo": ig_model - 0.1, "forecast/dev/model/ig_nats_hi": 0.9}
    for b, v in ig.items():
        m[f"forecast/dev/{b}/ig_nats"] = v
        if boot:  # the paired bootstrap IG of the model over b: the difference, an interval
            k = f"forecast/dev/model/bootstrap_ig_vs_{b}"
            m |= {k: ig_model - v, k + "_lo": ig_model - v - 0.2, k + "_hi": ig_model - v + 0.2}
    return m


def test_best_baseline_excludes_the_oracle_and_reads_the_paired_interval() -> None:
    m = _metrics(0.5, {"spatial": 0.0, "uniform": -0.3, "recent": 0.8, "oracle": 2.0})
    b, ig, lo, hi = best_baseline(m, "model")
    assert b == "recent" and ig == pytest.approx(-0.3)
    assert (lo, hi) == (pytest.approx(-0.5), pytest.approx(-0.1))
    # without the bootstrap metric: the IG difference, no interval
    b, ig, lo, hi = best_baseline(_metrics(0.5, {"spatial": 0.0, "uniform": -1}, False), "model")
    assert b == "spatial" and ig == pytest.approx(0.5) and math.isnan(lo) and math.isnan(hi)
    assert best_baseline({"forecast/dev/model/ig_nats": 1.0}, "model")[0] == ""


@pytest.fixture(scope="module")
def sweep():
    configs, preds = _small_sweep()
    acc = period_accuracy(preds, configs)
    ids = acc.loc[acc["acc_all"].notna(), "run_id"].tolist()
    rng = np.random.default_rng(1)
    metrics = {}
    for i, r in enumerate(ids[:-2]):  # the last two finished runs have no forecast
        recent = float(rng.uniform(0, 1))
        metrics[r] = _metrics(float(rng.uniform(-1, 2)), {"spatial": 0.0, "recent": recent})
        if i == 0:  # the oracle, far ahead, must not be the "best baseline"
            metrics[r]["forecast/dev/oracle/ig_nats"] = 9.0
    return configs, preds, acc, metrics


def test_ranking_by_ig_over_best_baseline(sweep) -> None:
    _, _, acc, metrics = sweep
    rank = forecast_ranking(acc, metrics, k=3)
    t = rank.table
    assert len(t) == len(metrics) and rank.n_missing == 2
    assert rank.n_configs == int(acc["acc_all"].notna().sum())
    for r in t.itertuples():
        m = metrics[r.run_id]
        want = max(("recent", "spatial"), key=lambda b: m[f"forecast/dev/{b}/ig_nats"])
        assert r.best_baseline == want
        assert r.ig_best == pytest.approx(
            m["forecast/dev/model/ig_nats"] - m[f"forecast/dev/{want}/ig_nats"]
        )
        assert r.ig == m["forecast/dev/model/ig_nats"]
    # rank 1 = the largest IG over the best baseline, the table sorted by it
    assert list(t["rank_ig"]) == list(range(1, len(t) + 1))
    assert (np.diff(t["ig_best"].to_numpy()) <= 0).all()
    assert t.loc[t["acc_all"].idxmax(), "rank_acc"] == 1
    ref = stats.spearmanr(t["acc_all"], t["ig_best"])
    assert rank.spearman == pytest.approx(ref.statistic)
    assert rank.p_value == pytest.approx(ref.pvalue)
    assert rank.top_ig == t["run_id"].head(3).tolist()
    assert rank.top_acc == t.sort_values("rank_acc")["run_id"].head(3).tolist()
    # a ranking by IG over the spatial base rate would differ here (recent is often best)
    assert list(t.sort_values("ig", ascending=False)["run_id"]) != list(t["run_id"])


def test_no_forecast_metrics_no_ranking(sweep) -> None:
    _, _, acc, _ = sweep
    assert forecast_ranking(acc, {}) is None


def test_report_section_and_files(sweep, tmp_path: Path) -> None:
    configs, preds, acc, metrics = sweep
    rank = forecast_ranking(acc, metrics, k=3)
    paths = write_report(acc, preds, configs, tmp_path / "rep", "T", forecast=rank)
    assert {"forecast_ranking.csv", "fig_forecast_vs_accuracy.png"} <= set(paths)
    csv = pd.read_csv(paths["forecast_ranking.csv"])
    assert list(csv["run_id"]) == list(rank.table["run_id"])
    md = paths["sweep_report.md"].read_text()
    assert "## Forecast skill beside accuracy" in md
    assert f"{rank.spearman:.3f}" in md and "best baseline" in md
    assert paths["fig_forecast_vs_accuracy.png"].read_bytes()[:4] == b"\x89PNG"
    plain = write_report(acc, preds, configs, tmp_path / "plain", "T")
    assert "forecast_ranking.csv" not in plain
    assert "Forecast skill" not in plain["sweep_report.md"].read_text()
