"""``espb-train``: the Hydra app (thin wiring: compose the config, run the experiment, summarise).

espb-train                                   the demo preset (what `make run` runs)
espb-train experiment=smoke training.loss=bce
espb-train -m bvalue.dr=0.25,0.35 samples.m_lim=4.0,4.9      a Hydra multirun
"""

from __future__ import annotations

import sys

import hydra
from omegaconf import DictConfig

from espb.paths import conf_dir


def _reporter(show_progress: bool):
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from espb.training.experiment import Reporter

    console = Console(stderr=True, soft_wrap=True)
    progress = Progress(
        TextColumn("{task.description:<16}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[text]}"),
        console=console,
        disable=not show_progress,
        transient=False,
    )
    tasks: dict[str, int] = {}

    def bar(name, done, total, text):
        if name not in tasks:
            if not progress.live.is_started:
                progress.start()
            tasks[name] = progress.add_task(name, total=total, text="")
        progress.update(tasks[name], completed=done, total=total, text=text)

    def say(line):
        console.print(line, highlight=False, markup=False)

    return Reporter(say=say, bar=bar), progress


def main_task(cfg: DictConfig) -> float:
    from espb.sweep.job import run_job

    rep, progress = _reporter(bool(cfg.run.get("progress", True)))
    try:
        out = run_job(cfg, rep)
    finally:
        progress.stop()
    res, summ, wall = out.result, out.summary, out.wall_s
    t = res.timing
    say = rep.say
    say("")
    say(
        f"== espb-train {cfg.name}: {'finished' if res.completed else 'stopped'} in {wall:.0f} s =="
    )
    say(
        f"  meta-epochs        {len(res.records)}"
        + (
            f" ({sum(r['phase'] == 'test' for r in res.records)} in the test period)"
            if res.records
            else ""
        )
    )
    if "val_acc_cumulative" in summ:
        say(
            f"  cumulative accuracy (development)  {summ['val_acc_cumulative']:.3f} on {summ['val_n_samples']:.0f} samples"
        )
    if "test_acc_cumulative" in summ:
        say(
            f"  cumulative accuracy (test period)  {summ['test_acc_cumulative']:.3f} on {summ['test_n_samples']:.0f} samples"
        )
    if "auc_second_half" in summ:
        say(
            f"  AUC over the last half of the meta-epochs  {summ['auc_second_half']:.3f} ({summ['n_second_half']:.0f} samples)"
        )
    if t.get("train_steps"):
        say(
            f"  training: {t['train_samples']:,} samples in {t['fwd_bwd_s'] + t['gather_s']:.0f} s "
            f"({t['train_samples'] / max(t['fwd_bwd_s'] + t['gather_s'], 1e-9):.0f}/s); "
            f"{100 * (1 - t['fwd_bwd_s'] / wall):.0f}% of the wall time outside forward/backward"
        )
    say(f"  run folder         {res.run_dir}")
    say(f"  MLflow run         {res.run_id} in experiment '{res.experiment}' ({res.tracking_uri})")
    if res.tracking_uri.startswith("sqlite"):
        say(
            f"  open the UI with   .venv/bin/mlflow ui --backend-store-uri {res.tracking_uri} --port 5000"
            "   (then http://127.0.0.1:5000)"
        )
    return float(summ.get("val_acc_cumulative", float("nan")))


@hydra.main(config_path=str(conf_dir()), config_name="train", version_base="1.3")
def _hydra_main(cfg: DictConfig) -> float:
    from espb.errors import EspbError

    try:
        return main_task(cfg)
    except EspbError as exc:
        print(f"espb-train: error: {exc}", file=sys.stderr)
        sys.exit(2)


def main() -> None:
    _hydra_main()


if __name__ == "__main__":
    main()
