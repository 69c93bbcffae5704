"""Validation metrics (paper Section 3.5, Appendix D) against scikit-learn and brute force, and
the loss of the classifier module (MAE of the sigmoid score or BCE, times the sample weight)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score

from espb.training.metrics import (
    classification_metrics,
    cumulative_accuracy,
    roc_auc,
    running_accuracy,
)
from espb.training.module import BlockClassifier

# ------------------------------------------------------------------------------ ROC AUC


@pytest.mark.parametrize("seed", range(6))
def test_roc_auc_matches_sklearn_with_ties(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 300))
    y = rng.random(n) < rng.uniform(0.1, 0.9)
    y[0], y[1] = True, False  # both classes present
    s = np.round(rng.random(n) * 0.6 + 0.4 * y * rng.random(n), 1)  # many ties, some signal
    assert len(np.unique(s)) < n
    assert roc_auc(y.astype(int), s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert roc_auc(y, s.tolist()) == pytest.approx(roc_auc_score(y, s), abs=1e-12)


def test_roc_auc_special_cases():
    assert roc_auc([0, 1], [0.2, 0.8]) == 1.0
    assert roc_auc([0, 1], [0.8, 0.2]) == 0.0
    assert roc_auc([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5]) == 0.5  # ties count half
    assert roc_auc(np.array([1.0, 0.0, 1.0]), np.array([0.9, 0.1, 0.1])) == pytest.approx(0.75)
    for y in ([1, 1, 1], [0, 0], [], [True]):
        assert math.isnan(roc_auc(np.array(y), np.linspace(0, 1, len(y))))


# ------------------------------------------------------------------------------ threshold metrics


def _sk(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    return {
        "accuracy": accuracy_score(y, p),
        "precision": precision_score(y, p, zero_division=np.nan),
        "recall": recall_score(y, p, zero_division=np.nan),
        "f1": f1_score(y, p, zero_division=np.nan),
    }


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, abs=1e-12)


@pytest.mark.parametrize("seed", range(8))
def test_classification_metrics_match_sklearn(seed):
    rng = np.random.default_rng(100 + seed)
    n = int(rng.integers(1, 200))
    y = (rng.random(n) < rng.uniform(0, 1)).astype(int)
    s = np.round(rng.random(n), 2)
    s[rng.random(n) < 0.1] = 0.5  # exactly at the threshold
    m = classification_metrics(y, s)
    p = (s >= 0.5).astype(int)
    for k, v in _sk(y, p).items():
        assert _same(m[k], v), (k, m[k], v)
    tp = int(((p == 1) & (y == 1)).sum())
    fp = int(((p == 1) & (y == 0)).sum())
    tn = int(((p == 0) & (y == 0)).sum())
    fn = int(((p == 0) & (y == 1)).sum())
    assert (m["tp"], m["fp"], m["tn"], m["fn"]) == (tp, fp, tn, fn)
    assert tp + fp + tn + fn == n
    assert m["n_eq"] == y.sum() and m["n_neq"] == n - y.sum() and m["n_correct"] == tp + tn
    assert _same(m["mean_score_eq"], s[y == 1].mean() if (y == 1).any() else np.nan)
    assert _same(m["mean_score_neq"], s[y == 0].mean() if (y == 0).any() else np.nan)
    auc = roc_auc_score(y, s) if 0 < y.sum() < n else np.nan
    assert _same(m["auc"], auc)


def test_threshold_is_inclusive():
    m = classification_metrics([1, 0], [0.5, 0.5])
    assert (m["tp"], m["fp"], m["tn"], m["fn"]) == (1, 1, 0, 0)
    assert m["accuracy"] == 0.5 and m["precision"] == 0.5 and m["recall"] == 1.0
    just_below = np.nextafter(0.5, 0.0)
    m = classification_metrics([1, 0], [just_below, just_below])
    assert (m["tp"], m["fp"], m["tn"], m["fn"]) == (0, 0, 1, 1)
    m = classification_metrics([1, 0, 1], [0.3, 0.3, 0.2], threshold=0.3)
    assert (m["tp"], m["fp"], m["tn"], m["fn"]) == (1, 1, 0, 1)


def test_undefined_metrics_are_nan():
    # no positive prediction: precision undefined; recall 0; f1 0
    m = classification_metrics([1, 0, 0], [0.1, 0.2, 0.3])
    assert math.isnan(m["precision"]) and m["recall"] == 0.0 and m["f1"] == 0.0
    assert m["accuracy"] == pytest.approx(2 / 3)
    # no EQ at all and all predicted nEQ: precision, recall and f1 undefined
    m = classification_metrics([0, 0], [0.1, 0.2])
    assert math.isnan(m["precision"]) and math.isnan(m["recall"]) and math.isnan(m["f1"])
    assert m["accuracy"] == 1.0 and math.isnan(m["auc"]) and math.isnan(m["mean_score_eq"])
    assert m["mean_score_neq"] == pytest.approx(0.15)
    # empty
    m = classification_metrics(np.array([], int), np.array([]))
    assert math.isnan(m["accuracy"]) and m["n_eq"] == 0 and m["n_neq"] == 0


def test_perfect_and_inverted_scores():
    y = np.array([1, 1, 0, 0, 0])
    m = classification_metrics(y, [0.9, 0.6, 0.1, 0.4, 0.49])
    assert (m["accuracy"], m["precision"], m["recall"], m["f1"], m["auc"]) == (
        1.0,
        1.0,
        1.0,
        1.0,
        1.0,
    )
    assert m["mean_score_eq"] == pytest.approx(0.75) and m["mean_score_neq"] == pytest.approx(0.33)
    m = classification_metrics(y, [0.1, 0.4, 0.9, 0.6, 0.5])
    assert (m["accuracy"], m["precision"], m["recall"], m["f1"], m["auc"]) == (
        0.0,
        0.0,
        0.0,
        0.0,
        0.0,
    )


# ------------------------------------------------------------------------------ running accuracies


def _brute_running(correct: np.ndarray, total: np.ndarray, w: int) -> np.ndarray:
    out = np.full(len(correct), np.nan)
    for i in range(len(correct)):
        lo = max(0, i - w + 1)
        t = total[lo : i + 1].sum()
        if t > 0:
            out[i] = correct[lo : i + 1].sum() / t
    return out


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("window", [1, 5, 20])
def test_running_accuracy_matches_brute_force(seed, window):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 80))
    total = rng.integers(0, 30, size=n)
    total[rng.random(n) < 0.3] = 0  # meta-epochs without validation samples
    if seed == 0:
        total[: min(n, 25)] = 0  # a long empty stretch: NaN while the whole window is empty
    correct = rng.binomial(total, 0.6)
    got = running_accuracy(correct, total, window)
    exp = _brute_running(correct, total, window)
    assert got.shape == (n,)
    np.testing.assert_allclose(got, exp, rtol=0, atol=1e-12, equal_nan=True)
    if window == 1:  # per-meta-epoch accuracy
        with np.errstate(invalid="ignore", divide="ignore"):
            np.testing.assert_allclose(
                got, np.where(total > 0, correct / total, np.nan), equal_nan=True
            )


def test_running_accuracy_pools_samples_not_accuracies():
    # 1/1 and 0/99: the pooled accuracy is 1/100, not the mean of 1.0 and 0.0
    r = running_accuracy(np.array([1, 0]), np.array([1, 99]), 5)
    assert r[0] == 1.0 and r[1] == pytest.approx(0.01)
    r = running_accuracy(np.array([3, 0, 0, 1]), np.array([4, 0, 0, 1]), 2)
    np.testing.assert_allclose(r, [0.75, 0.75, np.nan, 1.0], equal_nan=True)


@pytest.mark.parametrize("seed", range(3))
def test_cumulative_accuracy_is_the_running_total(seed):
    rng = np.random.default_rng(seed)
    n = 50
    total = rng.integers(0, 10, size=n)
    total[:3] = 0
    correct = rng.binomial(total, 0.7)
    got = cumulative_accuracy(correct, total)
    ct, tt = np.cumsum(correct), np.cumsum(total)
    with np.errstate(invalid="ignore", divide="ignore"):
        exp = np.where(tt > 0, ct / tt, np.nan)
    np.testing.assert_allclose(got, exp, rtol=0, atol=1e-12, equal_nan=True)
    assert cumulative_accuracy(np.array([], int), np.array([], int)).shape == (0,)


# ------------------------------------------------------------------------------ the loss


def _logits_labels_weights(n: int = 16, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, generator=g) * 3
    y = (torch.rand(n, generator=g) < 0.5).float()
    w = torch.rand(n, generator=g) * 2
    return z, y, w


@pytest.fixture(scope="module")
def modules():
    return {name: BlockClassifier(lookback=4, patch=2, loss=name) for name in ("mae", "bce")}


def test_mae_loss_is_the_weighted_mean_absolute_error(modules):
    z, y, w = _logits_labels_weights()
    got = modules["mae"].loss(z, y, w)
    exp = (w * (torch.sigmoid(z) - y).abs()).mean()
    torch.testing.assert_close(got, exp, rtol=1e-6, atol=1e-7)
    # by hand: logit 0 -> score 0.5 -> error 0.5 whatever the label
    assert (
        float(modules["mae"].loss(torch.zeros(3), torch.tensor([0.0, 1.0, 1.0]), torch.ones(3)))
        == 0.5
    )


def test_bce_loss_is_the_weighted_bce_with_logits(modules):
    z, y, w = _logits_labels_weights(seed=1)
    got = modules["bce"].loss(z, y, w)
    exp = torch.nn.functional.binary_cross_entropy_with_logits(z, y, weight=w)
    torch.testing.assert_close(got, exp, rtol=1e-6, atol=1e-7)
    exp2 = (
        w * -(y * torch.log(torch.sigmoid(z)) + (1 - y) * torch.log(1 - torch.sigmoid(z)))
    ).mean()
    torch.testing.assert_close(got, exp2, rtol=1e-4, atol=1e-5)
    # the two losses differ
    assert not torch.isclose(got, modules["mae"].loss(z, y, w))


@pytest.mark.parametrize("name", ["mae", "bce"])
def test_weights_scale_the_loss(modules, name):
    mod = modules[name]
    z, y, w = _logits_labels_weights(seed=2)
    base = mod.loss(z, y, w)
    torch.testing.assert_close(mod.loss(z, y, 3 * w), 3 * base, rtol=1e-6, atol=1e-7)
    assert float(mod.loss(z, y, torch.zeros_like(w))) == 0.0
    # a zero weight removes a sample's term, but the mean is still over the whole batch
    w1 = torch.ones_like(w)
    w1[0] = 0.0
    per = mod.loss(z, y, torch.eye(len(z))[0]) * len(z)  # the first sample's own term
    torch.testing.assert_close(
        mod.loss(z, y, w1), mod.loss(z, y, torch.ones_like(w)) - per / len(z), rtol=1e-5, atol=1e-6
    )
    # gradients flow to the logits, weighted
    zz = z.clone().requires_grad_(True)
    mod.loss(zz, y, w).backward()
    g_w = zz.grad.clone()
    zz.grad = None
    mod.loss(zz, y, torch.ones_like(w)).backward()
    torch.testing.assert_close(g_w, zz.grad * w, rtol=1e-5, atol=1e-7)


def test_loss_accepts_half_precision_logits(modules):
    z, y, w = _logits_labels_weights(seed=3)
    got = modules["bce"].loss(z.half(), y, w)
    assert got.dtype == torch.float32
    exp = torch.nn.functional.binary_cross_entropy_with_logits(z.half().float(), y, weight=w)
    torch.testing.assert_close(got, exp, rtol=1e-6, atol=1e-7)


def test_validation_metrics_is_classification_metrics():
    y = np.array([1, 0, 1, 0])
    s = np.array([0.7, 0.2, 0.4, 0.5])
    a = BlockClassifier.validation_metrics(y, s)
    b = classification_metrics(y, s)
    assert a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
