"""Figures D.10 / D.11: the ROC curve, AUC, Youden threshold, metrics and confusion matrix
against scikit-learn, and the six equal intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from espb.evaluation.diagnostics.roc import roc_analysis, roc_curve, roc_intervals

sk = pytest.importorskip("sklearn.metrics")


def _toy(n: int = 300, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    s = np.clip(0.5 + 0.25 * (y - 0.5) + 0.2 * rng.standard_normal(n), 0, 1)
    s = np.round(s, 2)  # ties
    return y, s


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_roc_curve_matches_sklearn(seed):
    y, s = _toy(seed=seed)
    fpr, tpr, thr = roc_curve(y, s)
    efpr, etpr, ethr = sk.roc_curve(y, s, drop_intermediate=False)
    np.testing.assert_allclose(fpr, efpr)
    np.testing.assert_allclose(tpr, etpr)
    np.testing.assert_allclose(thr[1:], ethr[1:])
    assert np.isinf(thr[0]) and np.isinf(ethr[0])
    r = roc_analysis(y, s)
    assert r.auc == pytest.approx(sk.roc_auc_score(y, s), abs=1e-12)


def test_youden_threshold_metrics_and_confusion_match_sklearn():
    y, s = _toy(seed=3)
    r = roc_analysis(y, s)
    efpr, etpr, ethr = sk.roc_curve(y, s, drop_intermediate=False)
    k = int(np.argmax(etpr - efpr))
    assert r.threshold == pytest.approx(ethr[k])
    assert r.j == pytest.approx(etpr[k] - efpr[k])
    m = r.metrics.set_index("at")
    for at, thr in (("0.5", 0.5), ("optimal (Youden)", ethr[k])):
        p = (s >= thr).astype(int)
        assert m.loc[at, "accuracy"] == pytest.approx(sk.accuracy_score(y, p))
        assert m.loc[at, "precision"] == pytest.approx(sk.precision_score(y, p))
        assert m.loc[at, "recall"] == pytest.approx(sk.recall_score(y, p))
        assert m.loc[at, "f1"] == pytest.approx(sk.f1_score(y, p))
    # the optimum is at least as good as 0.5 in Youden's J
    half = m.loc["0.5"]
    assert r.j >= half["recall"] - half["fpr"] - 1e-12
    np.testing.assert_array_equal(r.confusion, sk.confusion_matrix(y, (s >= 0.5).astype(int)))


def test_roc_with_one_class_has_no_curve():
    r = roc_analysis(np.ones(5), np.linspace(0, 1, 5))
    assert np.isnan(r.auc) and np.isnan(r.threshold) and len(r.metrics) == 1
    r0 = roc_analysis(np.zeros(0), np.zeros(0))
    assert r0.n_eq == r0.n_neq == 0


def test_six_equal_intervals():
    dates = pd.date_range("2001-01-01", periods=600, freq="D")
    y = np.tile([1, 0], 300)
    s = np.where(y == 1, 0.8, 0.2)
    s[:100] = 1 - s[:100]  # the first interval is inverted: AUC 0 there
    pred = pd.DataFrame({"date": dates, "label": y, "score": s})
    table, rocs = roc_intervals(pred, 6)
    assert len(table) == len(rocs) == 6
    assert (table["n_eq"] + table["n_neq"]).tolist() == [100] * 6
    assert table["auc"].iloc[0] == 0.0 and (table["auc"].iloc[1:] == 1.0).all()
    assert table["start"].iloc[0] == dates[0]
    assert table["end"].iloc[-1] == dates[-1] + pd.Timedelta(days=1)
