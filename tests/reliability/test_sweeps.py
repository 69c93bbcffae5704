"""Sweeps as an unlucky user runs them: ``espb sweep run`` killed outright (SIGKILL, no
clean-up) and run again as the docs advise - no configuration runs twice, every point is in
MLflow once; two ``espb sweep run`` of one sweep at once; and the paper's protocol, search to
``dev_end`` then ``espb sweep continue`` for the selected model only."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

ESPB = str(Path(sys.executable).with_name("espb"))
GRID = [
    "bvalue.dr=0.25,0.35",
    "bvalue.dt=150",
    "samples.m_lim=4.5",
    "training.loss=mae",
    "training.l_me=21",
    "autoencoder.enabled=false",
]


def _env(out: Path) -> dict:
    return {
        **os.environ,
        "ESPB_OUT": str(out),
        "ESPB_CACHE_DIR": str(out / "cache"),
        "PYTHONUNBUFFERED": "1",
    }


def _cmd(name: str, *extra: str, verb: str = "run") -> list[str]:
    tail = ["--no-prepare", "--no-report", "-j", "2"] if verb == "run" else []
    return [
        ESPB,
        "sweep",
        verb,
        "paper_432",
        "experiment=smoke",
        f"name={name}",
        *GRID,
        *extra,
        *tail,
    ]


def _children(out: Path, name: str):
    from mlflow.tracking import MlflowClient

    c = MlflowClient(tracking_uri=f"sqlite:///{out / 'mlruns.db'}")
    exp = c.get_experiment_by_name(f"espb-{name}")
    runs = c.search_runs([exp.experiment_id], max_results=1000)
    return c, [r for r in runs if r.data.tags.get("sweep_role") == "child"]


def _points_once(c, run) -> None:
    for key in run.data.metrics:
        steps = [m.step for m in c.get_metric_history(run.info.run_id, key)]
        assert steps == sorted(set(steps)), f"{key}: a point logged twice: {steps}"


def _alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False


@pytest.mark.slow  # a killed smoke sweep and its re-run (~100 s on 2 cores)
def test_a_killed_sweep_run_leaves_nothing_that_runs_twice(tmp_path):
    out, name = tmp_path / "out", "k2"
    p = subprocess.Popen(
        _cmd(name), env=_env(out), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    record = out / "hydra" / name / "sweep.json"
    runs = out / "runs" / name
    t0 = time.monotonic()
    while time.monotonic() - t0 < 600:  # until a job trains and the server and multirun run
        training = runs.exists() and any(runs.glob("*/weights/me_0000.pt"))
        if training and record.exists() and len(json.loads(record.read_text())["groups"]) >= 2:
            break
        time.sleep(0.5)
    groups = json.loads(record.read_text())["groups"]
    p.kill()  # SIGKILL: no handler, no clean-up
    p.wait()
    time.sleep(2)
    left = [g for g in groups if _alive(g)]
    # PR_SET_PDEATHSIG takes the direct children down; whatever they started may live on
    r = subprocess.run(_cmd(name), env=_env(out), capture_output=True, text=True, timeout=1500)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    if left:
        assert "died and left" in r.stdout + r.stderr
    assert not any(_alive(g) for g in groups)
    c, children = _children(out, name)
    assert len({ch.data.tags["config_hash"] for ch in children}) == 2 == len(children)
    for ch in children:
        assert ch.info.status == "FINISHED" and ch.data.tags.get("espb_completed_dev") == "true"
        _points_once(c, ch)


def test_a_second_sweep_run_of_the_same_sweep_is_refused_while_the_first_runs(tmp_path):
    from espb.errors import EspbError
    from espb.sweep.owner import own_sweep

    folder = tmp_path / "hydra" / "s"
    code = (
        "import sys, time; from espb.sweep.owner import own_sweep\n"
        "with own_sweep(sys.argv[1], 's'):\n    print('owned', flush=True); time.sleep(600)\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code, str(folder)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "owned"
        with pytest.raises(EspbError, match=f"pid {holder.pid}"), own_sweep(folder, "s"):
            pass
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    with own_sweep(folder, "s"):  # free after the kill
        pass


@pytest.mark.slow  # two smoke sweeps (~70 s); the same protocol at run level is in tests/training/test_protocol.py
def test_search_to_dev_end_then_continue_the_selected_model(tmp_path):
    out, name = tmp_path / "out", "cont"
    extra = ("training.dev_end=2011-06-30",)
    r = subprocess.run(
        _cmd(name, *extra), env=_env(out), capture_output=True, text=True, timeout=1500
    )
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    c, children = _children(out, name)
    assert len(children) == 2
    for ch in children:  # the search saw the development period only
        m = pd.read_csv(out / "runs" / name / ch.data.tags["config_hash"] / "metrics.csv")
        assert set(m["phase"]) == {"dev"} and ch.data.tags.get("espb_completed_dev") == "true"
    r = subprocess.run(
        _cmd(name, *extra, verb="continue") + ["--select", "best"],
        env=_env(out),
        capture_output=True,
        text=True,
        timeout=1500,
    )
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    c, after = _children(out, name)
    assert {ch.info.run_id for ch in after} == {ch.info.run_id for ch in children}  # same runs
    done = [ch for ch in after if ch.data.tags.get("espb_completed") == "true"]
    assert len(done) == 1
    m = pd.read_csv(out / "runs" / name / done[0].data.tags["config_hash"] / "metrics.csv")
    assert {"dev", "test"} == set(m["phase"])
    for ch in after:
        _points_once(c, ch)
