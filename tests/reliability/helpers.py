"""Shared pieces of the reliability tests: running espb-train in a subprocess on the smoke
preset, reading what MLflow holds, reusing one generated catalog and cube cache."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ARGS = ("experiment=smoke", "run.progress=false")


def train(out: Path, *args: str, env: dict | None = None, timeout: float = 900):
    """``espb-train experiment=smoke ARGS`` with outputs under ``out``."""
    e = {**os.environ, "ESPB_OUT": str(out), **(env or {})}
    cmd = [sys.executable, "-m", "espb.cli.train", *ARGS, *args]
    return subprocess.run(cmd, env=e, capture_output=True, text=True, timeout=timeout)


def seed_catalog(src: Path, out: Path) -> None:
    """Copy the generated synthetic catalogs of ``src`` into ``out`` (no regeneration)."""
    (out / "catalogs").mkdir(parents=True, exist_ok=True)
    for f in (src / "catalogs").glob("*.parquet"):
        shutil.copy2(f, out / "catalogs" / f.name)


def run_dir_of(out: Path, name: str = "smoke") -> Path:
    (d,) = [p for p in (out / "runs" / name).iterdir() if p.is_dir()]
    return d


def planned_run_dir(out: Path, *args: str) -> Path:
    from espb.training.plan import plan_run
    from tests.conftest import compose_train

    return plan_run(compose_train(*ARGS, f"out_dir={out}", *args)).run_dir


def client(out: Path):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=f"sqlite:///{out / 'mlruns.db'}")


def metric_points(out: Path, run_id: str) -> dict[str, list[tuple[int, float]]]:
    """Every metric of the run: key -> sorted (step, value) points, duplicates kept."""
    c = client(out)
    keys = c.get_run(run_id).data.metrics.keys()
    return {k: sorted((m.step, m.value) for m in c.get_metric_history(run_id, k)) for k in keys}
