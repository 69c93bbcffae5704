"""What a user meets in the MLflow UI: espb experiments marked as model training, the saved view
of their runs table (the six factors and the key summary metrics as columns), and the addresses
espb prints (docs/mlflow.md).

MLflow 3 opens an experiment in its GenAI view (traces, token usage) unless the experiment is
tagged as model training or the URL asks for the training view; its runs table shows only the
run name, time, dataset and source unless columns are picked by hand. MLflow 3.17's UI keeps
*saved views* as experiment tags ``mlflow.sharedViewState.<id>`` (the "Saved views" menu of the
runs table lists them, ``?viewStateShareKey=<id>`` opens one): espb writes one such view on every
experiment it creates or opens, and every runs-table address it prints opens it.
"""

from __future__ import annotations

import json
import os
from typing import Any

from espb.paper import FACTOR_NAMES

#: MLflow 3 opens an experiment in its GenAI view unless the experiment is tagged as model
#: training (the tag the UI's own "experiment type" selector writes) or the URL asks for it
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
EXPERIMENT_KIND = "custom_model_development"
#: the URL query that opens MLflow 3's "Model training" view of any page
TRAINING_VIEW = "workflowType=machine_learning"
#: where ``make ui`` serves a local SQLite store
LOCAL_UI = "http://127.0.0.1:5000"

#: the saved view espb writes on each of its experiments (MLflow UI: runs table -> Saved views)
SAVED_VIEW_ID = "espb-factors-metrics"
SAVED_VIEW_TAG = f"mlflow.sharedViewState.{SAVED_VIEW_ID}"
SAVED_VIEW_NAME = "espb: six factors + summary metrics"
#: the summary metrics a run logs at its end (espb.training.summary.run_summary), as columns
SUMMARY_COLUMNS: tuple[str, ...] = (
    "summary/val_acc_cumulative",
    "summary/test_acc_cumulative",
    "summary/val_auc_pooled",
    "summary/test_auc_pooled",
)
#: the saved view sorts by development accuracy: the protocol selects on development only
SAVED_VIEW_ORDER = "summary/val_acc_cumulative"
#: a fixed creation time keeps the tag byte-identical across writers (no rewrite on every open)
_SAVED_VIEW_EPOCH_MS = 1_764_547_200_000


def _column(kind: str, key: str) -> str:
    """The runs table's column id (MLflow's ``makeCanonicalSortKey``: ``params.`dr```)."""
    return f"{kind}.`{key}`"


def saved_view_state() -> dict[str, Any]:
    """The runs-table state of the saved view: the six factor params (paper Table 1, in the
    paper's figure order) and :data:`SUMMARY_COLUMNS` as columns, sorted by development accuracy,
    best first. Keys are MLflow's own (search facets + UI state of the experiment page)."""
    return {
        "selectedColumns": [
            *(_column("params", p) for p in FACTOR_NAMES),
            *(_column("metrics", m) for m in SUMMARY_COLUMNS),
        ],
        "orderByKey": _column("metrics", SAVED_VIEW_ORDER),
        "orderByAsc": False,
    }


def saved_view_tag_value() -> str:
    """The tag value of the saved view: MLflow 3.17's envelope ``{name, createdAt, updatedAt,
    state}`` with the state as a JSON string."""
    state = json.dumps(saved_view_state(), separators=(",", ":"))
    return json.dumps(
        {
            "name": SAVED_VIEW_NAME,
            "createdAt": _SAVED_VIEW_EPOCH_MS,
            "updatedAt": _SAVED_VIEW_EPOCH_MS,
            "state": state,
        },
        separators=(",", ":"),
    )


def experiment_tags() -> dict[str, str]:
    """The tags of a new espb experiment: model training, and the saved view."""
    return {EXPERIMENT_KIND_TAG: EXPERIMENT_KIND, SAVED_VIEW_TAG: saved_view_tag_value()}


def mark_experiment(client, experiment) -> None:
    """Write :func:`experiment_tags` on ``experiment`` (an ``mlflow.entities.Experiment``) where
    they are missing or differ (experiments of an older espb; a newer view)."""
    for k, v in experiment_tags().items():
        if experiment.tags.get(k) != v:
            client.set_experiment_tag(experiment.experiment_id, k, v)


#: set by a sweep for its jobs while they log through its short-lived loopback server: the
#: address their printed links should use instead (the UI that outlives the sweep)
UI_BASE_ENV = "ESPB_UI_BASE"


def ui_base(uri: str) -> str:
    """The UI address for tracking store ``uri``: ``$ESPB_UI_BASE`` when set (a sweep's jobs
    log through a loopback server that stops with the sweep), else the server itself for an
    http(s) store, else the address ``make ui`` serves a local store at."""
    if os.environ.get(UI_BASE_ENV):
        return os.environ[UI_BASE_ENV].rstrip("/")
    return uri.rstrip("/") if uri.startswith(("http://", "https://")) else LOCAL_UI


def runs_url(base: str, experiment_id: str) -> str:
    """The runs table of an experiment, in the training view, with espb's saved view (factor
    and metric columns)."""
    return (
        f"{base}/#/experiments/{experiment_id}/runs?{TRAINING_VIEW}"
        f"&viewStateShareKey={SAVED_VIEW_ID}"
    )


def run_url(base: str, experiment_id: str, run_id: str) -> str:
    """One run's page (a sweep's parent run lists its children), in the training view."""
    return f"{base}/#/experiments/{experiment_id}/runs/{run_id}?{TRAINING_VIEW}"


def compare_url(base: str, experiment_id: str, run_ids: list[str]) -> str:
    """MLflow's compare view of ``run_ids``: every param (the six factors) and metric, side by side."""
    from urllib.parse import quote

    runs = quote(json.dumps(list(run_ids), separators=(",", ":")))
    exps = quote(json.dumps([experiment_id], separators=(",", ":")))
    return f"{base}/#/compare-runs?runs={runs}&experiments={exps}&{TRAINING_VIEW}"


def experiment_links(uri: str, base: str | None = None) -> list[tuple[str, str]]:
    """``(experiment name, runs-table URL)`` for every espb experiment in store ``uri`` (what
    ``make ui`` prints before it serves the store); marks each one (:func:`mark_experiment`)."""
    from mlflow.tracking import MlflowClient

    from espb.tracking import _store_init_lock

    with _store_init_lock(uri):
        client = MlflowClient(tracking_uri=uri)
        exps = [e for e in client.search_experiments() if e.name.startswith("espb-")]
        for e in exps:
            mark_experiment(client, e)
    b = base or ui_base(uri)
    return [(e.name, runs_url(b, e.experiment_id)) for e in sorted(exps, key=lambda e: e.name)]


def run_links(uri: str, experiment: str, run_id: str) -> dict[str, str]:
    """Training-view URLs of one run and of its experiment's runs table (empty if unknown)."""
    from mlflow.tracking import MlflowClient

    exp = MlflowClient(tracking_uri=uri).get_experiment_by_name(experiment)
    if exp is None:
        return {}
    base, eid = ui_base(uri), exp.experiment_id
    return {"run": run_url(base, eid, run_id), "runs table": runs_url(base, eid)}


def sweep_links(uri: str, experiment: str, sweep_name: str, best: list[str] = ()) -> dict[str, str]:
    """Training-view URLs of a sweep: its runs table, its parent run (which lists the children)
    and, given the ``best`` run ids, the compare view of those configurations. Empty when the
    store has no such experiment."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name(experiment)
    if exp is None:
        return {}
    base, eid = ui_base(uri), exp.experiment_id
    links = {"runs table": runs_url(base, eid)}
    parents = client.search_runs(
        [eid],
        filter_string=f"tags.sweep_role = 'parent' and tags.sweep_name = '{sweep_name}'",
        order_by=["attributes.start_time ASC"],
        max_results=1,
    )
    if parents:
        links["parent run"] = run_url(base, eid, parents[0].info.run_id)
    if best:
        links[f"compare the {len(best)} best"] = compare_url(base, eid, list(best))
    return links
