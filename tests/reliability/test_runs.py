"""The guarantees of docs/reliability.md for single runs, each tried the way a careless or
unlucky user would: a changed catalog under the same path, two invocations of one
configuration, ``run.resume=false``, a planted or truncated checkpoint, first runs racing on a new
MLflow database, and bad settings. Smoke scale; the catalog and the cube cache are shared."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.reliability.helpers import (
    ARGS,
    metric_points,
    run_dir_of,
    seed_catalog,
    train,
)


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    """A finished smoke run whose catalog and cube cache later tests reuse."""
    out = tmp_path_factory.mktemp("rel") / "base"
    r = train(out, "run.progress=true")
    assert r.returncode == 0, r.stderr[-3000:]
    (out / "train.log").write_text(r.stderr)
    return out


def _fresh(base: Path, tmp_path: Path, name: str = "out") -> Path:
    out = tmp_path / name
    seed_catalog(base, out)
    return out


# ------------------------------------------------------------------- stale or mixed results


@pytest.mark.slow  # a further smoke run (~40-70 s on 2 cores): make test-slow
def test_a_changed_catalog_under_the_same_path_is_not_reported_as_finished(base, tmp_path):
    from espb.catalog.schema import load_events, save_events

    out = tmp_path / "own"
    table = tmp_path / "events.parquet"
    cat = next((base / "catalogs").glob("synthetic-smoke-*-planted.parquet"))
    ev = load_events(cat)
    save_events(ev, table)
    args = (f"catalog.path={table}",)
    assert train(out, *args).returncode == 0
    again = train(out, *args)
    assert again.returncode == 0 and "already finished" in again.stderr
    # re-ingest into the same file: drop the largest events' neighbours, new content
    save_events(ev.iloc[: len(ev) - 200], table)
    r = train(out, *args)
    assert "already finished" not in r.stderr
    # the folder still holds the run on the old catalog: resuming would mix two datasets
    assert r.returncode == 2, r.stderr[-2000:]
    assert "computed from other inputs" in r.stderr and "run.force=true" in r.stderr
    forced = train(out, *args, "run.force=true")
    assert forced.returncode == 0, forced.stderr[-2000:]
    st = json.loads((run_dir_of(out) / "state.json").read_text())
    from espb.catalog.schema import catalog_hash

    assert st["catalog_hash"] == catalog_hash(load_events(table))


@pytest.mark.slow  # a further smoke run (~40-70 s on 2 cores): make test-slow
def test_resume_false_starts_a_new_mlflow_run(base, tmp_path):
    out = _fresh(base, tmp_path)
    assert train(out, "run.stop_after=2").returncode == 0
    first = json.loads((run_dir_of(out) / "state.json").read_text())["run_id"]
    before = metric_points(out, first)
    r = train(out, "run.resume=false")
    assert r.returncode == 0, r.stderr[-2000:]
    second = json.loads((run_dir_of(out) / "state.json").read_text())["run_id"]
    assert second != first
    assert metric_points(out, first) == before  # the old run got nothing more
    for key, pts in metric_points(out, second).items():
        steps = [s for s, _ in pts]
        assert steps == sorted(set(steps)), key


# ------------------------------------------------------------------- run twice


def _hold_lock(run_dir: Path) -> subprocess.Popen:
    code = (
        "import sys, time; from pathlib import Path; from espb.training.lock import run_lock\n"
        "with run_lock(Path(sys.argv[1])):\n    print('held', flush=True); time.sleep(600)\n"
    )
    p = subprocess.Popen(
        [sys.executable, "-c", code, str(run_dir)], stdout=subprocess.PIPE, text=True
    )
    assert p.stdout.readline().strip() == "held"
    return p


@pytest.mark.slow  # a further smoke run (~40-70 s on 2 cores): make test-slow
def test_a_configuration_run_by_another_process_is_refused_then_free_after_a_kill(base, tmp_path):
    out = _fresh(base, tmp_path)
    from tests.reliability.helpers import planned_run_dir

    rd = planned_run_dir(out)
    holder = _hold_lock(rd)
    try:
        r = train(out)
        assert r.returncode == 2
        assert f"pid {holder.pid}" in r.stderr and "run.on_lock=wait" in r.stderr
    finally:
        holder.kill()  # SIGKILL: the kernel releases the lock, nothing stale is left
        holder.wait()
    r = train(out)
    assert r.returncode == 0, r.stderr[-2000:]


def test_two_invocations_at_once_train_once_and_log_each_point_once(base, tmp_path):
    out = _fresh(base, tmp_path)
    env = {**os.environ, "ESPB_OUT": str(out)}
    cmd = [sys.executable, "-m", "espb.cli.train", *ARGS, "run.on_lock=wait"]
    procs = [subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    errs = [p.communicate(timeout=900)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errs
    assert sum("already finished" in e for e in errs) == 1, errs
    st = json.loads((run_dir_of(out) / "state.json").read_text())
    from mlflow.tracking import MlflowClient

    runs = MlflowClient(f"sqlite:///{out / 'mlruns.db'}").search_runs(
        [
            MlflowClient(f"sqlite:///{out / 'mlruns.db'}")
            .get_experiment_by_name("espb-smoke")
            .experiment_id
        ]
    )
    assert len(runs) == 1
    for key, pts in metric_points(out, st["run_id"]).items():
        steps = [s for s, _ in pts]
        assert steps == sorted(set(steps)), key


def test_first_runs_racing_on_a_new_database_all_open_it(tmp_path):
    uri = f"sqlite:///{tmp_path / 'new.db'}"
    code = "import sys; from espb.tracking import Tracker; Tracker(sys.argv[1], 'espb-race')"
    procs = [
        subprocess.Popen([sys.executable, "-c", code, uri], stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    errs = [p.communicate(timeout=300)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, errs


# ------------------------------------------------------------------- code from files


def test_a_planted_checkpoint_is_not_executed(base, tmp_path):
    out = _fresh(base, tmp_path)
    assert train(out, "run.stop_after=1").returncode == 0
    marker = tmp_path / "pwned"
    planted = (
        "import os, pickle, torch\n"
        "class Evil:\n"
        f"    def __reduce__(self): return (os.system, ('touch {marker}',))\n"
        "torch.save({'meta_epoch': 0, 'model': Evil()}, os.environ['CK'])\n"
    )
    ck = run_dir_of(out) / "checkpoint.pt"
    subprocess.run([sys.executable, "-c", planted], env={**os.environ, "CK": str(ck)}, check=True)
    r = train(out)
    assert not marker.exists(), "the planted checkpoint ran code"
    assert r.returncode == 2 and "run.force=true" in r.stderr, r.stderr[-2000:]


@pytest.mark.slow  # a further smoke run (~40-70 s on 2 cores): make test-slow
def test_a_truncated_checkpoint_says_how_to_start_over(base, tmp_path):
    out = _fresh(base, tmp_path)
    assert train(out, "run.stop_after=1").returncode == 0
    ck = run_dir_of(out) / "checkpoint.pt"
    ck.write_bytes(ck.read_bytes()[: ck.stat().st_size // 2])
    r = train(out)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "checkpoint.pt" in r.stderr and "run.force=true" in r.stderr
    assert train(out, "run.force=true").returncode == 0


@pytest.mark.slow  # a further smoke run (~40-70 s on 2 cores): make test-slow
def test_a_checkpoint_of_the_numpy_era_still_resumes(base, tmp_path):
    """Checkpoints written before the weights-only format (NumPy arrays pickled) load through
    the allow-list of NumPy's array reconstruction, and the run resumes from them."""
    import numpy as np
    import torch

    from espb.training.checkpoint import load_checkpoint

    out = _fresh(base, tmp_path)
    assert train(out, "run.stop_after=1").returncode == 0
    ck = run_dir_of(out) / "checkpoint.pt"
    st = load_checkpoint(ck)
    legacy = {k: v for k, v in st.items() if k not in ("format", "identity", "timing")}
    legacy["predictions"] = [
        {k: np.asarray(v) for k, v in p.items()} for p in legacy["predictions"]
    ]
    torch.save(legacy, ck)
    r = train(out)
    assert r.returncode == 0 and "resumed from the checkpoint after meta-epoch 0" in r.stderr


# ------------------------------------------------------------------- clear errors, exit 2


@pytest.mark.parametrize(
    "override, needle",
    [
        ("catalog.path=/nonexistent/events.parquet", "catalog.path"),
        pytest.param("training.dev_end=2019-13-45", "training.dev_end", marks=pytest.mark.slow),
        ("training.lr=nan", "training.lr"),
        pytest.param("samples.m_lim=inf", "samples.m_lim", marks=pytest.mark.slow),
        pytest.param("run.on_lock=maybe", "run.on_lock", marks=pytest.mark.slow),
        pytest.param("training.no_such_key=1", "no_such_key", marks=pytest.mark.slow),
        ("experiment=no_such_preset", "no_such_preset"),
    ],
)
def test_bad_settings_exit_2_with_one_message(tmp_path, override, needle):
    r = train(tmp_path / "out", override)
    assert r.returncode == 2, (r.returncode, r.stderr[-2000:])
    assert needle in r.stderr and "Traceback" not in r.stderr


def test_an_unwritable_output_folder_is_one_line_and_exit_2(tmp_path):
    if os.geteuid() == 0:
        # root ignores permissions: a read-only location that even root cannot write
        target = "/proc/espb-out"
    else:
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        target = str(ro / "out")
    r = train(Path(target))
    assert r.returncode == 2, r.stderr[-2000:]
    assert "Traceback" not in r.stderr and "espb-train: error:" in r.stderr


def test_a_log_file_shows_one_progress_line_per_meta_epoch(base):
    """``make run > log 2>&1``: stderr is not a terminal, so each meta-epoch writes a plain
    line (issue 18)."""
    from tests.cli.test_progress import LINE

    st = json.loads((run_dir_of(base) / "state.json").read_text())
    log = (base / "train.log").read_text().splitlines()
    steps = [m for m in map(LINE.match, log) if m and m["task"] == "meta-epochs"]
    assert [int(m["done"]) for m in steps] == list(range(1, st["n_meta_epochs"] + 1))
    assert all(int(m["total"]) == st["n_meta_epochs"] for m in steps)


def test_state_records_what_the_run_was_computed_from(base):
    st = json.loads((run_dir_of(base) / "state.json").read_text())
    assert len(st["catalog_hash"]) == 16 and len(st["cube_key"]) == 20
    assert st["wall_s"] > 0
    m = pd.read_csv(run_dir_of(base) / "metrics.csv")
    assert len(m) == st["n_meta_epochs"]
