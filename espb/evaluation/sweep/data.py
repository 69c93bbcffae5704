"""Reading a parameter search (paper Section 3.4, Appendix C) back from MLflow, and logging its
report to the sweep's parent run. Data access only: the analysis is in
:mod:`espb.evaluation.sweep.analysis`.

A sweep is one MLflow experiment with one parent run (tag ``sweep_role=parent``) and one child
run per configuration (tags ``mlflow.parentRunId``, ``sweep_role=child``, ``config_hash``; params
``dr dt M_lim loss l_ME AE``; artifact ``predictions.parquet``), as written by
:func:`espb.training.run.run_one`.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from espb.errors import EspbError
from espb.evaluation.sweep.factors import FACTORS, coerce_factors

#: the prediction columns the report needs (others in the artifact are dropped)
PRED_COLUMNS = ("meta_epoch", "phase", "date", "label", "score")
PREDICTIONS = "predictions.parquet"
_PAGE = 1000

Progress = Callable[[str], None]


def _client(tracking_uri: str) -> Any:
    from mlflow.tracking import MlflowClient

    # after the import: importing mlflow configures its loggers at INFO
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    return MlflowClient(tracking_uri=tracking_uri)


def _check_local_store(tracking_uri: str, experiment: str) -> None:
    """A SQLite store that does not exist is an error (MLflow would create an empty one)."""
    if tracking_uri.startswith("sqlite:///"):
        path = Path(tracking_uri[len("sqlite:///") :])
        if not path.exists():
            raise EspbError(
                f"no MLflow store at {path} (tracking URI {tracking_uri}), so no experiment "
                f"{experiment!r}; run the sweep first, or check --tracking-uri"
            )


def _all_runs(client: Any, experiment_id: str) -> list[Any]:
    """Every run of the experiment (search_runs is paged: a sweep has 432+ runs)."""
    runs: list[Any] = []
    token: str | None = None
    while True:
        page = client.search_runs(
            experiment_ids=[experiment_id], max_results=_PAGE, page_token=token
        )
        runs.extend(page)
        token = getattr(page, "token", None)
        if not token:
            return runs


def _choose_parent(runs: list[Any]) -> tuple[str, list[Any]]:
    """The parent run and its children. Among runs tagged ``sweep_role=parent`` (or, without
    one, the ``mlflow.parentRunId`` of child runs) the one with the most children; ties: the
    most recent."""
    by_id = {r.info.run_id: r for r in runs}
    parents = [r.info.run_id for r in runs if r.data.tags.get("sweep_role") == "parent"]
    kids: dict[str, list[Any]] = {}
    for r in runs:
        pid = r.data.tags.get("mlflow.parentRunId")
        if pid and r.data.tags.get("sweep_role") != "parent":
            kids.setdefault(pid, []).append(r)
    candidates = parents or list(kids)
    if not candidates:
        return "", []

    def key(pid: str) -> tuple[int, int]:
        start = by_id[pid].info.start_time if pid in by_id else 0
        return (len(kids.get(pid, [])), start or 0)

    best = max(candidates, key=key)
    return best, kids.get(best, [])


def _config_rows(children: list[Any]) -> pd.DataFrame:
    rows = []
    for r in children:
        tags, params = r.data.tags, r.data.params
        rows.append(
            {
                "run_id": r.info.run_id,
                "run_name": r.info.run_name,
                "config_hash": tags.get("config_hash") or r.info.run_id,
                "status": r.info.status,
                "start_time": pd.to_datetime(r.info.start_time, unit="ms")
                if r.info.start_time
                else pd.NaT,
                "end_time": pd.to_datetime(r.info.end_time, unit="ms")
                if r.info.end_time
                else pd.NaT,
                **{f: params.get(f) for f in FACTORS},
                "seed": params.get("seed"),
            }
        )
    cols = ["run_id", "run_name", "config_hash", "status", "start_time", "end_time", *FACTORS]
    df = pd.DataFrame(rows, columns=[*cols, "seed"])
    # the initial-weight seed of a replicate (training.seeds); NaN for runs that did not log it
    df["seed"] = pd.to_numeric(df["seed"], errors="coerce").astype(float)
    return df


def _dedupe(df: pd.DataFrame) -> pd.DataFrame:
    """One row per config_hash: the most recent FINISHED run, else the most recent one."""
    if not len(df):
        return df
    d = df.assign(
        _fin=(df["status"] == "FINISHED").astype(int), _t=df["start_time"].fillna(pd.Timestamp(0))
    )
    d = d.sort_values(
        ["config_hash", "_fin", "_t", "run_id"],
        ascending=[True, False, False, True],
        kind="mergesort",
    )
    d = d.drop_duplicates("config_hash", keep="first").drop(columns=["_fin", "_t"])
    return d.sort_values(
        ["start_time", "run_id"], kind="mergesort", na_position="last"
    ).reset_index(drop=True)


def _download(client: Any, run_id: str, download_dir: Path) -> Path:
    """``download_dir/<run_id>/predictions.parquet``, fetched once (atomically: a download cut
    short leaves no file that looks complete)."""
    dst = download_dir / run_id
    target = dst / PREDICTIONS
    if target.exists():
        return target
    tmp = dst / ".partial"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True, exist_ok=True)
    local = Path(client.download_artifacts(run_id, PREDICTIONS, str(tmp)))
    os.replace(local, target)
    shutil.rmtree(tmp, ignore_errors=True)
    return target


def _experiment(client: Any, tracking_uri: str, experiment: str) -> Any:
    """The MLflow experiment ``experiment``; EspbError naming what the store holds if absent."""
    try:
        exp = client.get_experiment_by_name(experiment)
    except Exception as exc:
        raise EspbError(
            f"MLflow tracking store {tracking_uri!r} cannot be read ({exc}); check --tracking-uri"
        ) from exc
    if exp is None:
        try:
            names = sorted(e.name for e in client.search_experiments())
        except Exception:
            names = []
        have = f" (experiments there: {', '.join(names)})" if names else " (it has no experiments)"
        raise EspbError(
            f"no MLflow experiment {experiment!r} in {tracking_uri}{have}; run the sweep "
            "first, or check --experiment and --tracking-uri"
        )
    return exp


def _predictions(
    client: Any, configs: pd.DataFrame, download_dir: Path, say: Progress
) -> tuple[list[pd.DataFrame], list[str]]:
    """The predictions of the FINISHED runs of ``configs`` (downloaded once), and the run ids
    that have them (a FINISHED run without the artifact is listed, with no predictions)."""
    finished = configs.index[configs["status"] == "FINISHED"]
    have, frames = [], []
    for k, i in enumerate(finished, start=1):
        run_id = str(configs.at[i, "run_id"])
        say(f"predictions {k}/{len(finished)}: run {run_id}")
        try:
            path = _download(client, run_id, download_dir)
        except Exception as exc:  # a FINISHED run without the artifact: listed, no predictions
            say(f"run {run_id}: no {PREDICTIONS} ({type(exc).__name__}); skipped")
            continue
        cols = list(PRED_COLUMNS)
        df = pd.read_parquet(path)
        missing = [c for c in cols if c not in df.columns]
        if missing:
            raise EspbError(
                f"{path} (run {run_id}): {PREDICTIONS} lacks column(s) {missing}; "
                "delete the file to download it again, or re-run that configuration"
            )
        df = df[cols].copy()
        df.insert(0, "run_id", run_id)
        frames.append(df)
        have.append(run_id)
    return frames, have


def load_sweep(
    tracking_uri: str, experiment: str, download_dir: Path, progress: Progress | None = None
) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """The configurations, the predictions and the parent run id of a sweep in MLflow.

    ``configs``: one row per configuration (child runs grouped by ``config_hash``: the most
    recent FINISHED run, else the most recent run) with ``run_id, run_name, config_hash, status,
    start_time, end_time``, the six factors (typed), ``seed`` (the initial-weight seed of a seed
    replicate, NaN when the run did not log one) and ``has_predictions``. Only FINISHED runs
    count as finished; the others are listed with their status and no predictions.
    ``configs.attrs["parent"]`` holds the parent run's name, tags and params;
    ``configs.attrs["forecast"]`` (only when some run has them) the runs' development-period
    forecast metrics (:func:`forecast_metrics`).
    ``preds``: the predictions of the finished runs (``run_id`` and :data:`PRED_COLUMNS`),
    downloaded to ``download_dir/<run_id>/predictions.parquet`` unless already there.
    Raises EspbError when the store cannot be read, the experiment does not exist or has no
    child runs."""
    say = progress or (lambda msg: None)
    # one MLflow progress bar per downloaded file would flood the terminal (432 runs)
    os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"
    _check_local_store(tracking_uri, experiment)
    client = _client(tracking_uri)
    exp = _experiment(client, tracking_uri, experiment)
    say(f"searching runs of experiment {experiment!r}")
    runs = _all_runs(client, exp.experiment_id)
    parent_id, children = _choose_parent(runs)
    if not children:
        raise EspbError(
            f"MLflow experiment {experiment!r} in {tracking_uri} has no child runs of a "
            f"sweep ({len(runs)} runs, none tagged mlflow.parentRunId); run the sweep "
            "first, or check --experiment and --tracking-uri"
        )
    configs = coerce_factors(_dedupe(_config_rows(children)))
    parent = next((r for r in runs if r.info.run_id == parent_id), None)
    frames, have = _predictions(client, configs, Path(download_dir), say)
    configs["has_predictions"] = configs["run_id"].isin(have)
    if parent is not None:
        configs.attrs["parent"] = {
            "run_id": parent_id,
            "name": parent.info.run_name,
            "tags": dict(parent.data.tags),
            "params": dict(parent.data.params),
        }
    else:
        configs.attrs["parent"] = {"run_id": parent_id, "name": None, "tags": {}, "params": {}}
    fc = forecast_metrics(children, configs["run_id"])
    if fc:  # only then: a sweep without forecasts reads back exactly as before
        configs.attrs["forecast"] = fc
    preds = (
        pd.concat(frames, ignore_index=True)
        if frames
        else pd.DataFrame({c: pd.Series(dtype=object) for c in ("run_id", *PRED_COLUMNS)})
    )
    return configs, preds, parent_id


def forecast_metrics(children: list[Any], run_ids) -> dict[str, dict[str, float]]:
    """Run id -> its development-period forecast metrics (``forecast/dev/...``, logged when the
    sweep ran with ``forecast.enabled=true``), for the runs ``run_ids``; runs without any are
    left out."""
    want = set(run_ids)
    out = {}
    for r in children:
        if r.info.run_id in want:
            m = {k: v for k, v in r.data.metrics.items() if k.startswith("forecast/dev/")}
            if m:
                out[r.info.run_id] = m
    return out


def log_report(tracking_uri: str, parent_run_id: str, paths: Mapping[str, Path]) -> None:
    """Log the report files to the sweep's parent run under the artifact path ``report/``."""
    client = _client(tracking_uri)
    try:
        for p in paths.values():
            client.log_artifact(parent_run_id, str(p), "report")
    except Exception as exc:
        raise EspbError(
            f"could not log the report to parent run {parent_run_id} in {tracking_uri}: {exc}"
        ) from exc
