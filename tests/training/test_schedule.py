"""The meta-epoch schedule of paper Section 3.3: warm-up, skipped EQ-free segments, class balance,
weighting of the newly added samples, the label delay."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from espb.samples.table import segment_bounds
from espb.training.schedule import (
    MetaEpoch,
    meta_epochs,
    sample_weights,
    training_mask,
    validation_mask,
)


def _table(
    eq_per_segment: list[int], l_me: int = 10, first: int = 100, delay: int = 7
) -> tuple[pd.DataFrame, np.ndarray]:
    """A sample table with ``eq_per_segment[s]`` EQ and as many nEQ in segment s (targets spread
    over the segment)."""
    bounds = segment_bounds(first, first + l_me * len(eq_per_segment), l_me)
    rows = []
    for s, n in enumerate(eq_per_segment):
        lo = bounds[s, 0]
        for i in range(n):
            t = lo + (i * 3) % l_me
            rows.append((s, t, 1, t))
        for i in range(n):
            t = lo + (i * 7 + 1) % l_me
            rows.append((s, t, 0, t + delay))
    df = pd.DataFrame(rows, columns=["segment", "target", "label", "available"])
    df.insert(0, "sid", np.arange(len(df)))
    return df, bounds


def test_warmup_of_six_segments():
    tab, b = _table([1] * 10)
    mes = meta_epochs(tab, b, warmup=6)
    assert [m.segment for m in mes] == [6, 7, 8, 9]
    first = mes[0]
    tr = tab[training_mask(tab, first)]
    assert set(tr["segment"]) <= set(range(6))
    # fewer segments than the warm-up: no meta-epoch at all
    tab2, b2 = _table([3] * 6)
    assert meta_epochs(tab2, b2, warmup=6) == []


def test_eq_free_segments_are_skipped_and_folded_into_the_next_training_set():
    counts = [2, 1, 1, 1, 1, 1, 0, 0, 2, 0, 1]
    tab, b = _table(counts)
    mes = meta_epochs(tab, b, warmup=6)
    assert [m.segment for m in mes] == [8, 10]  # 6, 7 and 9 have no EQ: not validation windows
    assert [m.index for m in mes] == [0, 1]
    # the meta-epoch validating 8 trains on everything before it, including the EQ-free 6 and 7
    tr = tab[training_mask(tab, mes[0])]
    assert tr["segment"].max() <= 7
    assert (tab[validation_mask(tab, mes[0])]["segment"] == 8).all()
    # the next one (validating 10) adds segment 8's samples (9 has none)
    tr2 = tab[training_mask(tab, mes[1])]
    assert set(tr2["segment"]) - set(tr["segment"]) == {8}


def test_class_balance_of_training_and_validation_sets():
    tab, b = _table([3, 1, 2, 5, 1, 4, 2, 3, 1])
    for me in meta_epochs(tab, b, warmup=6):
        va = tab[validation_mask(tab, me)]
        assert (va["label"] == 1).sum() == (va["label"] == 0).sum() > 0
        # training: balanced except for the nEQ of the last segment still waiting for their label
        tr = tab[training_mask(tab, me)]
        waiting = tab[(tab["segment"] < me.segment) & (tab["available"] >= me.lo)]
        assert (waiting["label"] == 0).all()
        assert (tr["label"] == 1).sum() == (tr["label"] == 0).sum() + len(waiting)


def test_label_delay_keeps_unfinished_neq_labels_out_of_training():
    tab, b = _table([4] * 8, l_me=10, delay=7)
    me = meta_epochs(tab, b, warmup=6)[0]
    tr = tab[training_mask(tab, me)]
    assert (tr["available"] < me.lo).all()
    # nEQ with target in the last 7 days before the validation window are not yet in
    late = tab[(tab["label"] == 0) & (tab["segment"] == 5) & (tab["target"] + 7 >= me.lo)]
    assert len(late) and not late["sid"].isin(tr["sid"]).any()
    # and they are in the next meta-epoch's training set
    me2 = meta_epochs(tab, b, warmup=6)[1]
    assert late["sid"].isin(tab[training_mask(tab, me2)]["sid"]).all()
    # without the delay every earlier sample trains
    tab0, _ = _table([4] * 8, l_me=10, delay=0)
    tr0 = tab0[training_mask(tab0, me)]
    assert set(tr0["segment"]) == set(range(6)) and len(tr0) == 6 * 8


def test_weights_new_samples_sum_to_the_earlier_ones():
    in_prev = np.array([True] * 30 + [False] * 6)
    w = sample_weights(None, in_prev, "reset")
    assert w.mean() == pytest.approx(1.0)
    assert w[~in_prev].sum() == pytest.approx(w[in_prev].sum())
    assert np.allclose(w[in_prev], w[in_prev][0])  # earlier samples equal among themselves
    assert w[~in_prev][0] == pytest.approx(5 * w[in_prev][0])  # 30 old / 6 new
    # first meta-epoch: all new, all equal
    assert np.allclose(sample_weights(None, np.zeros(8, bool), "reset"), 1.0)
    # none: all 1
    assert np.allclose(sample_weights(None, in_prev, "none"), 1.0)


def test_compound_weighting_halves_the_past_each_meta_epoch():
    w1 = sample_weights(None, np.zeros(4, bool), "compound")  # 4 samples
    in_prev = np.array([True] * 4 + [False] * 4)
    w2 = sample_weights(w1, in_prev, "compound")
    in_prev3 = np.array([True] * 8 + [False] * 2)
    w3 = sample_weights(w2, in_prev3, "compound")
    # shares of the total weight: last block 1/2, the one before 1/4, the first 1/4
    tot = w3.sum()
    assert w3[8:].sum() / tot == pytest.approx(0.5)
    assert w3[4:8].sum() / tot == pytest.approx(0.25)
    assert w3[:4].sum() / tot == pytest.approx(0.25)
    # reset instead: the first 8 samples weigh the same
    r3 = sample_weights(None, in_prev3, "reset")
    assert np.allclose(r3[:8], r3[0])


def test_bad_weighting_is_an_error():
    with pytest.raises(ValueError, match="weighting"):
        sample_weights(None, np.zeros(3, bool), "exponential")


def test_dev_and_test_phases():
    tab, b = _table([1] * 10)
    mes = meta_epochs(tab, b, warmup=6, dev_end=int(b[7, 1]) - 1)
    assert [m.phase for m in mes] == ["dev", "dev", "test", "test"]
    assert isinstance(mes[0], MetaEpoch)


def test_segment_bounds():
    b = segment_bounds(512, 512 + 14 * 3 + 5, 14)
    assert b.tolist() == [[512, 526], [526, 540], [540, 554], [554, 559]]
    with pytest.raises(ValueError):
        segment_bounds(0, 10, 0)


def test_no_meta_epoch_before_the_first_eq():
    tab, b = _table([0, 0, 0, 0, 0, 0, 2, 1, 0, 3])
    mes = meta_epochs(tab, b, warmup=6)
    assert [m.segment for m in mes] == [7, 9]  # 6 has EQ but nothing before it to train on


@pytest.mark.parametrize(
    "n, bs", [(0, 32), (1, 32), (2, 32), (32, 32), (33, 32), (65, 32), (64, 32), (5, 2)]
)
def test_batches_cover_every_sample_once_and_never_hold_one(n, bs):
    from espb.training.loop import _batches

    perm = np.arange(n)
    out = _batches(perm, bs)
    if n < 2:
        assert out == []
        return
    assert np.array_equal(np.sort(np.concatenate(out)), perm)
    assert all(2 <= len(b) <= bs + 1 for b in out)
