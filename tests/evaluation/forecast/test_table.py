"""score_table: one long table of every score with intervals and the paired tests."""

from __future__ import annotations

import numpy as np
import pytest

from espb.errors import EspbError
from espb.evaluation.forecast.alarms import molchan, roc_auc
from espb.evaluation.forecast.paired import paired_t_test
from espb.evaluation.forecast.scores import brier_skill_score, information_gain
from espb.evaluation.forecast.table import COLUMNS, SCORES, score_table, wide_table


@pytest.fixture
def table(cube):
    p, y, r, day, mask = cube
    u = np.full(p.shape, y[mask].mean())
    fc = {"model": p, "spatial": r, "uniform": u}
    return fc, score_table(fc, y, day, mask=mask, n_boot=100, block_days=7)


def test_scores_of_every_forecast(cube, table):
    p, y, r, _, mask = cube
    fc, t = table
    assert list(t.columns) == COLUMNS
    v = t.set_index(["forecast", "score", "against"])["value"]
    for name, q in fc.items():
        assert v[name, "ig_nats", "spatial"] == pytest.approx(
            information_gain(q, r, y, mask=mask).nats, rel=1e-10, abs=1e-14
        )
        assert v[name, "bss", "spatial"] == pytest.approx(
            brier_skill_score(q, r, y, mask=mask).bss, rel=1e-10, abs=1e-14
        )
        assert v[name, "auc", ""] == pytest.approx(roc_auc(q, y, mask=mask))
        assert v[name, "ass_w", ""] == pytest.approx(molchan(q, y, w=r, mask=mask).ass)
        assert v[name, "hit@0.05", ""] == pytest.approx(molchan(q, y, mask=mask).hit_rates[0.05])
    assert v["spatial", "ig_nats", "spatial"] == 0.0
    assert v["uniform", "ass", ""] == pytest.approx(0.5)
    per = t[~t["score"].str.startswith(("t_test", "bootstrap"))]
    assert len(per) == 3 * (len(SCORES) + 2)
    assert np.all((per["lo"] <= per["value"] + 1e-12) & (per["value"] <= per["hi"] + 1e-12))


def test_paired_tests_against_each_baseline(cube, table):
    p, y, r, _, mask = cube
    _, t = table
    pt = t[t["score"].str.startswith(("t_test", "bootstrap"))]
    assert set(pt["forecast"]) == {"model"}
    assert sorted(pt["against"].unique()) == ["spatial", "uniform"]
    assert len(pt) == 2 * 3
    row = pt[(pt["score"] == "t_test_poisson") & (pt["against"] == "spatial")].iloc[0]
    ref = paired_t_test(p, r, y, mask=mask, kind="poisson")
    assert row["value"] == pytest.approx(ref.information_gain)
    assert row["p_value"] == pytest.approx(ref.p_value)


def test_wide_table_and_errors(cube, table):
    p, y, r, day, mask = cube
    fc, t = table
    w = wide_table(t)
    assert list(w.index) == ["model", "spatial", "uniform"]
    assert "t_test_poisson vs spatial" in w.columns and "[" in w.loc["model", "auc"]
    with pytest.raises(EspbError, match="reference 'base'"):
        score_table(fc, y, day, reference="base", mask=mask)
    with pytest.raises(EspbError, match="model"):
        score_table(fc, y, day, models=["etas"], mask=mask)
    bad = dict(fc, broken=np.where(mask, 1.5, 0.1))
    with pytest.raises(EspbError, match="forecast 'broken'"):
        score_table(bad, y, day, mask=mask, n_boot=5)
