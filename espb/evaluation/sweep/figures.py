"""The figures of a parameter search, drawn from computed results (matplotlib, Agg): paper
Figures C.7 (parameter effects), C.8 (histograms), C.9 (all configurations) and 8 (accuracy over
time), and the seed noise of a sweep with seed replicates. Each ``fig_*`` takes the data of
:mod:`espb.evaluation.sweep.analysis` / :mod:`espb.evaluation.sweep.grid` /
:mod:`espb.evaluation.sweep.seeds`, writes a PNG and returns its path. ``note`` adds a line to
the title (e.g. what the accuracies were computed on).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from espb.evaluation.sweep.analysis import HistogramData
from espb.evaluation.sweep.factors import (
    FACTORS,
    PAPER_LEVELS,
    Levels,
    coerce_factors,
    level_index,
    level_label,
    order_levels,
    resolve_levels,
)
from espb.evaluation.sweep.grid import GridData, GridPanel, grid_shape
from espb.evaluation.sweep.periods import PERIODS, period_span
from espb.evaluation.sweep.seeds import SeedNoise

#: colours of the levels: the baseline blue, then the others (Figure C.7)
_LEVEL_COLOURS = (
    "tab:blue",
    "tab:orange",
    "tab:green",
    "tab:red",
    "tab:purple",
    "tab:brown",
    "tab:pink",
    "tab:olive",
    "tab:cyan",
    "tab:gray",
)
#: colours of M_lim in Figure 8 (paper Figure 4: Model14.0 red, Model14.9 blue)
_MLIM_COLOURS = ("tab:red", "tab:orange", "tab:blue")
_OTHER_COLOURS = ("tab:green", "tab:purple", "tab:brown", "tab:pink", "tab:olive", "tab:cyan")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _colour(i: int) -> str:
    return _LEVEL_COLOURS[i % len(_LEVEL_COLOURS)]


def _titled(title: str, note: str) -> str:
    return f"{title}\n({note})" if note else title


def _save(fig: Any, path: str | Path, plt: Any, dpi: int = 110) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


def _effect_levels(e: pd.DataFrame, f: str, given: tuple[Any, ...] | None) -> tuple[Any, ...]:
    """The levels of factor ``f`` in Figure C.7, the baseline first."""
    base = e["baseline"].iloc[0]
    lvls = given or (base, *order_levels(f, list(e["level"])))
    return tuple(lvls) if level_index(lvls, base) == 0 else (base, *lvls)


def _effect_block(ax: Any, tr: Any, e: pd.DataFrame, f: str, lvls: tuple, b: int, step: int):
    """One factor's block of Figure C.7 at block index ``b``: its y ticks and labels."""
    periods = list(PERIODS)
    yt, yl = [], []
    for k, period in enumerate(periods):
        y = -(b * step + k)
        yt.append(y)
        yl.append(period)
        ax.axhline(y, color="0.85", lw=0.8, zorder=1)
        ax.plot([0], [y], "o", color=_colour(0), ms=6, zorder=3)
        for _, r in e[e["period"] == period].iterrows():
            if math.isnan(r["effect"]):
                continue
            i = level_index(lvls, r["level"]) or 1
            ax.plot([r["effect"]], [y], "o", mfc="none", mec=_colour(i), mew=1.6, ms=7, zorder=4)
    yb = -(b * step) - (len(periods) - 1) / 2
    ax.text(-0.09, yb, f, transform=tr, ha="right", va="center", fontsize=10, weight="bold")
    for i, v in enumerate(lvls):
        ax.text(
            1.02 + 0.085 * i,
            yb,
            level_label(f, v),
            transform=tr,
            ha="left",
            va="center",
            fontsize=9,
            color=_colour(i),
            weight="bold" if i == 0 else None,
        )
    if b:
        ax.axhline(-(b * step) + 1, color="0.5", lw=0.8)
    return yt, yl


def fig_parameter_effects(
    effects: pd.DataFrame,
    path: str | Path,
    levels: Levels | None = None,
    title: str = "",
    note: str = "",
) -> Path:
    """Figure C.7: one block per factor, one horizontal line per period (T_all, T1 .. T4 from top
    to bottom); the baseline at 0 in blue, the mean deviation of each other level as a circle in
    its own colour; the levels listed on the right in their colours. ``effects`` from
    :func:`espb.evaluation.sweep.analysis.parameter_effects`."""
    plt = _pyplot()
    from matplotlib.transforms import blended_transform_factory

    factors = [f for f in FACTORS if (effects["factor"] == f).any()] if len(effects) else []
    lv = {f: tuple(levels[f]) for f in levels} if levels else {}
    step = len(PERIODS) + 1
    height = max(2.5, 0.28 * step * max(len(factors), 1) + 1.0)
    fig, ax = plt.subplots(figsize=(10, height))
    fig.subplots_adjust(
        left=0.13, right=0.62 if factors else 0.95, top=1 - 0.45 / height, bottom=0.55 / height
    )
    tr = blended_transform_factory(ax.transAxes, ax.transData)
    yt, yl = [], []
    for b, f in enumerate(factors):
        e = effects[effects["factor"] == f]
        t, lab = _effect_block(ax, tr, e, f, _effect_levels(e, f, lv.get(f)), b, step)
        yt += t
        yl += lab
    ax.axvline(0, color=_colour(0), lw=1, zorder=2)
    ax.set_yticks(yt, yl, fontsize=7)
    ax.set_xlabel("mean change in accuracy against the baseline (matched pairs)")
    ax.set_title(
        _titled(title or "Parameter effects (Figure C.7); baseline: first level (blue)", note)
    )
    ax.text(1.02, 1.0, "levels (first = baseline)", transform=ax.transAxes, fontsize=8, va="bottom")
    if not factors:
        ax.text(
            0.5,
            0.5,
            "no parameter effects (fewer than two levels or no pairs)",
            transform=ax.transAxes,
            ha="center",
        )
    return _save(fig, path, plt)


def fig_histograms(data: HistogramData, path: str | Path, title: str = "", note: str = "") -> Path:
    """Figure C.8: rows = factors, columns = periods (T_all, T1 .. T4); in each panel the
    accuracy histograms of the configurations grouped by that factor's level (one colour per
    level) and a vertical line at each level's mean. ``data`` from
    :func:`espb.evaluation.sweep.analysis.histogram_data`."""
    plt = _pyplot()
    factors, periods = data.factors, list(PERIODS)
    fig, axes = plt.subplots(
        max(len(factors), 1),
        len(periods),
        squeeze=False,
        figsize=(3.2 * len(periods) + 1, 2.1 * max(len(factors), 1) + 0.8),
        constrained_layout=True,
    )
    for j, period in enumerate(periods):
        for i, f in enumerate(factors):
            ax = axes[i][j]
            for k, (v, x) in enumerate(zip(data.levels[f], data.values[(period, f)], strict=True)):
                if not len(x):
                    continue
                edges = data.edges[period]
                ax.hist(
                    x,
                    bins=edges,
                    histtype="stepfilled",
                    alpha=0.35,
                    color=_colour(k),
                    label=level_label(f, v),
                )
                ax.hist(x, bins=edges, histtype="step", color=_colour(k), lw=1)
                ax.axvline(float(x.mean()), color=_colour(k), lw=1.6)
            if i == 0:
                ax.set_title(period)
            if j == len(periods) - 1:
                ax.yaxis.set_label_position("right")
                ax.set_ylabel(f, rotation=270, labelpad=14, fontsize=11)
            if j == 0 and ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=7, loc="upper left", frameon=False)
            if i == len(factors) - 1:
                ax.set_xlabel("accuracy")
            ax.tick_params(labelsize=7)
    default = "Accuracy distribution by parameter and period (Figure C.8); lines: level means"
    fig.suptitle(_titled(title or default, note))
    return _save(fig, path, plt)


def _grid_blocks(
    lv: Levels, n: dict[str, int], outer: str, inner: str, cell: str
) -> tuple[list[tuple[float, float]], list[float], list[tuple[str, str]]]:
    """One axis of the Figure C.9 grid, blocks of ``outer x inner`` levels of ``n[cell]`` cells
    each, as :func:`espb.evaluation.sweep.grid.grid_position` lays them out: the block lines
    (position, width: thick between outer levels), the tick at each block's middle and its
    (outer, inner) level labels ("?" for a factor with no levels)."""
    nb = n[outer] * n[inner]
    lines = [(b * n[cell] - 0.5, 2.0 if b % n[inner] == 0 else 0.8) for b in range(1, nb)]
    ticks = [(b + 0.5) * n[cell] - 0.5 for b in range(nb)]
    labels = [
        (level_label(outer, a), level_label(inner, i))
        for a in (lv[outer] or ("?",))
        for i in (lv[inner] or ("?",))
    ]
    return lines, ticks, labels


def _grid_panel(fig: Any, ax: Any, panel: GridPanel, lv: Levels, cmap: Any) -> None:
    """One period of Figure C.9: cells coloured by accuracy, the best framed, block lines."""
    from matplotlib.patches import Rectangle

    n = {f: max(len(lv[f]), 1) for f in FACTORS}
    mat = panel.matrix
    finite = mat[np.isfinite(mat)]
    vmin, vmax = (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 1.0)
    im = ax.imshow(
        np.ma.masked_invalid(mat),
        cmap=cmap,
        vmin=vmin,
        vmax=max(vmax, vmin + 1e-6),
        aspect="auto",
        interpolation="nearest",
    )
    fig.colorbar(im, ax=ax, pad=0.01, fraction=0.03, label="accuracy")
    for k, r, c in panel.top:
        ax.add_patch(
            Rectangle(
                (c - 0.5, r - 0.5),
                1,
                1,
                fill=False,
                lw=2.2 if k == 0 else 1.4,
                ec="red" if k == 0 else "white",
                zorder=5,
            )
        )
    rows, yt, yl = _grid_blocks(lv, n, "AE", "loss", "dr")
    cols, xt, xl = _grid_blocks(lv, n, "l_ME", "M_lim", "dt")
    for y, lw in rows:
        ax.axhline(y, color="k", lw=lw)
    for x, lw in cols:
        ax.axvline(x, color="k", lw=lw)
    ax.set_yticks(yt, [f"AE {a}, {lo}" for a, lo in yl], fontsize=7)
    ax.set_xticks(xt, [f"{le}\nM{m}" for le, m in xl], fontsize=6)
    nconf = int(np.isfinite(mat).sum())
    title = f"{panel.period} ({period_span(panel.period)}): {nconf} configurations"
    ax.set_title(title, fontsize=9, loc="left")


def fig_grid(data: GridData, path: str | Path, title: str = "", note: str = "") -> Path:
    """Figure C.9: one panel per period (T_all, T1 .. T4, top to bottom), each the grid of all
    configurations (16 x 27 for the paper's levels) coloured by accuracy, missing configurations
    grey; the ``top`` best of the period framed by squares, the best one in red. ``data`` from
    :func:`espb.evaluation.sweep.grid.grid_data`."""
    plt = _pyplot()
    lv = data.levels
    nr, nc = grid_shape(lv)
    w = min(max(6.0, 0.42 * nc + 3), 16)
    fig, axes = plt.subplots(
        len(data.panels),
        1,
        figsize=(w, len(data.panels) * (0.3 * nr + 1.3) + 0.6),
        constrained_layout=True,
        squeeze=False,
    )
    cmap = plt.get_cmap("viridis").with_extremes(bad="0.85")
    for ax, panel in zip(axes[:, 0], data.panels, strict=True):
        _grid_panel(fig, ax, panel, lv, cmap)
    dr = ", ".join(level_label("dr", v) for v in lv["dr"])
    dt = ", ".join(level_label("dt", v) for v in lv["dt"])
    fig.suptitle(
        _titled(title or "Accuracy of all configurations (Figure C.9)", note)
        + f"\nwithin each block: rows dr ({dr}), columns dt ({dt}); "
        f"squares: top {data.top}, red: best",
        fontsize=9,
    )
    return _save(fig, path, plt)


def _mlim_colour(value: Any, levels: Sequence[Any]) -> str:
    """The colour of an M_lim level: the paper's three fixed (4.0 red, 4.5 orange, 4.9 blue),
    other values by their place in ``levels``; grey when unknown."""
    i = level_index(PAPER_LEVELS["M_lim"], value)
    if i is not None:
        return _MLIM_COLOURS[i]
    k = level_index(levels, value)
    return _OTHER_COLOURS[k % len(_OTHER_COLOURS)] if k is not None else "0.5"


def fig_trajectories(
    traj: pd.DataFrame,
    configs: pd.DataFrame,
    path: str | Path,
    levels: Levels | None = None,
    title: str = "",
    note: str = "",
) -> Path:
    """Figure 8: per-meta-epoch validation accuracy against date for all runs, thin lines
    coloured by M_lim, dashed vertical lines at the period boundaries (Appendix C.1). ``traj``
    from :func:`espb.evaluation.sweep.analysis.trajectories`."""
    plt = _pyplot()
    from matplotlib.lines import Line2D

    typed = coerce_factors(configs)
    lv = resolve_levels(typed, levels)
    mlim = dict(zip(typed["run_id"], typed["M_lim"], strict=True)) if "M_lim" in typed else {}
    fig, ax = plt.subplots(figsize=(12, 4.8), constrained_layout=True)
    alpha = float(np.clip(25.0 / max(traj["run_id"].nunique(), 1), 0.1, 0.7))
    for run_id, g in traj.sort_values(["run_id", "meta_epoch"]).groupby("run_id", sort=True):
        colour = _mlim_colour(mlim.get(run_id), lv["M_lim"])
        ax.plot(pd.to_datetime(g["date"]), g["accuracy"], color=colour, lw=0.6, alpha=alpha)
    if len(traj):
        d = pd.to_datetime(traj["date"])
        for name, (lo, _) in PERIODS.items():
            if name not in ("T_all", "T1") and lo is not None and d.min() < lo <= d.max():
                ax.axvline(lo, color="k", ls="--", lw=0.9)
                ax.text(lo, 1.04, f" {name}", fontsize=8, va="bottom")
    handles = [
        Line2D(
            [],
            [],
            color=_mlim_colour(v, lv["M_lim"]),
            lw=2,
            label=f"M_lim {level_label('M_lim', v)}",
        )
        for v in lv["M_lim"]
    ]
    if handles:
        ax.legend(handles=handles, loc="lower right", fontsize=8)
    ax.set_ylim(-0.03, 1.1)
    ax.set_ylabel("validation accuracy per meta-epoch")
    default = f"Validation accuracy over time, {traj['run_id'].nunique()} runs (Figure 8)"
    ax.set_title(_titled(title or default, note))
    return _save(fig, path, plt)


def fig_seed_noise(noise: SeedNoise, path: str | Path, top: int = 40, note: str = "") -> Path:
    """Seed noise: left, the ``top`` best configurations by seed mean with min-max bars over
    their seeds (best red, the others within one pooled SD of it orange, a band one pooled SD
    below the best); right, each factor's effect (max - min of its level means) against the
    pooled SD (dashed), bars red where the factor exceeds the seed spread. ``noise`` from
    :func:`espb.evaluation.sweep.seeds.seed_noise`."""
    plt = _pyplot()
    t, fac, sd = noise.configs.head(top), noise.factors, noise.pooled_sd
    fig, (a, b) = plt.subplots(1, 2, figsize=(13, 4.8), width_ratios=(2.2, 1))
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.12, top=0.85, wspace=0.25)
    x = np.arange(1, len(t) + 1)
    close = set(noise.within_sd)
    colours = [
        "tab:red" if i == 0 else "tab:orange" if c in close else "tab:blue"
        for i, c in enumerate(t["configuration"])
    ]
    err = [t["mean"] - t["min"], t["max"] - t["mean"]] if len(t) else None
    a.errorbar(x, t["mean"], yerr=err, fmt="none", ecolor="0.6", lw=1, capsize=2)
    a.scatter(x, t["mean"], c=colours, s=18, zorder=3)
    if len(t) and math.isfinite(sd):
        best = float(t["mean"].iloc[0])
        a.axhspan(best - sd, best, color="tab:orange", alpha=0.12, lw=0)
    a.set_xlabel(f"configuration, ranked by seed mean (best {len(t)} of {len(noise.configs)})")
    a.set_ylabel(f"{noise.metric} (development period)")
    a.set_title("seed mean, bars min-max over seeds; band: best - 1 pooled SD", fontsize=9)
    yb = np.arange(len(fac))
    bar = ["tab:red" if v.startswith("exceeds") else "tab:gray" for v in fac["verdict"]]
    b.barh(yb, fac["effect"], color=bar)
    if math.isfinite(sd):
        b.axvline(sd, color="k", ls="--", lw=1, label=f"pooled SD {sd:.4f}")
        b.legend(fontsize=8, loc="lower right")
    b.set_yticks(yb, list(fac["factor"]))
    b.invert_yaxis()
    b.set_xlabel("effect: max - min of level means")
    b.set_title("factor effect vs seed spread (red: exceeds, seed-blocked p < 0.05)", fontsize=9)
    head = f"Seed noise: {noise.n_obs} runs, pooled SD {sd:.4f} on {noise.df_pure} df"
    fig.suptitle(_titled(head, note))
    return _save(fig, path, plt)
