"""A reduced factorial (2 x 2 x 2 at smoke scale) through the real command, `espb sweep run`:
2 parallel local jobs logging through the loopback MLflow server; shared work done once;
one parent and 8 children with every per-meta-epoch point; interrupt and resume; submitit's
local executor."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from espb.buildlog import read_builds

ESPB = str(Path(sys.executable).with_name("espb"))
GRID = [
    "bvalue.dr=0.25,0.35",
    "bvalue.dt=150",
    "samples.m_lim=4.0,4.5",
    "training.loss=mae",
    "training.l_me=21",
    "autoencoder.enabled=true,false",
]
EXPECTED = set(itertools.product(["0.25", "0.35"], ["4.0", "4.5"], ["True", "False"]))


def _env(out: Path) -> dict:
    return {
        **os.environ,
        "ESPB_OUT": str(out),
        "ESPB_CACHE_DIR": str(out / "cache"),
        "PYTHONUNBUFFERED": "1",
    }


def _cmd(name: str, *extra: str) -> list[str]:
    return [
        ESPB,
        "sweep",
        "run",
        "paper_432",
        "experiment=smoke",
        f"name={name}",
        *GRID,
        *extra,
        "--no-prepare",
        "--no-report",
    ]


def _client(out: Path):
    import logging

    logging.getLogger("mlflow").setLevel(logging.WARNING)
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=f"sqlite:///{out / 'mlruns.db'}")


def _runs(out: Path, name: str):
    c = _client(out)
    exp = c.get_experiment_by_name(f"espb-{name}")
    assert exp is not None, f"no MLflow experiment espb-{name}"
    runs = c.search_runs([exp.experiment_id], max_results=1000)
    parents = [r for r in runs if r.data.tags.get("sweep_role") == "parent"]
    children = [r for r in runs if r.data.tags.get("sweep_role") == "child"]
    return c, parents, children


def _check_points(c, out: Path, name: str, child) -> None:
    """Every meta-epoch of the run folder's metrics.csv is in MLflow exactly once, same value."""
    run_dir = out / "runs" / name / child.data.tags["config_hash"]
    m = pd.read_csv(run_dir / "metrics.csv")
    assert len(m) > 0
    for key in ("val/accuracy", "val/acc_cumulative", "train/n_samples"):
        hist = c.get_metric_history(child.info.run_id, key)
        steps = sorted(h.step for h in hist)
        assert steps == list(range(len(m))), f"{key}: steps {steps} != 0..{len(m) - 1}"
        got = {h.step: h.value for h in hist}
        for i, v in enumerate(m[key]):
            if pd.notna(v):
                assert got[i] == pytest.approx(float(v), rel=1e-6)


@pytest.fixture(scope="module")
def sweep_out(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep")
    t0 = time.perf_counter()
    p = subprocess.run(
        _cmd("s8", "-j", "2"), env=_env(out), capture_output=True, text=True, timeout=900
    )
    print(f"smoke sweep of 8 configurations, 2 jobs: {time.perf_counter() - t0:.0f} s")
    assert p.returncode == 0, p.stdout[-4000:] + p.stderr[-4000:]
    return out, p.stdout + p.stderr


def test_every_job_finishes_as_a_child_of_one_parent(sweep_out):
    out, log = sweep_out
    c, parents, children = _runs(out, "s8")
    assert len(parents) == 1
    parent = parents[0]
    assert parent.info.status == "FINISHED"
    assert parent.data.params["grid.n_configs"] == "8"
    assert len(children) == 8
    for ch in children:
        assert ch.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert ch.info.status == "FINISHED" and ch.data.tags["espb_completed"] == "true"
        assert {"dr", "dt", "M_lim", "loss", "l_ME", "AE"} <= set(ch.data.params)
    got = {(ch.data.params["dr"], ch.data.params["M_lim"], ch.data.params["AE"]) for ch in children}
    assert got == EXPECTED
    assert len({ch.data.tags["config_hash"] for ch in children}) == 8
    for ch in children:
        _check_points(c, out, "s8", ch)


def test_each_cube_and_autoencoder_is_built_once(sweep_out):
    out, _ = sweep_out
    builds = read_builds(out / "cache")
    cubes = [b["key"] for b in builds if b["kind"] == "cube"]
    aes = [b["key"] for b in builds if b["kind"] == "autoencoder"]
    assert len(cubes) == 2 and len(set(cubes)) == 2, builds
    # one autoencoder per (cube, M_lim): 2 x 2, though 4 jobs with the AE on ran 2 at a time
    assert len(aes) == 4 and len(set(aes)) == 4, builds
    _, _, children = _runs(out, "s8")
    used = {ch.data.tags["autoencoder_key"] for ch in children} - {"off"}
    assert used == set(aes)
    assert {ch.data.tags["cube_key"] for ch in children} == set(cubes)


def test_output_folders_are_deterministic_per_configuration(sweep_out):
    from espb.sweep.plan import job_config, sweep_jobs
    from espb.training.plan import plan_run

    out, _ = sweep_out
    base = ["experiment=smoke", "name=s8", *GRID]
    want = set()
    old = os.environ.get("ESPB_OUT")
    os.environ["ESPB_OUT"] = str(out)
    try:
        for job in sweep_jobs("paper_432", base):
            want.add(plan_run(job_config("paper_432", job, base)).run_dir.name)
    finally:
        if old is None:
            os.environ.pop("ESPB_OUT")
        else:
            os.environ["ESPB_OUT"] = old
    assert {p.name for p in (out / "runs" / "s8").iterdir()} == want
    assert not any(
        "20" in p.name[:4] for p in (out / "hydra" / "s8").iterdir() if p.is_dir()
    )  # no time stamps


def _completed(out: Path, name: str) -> int:
    import json

    n = 0
    for f in (out / "runs" / name).glob("*/state.json"):
        try:
            n += bool(json.loads(f.read_text()).get("completed"))
        except ValueError:
            pass
    return n


@pytest.mark.slow  # a further smoke sweep (~45-90 s); a killed sweep re-run is in tests/reliability/test_sweeps.py
def test_an_interrupted_sweep_resumes_and_runs_only_the_unfinished(tmp_path):
    out = tmp_path
    env = _env(out)
    proc = subprocess.Popen(
        _cmd("r8", "-j", "2"),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    t0 = time.monotonic()
    while _completed(out, "r8") < 3:
        assert proc.poll() is None, "the sweep ended before it could be interrupted"
        assert time.monotonic() - t0 < 600
        time.sleep(0.5)
    # stop it as Ctrl-C or a batch system would (SIGINT may be ignored in a background shell)
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
    assert proc.returncode != 0

    c, _, children = _runs(out, "r8")
    done_before = {
        ch.data.tags["config_hash"]: (ch.info.run_id, ch.info.end_time)
        for ch in children
        if ch.info.status == "FINISHED" and ch.data.tags.get("espb_completed") == "true"
    }
    ids_before = {ch.info.run_id for ch in children}
    assert (
        2 <= len(done_before) < 8
    )  # the 3rd may be between its last meta-epoch and its MLflow finish

    p = subprocess.run(_cmd("r8", "-j", "2"), env=env, capture_output=True, text=True, timeout=900)
    log = p.stdout + p.stderr
    assert p.returncode == 0, log[-4000:]
    # exactly the configurations finished before were skipped; the others trained
    assert log.count("already finished") == len(done_before), log[-4000:]
    assert log.count("== espb-train r8: finished") == 8

    c, parents, children = _runs(out, "r8")
    assert len(parents) == 1 and len(children) == 8
    assert ids_before <= {ch.info.run_id for ch in children}  # killed runs continued, no duplicates
    for ch in children:
        assert ch.info.status == "FINISHED"
        h = ch.data.tags["config_hash"]
        if h in done_before:  # not trained or logged again
            assert (ch.info.run_id, ch.info.end_time) == done_before[h]
        _check_points(c, out, "r8", ch)


def _two_job_sweep(out: Path, name: str, launcher: str):
    """A 2-configuration smoke sweep through ``launcher``: one parent, two finished children with
    every point, the launcher named on the parent."""
    cmd = [
        ESPB,
        "sweep",
        "run",
        "paper_432",
        "experiment=smoke",
        f"name={name}",
        "bvalue.dr=0.25,0.35",
        "bvalue.dt=150",
        "samples.m_lim=4.5",
        "training.loss=mae",
        "training.l_me=21",
        "autoencoder.enabled=false",
        f"hydra/launcher={launcher}",
        "--no-prepare",
        "--no-report",
    ]
    p = subprocess.run(cmd, env=_env(out), capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, (p.stdout + p.stderr)[-4000:]
    c, parents, children = _runs(out, name)
    assert len(parents) == 1
    assert len(children) == 2 and all(ch.info.status == "FINISHED" for ch in children)
    for ch in children:
        _check_points(c, out, name, ch)
    return parents[0]


@pytest.mark.slow  # a further smoke sweep (~45-90 s); a killed sweep re-run is in tests/reliability/test_sweeps.py
def test_submitit_local_executor(tmp_path):
    pytest.importorskip("submitit")
    parent = _two_job_sweep(tmp_path, "sub", "espb_submitit_local")
    assert parent.data.tags["launcher"] == "LocalLauncher"
    assert list((tmp_path / "hydra" / "sub" / ".submitit").iterdir())  # submitit's job folders


@pytest.mark.slow  # a further smoke sweep (~45-90 s); a killed sweep re-run is in tests/reliability/test_sweeps.py
def test_ray_launcher_local(tmp_path):
    pytest.importorskip("ray")
    parent = _two_job_sweep(tmp_path, "ray", "espb_ray")
    assert parent.data.tags["launcher"] == "RayLauncher"


@pytest.mark.slow  # a further smoke sweep (~50 s)
def test_prepare_builds_the_shared_work_once(tmp_path):
    cmd = [
        ESPB,
        "sweep",
        "prepare",
        "paper_432",
        "experiment=smoke",
        "name=prep",
        "bvalue.dr=0.25",
        "bvalue.dt=150",
        "samples.m_lim=4.0,4.5",
        "-j",
        "2",
    ]
    for _ in range(2):  # the second call finds everything cached
        p = subprocess.run(cmd, env=_env(tmp_path), capture_output=True, text=True, timeout=600)
        assert p.returncode == 0, (p.stdout + p.stderr)[-4000:]
        assert "24 jobs share 1 cubes and 2 autoencoders" in p.stdout + p.stderr
    builds = read_builds(tmp_path / "cache")
    assert sorted(b["kind"] for b in builds) == ["autoencoder", "autoencoder", "cube"]
