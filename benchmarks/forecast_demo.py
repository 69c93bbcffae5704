"""``make forecast-demo``: the demo run on the planted catalog, on the null catalog (nothing
planted) and with shuffled training labels, each forecast densely and time-forward, calibrated
(prior shift), and scored against the baselines (uniform, spatial base rate, recent activity,
oracle ETAS) on exactly the same cell-days (issue 14, docs/forecasts.md "The demo").

    .venv/bin/python benchmarks/forecast_demo.py [--out DIR] [--period test|dev|all]
        [--n-boot N] [--csep-simulations N] [extra Hydra overrides ...]

Writes ``<out>/forecast_demo.md`` (one table: model vs baselines per catalog, with the
block-bootstrap intervals, and the paired tests of the model against each baseline),
``forecast_demo.csv`` (long), ``molchan_demo.png`` (the three Molchan diagrams side by side)
and ``forecast_demo.json`` (timings, the machine). Each run's own page is under
``<run>/forecast/<label>/forecast.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _machine import machine

VARIANTS = {
    "planted": [],
    "null catalog": ["catalog.precursors=null"],
    "shuffled labels": ["training.shuffle_labels=true"],
}
SCORES = ["ig_nats", "bss", "auc", "ass", "hit@0.01", "hit@0.05"]


def train(out: Path, overrides: list[str]) -> tuple[Path, float]:
    from hydra import compose, initialize_config_dir

    from espb.cli.train import main_task
    from espb.paths import conf_dir
    from espb.training.plan import plan_run

    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = compose("train", overrides=[f"out_dir={out}", "run.progress=false", *overrides])
    t0 = time.perf_counter()
    main_task(cfg)
    return plan_run(cfg).run_dir, time.perf_counter() - t0


def cell(r, d: int = 3) -> str:
    from espb.evaluation.forecast.run_writer import fmt

    return f"{fmt(r.value, d)} [{fmt(r.lo, d)}, {fmt(r.hi, d)}]"


def tables(reps: dict, period: str) -> tuple[list[str], object]:
    import pandas as pd

    lines = [
        "| catalog | forecast | IG/target vs spatial (nats) | BSS vs spatial | AUC | ASS | "
        "hit @1% | hit @5% | targets |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    tests = ["| catalog | model vs | IG/target (T-test, Bernoulli) | p | bootstrap IG | p |",
             "|---|---|---|---|---|---|"]  # fmt: skip
    long = []
    for name, rep in reps.items():
        res = rep.periods[period]
        t = res.table.set_index(["forecast", "score"])
        long.append(res.table.assign(catalog=name, period=period))
        for f in dict.fromkeys(res.table["forecast"]):
            cells = [cell(t.loc[(f, s)]) for s in SCORES]
            lines.append(f"| {name} | {f} | " + " | ".join(cells) + f" | {res.n_targets} |")
        tt = res.table[res.table["score"].isin(["t_test_bernoulli", "bootstrap_ig"])]
        for b, g in tt.groupby("against", sort=False):
            tb = g.set_index("score")
            a, bo = tb.loc["t_test_bernoulli"], tb.loc["bootstrap_ig"]
            tests.append(
                f"| {name} | {b} | {cell(a)} | {a.p_value:.2g} | {cell(bo)} | {bo.p_value:.2g} |"
            )
    return lines + [""] + tests, pd.concat(long, ignore_index=True)


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--out", default="outputs/forecast_demo")
    ap.add_argument(
        "--runs-in",
        default=None,
        help="out_dir of the three training runs (default: --out); e.g. `outputs` reuses the "
        "finished planted run of `make run` (same config hash)",
    )
    ap.add_argument("--period", default="test", choices=["test", "dev"])
    ap.add_argument("--n-boot", type=int, default=1000)
    ap.add_argument("--csep-simulations", type=int, default=1000)
    ap.add_argument("overrides", nargs="*", help="extra Hydra overrides (experiment: demo)")
    a = ap.parse_args()
    from espb.evaluation.forecast.figures import molchan_panels
    from espb.evaluation.forecast.run import evaluate_run
    from espb.evaluation.forecast.settings import ForecastSettings

    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    reps, timing = {}, {}
    for name, extra in VARIANTS.items():
        runs_in = Path(a.runs_in) if a.runs_in else out
        run_dir, t_train = train(runs_in, ["experiment=demo", *a.overrides, *extra])

        s = ForecastSettings(period=a.period, n_boot=a.n_boot, csep_simulations=a.csep_simulations)
        t0 = time.perf_counter()
        reps[name] = evaluate_run(run_dir, s, say=lambda m, n=name: print(f"[{n}] {m}"))
        timing[name] = {"train_s": t_train, "forecast_eval_s": time.perf_counter() - t0,
                        **reps[name].timing, "run_dir": str(run_dir)}  # fmt: skip
    lines, long = tables(reps, a.period)
    long.to_csv(out / "forecast_demo.csv", index=False)
    fig = molchan_panels(
        {n: r.periods[a.period].molchan for n, r in reps.items()},
        title=f"Molchan diagrams, demo {a.period} period (model and every baseline)",
    )
    fig.savefig(out / "molchan_demo.png", dpi=110)
    head = [f"# Forecast demo ({a.period} period)", "",
            f"machine: {machine()}", "", *lines, "", "![Molchan](molchan_demo.png)"]  # fmt: skip
    (out / "forecast_demo.md").write_text("\n".join(head) + "\n")
    (out / "forecast_demo.json").write_text(
        json.dumps({"machine": machine(), "timing": timing}, indent=1, default=str)
    )
    print("\n".join(lines))
    for n, t in timing.items():
        print(f"{n}: train {t['train_s']:.0f} s, forecast+scores {t['forecast_eval_s']:.0f} s "
              f"(dense forecast {t['forecast_s']:.1f} s)")  # fmt: skip
    print(f"wrote {out}/forecast_demo.md, molchan_demo.png; machine: {machine()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
