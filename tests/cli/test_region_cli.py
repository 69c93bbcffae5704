"""``espb region`` end to end, on real catalogs: pycsep's ComCat sample of the 2019 Ridgecrest
sequence (the smallest: ingest -> check -> a short training run -> MLflow) and the shared
ComCat Japan extract (ingest -> check, wrong region and right region). Each ends in a finished
run or in one line on stderr with exit code 2, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from espb.cli.main import app
from tests.conftest import compose_train

runner = CliRunner()


def _ok(args: list[str], env: dict | None = None) -> str:
    r = runner.invoke(app, args, env=env)
    assert r.exit_code == 0, (r.output, r.exception)
    return r.output


def _fails(args: list[str], out: Path) -> str:
    """``espb ARGS`` as the console script runs it: exit code 2 and one line on stderr."""
    env = {**os.environ, "ESPB_OUT": str(out)}
    r = subprocess.run(
        [sys.executable, "-m", "espb.cli.main", *args], capture_output=True, text=True, env=env
    )
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    return lines[0]


def _refused(args: list[str], env: dict | None = None) -> str:
    """``espb ARGS`` in-process: an EspbError (which the console script prints as one line
    with exit code 2, :func:`test_a_missing_catalog_is_one_line`), its message."""
    from espb.errors import EspbError

    r = runner.invoke(app, args, env=env)
    assert isinstance(r.exception, EspbError), (r.output, r.exception)
    return str(r.exception)


def _check(table: Path, *overrides: str, cube: bool = False) -> list[str]:
    """The arguments of ``espb region check`` on ``table`` with ``experiment=quick`` and the
    Hydra ``overrides`` (``--no-cube`` unless ``cube``)."""
    no_cube = [] if cube else ["--no-cube"]
    return ["region", "check", *no_cube, "--catalog", str(table), "experiment=quick", *overrides]


def test_region_ls_lists_the_presets():
    text = _ok(["region", "ls"])
    for name in ("japan_paper", "switzerland", "italy", "california", "auto"):
        assert name in text


@pytest.fixture(scope="module")
def ridgecrest(csep_dir, tmp_path_factory) -> tuple[Path, Path]:
    src = csep_dir / "artifacts" / "ObservedCatalogs" / "sample_comcat_catalog.csv"
    if not src.exists():
        pytest.skip(f"pycsep sample catalog not available ({src})")
    out = tmp_path_factory.mktemp("ridgecrest")
    table = out / "rc.parquet"
    text = _ok(
        ["catalog", "ingest", str(src), "--format", "csv", "--map", "time=time_string",
         "--map", "latitude=lat", "--map", "longitude=lon", "--map", "mag=M",
         "--map", "depth=depth", "--mag-type", "ML", "--region-preset", "ridgecrest",
         "-o", str(table)]
    )  # fmt: skip
    assert "wrote" in text
    return out, table


def test_ridgecrest_ingest_check_train_mlflow(ridgecrest):
    """pycsep's Ridgecrest sample (821 events, one week) with region=ridgecrest and no other
    region override: the check says it trains, and a short run finishes and is in MLflow."""
    from mlflow.tracking import MlflowClient

    from espb.cli.train import main_task

    out, table = ridgecrest
    env = {"ESPB_OUT": str(out)}
    text = _ok(_check(table, "region=ridgecrest", cube=True), env)
    assert "ok: the settings give a trainable run" in text
    assert "821 events" in text and "meta-epochs" in text
    cfg = compose_train(
        "experiment=quick",
        "region=ridgecrest",
        f"catalog.path={table}",
        f"out_dir={out}",
        "name=rc",
        "run.progress=false",
        "training.epochs=1",
    )
    main_task(cfg)
    (run_dir,) = list((out / "runs" / "rc").iterdir())
    assert (run_dir / "accuracy.png").stat().st_size > 0
    client = MlflowClient(tracking_uri=f"sqlite:///{out / 'mlruns.db'}")
    (exp,) = [e for e in client.search_experiments() if e.name == "espb-rc"]
    (run,) = client.search_runs([exp.experiment_id])
    assert run.info.status == "FINISHED"
    assert "val/accuracy" in run.data.metrics


def test_ridgecrest_on_a_grid_too_small_for_the_patch(ridgecrest):
    out, table = ridgecrest
    line = _refused(_check(table, "region=ridgecrest", "region.patch=32"), {"ESPB_OUT": str(out)})
    assert "16 x 16 cells" in line and "samples.patch=16" in line


@pytest.fixture(scope="module")
def japan(real_comcat, tmp_path_factory) -> tuple[Path, Path]:
    out = tmp_path_factory.mktemp("japan")
    table = out / "jp.parquet"
    _ok(
        ["catalog", "ingest", str(real_comcat), "--region-preset", "japan_comcat", "-o", str(table)]
    )
    return out, table


def test_comcat_japan_on_another_regions_grid_names_japan(japan):
    out, table = japan
    line = _refused(_check(table, "region=switzerland"), {"ESPB_OUT": str(out)})
    assert "region 'switzerland': no EQ sample: none of the catalog's" in line
    assert "region=japan_" in line and "region=auto" in line


def test_comcat_japan_checks_ok_on_its_region(japan):
    out, table = japan
    text = _ok(_check(table, "region=japan_comcat"), {"ESPB_OUT": str(out)})
    assert "ok: the settings give a trainable run" in text
    assert "EQ " in text and "Mc " in text


def test_region_auto_writes_a_preset(ridgecrest, tmp_path):
    from espb.catalog.region import load_region

    out, table = ridgecrest
    target = tmp_path / "mine.yaml"
    text = _ok(["region", "auto", "--catalog", str(table), "-o", str(target), "experiment=quick"])
    assert "region=auto chose: box" in text and f"wrote {target}" in text
    spec = load_region(target)
    assert spec.box[0] >= 35.4 and spec.box[1] <= 36.3  # the sequence, not the whole state
    again = _refused(
        ["region", "auto", "--catalog", str(table), "-o", str(target)], {"ESPB_OUT": str(out)}
    )
    assert "exists" in again  # no silent overwrite


def test_a_missing_catalog_is_one_line(tmp_path):
    line = _fails(["region", "check", "--catalog", str(tmp_path / "nope.parquet")], tmp_path)
    assert "no such file" in line and "espb catalog ingest" in line


@pytest.mark.slow
def test_comcat_japan_ingest_check_train_mlflow(japan):
    """docs/regions.md's Japan run: the shared ComCat extract with region=japan_comcat and no
    other region override (three-year meta-epochs and one epoch each keep it short: minutes on
    the shared 2-core machine): the check says it trains, the run finishes and its summary
    metrics are in MLflow, finite."""
    import math

    from mlflow.tracking import MlflowClient

    from espb.cli.train import main_task

    out, table = japan
    short = ["training.l_me=1095", "training.epochs=1"]
    text = _ok(
        ["region", "check", "--catalog", str(table), "experiment=quick", "region=japan_comcat",
         short[0]],
        {"ESPB_OUT": str(out)},
    )  # fmt: skip
    assert "ok: the settings give a trainable run" in text
    assert "7 meta-epochs (3 in the test period)" in text
    cfg = compose_train(
        "experiment=quick",
        "region=japan_comcat",
        f"catalog.path={table}",
        f"out_dir={out}",
        "name=quick_japan",
        "run.progress=false",
        *short,
    )
    main_task(cfg)
    client = MlflowClient(tracking_uri=f"sqlite:///{out / 'mlruns.db'}")
    (exp,) = [e for e in client.search_experiments() if e.name == "espb-quick_japan"]
    (run,) = client.search_runs([exp.experiment_id])
    assert run.info.status == "FINISHED"
    m = run.data.metrics
    assert m["summary/n_meta_epochs"] == 7
    for key in ("val_acc_cumulative", "test_acc_cumulative", "val_auc_pooled", "test_auc_pooled"):
        assert math.isfinite(m[f"summary/{key}"]), key
