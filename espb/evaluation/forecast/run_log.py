"""A run's forecast evaluation in MLflow: metric names, logging (each metric once), the run's own
tracker found from its folder, and the espb-train finisher of the ``forecast`` config node.

Metric keys (all at step 0; a key already logged is not logged again, so re-running the command
or finishing a killed run logs nothing twice):

- ``forecast/<period>/<forecast>/<score>`` with ``_lo`` / ``_hi`` (the bootstrap interval):
  ``ig_nats``, ``ig_bits``, ``probability_gain``, ``bss`` (all against the reference), ``ll``,
  ``ll_mean``, ``brier``, ``auc``, ``ass``, ``ass_w``, ``hit_1pct``, ``hit_5pct``;
- ``forecast/<period>/<model>/<test>_vs_<baseline>`` (``t_test_poisson``, ``t_test_bernoulli``,
  ``bootstrap_ig``: IG per target) with ``_lo``, ``_hi``, ``_p``;
- ``forecast/<period>/<forecast>/csep_<window>_<test>``: pyCSEP's quantile of each gridded test
  (``n_test_delta1``, ``n_test_delta2``, ``s_test``, ``cl_test``, ``l_test``, ``binary_s_test``,
  ``brier_test``, ``t_test_ig`` with ``t_test_lo``/``t_test_hi``);
- ``forecast/<period>/n_targets``, ``n_cell_days``, ``n_days``.

Artifacts: every file of the output folder under ``forecast/<label>/`` (the cube as
``forecast_cube.zarr.zip``).
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from espb.config import from_node
from espb.errors import EspbError
from espb.evaluation.forecast.settings import ForecastSettings

PREFIX = "forecast"
CSEP_NAMES = {
    "Poisson S-Test": "s_test",
    "Poisson CL-Test": "cl_test",
    "Poisson L-Test": "l_test",
    "Binary S-Test": "binary_s_test",
    "Brier score-Test": "brier_test",
    "Binary CL-Test": "binary_cl_test",
}


def score_key(score: str) -> str:
    """An MLflow-safe metric name of a score (``hit@0.01`` -> ``hit_1pct``)."""
    if score.startswith("hit@"):
        return f"hit_{float(score[4:]) * 100:g}pct"
    return score


def _window_key(w: str) -> str:
    return re.sub(r"[^\w.-]", "_", w)


def _score_metrics(period: str, table: pd.DataFrame) -> dict[str, float]:
    out = {}
    for r in table.itertuples(index=False):
        base = f"{PREFIX}/{period}/{r.forecast}/{score_key(r.score)}"
        if r.against and r.score.startswith(("t_test", "bootstrap_ig")):
            base += f"_vs_{r.against}"
            out[base + "_p"] = r.p_value
        out[base] = r.value
        out[base + "_lo"] = r.lo
        out[base + "_hi"] = r.hi
    return out


def _csep_metrics(period: str, csep: pd.DataFrame) -> dict[str, float]:
    out = {}
    for r in csep.itertuples(index=False):
        base = f"{PREFIX}/{period}/{r.forecast}/csep_{_window_key(r.window)}_"
        if r.test == "Poisson N-Test":
            out[base + "n_test_delta1"], out[base + "n_test_delta2"] = r.quantile, r.quantile_2
        elif r.test == "Paired T-Test":
            out[base + "t_test_ig"] = r.statistic
            out[base + "t_test_lo"], out[base + "t_test_hi"] = r.lower, r.upper
        elif r.test in CSEP_NAMES:
            out[base + CSEP_NAMES[r.test]] = r.quantile
    return out


def report_metrics(rep) -> dict[str, float]:
    """Every metric of a :class:`.run.ForecastReport` (finite values only)."""
    out: dict[str, float] = {}
    for name, res in rep.periods.items():
        out |= _score_metrics(name, res.table)
        if len(res.csep):
            out |= _csep_metrics(name, res.csep)
        out[f"{PREFIX}/{name}/n_targets"] = res.n_targets
        out[f"{PREFIX}/{name}/n_cell_days"] = res.n_cell_days
        out[f"{PREFIX}/{name}/n_days"] = len(res.days)
    return {k: float(v) for k, v in out.items() if v is not None and math.isfinite(float(v))}


def log_report(rep, tracker) -> int:
    """Log ``rep``'s metrics (those not logged yet) and its files to ``tracker``'s run; returns
    the number of metrics logged now."""
    have = set(tracker.client.get_run(tracker.run_id).data.metrics)
    todo = {k: v for k, v in report_metrics(rep).items() if k not in have}
    tracker.log_metrics(todo, step=0)
    s = rep.settings
    tracker.set_tags(
        {
            f"{PREFIX}/{s.label}/forecast_key": rep.cube_attrs.get("forecast_key", ""),
            f"{PREFIX}/{s.label}/model": rep.model,
        }
    )
    tracker.log_artifacts(rep.out_dir, f"{PREFIX}/{s.label}")
    rep.logged_to = f"{tracker.uri} run {tracker.run_id}"
    return len(todo)


def resolve_uri(state: dict, out_dir: Path, given: str | None) -> str:
    """The MLflow store of a run: ``given``, else the one its ``state.json`` names; a sweep's
    loopback server (gone once the sweep ended) served the default store of the output folder."""
    from espb.tracking import default_uri

    uri = given or state.get("tracking_uri") or default_uri(out_dir)
    if re.match(r"https?://(127\.0\.0\.1|localhost)(:\d+)?/?$", str(uri)):
        return default_uri(out_dir)
    return str(uri)


def run_tracker(run_dir: Path, tracking_uri: str | None = None):
    """The :class:`espb.tracking.Tracker` of the MLflow run that trained ``run_dir``."""
    from espb.evaluation.forecast.run import run_state
    from espb.tracking import Tracker

    state = run_state(run_dir)
    out_dir = Path(run_dir).resolve().parents[2]
    uri = resolve_uri(state, out_dir, tracking_uri)
    if uri.startswith("sqlite:///") and not Path(uri[len("sqlite:///") :]).is_file():
        raise EspbError(
            f"{run_dir}: its MLflow store {uri} does not exist; pass --tracking-uri, or --no-log"
        )
    if not state.get("run_id") or not state.get("experiment"):
        raise EspbError(f"{run_dir}/state.json names no MLflow run; pass --no-log")
    tracker = Tracker(uri, str(state["experiment"]))
    try:
        tracker.client.get_run(state["run_id"])
    except Exception as exc:  # MlflowException: not in this store
        raise EspbError(
            f"{run_dir}: MLflow run {state['run_id']} is not in {uri} ({type(exc).__name__}); "
            "pass --tracking-uri of the store that holds it, or --no-log"
        ) from exc
    tracker.run_id = state["run_id"]
    return tracker


class ForecastFinisher:
    """The espb-train finisher of the ``forecast`` node: forecast and score the run at its end
    (:func:`.run.evaluate_run`) and log to its MLflow run.

    A run that stopped before the end of its development period is not forecast (said so).
    With ``on_error=record`` an input error (e.g. a period without targets) is printed and
    tagged ``forecast_error`` and the run completes; with ``fail`` it propagates and the run is
    not marked complete."""

    def __init__(self, settings: ForecastSettings, say: Callable[[str], None] = print) -> None:
        self.settings = settings
        self.say = say

    def __call__(self, out, tracker) -> None:
        from espb.evaluation.forecast.run import evaluate_run

        s, say = self.settings, self.say
        if not (out.completed or out.dev_completed):
            say("forecast: the run stopped before the end of its development period; not forecast")
            return
        try:
            rep = evaluate_run(out.run_dir, copy.deepcopy(s), tracker=tracker, say=say)
        except EspbError as exc:
            if s.on_error == "fail":
                raise
            say(f"forecast: not evaluated: {exc}")
            tracker.set_tags({"forecast_error": str(exc)[:4000]})
            return
        say(f"forecast: {rep.out_dir} ({len(rep.files)} files) logged to {rep.logged_to}")

    def after_finished(self, out) -> bool:
        """For a configuration that had finished before (``out.already_done``: nothing trained,
        no finisher ran): forecast it now unless its MLflow run already holds this forecast
        (tag ``forecast/<label>/model``), so a sweep re-run with ``forecast.enabled=true``
        forecasts the runs it skips. Returns whether it forecast."""
        from espb.tracking import Tracker

        tracker = Tracker(out.tracking_uri, out.experiment)
        tracker.run_id = out.run_id
        tags = tracker.client.get_run(out.run_id).data.tags
        if f"{PREFIX}/{self.settings.label}/model" in tags:
            self.say(f"forecast: {self.settings.label} already logged to run {out.run_id}")
            return False
        self(out, tracker)
        return True


def forecast_finisher(node: Any, say: Callable[[str], None] = print) -> ForecastFinisher | None:
    """The finisher of the ``forecast`` node, or None when ``forecast.enabled`` is false. The
    node is validated here, before any training (a bad setting is a ConfigError)."""
    settings = from_node(ForecastSettings, node, "forecast")
    return ForecastFinisher(settings, say) if settings.enabled else None
