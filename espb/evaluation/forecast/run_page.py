"""The Markdown page of a run's forecast evaluation (``forecast.md``): settings, per period the
scores of the model and every baseline with their intervals, the paired tests, pyCSEP's gridded
tests, the figures, and every note (baselines left out, values clipped, days without a model)."""

from __future__ import annotations

from espb.evaluation.forecast.run_writer import (
    MAIN,
    TESTS,
    csep_rows,
    fmt,
    md_table,
    score_rows,
    test_rows,
)

_WHAT = (
    "Scores over the eligible cell-days the model scores (every centre cell at least patch/2 "
    "from the border, every day with a full lookback and a model); every baseline on exactly "
    "these cell-days, time-forward. IG: information gain per target cell-day over the "
    "reference (nats, Kagan 2009); BSS: Brier skill score over the reference; ASS: area skill "
    "score of the Molchan diagram (alarm fraction = share of cell-days; ref-weighted: share of "
    "the reference's probability); hit @1 %/@5 %: share of targets under the 1 %/5 % of "
    "cell-days with the highest forecast. Brackets: {level:.0%} block-bootstrap intervals "
    "({n_boot} replicates of {block_days}-day blocks)."
)


def _header(rep) -> list[str]:
    s, a = rep.settings, rep.cube_attrs
    lines = [
        f"# Forecast evaluation: {rep.run_name} / {rep.config_hash}",
        "",
        f"- run folder: `{rep.run_dir}`",
        f"- settings: period {s.period}, snapshot {s.snapshot}, calibration {s.calibration} "
        f"({s.calibration_source}); the model is `{rep.model}` in tables and metrics",
        f"- target: at least one Mw >= {rep.target_mag:g} event in the cell on the day",
        f"- baselines: {', '.join(b for b in next(iter(rep.periods.values())).molchan if b != rep.model)}"
        f"; reference: {s.reference}",
        f"- forecast cube: `{rep.cube_path}` (key {a.get('forecast_key')}, snapshots "
        f"{a.get('snapshots_used')}), also `forecast_cube.zarr.zip`",
        "- time: " + ", ".join(f"{k} {v:.1f} s" for k, v in rep.timing.items()),
    ]
    return lines


def _period(rep, res) -> list[str]:
    s = rep.settings
    n = res.name
    lines = [
        "",
        f"## {'Development' if n == 'dev' else 'Test'} period {res.first} .. {res.last}",
        "",
        f"{len(res.days)} days scored ({res.n_unscored_days} days of the period without a "
        f"model, {res.n_in_sample_days} in sample), {res.n_cell_days:,} cell-days, "
        f"{res.n_targets} target cell-days.",
        "",
        _WHAT.format(level=s.level, n_boot=s.n_boot, block_days=s.block_days),
        "",
        *md_table(["forecast", *(h for _, h in MAIN)], score_rows(res.table)),
        "",
        f"Paired comparisons of the model with each forecast (IG per target of `{rep.model}` "
        f"over the other, interval, two-sided p-value; Rhoades et al. 2011):",
        "",
        *md_table(["comparison", *(h for _, h in TESTS)], test_rows(res.table)),
    ]
    if len(res.csep):
        lines += [
            "",
            "pyCSEP gridded tests (quantile: N-test delta1 / delta2, simulation tests gamma; "
            "consistent at alpha 0.05; T-test: IG per event [interval] against the reference):",
            "",
            *md_table(
                ["window", "dates", "forecast", "test", "statistic", "quantile", "consistent"],
                csep_rows(res.csep),
            ),
        ]
    day = f"{rep.dates[res.map_day]:%Y-%m-%d}"
    lines += [
        "",
        f"![Molchan diagram]({'molchan_' + n}.png) ![Molchan, log axis](molchan_{n}_log.png)",
        "",
        f"![Reliability](reliability_{n}.png) ![IG over time](ig_time_{n}.png)",
        "",
        f"![Forecast map of {day}](map_{n}.png)",
        "",
        f"Map: {day}, {len(res.map_targets[0])} target cell-days; the model's probability "
        f"ranges {fmt(float(res.map_prob.min()), 3)}..{fmt(float(res.map_prob.max()), 3)}.",
    ]
    return lines


def markdown(rep) -> list[str]:
    lines = _header(rep)
    for res in rep.periods.values():
        lines += _period(rep, res)
    notes = rep.notes + [x for r in rep.periods.values() for x in r.notes]
    if notes:
        lines += ["", "## Notes", "", *(f"- {x}" for x in notes)]
    return lines
