"""Figure 6: snapshot accuracy on a two-snapshot toy with known answers, and the time-forward
rule (a snapshot is never scored on earlier validation data; the always-latest line never uses
a later snapshot), with a deliberately leaky variant that the check catches."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from espb.evaluation.diagnostics import snapshots as S


class Affine(torch.nn.Module):
    """logit = a * x + b of the block x (one number per sample)."""

    def __init__(self, a: float = 0.0, b: float = 0.0) -> None:
        super().__init__()
        self.a = torch.nn.Parameter(torch.tensor(float(a)))
        self.b = torch.nn.Parameter(torch.tensor(float(b)))

    def forward(self, x):
        return self.a * x[:, 0] + self.b


def _blocks(sids: torch.Tensor) -> torch.Tensor:
    return sids.float()[:, None]  # the block of sample s is the number s


# six samples: meta-epochs 0, 0, 1, 1, 2, 2; labels 1 0 1 0 1 0
SIDS = np.arange(6)
ME = np.array([0, 0, 1, 1, 2, 2])
LABELS = np.array([1, 0, 1, 0, 1, 0])


def _models():
    # snapshot 0 says EQ for every block >= 2.5 (sids 3, 4, 5); snapshot 1 says EQ for even sids
    # below 4 only via a negative slope: logit = 1.5 - x  ->  EQ for sids 0, 1
    return [Affine(1.0, -2.5), Affine(-1.0, 1.5)]


def test_score_matrix_scores_each_snapshot_on_its_future_only():
    sc = S.snapshot_score_matrix(_models(), [0, 1], _blocks, SIDS, ME, batch=4)
    assert np.isfinite(sc[0]).all()  # snapshot 0: all of meta-epochs 0..2
    assert np.isnan(sc[1, :2]).all() and np.isfinite(sc[1, 2:]).all()
    np.testing.assert_allclose(sc[0], 1 / (1 + np.exp(-(SIDS - 2.5))), rtol=1e-6)


def test_snapshot_accuracy_known_answer():
    sc = S.snapshot_score_matrix(_models(), [0, 1], _blocks, SIDS, ME, batch=4)
    acc = S.snapshot_accuracy(sc, [0, 1], LABELS, ME)
    c = acc.curves.set_index(["snapshot", "meta_epoch"])
    # snapshot 0 predicts EQ for sids 3, 4, 5: correct on 1 (nEQ), 4 (EQ) and ... by hand:
    # sid 0 EQ->no (wrong), 1 nEQ->no (right), 2 EQ->no (wrong), 3 nEQ->EQ (wrong),
    # sid 4 EQ->EQ (right), 5 nEQ->EQ (wrong)
    assert c.loc[(0, 0), "acc_cumulative"] == pytest.approx(1 / 2)
    assert c.loc[(0, 1), "acc_cumulative"] == pytest.approx(1 / 4)
    assert c.loc[(0, 2), "acc_cumulative"] == pytest.approx(2 / 6)
    # snapshot 1 predicts EQ for sids 0, 1 only: on sids 2..5: 2 wrong, 3 right, 4 wrong, 5 right
    assert (1, 0) not in c.index
    assert c.loc[(1, 1), "acc_cumulative"] == pytest.approx(1 / 2)
    assert c.loc[(1, 2), "acc_cumulative"] == pytest.approx(2 / 4)
    assert acc.n_evaluations == 6 + 4
    # always the latest: snapshot 0 on ME 0 (1 of 2), snapshot 1 on ME 1 (1 of 2) and ME 2
    # (the latest there is still snapshot 1: no snapshot 2 exists): 1 of 2
    lt = acc.latest.set_index("meta_epoch")["acc_cumulative"]
    assert lt[0] == pytest.approx(1 / 2)
    assert lt[1] == pytest.approx(2 / 4)


def test_snapshot_j_on_its_own_segment_reproduces_the_recorded_scores():
    models = _models() + [Affine(0.0, 0.3)]
    sc = S.snapshot_score_matrix(models, [0, 1, 2], _blocks, SIDS, ME, batch=3)
    own = sc[ME, SIDS]
    ok = S.snapshot_accuracy(sc, [0, 1, 2], LABELS, ME, recorded=own)
    assert ok.self_check_max_diff == 0.0
    bad = S.snapshot_accuracy(sc, [0, 1, 2], LABELS, ME, recorded=own + np.r_[0, 0, 0, 0.1, 0, 0])
    assert bad.self_check_max_diff == pytest.approx(0.1, rel=1e-5)


def test_score_snapshots_with_modules_and_predictions():
    class Source:
        device = torch.device("cpu")

        def blocks(self, s):
            return _blocks(s)

    states = {0: _models()[0].state_dict(), 1: _models()[1].state_dict()}
    pred = pd.DataFrame({"sid": SIDS[::-1], "meta_epoch": ME[::-1], "label": LABELS[::-1]})
    sc = S.snapshot_score_matrix(_models(), [0, 1], _blocks, SIDS, ME)
    own = np.where(ME == 0, sc[0], sc[1])
    pred["score"] = own[::-1]
    got = S.score_snapshots(states, Affine, Source(), pred, batch=2)
    assert got.self_check_max_diff < 1e-7
    assert got.curves["acc_cumulative"].tolist() == pytest.approx(
        [1 / 2, 1 / 4, 2 / 6, 1 / 2, 2 / 4]
    )


def _honest(models) -> S.SnapshotAccuracy:
    sc = S.snapshot_score_matrix(models, [0, 1, 2], _blocks, SIDS, ME, batch=4)
    return S.snapshot_accuracy(sc, [0, 1, 2], LABELS, ME)


def _leaky(models) -> S.SnapshotAccuracy:
    """A leaky variant: the 'latest' line scores every segment with the final snapshot."""
    with torch.no_grad():
        final = torch.sigmoid(models[-1](_blocks(torch.as_tensor(SIDS)))).numpy()
    sc = S.snapshot_score_matrix(models, [0, 1, 2], _blocks, SIDS, ME, batch=4)
    sc[ME, SIDS] = final
    return S.snapshot_accuracy(sc, [0, 1, 2], LABELS, ME)


def _future_is_invisible(fn) -> bool:
    """Change the last snapshot; everything of the meta-epochs before it must stay
    bit-identical: the earlier snapshots' curves there and the always-latest line."""
    base = [Affine(1.0, -2.5), Affine(-1.0, 1.5), Affine(0.0, 0.3)]
    alt = [Affine(1.0, -2.5), Affine(-1.0, 1.5), Affine(5.0, -3.0)]
    a, b = fn(base), fn(alt)
    ca, cb = a.curves, b.curves
    sel_a = ca[(ca["snapshot"] < 2) & (ca["meta_epoch"] < 2)].reset_index(drop=True)
    sel_b = cb[(cb["snapshot"] < 2) & (cb["meta_epoch"] < 2)].reset_index(drop=True)
    la, lb = a.latest[a.latest["meta_epoch"] < 2], b.latest[b.latest["meta_epoch"] < 2]
    return sel_a.equals(sel_b) and la.equals(lb)


def test_a_later_snapshot_changes_nothing_before_its_segment():
    assert _future_is_invisible(_honest)
    c = _honest(_models() + [Affine(0.0, 0.3)]).curves
    assert (c["meta_epoch"] >= c["snapshot"]).all()


def test_the_check_catches_a_leaky_variant():
    assert not _future_is_invisible(_leaky)


def test_samples_must_be_sorted_and_one_meta_epoch_per_snapshot():
    with pytest.raises(ValueError, match="sorted"):
        S.snapshot_score_matrix(_models(), [0, 1], _blocks, SIDS, ME[::-1])
    with pytest.raises(ValueError, match="one meta-epoch per"):
        S.snapshot_score_matrix(_models(), [0, 1, 2], _blocks, SIDS, ME)
