"""Validation metrics of paper Section 3.5 and Appendix D, as pure NumPy functions.

Accuracy (Eq. 7) at the 0.5 threshold, precision and recall (Eqs. D.1-D.2), F1, ROC AUC (the
Mann-Whitney statistic, ties counted half), and the running sample-weighted accuracies of
Figure 5 (pooled over the last 5 and 20 meta-epochs) and the cumulative accuracy.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve; NaN unless both classes are present."""
    y = np.asarray(labels).astype(bool)
    n1 = int(y.sum())
    n0 = len(y) - n1
    if n1 == 0 or n0 == 0:
        return float("nan")
    r = rankdata(np.asarray(scores, dtype=np.float64))
    return float((r[y].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def classification_metrics(
    labels: np.ndarray, scores: np.ndarray, threshold: float = 0.5
) -> dict[str, float]:
    """Metrics of one validation set (labels 0/1, scores in [0, 1])."""
    y = np.asarray(labels).astype(bool)
    s = np.asarray(scores, dtype=np.float64)
    p = s >= threshold
    tp = int(np.count_nonzero(p & y))
    fp = int(np.count_nonzero(p & ~y))
    tn = int(np.count_nonzero(~p & ~y))
    fn = int(np.count_nonzero(~p & y))
    n = len(y)
    precision = tp / (tp + fp) if tp + fp else float("nan")
    recall = tp / (tp + fn) if tp + fn else float("nan")
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else float("nan")
    return {
        "accuracy": (tp + tn) / n if n else float("nan"),
        "auc": roc_auc(y, s),
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "n_eq": float(y.sum()),
        "n_neq": float(n - y.sum()),
        "n_correct": float(tp + tn),
        "tp": float(tp),
        "fp": float(fp),
        "tn": float(tn),
        "fn": float(fn),
        "mean_score_eq": float(s[y].mean()) if y.any() else float("nan"),
        "mean_score_neq": float(s[~y].mean()) if (~y).any() else float("nan"),
    }


def running_accuracy(correct: np.ndarray, total: np.ndarray, window: int) -> np.ndarray:
    """Sample-weighted accuracy over the last ``window`` meta-epochs (each value pools the
    correct counts and sizes of up to ``window`` meta-epochs ending at that one)."""
    c = np.concatenate([[0.0], np.cumsum(correct, dtype=np.float64)])
    t = np.concatenate([[0.0], np.cumsum(total, dtype=np.float64)])
    i = np.arange(1, len(correct) + 1)
    j = np.maximum(i - window, 0)
    tot = t[i] - t[j]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(tot > 0, (c[i] - c[j]) / tot, np.nan)


def cumulative_accuracy(correct: np.ndarray, total: np.ndarray) -> np.ndarray:
    return running_accuracy(correct, total, len(correct) or 1)
