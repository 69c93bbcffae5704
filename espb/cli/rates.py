"""``espb-rates``: the rate-forecast Hydra app (thin wiring; docs/rates.md), and
``espb-rates-report``: the comparison table of finished runs.

espb-rates                                                   rate_demo, NB GLM
espb-rates model.kind=earthquakenet features.bvalue=true
espb-rates -m model.kind=poisson_glm,nb_glm,earthquakenet features.bvalue=false,true
espb-rates rates/preset=rate_seed catalog.path=central_asia.parquet
espb-rates-report outputs/rates/rate_demo
"""

from __future__ import annotations

import argparse
import sys

import hydra
from omegaconf import DictConfig

from espb.paths import conf_dir


def _reporter(show: bool):
    from espb.cli.progress import console_reporter

    return console_reporter(show)


def main_task(cfg: DictConfig) -> float:
    from espb.rates.settings import RateSettings

    RateSettings.from_cfg(cfg)  # a bad setting fails here, before the heavy imports
    from espb.rates.experiment import run_rates

    rep, progress = _reporter(bool(cfg.get("run", {}).get("progress", True)))
    try:
        res = run_rates(cfg, rep)
    finally:
        progress.stop()
    m = res.summary.get("metrics", {})
    say = rep.say
    state = "finished before (run.force=true recomputes it)" if res.already_done else "finished"
    say("")
    say(f"== espb-rates {cfg.name} / {res.label}: {state} in {res.wall_s:.0f} s ==")
    say(
        f"  test periods: mean Poisson deviance {m.get('test/deviance', float('nan')):.4g}, "
        f"NLL {m.get('test/nll', float('nan')):.4g}, CRPS {m.get('test/crps', float('nan')):.4g} "
        f"({m.get('test/n', 0):.0f} cell-periods)"
    )
    say(
        f"  Poisson vs NB LRT (all periods): LR {m.get('lrt/lr', float('nan')):.4g}, "
        f"log10 p {m.get('lrt/log10_p', float('nan')):.4g} (Self-Liang boundary correction)"
    )
    if "csep/n_test_reject" in m:
        say(
            f"  pyCSEP rejection rates: N-test {m['csep/n_test_reject']:.2f}, NB N-test "
            f"{m.get('csep/nb_n_test_reject', float('nan')):.2f}, S-test {m.get('csep/s_test_reject', float('nan')):.2f}"
        )
    say(
        f"  walk-forward {m.get('time/walkforward_s', float('nan')):.1f} s wall, "
        f"{m.get('time/walkforward_cpu_s', float('nan')):.1f} s CPU "
        f"(load average {m.get('time/load_avg_1min', float('nan')):.1f})"
    )
    say(f"  run folder   {res.run_dir}")
    say(f"  MLflow run   {res.run_id} in experiment '{res.experiment}' ({res.tracking_uri})")
    return float(m.get("test/deviance", float("nan")))


@hydra.main(config_path=str(conf_dir()), config_name="rates", version_base="1.3")
def _hydra_main(cfg: DictConfig) -> float:
    from espb.errors import EspbError

    try:
        return main_task(cfg)
    except EspbError as exc:
        print(f"espb-rates: error: {exc}", file=sys.stderr)
        sys.exit(2)


def main() -> None:
    _hydra_main()


def report_main(argv: list[str] | None = None) -> None:
    """``espb-rates-report RUNS_DIR [-o OUT]``: comparison.md/.csv and deviance figures."""
    from espb.errors import EspbError
    from espb.rates.report import write_report

    ap = argparse.ArgumentParser(prog="espb-rates-report", description=report_main.__doc__)
    ap.add_argument("runs", help="folder holding rate runs, e.g. outputs/rates/rate_demo")
    ap.add_argument("-o", "--out", default=None, help="output folder (default: RUNS)")
    a = ap.parse_args(argv)
    try:
        paths = write_report(a.runs, a.out)
    except EspbError as exc:
        print(f"espb-rates-report: error: {exc}", file=sys.stderr)
        sys.exit(2)
    print(paths["md"].read_text())
    for k, p in paths.items():
        print(f"{k:>10}  {p}")


if __name__ == "__main__":
    main()
