"""The time-forward snapshot choice on a hand-made schedule, and reading it from a run folder."""

from __future__ import annotations

import numpy as np
import pytest

from espb.errors import ConfigError, EspbError
from espb.forecast.snapshots import Schedule, assign_snapshots, load_snapshot, read_schedule

from .helpers import make_run, random_model

# 10 segments of 5 days from day 20; meta-epochs validate on segments 3, 4 and 7
BOUNDS = np.array([[20 + 5 * s, 25 + 5 * s] for s in range(10)])
SCHED = Schedule(BOUNDS, np.array([3, 4, 7]), complete=True)


def test_time_forward_choice():
    days = np.arange(15, 75)
    a, ins = assign_snapshots(days, SCHED)
    want = np.full(len(days), -1)
    want[(days >= 35) & (days < 40)] = 0  # segment 3: meta-epoch 0
    want[(days >= 40) & (days < 55)] = 1  # segment 4, and the skipped segments 5, 6
    want[(days >= 55) & (days < 70)] = 2  # segment 7 and the skipped ones after it
    # days before the first validation segment and after the cube's last segment: none
    assert np.array_equal(a, want)
    assert not ins.any()


def test_incomplete_run_stops_after_its_last_segment():
    a, _ = assign_snapshots(np.arange(55, 70), Schedule(BOUNDS, np.array([3, 4, 7]), False))
    assert np.array_equal(a, np.r_[np.full(5, 2), np.full(10, -1)])


def test_latest_and_fixed_are_flagged_in_sample():
    days = np.arange(35, 70)
    a, ins = assign_snapshots(days, SCHED, "latest")
    assert (a == 2).all()
    assert np.array_equal(ins, days < 55)  # trained on data from those segments
    a, ins = assign_snapshots(days, SCHED, 1)
    assert (a == 1).all() and np.array_equal(ins, days < 40)
    with pytest.raises(ConfigError, match="meta-epochs 0..2"):
        assign_snapshots(days, SCHED, 3)
    with pytest.raises(ConfigError, match="time_forward, latest"):
        assign_snapshots(days, SCHED, "newest")


def test_read_schedule_and_snapshot(tmp_path):
    run = make_run(tmp_path / "r", 16, 8, 5, [3, 4, 7], n_days=70)
    cfg_days = 70
    import yaml

    cfg = yaml.safe_load((run / "config.yaml").read_text())
    s = read_schedule(run, cfg, cfg_days)
    assert np.array_equal(s.me_segment, [3, 4, 7]) and s.complete
    assert s.bounds[0].tolist() == [16, 21]
    m = load_snapshot(run, 1, cfg)
    ref = random_model(16, 8, seed=101)
    for (k, v), (k2, v2) in zip(m.state_dict().items(), ref.state_dict().items(), strict=True):
        assert k == k2 and bool((v == v2).all())
    # metrics of another cube or schedule: a clear error
    (run / "metrics.csv").write_text("meta_epoch,segment,date\n0,3,2020-03-01\n")
    with pytest.raises(EspbError, match="do not start the segments"):
        read_schedule(run, cfg, cfg_days)
    (run / "weights" / "me_0001.pt").unlink()
    with pytest.raises(EspbError, match="lost its weights"):
        load_snapshot(run, 1, cfg)
