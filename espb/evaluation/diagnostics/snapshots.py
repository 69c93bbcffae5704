"""Every meta-epoch snapshot scored on all later validation data (paper Section 4.1, Figure 6;
Figure E.13 for Model14.0).

Snapshot ``k`` (``weights/me_k.pt``) is the model after training meta-epoch ``k``; it has seen
no sample of validation segment ``k`` or later, so all of them are its future. Its curve is its
cumulative accuracy over the validation segments ``k, k+1, ...``; the always-latest line uses
snapshot ``j`` on segment ``j`` (what the run's predictions hold, and a check of this code:
snapshot ``j`` on segment ``j`` must reproduce the run's scores).

Cost: ``sum_k N_{>=k}`` block evaluations (snapshots x future samples, about K N / 2). Blocks are
gathered once per chunk of samples (:class:`espb.training.blocks.BlockSource`, with the
autoencoder's residual blocks when it is on) and every snapshot that applies scores that
chunk: batched, ``no_grad``, eval mode.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure

from espb.evaluation.diagnostics.plotting import Annotations, mark_dates, new_figure, no_data

#: snapshot j on its own segment may differ from the run's recorded score by float noise only
SELF_CHECK_TOL = 1e-4


@dataclass
class SnapshotAccuracy:
    """Figure 6 data. ``curves``: one row per (snapshot, later meta-epoch): ``snapshot,
    meta_epoch, n, n_correct, acc_cumulative`` (pooled over the segments from the snapshot's
    own to this one). ``latest``: ``meta_epoch, n, n_correct, acc_cumulative`` of the
    always-latest snapshot. ``n_evaluations`` block evaluations took ``seconds``;
    ``self_check_max_diff``: the largest difference between snapshot j's score on segment j
    and the run's recorded score (NaN when no recorded score was given)."""

    curves: pd.DataFrame
    latest: pd.DataFrame
    n_evaluations: int
    seconds: float
    self_check_max_diff: float

    @property
    def per_evaluation_s(self) -> float:
        return self.seconds / max(self.n_evaluations, 1)


def snapshot_score_matrix(
    models: Sequence[torch.nn.Module],
    snapshot_me: Sequence[int],
    blocks,
    sids: np.ndarray,
    sample_me: np.ndarray,
    batch: int = 256,
) -> np.ndarray:
    """``(K, N)`` scores: snapshot ``k`` on every sample whose meta-epoch is at least
    ``snapshot_me[k]``; NaN elsewhere. ``blocks(sid_tensor)`` returns the blocks (a
    :meth:`BlockSource.blocks`); each model maps blocks to logits. Samples must be sorted by
    meta-epoch."""
    sample_me = np.asarray(sample_me)
    if len(models) != len(snapshot_me):
        raise ValueError(f"{len(models)} models: one meta-epoch per model needed")
    if len(sample_me) and np.any(np.diff(sample_me) < 0):
        raise ValueError("samples must be sorted by meta-epoch")
    start = np.searchsorted(sample_me, np.asarray(snapshot_me), side="left")
    out = np.full((len(models), len(sids)), np.nan, np.float32)
    for m in models:
        m.eval()
    with torch.no_grad():
        for lo in range(0, len(sids), batch):
            hi = min(lo + batch, len(sids))
            x = blocks(torch.as_tensor(sids[lo:hi]))
            for k in np.flatnonzero(start < hi):
                a = max(int(start[k]), lo)
                z = models[k](x[a - lo :])
                out[k, a:hi] = torch.sigmoid(z.float()).cpu().numpy()
    return out


def snapshot_accuracy(
    scores: np.ndarray,
    snapshot_me: Sequence[int],
    labels: np.ndarray,
    sample_me: np.ndarray,
    recorded: np.ndarray | None = None,
    seconds: float = float("nan"),
) -> SnapshotAccuracy:
    """Cumulative accuracy curves of a ``(K, N)`` score matrix (threshold 0.5, as Eq. 7):
    for snapshot k and meta-epoch j >= k, correct / total over the samples of meta-epochs
    k..j. ``recorded``: the run's own score of each sample (for the self check)."""
    snapshot_me = np.asarray(snapshot_me, np.int64)
    labels = np.asarray(labels).astype(bool)
    mes, inv = np.unique(sample_me, return_inverse=True)
    valid = np.isfinite(scores)
    correct = valid & ((scores >= 0.5) == labels[None, :])
    n_c = np.zeros((len(snapshot_me), len(mes)))
    n_t = np.zeros_like(n_c)
    for k in range(len(snapshot_me)):  # bincount per snapshot: K vectorised passes
        n_c[k] = np.bincount(inv, weights=correct[k], minlength=len(mes))
        n_t[k] = np.bincount(inv, weights=valid[k], minlength=len(mes))
    cc, ct = np.cumsum(n_c, axis=1), np.cumsum(n_t, axis=1)
    rows = []
    for k, sk in enumerate(snapshot_me):
        j = mes >= sk
        with np.errstate(invalid="ignore", divide="ignore"):
            acc = np.where(ct[k, j] > 0, cc[k, j] / ct[k, j], np.nan)
        rows.append(
            pd.DataFrame(
                {
                    "snapshot": sk,
                    "meta_epoch": mes[j],
                    "n": ct[k, j],
                    "n_correct": cc[k, j],
                    "acc_cumulative": acc,
                }
            )
        )
    curves = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
    pos = {int(s): k for k, s in enumerate(snapshot_me)}
    diag = np.array([pos.get(int(m), -1) for m in sample_me])
    own = np.where(diag >= 0, scores[np.maximum(diag, 0), np.arange(len(sample_me))], np.nan)
    ok = (own >= 0.5) == labels
    has = np.isfinite(own)
    lc = np.cumsum(np.bincount(inv, weights=ok & has, minlength=len(mes)))
    lt = np.cumsum(np.bincount(inv, weights=has, minlength=len(mes)))
    with np.errstate(invalid="ignore", divide="ignore"):
        latest = pd.DataFrame(
            {"meta_epoch": mes, "n": lt, "n_correct": lc, "acc_cumulative": lc / lt}
        )
    diff = float("nan")
    if recorded is not None and has.any():
        diff = float(np.nanmax(np.abs(own[has] - np.asarray(recorded)[has])))
    return SnapshotAccuracy(curves, latest, int(valid.sum()), seconds, diff)


def score_snapshots(
    states: Mapping[int, dict],
    make_model,
    source,
    pred: pd.DataFrame,
    batch: int = 256,
) -> SnapshotAccuracy:
    """Figure 6 for a run: ``states`` the snapshot state dicts by meta-epoch, ``make_model()``
    a fresh module of the run's architecture (the state dicts load into it), ``source`` the
    run's :class:`espb.training.blocks.BlockSource`, ``pred`` its predictions (``sid``,
    ``meta_epoch``, ``label``, ``score``)."""
    p = pred.sort_values(["meta_epoch", "sid"], kind="stable")
    snap = sorted(states)
    models = []
    for k in snap:
        m = make_model()
        m.load_state_dict(states[k])
        models.append(m.to(source.device).eval())
    sids = p["sid"].to_numpy().copy()
    sme = p["meta_epoch"].to_numpy()

    def blocks(s):
        return source.blocks(s.to(source.device))

    t0 = time.perf_counter()
    scores = snapshot_score_matrix(models, snap, blocks, sids, sme, batch)
    sec = time.perf_counter() - t0
    return snapshot_accuracy(
        scores, snap, p["label"].to_numpy(), sme, p["score"].to_numpy(), seconds=sec
    )


def snapshot_figure(
    data: SnapshotAccuracy,
    dates: Mapping[int, pd.Timestamp],
    annotations: Annotations = (),
    dev_end: pd.Timestamp | None = None,
    title: str = "",
) -> Figure:
    """Figure 6: one line per snapshot (its cumulative accuracy on all later validation data,
    darker = newer) and the always-latest snapshot's cumulative accuracy in black."""
    fig = new_figure(11, 4.4)
    if not len(data.curves):
        return no_data(fig, "no snapshot with later validation data")
    ax = fig.add_subplot()
    from matplotlib import colormaps

    cm = colormaps["Blues"]
    snaps = sorted(data.curves["snapshot"].unique())
    for i, k in enumerate(snaps):
        d = data.curves[data.curves["snapshot"] == k]
        ax.plot(
            [dates[m] for m in d["meta_epoch"]],
            d["acc_cumulative"],
            lw=0.7,
            color=cm(0.25 + 0.75 * i / max(len(snaps) - 1, 1)),
        )
    lt = data.latest
    ax.plot(
        [dates[m] for m in lt["meta_epoch"]],
        lt["acc_cumulative"],
        color="k",
        lw=1.8,
        label="always the latest snapshot",
    )
    mark_dates(ax, annotations, dev_end)
    ax.axhline(0.5, color="grey", lw=0.6)
    ax.set_ylim(-0.03, 1.03)
    ax.set_ylabel("cumulative accuracy on later validation data")
    ax.set_xlabel("meta-epoch (first day of its validation segment)")
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title(
        title
        or f"every snapshot on all later validation data (Figure 6): {len(snaps)} "
        f"snapshots, {data.n_evaluations:,} block evaluations in {data.seconds:.1f} s"
    )
    return fig
