"""``espb-train``: the Hydra app (thin wiring: compose the config, run one configuration, print
its summary).

    espb-train                                   the demo preset (what `make run` runs)
    espb-train experiment=smoke training.loss=bce
    espb-train -m bvalue.dr=0.25,0.35 samples.m_lim=4.0,4.9      a Hydra multirun
"""

from __future__ import annotations

import sys

import hydra
from omegaconf import DictConfig

from espb.paths import conf_dir


def print_summary(out, say) -> None:
    """The end-of-run summary of :class:`espb.training.run.RunOutcome` ``out``."""
    summ, t, wall = out.summary, out.timing, out.wall_s
    say("")
    say(
        f"== espb-train {out.plan.name}: {'finished' if out.completed else 'stopped'} in {wall:.0f} s =="
    )
    n_test = sum(r["phase"] == "test" for r in out.records)
    say(
        f"  meta-epochs        {len(out.records)}"
        + (f" ({n_test} in the test period)" if out.records else "")
    )
    if "val_acc_cumulative" in summ:
        say(
            f"  cumulative accuracy (development)  {summ['val_acc_cumulative']:.3f} on "
            f"{summ['val_n_samples']:.0f} samples"
        )
    if "test_acc_cumulative" in summ:
        say(
            f"  cumulative accuracy (test period)  {summ['test_acc_cumulative']:.3f} on "
            f"{summ['test_n_samples']:.0f} samples"
        )
    if "auc_second_half" in summ:
        say(
            f"  AUC over the last half of the meta-epochs  {summ['auc_second_half']:.3f} "
            f"({summ['n_second_half']:.0f} samples)"
        )
    if t.train_steps:
        busy = t.fwd_bwd_s + t.gather_s
        say(
            f"  training: {t.train_samples:,} samples in {busy:.0f} s ({t.samples_per_s:.0f}/s); "
            f"{100 * (1 - t.fwd_bwd_s / wall):.0f}% of the wall time outside forward/backward"
        )
    say(f"  run folder         {out.run_dir}")
    say(f"  MLflow run         {out.run_id} in experiment '{out.experiment}' ({out.tracking_uri})")
    if out.tracking_uri.startswith("sqlite"):
        say(
            f"  open the UI with   .venv/bin/mlflow ui --backend-store-uri {out.tracking_uri} "
            "--port 5000   (make ui for outputs/)"
        )
    from espb.tracking import run_links

    for what, url in run_links(out.tracking_uri, out.experiment, out.run_id).items():
        say(f"  MLflow {what:<11} {url}")
    if len(out.replicates) > 1:
        say(f"  seed replicates    {len(out.replicates)} (training.seeds; docs/training.md)")
        for r in out.replicates:
            acc = r.summary.get("val_acc_cumulative", float("nan"))
            say(
                f"    seed {r.plan.settings.training.weight_seed:<4} dev accuracy {acc:.3f}  "
                f"{r.run_dir}  MLflow run {r.run_id}"
                + ("  (finished before)" if r.already_done else "")
            )


_process_cache = None


def process_cache():
    """The :class:`espb.training.inputs.RunCache` this process keeps between the jobs it runs
    (a Hydra multirun worker runs many jobs on one catalog and cube)."""
    global _process_cache
    if _process_cache is None:
        from espb.training.inputs import RunCache

        _process_cache = RunCache()
    return _process_cache


def main_task(cfg: DictConfig) -> float:
    """Run one configuration with its finishers: the forecast of the ``forecast`` node
    (:mod:`espb.evaluation.forecast.run_log`) when ``forecast.enabled``, also for a
    configuration that had finished before."""
    from espb.cli.progress import console_reporter
    from espb.evaluation.forecast.run_log import forecast_finisher
    from espb.training.run import run_one

    rep, progress = console_reporter(bool(cfg.run.get("progress", True)))
    fin = forecast_finisher(cfg.get("forecast"), rep.say)  # validated before any training
    finishers = [fin] if fin else []
    if cfg.run.get("report", False):  # the run report (docs/diagnostics.md), wired by cli/report
        from espb.cli.report import run_report_finisher

        finishers.append(run_report_finisher(process_cache(), rep))
    try:
        out = run_one(cfg, rep, cache=process_cache(), finishers=finishers)
        if fin is not None and out.already_done:
            fin.after_finished(out)
    finally:
        progress.stop()
    print_summary(out, rep.say)
    page = out.run_dir / "report" / "index.md"
    if finishers and page.is_file():
        rep.say(f"  run report         {page} (and index.html; docs/diagnostics.md)")
    from espb.training.summary import replicate_mean

    summ = replicate_mean([r.summary for r in out.replicates or [out]])  # seeds: their mean
    return float(summ.get("val_acc_cumulative", float("nan")))


_task_started = False


@hydra.main(config_path=str(conf_dir()), config_name="train", version_base="1.3")
def _hydra_main(cfg: DictConfig) -> float:
    import signal

    from espb.cli.errors import user_errors
    from espb.signals import interrupts

    global _task_started
    _task_started = True
    # SIGTERM (a batch scheduler's stop, ``kill``) is Ctrl-C: the MLflow run ends KILLED
    with user_errors("espb-train"), interrupts((signal.SIGTERM,)):
        return main_task(cfg)


def _check_out_dir(argv: list[str]) -> None:
    """The output folder (``out_dir=`` or ``$ESPB_OUT``) can be written: checked before Hydra
    creates its folders there, which would end in a traceback."""
    import os
    from pathlib import Path

    from espb.cli.errors import user_errors

    given = [a.split("=", 1)[1] for a in argv if a.startswith(("out_dir=", "+out_dir="))]
    out = Path(given[-1] if given else os.environ.get("ESPB_OUT", "outputs"))
    with user_errors("espb-train"):
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".espb-write-probe-{os.getpid()}"
        probe.touch()
        probe.unlink()


def main() -> None:
    """Hydra exits 1 on a config it cannot compose (an unknown key, a missing preset): that is
    the user's to fix, so it exits 2 like every other bad setting (docs/reliability.md)."""
    _check_out_dir(sys.argv[1:])
    try:
        _hydra_main()
    except SystemExit as exc:
        if exc.code == 1 and not _task_started:
            sys.exit(2)
        raise
    except KeyboardInterrupt as exc:
        print(
            f"espb-train: stopped ({exc or 'interrupt'}); the MLflow run is KILLED and the last "
            "completed meta-epoch is saved: run the same command again to resume",
            file=sys.stderr,
        )
        sys.exit(130)


if __name__ == "__main__":
    main()
