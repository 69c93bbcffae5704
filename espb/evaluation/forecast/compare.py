"""``espb report forecast``: runs and baselines compared in one table, read from the forecast
metrics the runs logged to MLflow (``forecast/<period>/<forecast>/<score>`` with ``_lo`` /
``_hi``; :mod:`.run_log`).

One row per (run, period, forecast): the information gain per target event over the reference
(the spatial base rate) with its block-bootstrap interval, the Brier skill score, ROC AUC, the
area skill score and the hit rates at 1 % and 5 % alarm, and the number of targets. A run is
labelled by its MLflow run name and the settings in which the compared runs differ (e.g.
``catalog.precursors=null``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from espb.errors import EspbError
from espb.evaluation.forecast.run_log import PREFIX, resolve_uri

#: the compared scores: (metric name, column header)
COLUMNS = [
    ("ig_nats", "IG/target (nats)"),
    ("bss", "BSS"),
    ("auc", "AUC"),
    ("ass", "ASS"),
    ("hit_1pct", "hit @1%"),
    ("hit_5pct", "hit @5%"),
]
_KEY = re.compile(rf"^{PREFIX}/(?P<period>[^/]+)/(?P<forecast>[^/]+)/(?P<score>[^/]+)$")
#: params that name places, not settings: never a label
_PLACES = ("out_dir", "cache_dir", "catalog.path", "hydra", "tracking")


@dataclass
class LoggedRun:
    """One MLflow run with forecast metrics."""

    run_id: str
    name: str
    metrics: dict[str, float]
    params: dict[str, str]
    tags: dict[str, str]


def _client(uri: str):
    import logging

    from mlflow.tracking import MlflowClient

    logging.getLogger("mlflow").setLevel(logging.WARNING)
    return MlflowClient(tracking_uri=uri)


def _check_store(uri: str) -> None:
    if uri.startswith("sqlite:///") and not Path(uri[len("sqlite:///") :]).is_file():
        raise EspbError(f"no MLflow store at {uri[len('sqlite:///') :]}; check --tracking-uri")


def _logged(r) -> LoggedRun:
    return LoggedRun(
        r.info.run_id, r.info.run_name or r.info.run_id, dict(r.data.metrics),
        dict(r.data.params), dict(r.data.tags),
    )  # fmt: skip


def runs_of_folders(run_dirs: Sequence[Path], tracking_uri: str | None = None) -> list[LoggedRun]:
    """The MLflow runs of run folders (each folder's ``state.json`` names its run and store)."""
    from espb.evaluation.forecast.run import run_state

    out = []
    for d in run_dirs:
        d = Path(d).resolve()
        st = run_state(d)
        uri = resolve_uri(st, d.parents[2], tracking_uri)
        _check_store(uri)
        try:
            r = _client(uri).get_run(st["run_id"])
        except Exception as exc:  # MlflowException / KeyError: not there
            raise EspbError(
                f"{d}: its MLflow run {st.get('run_id')} is not in {uri} ({type(exc).__name__}); "
                "pass --tracking-uri of the store that holds it"
            ) from exc
        out.append(_logged(r))
    return out


def runs_of_experiment(tracking_uri: str, experiment: str) -> list[LoggedRun]:
    """Every run of ``experiment`` that logged forecast metrics."""
    _check_store(tracking_uri)
    client = _client(tracking_uri)
    exp = client.get_experiment_by_name(experiment)
    if exp is None:
        names = sorted(e.name for e in client.search_experiments())
        raise EspbError(
            f"no MLflow experiment {experiment!r} in {tracking_uri} (there: {', '.join(names)})"
        )
    runs, token = [], None
    while True:
        page = client.search_runs([exp.experiment_id], max_results=1000, page_token=token)
        runs += [_logged(r) for r in page]
        token = getattr(page, "token", None)
        if not token:
            break
    return [r for r in runs if any(k.startswith(PREFIX + "/") for k in r.metrics)]


def run_labels(runs: Sequence[LoggedRun], max_keys: int = 3) -> list[str]:
    """Each run's name and the settings in which the runs differ (at most ``max_keys``)."""
    keys = sorted({k for r in runs for k in r.params if not k.startswith(_PLACES)})
    differ = [k for k in keys if len({r.params.get(k) for r in runs}) > 1]
    differ = [k for k in differ if not k.startswith("forecast.")][:max_keys]
    labels = []
    for r in runs:
        extra = ", ".join(f"{k}={r.params.get(k)}" for k in differ)
        labels.append(f"{r.name} ({extra})" if extra else r.name)
    return labels


def comparison_long(runs: Sequence[LoggedRun]) -> pd.DataFrame:
    """Columns ``run, run_id, period, forecast, score, value, lo, hi`` for the scores of
    :data:`COLUMNS` and ``n_targets``."""
    want = {k for k, _ in COLUMNS}
    rows = []
    for label, r in zip(run_labels(runs), runs, strict=True):
        for key, v in r.metrics.items():
            m = _KEY.match(key)
            if not m or m["score"] not in want:
                continue
            lo = r.metrics.get(key + "_lo", np.nan)
            hi = r.metrics.get(key + "_hi", np.nan)
            n = r.metrics.get(f"{PREFIX}/{m['period']}/n_targets", np.nan)
            rows.append([label, r.run_id, m["period"], m["forecast"], m["score"], v, lo, hi, n])
    cols = ["run", "run_id", "period", "forecast", "score", "value", "lo", "hi", "n_targets"]
    return pd.DataFrame(rows, columns=cols)


def comparison_table(long: pd.DataFrame) -> pd.DataFrame:
    """One row per (run, period, forecast) (the model first), one ``value [lo, hi]`` cell per
    score of :data:`COLUMNS`, and ``n_targets``."""
    if not len(long):
        raise EspbError(
            "no forecast metrics in these runs; run `espb forecast RUN` (or espb-train with "
            "forecast.enabled=true) first"
        )

    def cell(r) -> str:
        f = lambda v: "–" if not np.isfinite(v) else f"{v:.3g}"  # noqa: E731
        return f"{f(r.value)} [{f(r.lo)}, {f(r.hi)}]"

    t = long.assign(text=long.apply(cell, axis=1))
    out = t.pivot_table(
        index=["run", "period", "forecast"], columns="score", values="text", aggfunc="first"
    )
    n = long.groupby(["run", "period", "forecast"])["n_targets"].first()
    out = out.reindex(columns=[k for k, _ in COLUMNS]).fillna("–")
    out.columns = [h for _, h in COLUMNS]
    out["targets"] = n.reindex(out.index).map(lambda v: "–" if not np.isfinite(v) else int(v))
    order = out.reset_index()
    order["_m"] = ~order["forecast"].str.startswith("model")
    runs = list(dict.fromkeys(long["run"]))
    order["_r"] = order["run"].map(runs.index)
    order["_p"] = order["period"].map({"dev": 0, "test": 1}).fillna(2)
    order = order.sort_values(["_r", "_p", "_m", "forecast"], kind="mergesort")
    return order.drop(columns=["_m", "_r", "_p"]).reset_index(drop=True)


def markdown(table: pd.DataFrame, title: str = "Forecast comparison") -> list[str]:
    heads = list(table.columns)
    lines = [f"# {title}", "", "IG and BSS against the spatial base rate; brackets: 95 % "
             "block-bootstrap intervals (`espb forecast`).", "",
             "| " + " | ".join(heads) + " |", "|" + "|".join("---" for _ in heads) + "|"]  # fmt: skip
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in table.to_numpy()]
    return lines


def report_forecast(
    run_dirs: Sequence[Path] = (),
    experiment: str | None = None,
    tracking_uri: str | None = None,
    out_dir: Path | None = None,
    say: Callable[[str], None] = lambda s: None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The comparison table of run folders or of an experiment's runs; with ``out_dir`` also
    ``forecast_comparison.csv`` (long, numeric), ``forecast_comparison_table.csv`` and
    ``forecast_comparison.md``. Returns (table, files)."""
    from espb.safeio import atomic_write

    if bool(run_dirs) == bool(experiment):
        raise EspbError("espb report forecast: give run folders or --experiment NAME, not both")
    if experiment:
        if tracking_uri is None:
            raise EspbError("--experiment needs the MLflow store (--tracking-uri)")
        runs = runs_of_experiment(tracking_uri, experiment)
    else:
        runs = runs_of_folders(run_dirs, tracking_uri)
    say(f"{len(runs)} runs with forecast metrics")
    long = comparison_long(runs)
    table = comparison_table(long)
    files: dict[str, Any] = {}
    if out_dir is not None:
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        for name, obj in (
            ("forecast_comparison.csv", long),
            ("forecast_comparison_table.csv", table),
        ):
            with atomic_write(out_dir / name) as tmp:
                obj.to_csv(tmp, index=False)
            files[name] = out_dir / name
        with atomic_write(out_dir / "forecast_comparison.md") as tmp:
            tmp.write_text("\n".join(markdown(table)) + "\n", encoding="utf-8")
        files["forecast_comparison.md"] = out_dir / "forecast_comparison.md"
    return table, files
