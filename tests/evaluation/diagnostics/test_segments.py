"""Figure 3 (EQ samples per segment) and Figure B.4 (cumulative EQ in the training set) on
hand-made samples with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from espb.evaluation.diagnostics.segments import eq_counts_per_segment, training_eq_cumulative
from espb.training.schedule import MetaEpoch


def _dates(days):
    return pd.Timestamp("2020-01-01") + pd.to_timedelta(np.asarray(days), unit="D")


def test_eq_counts_per_segment_known_answer():
    # segments [10,20) [20,30) [30,40) [40,50); EQ on days 12, 15 | 25 | - | 41, 42, 43
    d = eq_counts_per_segment(np.array([12, 15, 25, 41, 42, 43]), 10, 50, 10, 1, _dates, 39)
    assert d["lo"].tolist() == [10, 20, 30, 40]
    assert d["hi"].tolist() == [20, 30, 40, 50]
    assert d["n_eq"].tolist() == [2, 1, 0, 3]
    # warm-up 1: segment 0 trains only; segment 2 has no EQ (no validation window)
    assert d["meta_epoch"].tolist() == [-1, 0, -1, 1]
    assert d["phase"].tolist() == ["", "dev", "", "test"]  # segment 3 starts after day 39
    assert d["date"].iloc[1] == pd.Timestamp("2020-01-21")


def test_the_development_end_ends_a_segment():
    # dev_end 34: [10,20) [20,30) [30,35) | [35,45) [45,50), as the sample table cuts them
    d = eq_counts_per_segment(np.array([12, 15, 25, 33, 41, 42, 43]), 10, 50, 10, 1, _dates, 34)
    assert d["lo"].tolist() == [10, 20, 30, 35, 45]
    assert d["hi"].tolist() == [20, 30, 35, 45, 50]
    assert d["n_eq"].tolist() == [2, 1, 1, 3, 0]
    assert d["phase"].tolist() == ["", "dev", "dev", "test", ""]
    assert d["meta_epoch"].tolist() == [-1, 0, 1, 2, -1]


def test_eq_counts_other_segment_lengths_keep_every_eq_sample():
    rng = np.random.default_rng(0)
    t = np.sort(rng.integers(64, 600, 200))
    for l_me in (14, 30, 50):
        d = eq_counts_per_segment(t, 64, 600, l_me, 6, _dates)
        assert d["n_eq"].sum() == len(t)
        assert (d["hi"] - d["lo"]).iloc[:-1].eq(l_me).all()
        me = d[d["meta_epoch"] >= 0]
        assert (me["segment"] >= 6).all() and (me["n_eq"] > 0).all()
        assert me["meta_epoch"].tolist() == list(range(len(me)))


def test_eq_counts_no_meta_epoch_before_the_first_eq():
    # EQ only in segment 3: nothing to train on before it, so no meta-epoch at all
    d = eq_counts_per_segment(np.array([35]), 0, 50, 10, 0, _dates)
    assert (d["meta_epoch"] == -1).all()


def test_training_eq_cumulative_known_answer():
    table = pd.DataFrame(
        {
            "sid": range(6),
            "segment": [0, 0, 1, 1, 2, 2],
            "label": [1, 0, 1, 0, 1, 0],
            # the nEQ of segment 1 is known only on day 27 (label delay)
            "available": [3, 5, 12, 27, 21, 24],
        }
    )
    mes = [MetaEpoch(0, 1, 10, 20, "dev"), MetaEpoch(1, 2, 20, 30, "dev"),
           MetaEpoch(2, 3, 30, 40, "test")]  # fmt: skip
    d = training_eq_cumulative(table, mes, _dates)
    assert d["n_eq_train"].tolist() == [1, 2, 3]
    assert d["n_neq_train"].tolist() == [1, 1, 3]
    assert d["n_train"].tolist() == [2, 3, 6]
    assert d["date"].tolist() == list(_dates([10, 20, 30]))


@pytest.mark.parametrize("top", [1, 7, 39, 40, 41, 79, 95, 1000])
def test_count_bins_hold_every_count(top: int) -> None:
    """The Figure 3 histogram draws every meta-epoch, the largest count too (the demo's 95 fell
    past the last edge of ``arange(0.5, top + 1.5, 2)``)."""
    from espb.evaluation.diagnostics.segments import count_bins

    counts = np.arange(1, top + 1)
    hist, _ = np.histogram(counts, bins=count_bins(top))
    assert hist.sum() == top
    assert len(hist) <= 40


def test_eq_count_figure_draws_every_meta_epoch() -> None:
    from espb.evaluation.diagnostics.segments import eq_count_figure

    counts = pd.DataFrame(
        {
            "l_me": 30,
            "date": pd.date_range("2010-01-01", periods=5, freq="30D"),
            "n_eq": [1, 2, 2, 3, 95],
            "meta_epoch": range(5),
        }
    )
    fig = eq_count_figure(counts)
    heights = [p.get_height() for p in fig.axes[0].patches]
    assert sum(heights) == 5
