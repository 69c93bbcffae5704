"""Optuna studies (espb.sweep.optuna, ``espb optuna``) on the shipped study file at smoke scale:
two workers sharing one SQLite study with every trial an MLflow child run, continuing a study
with a larger n_trials, and a worker stopped (SIGTERM) then killed (SIGKILL) mid-trial: its
trials are failed and retried."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from espb.sweep.optuna.spec import load_study_config

ESPB = str(Path(sys.executable).with_name("espb"))
SPEC = Path(__file__).resolve().parents[3] / "sweeps" / "optuna_tpe.yaml"
#: smoke scale: one cube (dr 0.25, dt 150), 1 epoch per meta-epoch; the loss and lr are searched
SMOKE = [
    "base_overrides=[experiment=smoke,training.epochs=1]",
    "space.bvalue.dr.choices=[0.25]",
    "space.bvalue.dt.choices=[150]",
    "space.samples.m_lim.choices=[4.5]",
    "space.training.l_me.choices=[21]",
    "space.autoencoder.enabled.choices=[false]",
    "space.training.epochs=null",
    "space.training.lr.low=1.0e-4",
    "sampler.n_startup_trials=2",
    "heartbeat.interval=1",
    "heartbeat.grace_period=3",
    "heartbeat.max_retry=3",
]


@pytest.fixture(scope="module")
def shared_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One output folder for the module (the smoke catalog is generated once); every test
    has its own study (and so its own MLflow experiment and run folders)."""
    return tmp_path_factory.mktemp("optuna")


@pytest.fixture
def out(shared_out: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ESPB_OUT", str(shared_out))
    monkeypatch.setenv("ESPB_CACHE_DIR", str(shared_out / "cache"))
    return shared_out


def _env(out: Path) -> dict[str, str]:
    return {
        **os.environ,
        "ESPB_OUT": str(out),
        "ESPB_CACHE_DIR": str(out / "cache"),
        "PYTHONUNBUFFERED": "1",
    }


def _run(out: Path, study: str, *args: str, timeout: int = 240) -> subprocess.CompletedProcess:
    cmd = [ESPB, "optuna", "run", str(SPEC), f"study_name={study}", *SMOKE, *args]
    p = subprocess.run(cmd, env=_env(out), capture_output=True, text=True, timeout=timeout)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    return p


def _study(out: Path, name: str) -> optuna.Study:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.load_study(study_name=name, storage=f"sqlite:///{out / 'optuna.db'}")


def _mlflow_runs(out: Path, study: str) -> tuple[list, list]:
    import logging

    logging.getLogger("mlflow").setLevel(logging.WARNING)
    from mlflow.tracking import MlflowClient

    c = MlflowClient(tracking_uri=f"sqlite:///{out / 'mlruns.db'}")
    exp = c.get_experiment_by_name(f"espb-optuna_{study}")
    assert exp is not None
    runs = c.search_runs([exp.experiment_id], max_results=100)
    parents = [r for r in runs if r.data.tags.get("sweep_role") == "parent"]
    children = [r for r in runs if r.data.tags.get("sweep_role") == "child"]
    return parents, children


# ---- studies through the real command ----


@pytest.mark.slow  # two worker processes, six trials (~50 s)
def test_two_workers_share_one_study(out: Path) -> None:
    """`espb optuna run --workers 2`: exactly n_trials COMPLETE trials, run by both workers,
    each an MLflow child run of the study's one parent run, tagged with its trial."""
    p = _run(out, "two", "n_trials=4", "--workers", "2")
    study = _study(out, "two")
    trials = study.get_trials()
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert len(complete) == 4, p.stdout[-3000:]
    assert not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    assert {t.user_attrs["worker_id"] for t in complete} == {0, 1}, p.stdout[-3000:]
    assert "MLflow tracking server for the workers" in p.stdout and "best trial" in p.stdout
    parents, children = _mlflow_runs(out, "two")
    assert len(parents) == 1
    parent = parents[0]
    assert parent.info.status == "FINISHED" and parent.data.tags["optuna_study"] == "two"
    assert parent.data.tags["optuna_storage"].endswith("optuna.db")
    assert parent.data.params["optuna.space.training.loss"] == "categorical mae,bce"
    assert parent.data.tags["best_trial"] == str(study.best_trial.number)
    by_id = {r.info.run_id: r for r in children}
    for t in complete:
        run = by_id[t.user_attrs["mlflow_run_id"]]
        assert run.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert run.data.tags["optuna_trial"] == str(t.number)
        assert run.data.tags["optuna_study"] == "two"
        assert run.data.tags["config_hash"] == t.user_attrs["config_hash"]
        assert float(run.data.params["training.lr"]) == pytest.approx(t.params["training.lr"])
        assert run.data.metrics["summary/val_acc_cumulative"] == pytest.approx(t.value)
    assert len({t.user_attrs["mlflow_run_id"] for t in complete}) == 4


def _run_here(study: str, n_trials: int) -> list[str]:
    """``espb optuna run`` in this process (one worker runs in the calling process)."""
    import torch

    from espb.sweep.optuna.study import run_study

    threads = torch.get_num_threads()
    lines: list[str] = []
    cfg = load_study_config(SPEC, [f"study_name={study}", *SMOKE, f"n_trials={n_trials}"])
    try:
        res = run_study(cfg, 1, lines.append)
    finally:
        torch.set_num_threads(threads)
    assert res.counts["COMPLETE"] == n_trials and not res.interrupted, "\n".join(lines)
    return lines


def test_a_study_continues_with_more_trials(out: Path) -> None:
    """The same study run again with a larger n_trials adds trials; finished ones stay."""
    _run_here("more", 2)
    first = {t.number: t for t in _study(out, "more").get_trials()}
    assert sorted(first) == [0, 1] and all(t.state == TrialState.COMPLETE for t in first.values())
    lines = _run_here("more", 4)
    assert "2/4 trials complete" in lines[0]
    trials = _study(out, "more").get_trials()
    assert [t.number for t in trials] == [0, 1, 2, 3]
    assert all(t.state == TrialState.COMPLETE for t in trials)
    for n in (0, 1):
        assert trials[n].params == first[n].params and trials[n].value == first[n].value
        assert trials[n].datetime_complete == first[n].datetime_complete
    parents, children = _mlflow_runs(out, "more")
    assert len(parents) == 1 and parents[0].data.tags["optuna_n_trials"] == "4"
    assert parents[0].info.status == "FINISHED"
    assert sorted(int(r.data.tags["optuna_trial"]) for r in children) == [0, 1, 2, 3]


def _start(out: Path, study: str, n_trials: int) -> subprocess.Popen:
    cmd = [ESPB, "optuna", "run", str(SPEC), f"study_name={study}", *SMOKE, f"n_trials={n_trials}"]
    return subprocess.Popen(
        cmd,
        env=_env(out),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def _running(out: Path, study: str) -> list[int]:
    """The numbers of the study's RUNNING trials whose configuration is composed; [] while the
    study or the database is not readable yet."""
    if not (out / "optuna.db").exists():
        return []
    try:
        return [
            t.number
            for t in _study(out, study).get_trials(states=(TrialState.RUNNING,))
            if "overrides" in t.user_attrs
        ]
    except (KeyError, RuntimeError, OSError, ImportError):  # not created yet
        return []
    except Exception as exc:  # a read that met the writer's lock: look again
        if "locked" not in str(exc):
            raise
        return []


def _frozen_in_trial(out: Path, study: str, proc: subprocess.Popen, timeout: float = 180) -> int:
    """Stop the worker (SIGSTOP) while one of its trials is RUNNING and return that trial's
    number, the worker still stopped. The trial is confirmed RUNNING after the worker was
    stopped, so a signal sent now reaches it mid-trial however short the trial is (a trial
    that finished between a poll and the signal made this test flaky)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        if _running(out, study):
            os.killpg(proc.pid, signal.SIGSTOP)
            time.sleep(0.2)
            running = _running(out, study)
            if running:
                return running[0]
            os.killpg(proc.pid, signal.SIGCONT)  # between trials, or the database was busy
        time.sleep(0.2)
    raise AssertionError(f"no trial of {study} started within {timeout} s")


@pytest.mark.slow  # kills and restarts workers (~45 s)
def test_stopped_and_killed_workers_trials_are_retried(out: Path) -> None:
    """SIGTERM to the worker: its trial is FAIL at once and a retry is enqueued. SIGKILL: its
    trial stays RUNNING until the heartbeat grace period has passed; the next run fails it,
    retries it and reaches n_trials COMPLETE with nothing left RUNNING or WAITING."""
    proc = _start(out, "kill", 2)
    stopped = _frozen_in_trial(out, "kill", proc)
    os.killpg(proc.pid, signal.SIGTERM)
    os.killpg(proc.pid, signal.SIGCONT)
    assert proc.wait(timeout=60) == 130
    trials = {t.number: t for t in _study(out, "kill").get_trials()}
    assert trials[stopped].state == TrialState.FAIL
    (retry,) = [t for t in trials.values() if t.state == TrialState.WAITING]
    assert retry.system_attrs["failed_trial"] == stopped and retry.params == trials[stopped].params

    proc = _start(out, "kill", 2)
    killed = _frozen_in_trial(out, "kill", proc)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    trials = {t.number: t for t in _study(out, "kill").get_trials()}
    assert killed == retry.number and trials[killed].state == TrialState.RUNNING  # stale

    time.sleep(4)  # past the heartbeat grace period (3 s)
    lines = _run_here("kill", 2)
    trials = {t.number: t for t in _study(out, "kill").get_trials()}
    states = [t.state for t in trials.values()]
    assert states.count(TrialState.COMPLETE) == 2, "\n".join(lines)
    assert TrialState.RUNNING not in states and TrialState.WAITING not in states
    assert trials[killed].state == TrialState.FAIL
    retried = [
        t for t in trials.values() if t.system_attrs.get("retry_history") == [stopped, killed]
    ]
    assert len(retried) == 1 and retried[0].state == TrialState.COMPLETE
    assert retried[0].params == trials[stopped].params
