"""The short summary of a run printed by ``make run`` and logged to MLflow."""

from __future__ import annotations

import numpy as np
import pandas as pd

from espb.training.metrics import classification_metrics, roc_auc


def run_summary(records: list[dict], predictions: pd.DataFrame) -> dict[str, float]:
    """Meta-epochs, cumulative accuracy (development and test), the pooled AUC of all
    validation predictions and of the second half of the meta-epochs."""
    out: dict[str, float] = {"n_meta_epochs": float(len(records))}
    if not len(predictions):
        return out
    for phase, p in (("dev", "val"), ("test", "test")):
        d = predictions[predictions["phase"] == phase]
        if len(d):
            m = classification_metrics(d["label"].to_numpy(), d["score"].to_numpy())
            out[f"{p}_acc_cumulative"] = m["accuracy"]
            out[f"{p}_auc_pooled"] = m["auc"]
            out[f"{p}_n_samples"] = float(len(d))
    mes = np.sort(predictions["meta_epoch"].unique())
    half = predictions[predictions["meta_epoch"] >= mes[len(mes) // 2]]
    out["auc_second_half"] = roc_auc(half["label"].to_numpy(), half["score"].to_numpy())
    out["acc_second_half"] = float(((half["score"] >= 0.5) == (half["label"] == 1)).mean())
    out["n_second_half"] = float(len(half))
    return out


def replicate_mean(summaries: list[dict[str, float]]) -> dict[str, float]:
    """The mean over seed replicates (``training.seeds``) of every summary value they all have:
    what a sweep or a study scores a configuration with replicates by."""
    if not summaries:
        return {}
    keys = [k for k in summaries[0] if all(k in s for s in summaries[1:])]
    return {k: float(np.mean([s[k] for s in summaries])) for k in keys}
