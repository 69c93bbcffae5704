"""The run report: every figure of the paper's Section 4 and Appendices B, D, E that one run
can show, each as a PNG with its data beside it (CSV, parquet for large tables), collected in
``report/index.md`` (and ``index.html``) in the run folder.

- :func:`write_run_report` - ``espb report run RUN``;
- :func:`make_report_finisher` / :func:`report_finisher` - the same at the end of a run
  (a :data:`espb.training.run.Finisher`), logged to MLflow under ``report/``.
"""

from __future__ import annotations

import datetime as dt
import html
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from espb.evaluation.diagnostics import steps as S
from espb.evaluation.diagnostics import steps_costly as C
from espb.evaluation.diagnostics.run_data import RunFolder, load_run, rebuild_inputs
from espb.evaluation.diagnostics.steps import Context, ReportOptions, Step
from espb.progress import Reporter, quiet
from espb.training.inputs import RunCache

#: tables with more rows than this are written as parquet
PARQUET_ROWS = 20_000
DPI = 110


@dataclass
class ReportItem:
    """One figure as written: its PNG and data files (relative to the report folder)."""

    key: str
    paper: str
    title: str
    png: str
    data: list[str]
    summary: str
    seconds: float


@dataclass
class RunReport:
    out_dir: Path
    items: list[ReportItem]
    page: Path
    html: Path | None
    seconds: float
    #: seconds to rebuild the inputs (catalog, cube, samples)
    inputs_s: float

    def files(self) -> list[Path]:
        out = [self.page] + ([self.html] if self.html else [])
        for it in self.items:
            out += [self.out_dir / it.png] + [self.out_dir / d for d in it.data]
        return out


def _save(step: Step, out: Path) -> ReportItem:
    png = f"{step.key}.png"
    step.figure.savefig(out / png, dpi=DPI)
    data = []
    for name, df in step.tables.items():
        if len(df) > PARQUET_ROWS:
            f = f"{step.key}_{name}.parquet"
            df.to_parquet(out / f, index=False)
        else:
            f = f"{step.key}_{name}.csv"
            df.to_csv(out / f, index=False)
        data.append(f)
    return ReportItem(step.key, step.paper, step.title, png, data, step.summary, step.seconds)


def _timed(fn: Callable[[], Step]) -> Step:
    t0 = time.perf_counter()
    step = fn()
    step.seconds = time.perf_counter() - t0
    return step


def _context(run: RunFolder, inputs, opts: ReportOptions) -> Context:
    ann = list(opts.annotations) if opts.annotations is not None else run.annotations()
    m = run.metrics
    me_dates = dict(zip(m["meta_epoch"].astype(int), pd.to_datetime(m["date"]), strict=True))
    return Context(
        run, inputs, opts, ann, pd.Timestamp(run.plan.settings.training.dev_end), me_dates
    )


def build_steps(ctx: Context, rep: Reporter, cache: RunCache) -> list[Callable[[], Step]]:
    """The steps of the report in page order (figure functions of :mod:`.steps`)."""
    steps: list[Callable[[], Step]] = [
        lambda: S.fig03(ctx),
        lambda: S.fig04(ctx),
        lambda: S.fig05(ctx),
        lambda: S.fig07(ctx),  # loads the snapshots Figure 6 reuses
    ]
    if ctx.opts.snapshots:
        steps.append(lambda: C.fig06(ctx, rep))
    steps += [lambda: S.fig09(ctx), lambda: S.figB4(ctx)]
    if ctx.opts.completeness:
        steps.append(lambda: C.figB3(ctx))
    if ctx.opts.pool_grid:
        steps.append(lambda: C.figB5(ctx, rep, cache))
    steps += [lambda: S.figD10(ctx), lambda: S.figD11(ctx)]
    return steps


def write_run_report(
    run_dir: str | Path,
    out_dir: str | Path | None = None,
    opts: ReportOptions | None = None,
    rep: Reporter | None = None,
    cache: RunCache | None = None,
) -> RunReport:
    """Write the report of the run in ``run_dir`` into ``out_dir`` (default
    ``<run_dir>/report/``, replaced as a whole: no stale figure of an earlier report stays)."""
    t0 = time.perf_counter()
    opts, rep, cache = opts or ReportOptions(), rep or quiet(), cache or RunCache()
    run = load_run(run_dir)
    inputs = rebuild_inputs(run, rep, cache, build_cube=opts.build_cube)
    t_in = time.perf_counter() - t0
    ctx = _context(run, inputs, opts)
    out = Path(out_dir) if out_dir is not None else run.run_dir / "report"
    # a folder of this process's own: two reports into the same folder do not collide
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    items = []
    for fn in build_steps(ctx, rep, cache):
        step = _timed(fn)
        items.append(_save(step, tmp))
        rep.say(f"report: {step.paper} ({step.key}) in {step.seconds:.1f} s")
    meta = _meta(run, inputs, opts, t_in)
    (tmp / "index.md").write_text(markdown_page(run.title, meta, items))
    if opts.html:
        (tmp / "index.html").write_text(html_page(run.title, meta, items))
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)
    return RunReport(
        out,
        items,
        out / "index.md",
        out / "index.html" if opts.html else None,
        time.perf_counter() - t0,
        t_in,
    )


def _meta(run: RunFolder, inputs, opts: ReportOptions, t_in: float) -> dict[str, str]:
    s = run.plan.settings
    n_test = int((run.metrics["phase"] == "test").sum())
    return {
        "run folder": str(run.run_dir),
        "preset / config hash": f"{run.name} / {run.plan.hash}",
        "MLflow run": f"{run.state.get('run_id', '?')} ({run.state.get('tracking_uri', '?')})",
        "meta-epochs": f"{len(run.metrics)} ({n_test} in the test period), l_ME {s.training.l_me} d",
        "samples": f"M_lim {s.samples.m_lim}, EQ Mw >= {s.samples.eq_min_mag}, blocks "
        f"{s.samples.lookback} x {s.samples.patch} x {s.samples.patch}, autoencoder "
        f"{'on' if s.autoencoder.enabled else 'off'}",
        "cube": f"dr {s.cube.dr}, dt {s.cube.dt}, {s.cube.start} to {s.cube.end}",
        "development end": s.training.dev_end,
        "snapshots (Figure 6)": "scored" if opts.snapshots else "not scored (--snapshots)",
        "inputs rebuilt in": f"{t_in:.1f} s",
        "written": dt.datetime.now().isoformat(timespec="seconds"),
    }


def markdown_page(title: str, meta: dict[str, str], items: list[ReportItem]) -> str:
    lines = [f"# Run report: {title}", "", "| | |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in meta.items()]
    for it in items:
        data = ", ".join(f"[{d}]({d})" for d in it.data)
        lines += [
            "",
            f"## {it.paper}: {it.title}",
            "",
            f"![{it.paper}]({it.png})",
            "",
            it.summary + ".",
            "",
            f"Data: {data}. ({it.seconds:.1f} s)",
        ]
    return "\n".join(lines) + "\n"


def html_page(title: str, meta: dict[str, str], items: list[ReportItem]) -> str:
    e = html.escape
    rows = "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in meta.items())
    body = [f"<h1>Run report: {e(title)}</h1>", f"<table>{rows}</table>"]
    for it in items:
        data = ", ".join(f'<a href="{e(d)}">{e(d)}</a>' for d in it.data)
        body += [
            f"<h2>{e(it.paper)}: {e(it.title)}</h2>",
            f'<img src="{e(it.png)}" style="max-width:100%">',
            f"<p>{e(it.summary)}.</p><p>Data: {data} ({it.seconds:.1f} s)</p>",
        ]
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>"
        + e(title)
        + "</title><style>body{font-family:sans-serif;max-width:1200px;margin:auto}"
        "th{text-align:left;padding-right:1em}</style></head><body>"
        + "\n".join(body)
        + "</body></html>\n"
    )


def make_report_finisher(
    opts: ReportOptions | None = None,
    cache: RunCache | None = None,
    rep: Reporter | None = None,
):
    """A :data:`espb.training.run.Finisher` that writes the run report into
    ``<run_dir>/report/`` and logs the folder to the run's MLflow run under ``report/``.
    Pass the process's :class:`RunCache` so that the inputs are not rebuilt from disk."""

    def finish(outcome, tracker) -> None:
        r = rep or Reporter()
        if not outcome.records:
            r.say("report: no meta-epoch completed, no run report")
            return
        report = write_run_report(outcome.run_dir, None, opts, r, cache)
        tracker.log_artifacts(report.out_dir, "report")
        r.say(f"run report: {report.page} ({len(report.items)} figures, {report.seconds:.1f} s)")

    return finish


def log_report(report: RunReport, run: RunFolder | str | Path) -> str:
    """Log a written report to the MLflow run its run folder's ``state.json`` names, under
    ``report/``; returns the run id."""
    from espb.errors import EspbError
    from espb.tracking import Tracker

    run = run if isinstance(run, RunFolder) else load_run(run)
    run_id, uri = run.state.get("run_id"), run.state.get("tracking_uri")
    if not run_id or not uri:
        raise EspbError(
            f"{run.run_dir}/state.json names no MLflow run; write the report with --no-log"
        )
    tracker = Tracker(uri, run.state.get("experiment") or run.plan.experiment)
    tracker.run_id = run_id
    tracker.log_artifacts(report.out_dir, "report")
    return run_id


def report_finisher(outcome, tracker) -> None:
    """The run report with the default options (Figure 6 off): a Finisher for ``run_one``."""
    make_report_finisher()(outcome, tracker)
