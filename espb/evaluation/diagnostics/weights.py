"""Weight change between consecutive meta-epoch snapshots (paper Section 4.1, Figure 7):
sum((w_{i+1} - w_i)^2) over all parameters, per block and per block divided by its parameter
count. A block is "a sequence of layers ending in a batch normalization" (Figure 2): the
layers of ``features`` up to and including each BatchNorm, plus the final Linear (``head``).
Only trainable parameters count (BatchNorm running statistics are buffers, not weights)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure

from espb.errors import EspbError
from espb.evaluation.diagnostics.plotting import date_axis, new_figure, no_data

BUFFERS = ("running_mean", "running_var", "num_batches_tracked")
_FEATURE = re.compile(r"(?:^|\.)features\.(\d+)\.(\w+)$")


def parameter_blocks(keys: Sequence[str]) -> dict[str, str]:
    """Block of every parameter key of a CnnTcn state dict: ``block 1`` .. ``block n`` (the
    layers up to and including the n-th BatchNorm), ``linear`` for the head; buffers are left
    out. A key that is neither a feature layer nor the head is an error."""
    bn = sorted(
        {int(m.group(1)) for k in keys if (m := _FEATURE.search(k)) and m.group(2) in BUFFERS}
    )
    out = {}
    for k in keys:
        if k.rsplit(".", 1)[-1] in BUFFERS:
            continue
        m = _FEATURE.search(k)
        if m:
            out[k] = f"block {1 + int(np.searchsorted(bn, int(m.group(1)), side='left'))}"
        elif re.search(r"(?:^|\.)head\.", k):
            out[k] = "linear"
        else:
            raise ValueError(f"parameter {k!r} is neither a feature layer nor the head")
    return out


def weight_changes(
    states: Sequence[Mapping[str, torch.Tensor]], meta_epochs: Sequence[int] | None = None
) -> pd.DataFrame:
    """Figure 7 data: for every pair of consecutive snapshots one row per block and one
    ``all`` row: ``meta_epoch`` (of the later snapshot), ``block``, ``n_params``, ``change`` =
    sum((w_{i+1} - w_i)^2) in float64, ``change_per_param`` = change / n_params."""
    if meta_epochs is None:
        meta_epochs = list(range(len(states)))
    if len(meta_epochs) != len(states):
        raise ValueError("one meta-epoch per snapshot")
    if len(states) < 2:
        return pd.DataFrame(
            columns=["meta_epoch", "block", "n_params", "change", "change_per_param"]
        )
    blocks = parameter_blocks(list(states[0]))
    names = list(dict.fromkeys(blocks.values()))
    n_par = {b: sum(states[0][k].numel() for k, v in blocks.items() if v == b) for b in names}
    rows = []
    for i in range(1, len(states)):
        a, b = states[i - 1], states[i]
        if set(a) != set(b):
            raise ValueError(f"snapshots {meta_epochs[i - 1]} and {meta_epochs[i]} differ in keys")
        per = dict.fromkeys(names, 0.0)
        for k, blk in blocks.items():
            d = b[k].detach().double() - a[k].detach().double()
            per[blk] += float((d * d).sum())
        me = int(meta_epochs[i])
        for blk in names:
            rows.append((me, blk, n_par[blk], per[blk]))
        rows.append((me, "all", sum(n_par.values()), sum(per.values())))
    df = pd.DataFrame(rows, columns=["meta_epoch", "block", "n_params", "change"])
    df["change_per_param"] = df["change"] / df["n_params"]
    return df


def load_snapshots(paths: Mapping[int, Path]) -> tuple[list[int], list[dict]]:
    """The snapshot state dicts (``torch.load(weights_only=True)``) by meta-epoch."""
    mes = sorted(paths)
    out = []
    for m in mes:
        try:
            out.append(torch.load(paths[m], map_location="cpu", weights_only=True))
        except Exception as exc:
            raise EspbError(
                f"{paths[m]}: the snapshot cannot be read ({type(exc).__name__}: {exc}); the run "
                "folder is damaged: re-run the configuration with run.force=true"
            ) from None
    return mes, out


def weight_change_figure(
    data: pd.DataFrame, dates: Mapping[int, pd.Timestamp] | None = None, title: str = ""
) -> Figure:
    """Figure 7, three log-scale panels over meta-epochs: the overall change, the change per
    block (and the Linear), the change per block divided by its parameter count."""
    fig = new_figure(10, 8)
    if not len(data):
        return no_data(fig, "fewer than two weight snapshots")
    axs = fig.subplots(3, 1, sharex=True)

    def x(d):
        return [dates[m] for m in d["meta_epoch"]] if dates else d["meta_epoch"]

    d = data[data["block"] == "all"]
    axs[0].plot(x(d), d["change"], color="k", lw=1)
    axs[0].set_ylabel("Σ(Δw)², all")
    blocks = [b for b in dict.fromkeys(data["block"]) if b != "all"]
    cmap = _colours(len(blocks))
    for c, b in zip(cmap, blocks, strict=True):
        d = data[data["block"] == b]
        n = int(d["n_params"].iloc[0])
        axs[1].plot(x(d), d["change"], color=c, lw=0.9, label=f"{b} ({n})")
        axs[2].plot(x(d), d["change_per_param"], color=c, lw=0.9)
    axs[1].set_ylabel("Σ(Δw)² per block")
    axs[2].set_ylabel("Σ(Δw)² / parameters")
    axs[1].legend(fontsize=7, ncol=2, loc="upper right", title="block (parameters)")
    for ax in axs:
        ax.set_yscale("log")
    axs[2].set_xlabel("meta-epoch" if not dates else "meta-epoch (first validation day)")
    if dates:
        date_axis(axs[2])
    fig.suptitle(title or "weight change between meta-epochs (Figure 7)")
    return fig


def _colours(n: int):
    from matplotlib import colormaps

    cm = colormaps["viridis"]
    return [cm(i / max(n - 1, 1)) for i in range(n)]
