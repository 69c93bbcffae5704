"""The sweep report as files: the Markdown page, its tables (CSV) and figures (PNG), for paper
Appendix C.1 and Figure 8. Computes with :mod:`~espb.evaluation.sweep.analysis` and
:mod:`~espb.evaluation.sweep.grid`, draws with :mod:`~espb.evaluation.sweep.figures`.

Model selection (the best configurations) uses the development period only. When the tables
and figures hold more than that (``espb report sweep --phase all``), the development-period
accuracies come as ``selection`` and everything else is labelled :data:`POOLED`.

With seed replicates (:mod:`~espb.evaluation.sweep.seeds`), the tables, figures and the
selection use the seed means (one row per configuration), ``accuracy_by_period.csv`` keeps every
run, and a "Seed noise" section with its own files is added; without, nothing changes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from espb.evaluation.sweep.analysis import (
    best_configs,
    histogram_data,
    parameter_effects,
    top_configs,
    trajectories,
)
from espb.evaluation.sweep.factors import (
    FACTORS,
    describe_config,
    level_label,
    missing,
    py,
    resolve_levels,
)
from espb.evaluation.sweep.figures import (
    fig_grid,
    fig_histograms,
    fig_parameter_effects,
    fig_seed_noise,
    fig_trajectories,
)
from espb.evaluation.sweep.forecast_rank import (
    ForecastRanking,
    fig_forecast_vs_accuracy,
    markdown_section,
)
from espb.evaluation.sweep.grid import grid_data
from espb.evaluation.sweep.periods import PERIODS, acc_col, n_col, period_span
from espb.evaluation.sweep.seeds import SeedNoise, seed_means

#: the label of tables and figures over development and test predictions together
POOLED = "pooled dev+test, not used for selection"


def _fmt(v: Any, digits: int = 3, sign: bool = False) -> str:
    if missing(v):
        return "–"
    if isinstance(v, float | np.floating):
        return f"{v:+.{digits}f}" if sign else f"{v:.{digits}f}"
    return str(v)


def _md_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return out


def _heading(text: str, note: str) -> str:
    return f"{text} ({note})" if note else text


def _period_notes(acc: pd.DataFrame) -> list[str]:
    notes = []
    total = len(acc)
    for period in PERIODS:
        span = period_span(period)
        have = int((acc[n_col(period)] > 0).sum()) if total else 0
        if have == 0:
            notes.append(f"- {period} ({span}): **empty**, no run has samples in it")
        elif have < total:
            notes.append(f"- {period} ({span}): samples in {have} of {total} runs")
        else:
            notes.append(f"- {period} ({span}): samples in all {total} runs")
    return notes


def _best_lines(label: str, row: dict[str, Any] | None) -> list[str]:
    if row is None:
        return [f"- **{label}**: none (no run with an accuracy)"]
    factors = ", ".join(f"{f}={py(row.get(f))}" for f in FACTORS)
    accs = ", ".join(f"{p} {_fmt(row.get(acc_col(p)))} (n {row.get(n_col(p), 0)})" for p in PERIODS)
    return [
        f"- **{label}**: {describe_config(row)} — run `{row.get('run_id')}`",
        f"  - factors: {factors}",
        f"  - accuracy: {accs}",
    ]


def _top_table(acc: pd.DataFrame, k: int = 20) -> list[str]:
    top = top_configs(acc, "T_all", k)
    heads = ["#", "configuration", *FACTORS, *(acc_col(q) for q in PERIODS), "n_all", "run"]
    rows = [
        [
            i + 1,
            describe_config(r),
            *(str(py(r.get(f))) for f in FACTORS),
            *(_fmt(r.get(acc_col(q))) for q in PERIODS),
            r.get("n_all"),
            f"`{r.get('run_id')}`",
        ]
        for i, r in enumerate(top.to_dict("records"))
    ]
    return _md_table(heads, rows) if rows else ["(no run has predictions yet)"]


def _effects_table(effects: pd.DataFrame) -> list[str]:
    if not len(effects):
        return ["(no factor has two levels)"]
    erows = []
    for f in FACTORS:
        e = effects[effects["factor"] == f]
        for j in range(0, len(e), len(PERIODS)):
            chunk = e.iloc[j : j + len(PERIODS)]
            r0 = chunk.iloc[0]
            by_period = dict(zip(chunk["period"], chunk["effect"], strict=True))
            pairs = dict(zip(chunk["period"], chunk["n_pairs"], strict=True))
            erows.append(
                [
                    f,
                    f"{level_label(f, r0['level'])} vs {level_label(f, r0['baseline'])}",
                    *(_fmt(by_period.get(q), 4, sign=True) for q in PERIODS),
                    int(pairs.get("T_all", 0)),
                ]
            )
    return _md_table(["factor", "level", *PERIODS, "n"], erows)


def _header(
    acc: pd.DataFrame, title: str, meta: Mapping[str, Any] | None, lv: dict, seeds: bool
) -> list[str]:
    n_with = int((acc["n_all"] > 0).sum()) if len(acc) else 0
    lines = [f"# {title}", ""]
    for k, v in (meta or {}).items():
        lines.append(f"- {k}: {v}")
    if seeds:
        lines.append(
            "- seed replicates: the periods, best configurations, top 20, parameter effects and "
            "figures use each configuration's seed mean (its run: the lowest seed's); "
            "accuracy_by_period.csv has every run; see Seed noise"
        )
    return lines + [
        f"- configurations with predictions: {n_with} of {len(acc)}",
        "- accuracy: correct / samples, pooled over all meta-epochs of a period "
        "(threshold 0.5); periods by the forecast day (Appendix C.1)",
        "- levels (first = baseline of the parameter effects): "
        + "; ".join(f"{f} " + ", ".join(level_label(f, v) for v in lv[f]) for f in FACTORS),
    ]


def _markdown(
    acc: pd.DataFrame,
    effects: pd.DataFrame,
    best: dict[str, dict[str, Any] | None],
    title: str,
    meta: Mapping[str, Any] | None,
    lv: dict,
    note: str,
    seeds: bool = False,
) -> list[str]:
    lines = _header(acc, title, meta, lv, seeds)
    if note:
        lines.append(
            "- model selection (best configurations): the development period only; the "
            f"periods, the top 20, the parameter effects and the figures: {note}"
        )
    return lines + [
        "",
        _heading("## Periods", note),
        "",
        *_period_notes(acc),
        "",
        _heading("## Best configurations", "development period" if note else ""),
        "",
        *_best_lines("best overall (Model14.0 analogue)", best["overall"]),
        *_best_lines("best with M_lim 4.9 (Model14.9 analogue)", best["m_lim"]),
        "",
        _heading("## Top 20 by accuracy over all periods", note),
        "",
        *_top_table(acc),
        "",
        _heading("## Parameter effects (Figure C.7)", note),
        "",
        "Mean accuracy change against the baseline level over matched pairs "
        "(configurations equal in the other five factors); n = pairs (T_all).",
        "",
        *_effects_table(effects),
        "",
        "## Figures",
        "",
        "![Figure C.7: parameter effects](fig_c7_parameter_effects.png)",
        "",
        "![Figure C.8: histograms](fig_c8_histograms.png)",
        "",
        "![Figure C.9: all configurations](fig_c9_grid.png)",
        "",
        "![Figure 8: validation accuracy over time](fig_8_trajectories.png)",
        "",
    ]


def _p(v: Any) -> str:
    return "–" if missing(v) else f"{v:.3g}"


def _seed_factor_rows(noise: SeedNoise) -> list[list[Any]]:
    return [
        [
            r["factor"],
            r["levels"],
            _fmt(r["effect"], 4),
            ", ".join(f"{e:+.3f}" for e in r["seed_effects"]) or "–",
            _fmt(r["F_seed"], 2),
            "{}, {}".format(*r["df_seed"]),
            _p(r["p_seed"]),
            _fmt(r["F"], 2),
            f"{r['df1']}, {r['df2']}",
            _p(r["p"]),
            f"{r['verdict']} ({r['test']})" if r["test"] == "pooled" else r["verdict"],
        ]
        for r in noise.factors.to_dict("records")
    ]


def _seed_section(noise: SeedNoise, k: int = 10) -> list[str]:
    """The "Seed noise" section: the factor verdicts, the top ``k`` configurations by seed
    mean, the configurations within one pooled SD of the best, best by mean vs lowest seed."""
    t = noise.configs
    top = [
        [
            i + 1,
            r["configuration"],
            f"{_fmt(r['mean'], 4)} ± {_fmt(r['sd'], 4)}",
            f"{_fmt(r['min'], 4)} – {_fmt(r['max'], 4)}",
            r["n_seeds"],
            ", ".join("?" if s is None else str(s) for s in r["seeds"]),
        ]
        for i, r in enumerate(t.head(k).to_dict("records"))
    ]
    same = {True: "the same", False: "**different**", None: "–"}[noise.same_best]
    heads = ["factor", "levels", "effect", "per-seed effects", "F", "df", "p"]
    heads += ["F pooled", "df pooled", "p pooled", "verdict"]
    return [
        "",
        "## Seed noise",
        "",
        f"{noise.n_obs} runs of {len(t)} configurations ({int((t['n_seeds'] > 1).sum())} with "
        f"two or more seeds), development-period accuracy {noise.metric}. Pooled within-"
        f"configuration (pure-error) SD **{_fmt(noise.pooled_sd, 4)}** on {noise.df_pure} df.",
        "",
        "A factor whose effect is not larger than what re-seeding the same configuration "
        "produces is not a finding. Effect: max − min of the factor's level means; per-seed "
        "effects: the same within each seed (level 2 − level 1). Verdict from the seed-blocked "
        "F (F, df, p): the factor's level means per seed against their level × seed "
        "interaction, because one seed starts every configuration from the same weights (two "
        "levels: the paired t-test of the per-seed effects, t² = F). Pooled: one-way F against "
        "pure (replicate) error, valid for independent replicates only. Main effects only, "
        "normal errors; p < 0.05 per factor, not corrected for several factors. Factors with "
        "one level are not tested.",
        "",
        *(_md_table(heads, _seed_factor_rows(noise)) if len(noise.factors) else ["(none)"]),
        "",
        f"Top {min(k, len(t))} configurations by seed mean:",
        "",
        *_md_table(["#", "configuration", "mean ± SD", "min – max", "n", "seeds"], top),
        "",
        f"- within one pooled SD of the best mean: {len(noise.within_sd)} configuration(s): "
        + (", ".join(noise.within_sd) or "–"),
        f"- best by seed mean: {noise.best or '–'}; best by seed {noise.first_seed} alone: "
        f"{noise.best_by_first or '–'} ({same})",
        "",
        "![Seed noise](fig_seed_noise.png)",
        "",
    ]


def _write_seed_noise(noise: SeedNoise, out: Path) -> dict[str, Path]:
    """``seed_noise.csv`` (per configuration), ``factor_vs_seed.csv`` (per factor) and
    ``fig_seed_noise.png`` (development period, whatever the phase of the other tables)."""
    paths = {n: out / n for n in ("seed_noise.csv", "factor_vs_seed.csv")}
    table = noise.configs.assign(
        seeds=[";".join("" if s is None else str(s) for s in v) for v in noise.configs["seeds"]],
        run_ids=[";".join(v) for v in noise.configs["run_ids"]],
    )
    table.to_csv(paths["seed_noise.csv"], index=False)
    fac = noise.factors.assign(
        seed_effects=[";".join(f"{e:.6g}" for e in v) for v in noise.factors["seed_effects"]],
        df_seed=[f"{a};{b}" for a, b in noise.factors["df_seed"]],
    )
    fac.to_csv(paths["factor_vs_seed.csv"], index=False)
    paths["fig_seed_noise.png"] = fig_seed_noise(noise, out / "fig_seed_noise.png")
    return paths


def write_report(
    acc: pd.DataFrame,
    preds: pd.DataFrame,
    configs: pd.DataFrame,
    out_dir: str | Path,
    title: str,
    meta: Mapping[str, Any] | None = None,
    selection: pd.DataFrame | None = None,
    forecast: ForecastRanking | None = None,
    seeds: SeedNoise | None = None,
) -> dict[str, Path]:
    """Write the sweep report (paper Appendix C.1 and Figure 8) to ``out_dir``:
    ``sweep_report.md``, ``accuracy_by_period.csv`` (all runs), ``parameter_effects.csv`` and
    the figures ``fig_c7_parameter_effects.png``, ``fig_c8_histograms.png``, ``fig_c9_grid.png``
    and ``fig_8_trajectories.png``. ``acc`` comes from
    :func:`~espb.evaluation.sweep.analysis.period_accuracy`; ``preds`` are the predictions the
    trajectories are drawn from; ``meta`` adds lines (experiment, tracking URI, runs finished /
    expected). ``selection``: the development-period accuracies that choose the best
    configurations when ``acc`` holds more (dev and test pooled): then ``acc``'s tables and
    figures are labelled :data:`POOLED`. None: ``acc`` is the development period and selects.
    ``forecast``: the forecast-skill ranking (:mod:`~espb.evaluation.sweep.forecast_rank`);
    when given, also ``forecast_ranking.csv``, ``fig_forecast_vs_accuracy.png`` and a section
    of the page (nothing changes without it). ``seeds``: the seed noise of a sweep with seed
    replicates (:func:`~espb.evaluation.sweep.seeds.seed_noise`); when given, ``acc`` and
    ``selection`` (one row per run) are averaged over seeds for everything but
    ``accuracy_by_period.csv``, and ``seed_noise.csv``, ``factor_vs_seed.csv``,
    ``fig_seed_noise.png`` and a section of the page are added. Returns file name -> path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    note = "" if selection is None else POOLED
    runs = acc
    if seeds is not None:
        acc = seed_means(acc)
        selection = None if selection is None else seed_means(selection)
    lv = resolve_levels(acc)
    effects = parameter_effects(acc, lv)
    traj = trajectories(preds)
    best = best_configs(acc if selection is None else selection)
    paths: dict[str, Path] = {}
    for name, table in (("accuracy_by_period.csv", runs), ("parameter_effects.csv", effects)):
        paths[name] = out / name
        table.to_csv(paths[name], index=False)
    for name, draw in (
        (
            "fig_c7_parameter_effects.png",
            lambda q: fig_parameter_effects(effects, q, lv, note=note),
        ),
        ("fig_c8_histograms.png", lambda q: fig_histograms(histogram_data(acc, lv), q, note=note)),
        ("fig_c9_grid.png", lambda q: fig_grid(grid_data(acc, lv), q, note=note)),
        ("fig_8_trajectories.png", lambda q: fig_trajectories(traj, configs, q, lv, note=note)),
    ):
        paths[name] = draw(out / name)
    lines = _markdown(acc, effects, best, title, meta, lv, note, seeds is not None)
    if seeds is not None:
        paths.update(_write_seed_noise(seeds, out))
        lines += _seed_section(seeds)
    if forecast is not None:
        paths["forecast_ranking.csv"] = out / "forecast_ranking.csv"
        forecast.table.to_csv(paths["forecast_ranking.csv"], index=False)
        paths["fig_forecast_vs_accuracy.png"] = fig_forecast_vs_accuracy(
            forecast, out / "fig_forecast_vs_accuracy.png"
        )
        lines += markdown_section(forecast)
    p = out / "sweep_report.md"
    p.write_text("\n".join(lines), encoding="utf-8")
    paths[p.name] = p
    return paths
