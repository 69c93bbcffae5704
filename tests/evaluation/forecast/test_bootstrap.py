"""Block bootstrap: replicates equal the scores of the explicitly resampled data, the full
sample equals the direct scores, and the intervals cover the truth at about the nominal rate."""

from __future__ import annotations

import numpy as np
import pytest

from espb.errors import EspbError
from espb.evaluation.forecast._arrays import cell_days
from espb.evaluation.forecast.alarms import molchan, roc_auc
from espb.evaluation.forecast.bootstrap import (
    additive_replicates,
    block_index,
    block_sums,
    bootstrap_scores,
    resample_counts,
)
from espb.evaluation.forecast.rank_boot import rank_matrices, rank_replicates
from espb.evaluation.forecast.scores import (
    bernoulli_log_likelihood,
    brier_score,
    brier_skill_score,
    information_gain,
)


def test_block_index_days_and_weeks():
    day = np.array([3, 3, 4, 9, 10, 16, 17])
    k, nb = block_index(day, 1)
    assert nb == 6 and list(k) == [0, 0, 1, 2, 3, 4, 5]
    k, nb = block_index(day, 7)  # weeks from day 3: [3,10) [10,17) [17,24)
    assert nb == 3 and list(k) == [0, 0, 0, 0, 1, 1, 2]
    with pytest.raises(EspbError, match="block_days"):
        block_index(day, 0)


def test_resample_counts_are_seeded_multinomials():
    c = resample_counts(12, 50, seed=3)
    assert c.shape == (50, 12) and np.all(c.sum(axis=1) == 12)
    assert np.array_equal(c, resample_counts(12, 50, seed=3))
    assert not np.array_equal(c, resample_counts(12, 50, seed=4))


def test_full_sample_values_equal_the_direct_scores(cube, small_chunks):
    p, y, r, day, mask = cube
    b = bootstrap_scores(p, y, day, r=r, w=r, mask=mask, n_boot=50)
    m, mw = molchan(p, y, mask=mask), molchan(p, y, w=r, mask=mask)
    ig = information_gain(p, r, y, mask=mask)
    assert b["ll"].value == pytest.approx(bernoulli_log_likelihood(p, y, mask=mask), rel=1e-12)
    assert b["brier"].value == pytest.approx(brier_score(p, y, mask=mask), rel=1e-12)
    assert b["bss"].value == pytest.approx(brier_skill_score(p, r, y, mask=mask).bss, rel=1e-10)
    assert b["ig_nats"].value == pytest.approx(ig.nats, rel=1e-10)
    assert b["ig_bits"].value == pytest.approx(ig.bits, rel=1e-10)
    assert b["auc"].value == pytest.approx(roc_auc(p, y, mask=mask), abs=1e-12)
    assert b["ass"].value == pytest.approx(m.ass, abs=1e-12)
    assert b["ass_w"].value == pytest.approx(mw.ass, abs=1e-12)
    for a in (0.01, 0.05):
        assert b[f"hit@{a:g}"].value == pytest.approx(m.hit_rates[a], abs=1e-12)
    for iv in b.values():
        assert iv.lo <= iv.value <= iv.hi or np.isclose(iv.lo, iv.hi)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_each_replicate_equals_the_scores_of_the_resampled_data(cube, dtype):
    """The exactness claim: replicate c scores like the data with block d repeated c_d times."""
    p, y, r, day, mask = cube
    cd = cell_days(p.astype(dtype), y, mask=mask, day=day, r=r.astype(dtype), w=r)
    key, nb = block_index(cd.day, 7)
    c = resample_counts(nb, 3, seed=1)
    rm = rank_matrices(cd.p, cd.y, key, nb, w=cd.w)
    rank = rank_replicates(c, rm, (0.01, 0.05, 0.3))
    add = additive_replicates(c, block_sums(cd, key, nb))
    for b in range(c.shape[0]):
        idx = np.concatenate([np.flatnonzero(key == d) for d in range(nb) for _ in range(c[b, d])])
        pp, yy, rr = cd.p[idx], cd.y[idx], cd.r[idx]
        m = molchan(pp, yy, alarm_fractions=(0.01, 0.05, 0.3))
        assert rank["ass"][b] == pytest.approx(m.ass, abs=1e-12)
        assert rank["auc"][b] == pytest.approx(roc_auc(pp, yy), abs=1e-12)
        assert rank["ass_w"][b] == pytest.approx(molchan(pp, yy, w=cd.w[idx]).ass, abs=1e-12)
        for a in (0.01, 0.05, 0.3):
            assert rank[f"hit@{a:g}"][b] == pytest.approx(m.hit_rates[a], abs=1e-12)
        assert add["ig_nats"][b] == pytest.approx(information_gain(pp, rr, yy).nats, rel=1e-10)
        assert add["brier"][b] == pytest.approx(brier_score(pp, yy), rel=1e-12)


def test_memory_guard_names_the_fix(cube):
    p, y, r, day, mask = cube
    with pytest.raises(EspbError, match="block_days=7"):
        bootstrap_scores(p, y, day, mask=mask, n_boot=5, max_entries=100)


def _truth(rng, n_cells, rate_shape):
    """A fixed forecast field (per cell) and its population scores."""
    p = np.clip(rng.gamma(rate_shape, 0.05, n_cells), 1e-4, 0.9)
    r = np.full(n_cells, p.mean())
    brier = np.mean(p * (1 - p))  # E (p - y)^2 when y ~ Bernoulli(p)
    ig = np.sum(p * np.log(p / r) + (1 - p) * np.log((1 - p) / (1 - r))) / p.sum()
    # population AUC: P(p_target > p_nontarget) + ties / 2, exactly from the field
    w1, w0 = p / p.sum(), (1 - p) / (1 - p).sum()
    gt = (p[:, None] > p[None, :]) + 0.5 * (p[:, None] == p[None, :])
    auc = float(w1 @ gt @ w0)
    return p, r, {"brier": brier, "ig_nats": ig, "auc": auc}


def test_intervals_cover_the_truth_at_about_the_nominal_rate():
    rng = np.random.default_rng(2024)
    n_cells, n_days, reps, level = 60, 50, 120, 0.9
    p, r, truth = _truth(rng, n_cells, 0.8)
    pp = np.tile(p, n_days)
    rr = np.tile(r, n_days)
    day = np.repeat(np.arange(n_days), n_cells)
    hits = {k: 0 for k in truth}
    for i in range(reps):
        y = rng.random(pp.size) < pp
        b = bootstrap_scores(pp, y, day, r=rr, n_boot=200, seed=i, level=level, alarm_fractions=())
        for k, v in truth.items():
            hits[k] += b[k].lo <= v <= b[k].hi
    cover = {k: v / reps for k, v in hits.items()}
    for k, v in cover.items():  # binomial sd of a 0.9 coverage over 120 runs: 0.027
        assert 0.8 <= v <= 0.97, (k, cover)
