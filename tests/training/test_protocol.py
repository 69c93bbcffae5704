"""The paper's test protocol (issue 13): the search stops at the development end
(``run.until=dev_end``), the selected configuration continues through the test period in the
same run and ends exactly as a run trained straight through; no development metric uses a
forecast day after ``dev_end``."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from tests.reliability.helpers import client, metric_points, run_dir_of, seed_catalog, train

DEV_END = "2011-06-30"  # the smoke catalog (2010-2011) then has a test period
ARGS = (f"training.dev_end={DEV_END}",)


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    out = tmp_path_factory.mktemp("protocol") / "straight"
    r = train(out, *ARGS)
    assert r.returncode == 0, r.stderr[-3000:]
    return out


def test_development_metrics_use_no_forecast_day_after_dev_end(straight):
    rd = run_dir_of(straight)
    pred = pd.read_parquet(rd / "predictions.parquet")
    assert (pred["phase"] == "test").any() and (pred["phase"] == "dev").any()
    assert (pred.loc[pred["phase"] == "dev", "date"] <= pd.Timestamp(DEV_END)).all()
    assert (pred.loc[pred["phase"] == "test", "date"] > pd.Timestamp(DEV_END)).all()
    m = pd.read_csv(rd / "metrics.csv")
    first_test = pd.to_datetime(m.loc[m["phase"] == "test", "date"]).min()
    assert first_test == pd.Timestamp(DEV_END) + pd.Timedelta(days=1)  # segments restart there


@pytest.mark.slow  # two further smoke runs (~70 s)
def test_search_then_continue_equals_a_straight_run(straight, tmp_path):
    out = tmp_path / "search"
    seed_catalog(straight, out)
    r = train(out, *ARGS, "run.until=dev_end")
    assert r.returncode == 0, r.stderr[-3000:]
    rd = run_dir_of(out)
    st = json.loads((rd / "state.json").read_text())
    m = pd.read_csv(rd / "metrics.csv")
    assert set(m["phase"]) == {"dev"} and not st["completed"]
    run = client(out).get_run(st["run_id"])
    assert run.info.status == "FINISHED"
    assert (
        run.data.tags.get("espb_completed_dev") == "true" and "espb_completed" not in run.data.tags
    )
    again = train(out, *ARGS, "run.until=dev_end")
    assert again.returncode == 0 and "already finished" in again.stderr
    cont = train(out, *ARGS)  # continue through the test period
    assert cont.returncode == 0 and "resumed from the checkpoint" in cont.stderr, cont.stderr[
        -2000:
    ]
    st2 = json.loads((rd / "state.json").read_text())
    assert st2["run_id"] == st["run_id"] and st2["completed"]
    a, b = run_dir_of(straight), rd
    ma, mb = pd.read_csv(a / "metrics.csv"), pd.read_csv(b / "metrics.csv")
    cols = [c for c in ma.columns if not c.startswith("time/")]
    pd.testing.assert_frame_equal(ma[cols], mb[cols])
    pd.testing.assert_frame_equal(
        pd.read_parquet(a / "predictions.parquet"), pd.read_parquet(b / "predictions.parquet")
    )
    sa = json.loads((a / "state.json").read_text())
    for key, pts in metric_points(out, st["run_id"]).items():
        steps = [s for s, _ in pts]
        assert steps == sorted(set(steps)), key
        if key.startswith(("val/", "test/", "train/")):
            assert pts == metric_points(straight, sa["run_id"])[key], key
    assert client(out).get_run(st["run_id"]).data.tags.get("espb_completed") == "true"
