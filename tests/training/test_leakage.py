"""No information from the future, end to end (the project's most important invariant).

The training set of meta-epoch k, the model it trains and every score it produces on its
validation window must not change when anything after that window is altered. Labels need the
paper's +7-day exclusion look-ahead, so "after" means after the window's label horizon (window end
+ ``exclusion_after``); with ``exclusion_after=0`` it means literally the day after the window.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from espb.bvalue.config import load_cube_config
from espb.bvalue.cube import build_cube
from espb.catalog.synthetic.config import load_synth_config
from espb.catalog.synthetic.generate import synthesize
from espb.samples.config import SampleConfig
from espb.samples.table import Samples
from espb.training import schedule
from espb.training.blocks import BlockSource
from espb.training.config import TrainConfig
from espb.training.loop import ProgressiveTrainer, make_fabric
from espb.training.schedule import meta_epochs, training_mask, validation_mask

K = 2  # the meta-epoch under test


@pytest.fixture(scope="module")
def smoke_events() -> pd.DataFrame:
    return synthesize(load_synth_config("smoke", ["seed=0"])).events


def _scfg(after: int) -> SampleConfig:
    return SampleConfig(
        eq_min_mag=4.5, m_lim=4.5, lookback=64, patch=16, min_mean_events=5.0, exclusion_after=after
    )


def _run(events: pd.DataFrame, s_cfg: SampleConfig, tmp_path, n_me: int = K + 1) -> dict:
    """Train the first ``n_me`` meta-epochs; record what each one saw and produced."""
    cube_cfg = load_cube_config("smoke", [])
    ds, _ = build_cube(events, cube_cfg)
    samples = Samples.build(events, ds, s_cfg)
    t_cfg = TrainConfig(
        l_me=21, warmup=3, epochs=2, seed=3, max_meta_epochs=n_me, accelerator="cpu"
    )
    table = samples.table(t_cfg.l_me, t_cfg.seed)
    mes = meta_epochs(table, table.attrs["bounds"], t_cfg.warmup)
    assert len(mes) > K, "the smoke catalog must give more meta-epochs than K"
    source = BlockSource(
        np.asarray(ds["b"].values), table, s_cfg.lookback, s_cfg.patch, torch.device("cpu")
    )
    seen: dict[int, dict] = {}

    def on_me(me, rec, pred, state):
        tr = table[training_mask(table, me)]
        seen[me.index] = {
            "train": tr[["target", "row", "col", "label"]].to_numpy().tolist(),
            "val": table[validation_mask(table, me)][["target", "row", "col", "label"]]
            .to_numpy()
            .tolist(),
            "scores": pred["score"].to_numpy().copy(),
            "state": {k: v.clone() for k, v in state.items()},
            "loss": rec["train/loss"],
        }

    tr = ProgressiveTrainer(
        table,
        mes,
        source,
        t_cfg,
        {"lookback": s_cfg.lookback, "patch": s_cfg.patch},
        make_fabric(t_cfg),
        tmp_path,
        samples.grid.date,
        on_meta_epoch=on_me,
    )
    tr.run(resume=False)
    return {"seen": seen, "mes": mes, "grid": samples.grid, "samples": samples}


def _alter_after(events: pd.DataFrame, day: int, grid) -> pd.DataFrame:
    """Change everything after ``day``: drop a third, shift and re-size others, add big events."""
    d = ((pd.to_datetime(events["time"], utc=True) - grid.start) // pd.Timedelta(days=1)).to_numpy()
    late = d > day
    rng = np.random.default_rng(1)
    ev = events.copy()
    idx = np.flatnonzero(late)
    ev.loc[ev.index[idx], "mw"] = np.round(
        ev["mw"].to_numpy()[idx] + rng.normal(0, 0.6, len(idx)), 1
    )
    ev.loc[ev.index[idx], "latitude"] = ev["latitude"].to_numpy()[idx] + rng.normal(
        0, 0.2, len(idx)
    )
    ev = ev.drop(ev.index[idx[::3]])
    start = grid.start + pd.Timedelta(days=day + 1)
    n = 40
    big = pd.DataFrame(
        {
            "event_id": [f"x{i}" for i in range(n)],
            "time": start + pd.to_timedelta(rng.uniform(0, 60, n), unit="D"),
            "latitude": rng.uniform(38.3, 39.7, n),
            "longitude": rng.uniform(141.3, 142.7, n),
            "depth": 10.0,
            "mw": rng.choice([4.6, 5.2, 6.0], n),
            "mag": 5.0,
        }
    )
    for c in ev.columns:
        if c not in big:
            big[c] = ev[c].iloc[0]
    big = big[ev.columns].astype(ev.dtypes.to_dict())
    return (
        pd.concat([ev, big], ignore_index=True)
        .sort_values("time", kind="stable")
        .reset_index(drop=True)
    )


def _assert_same(a: dict, b: dict, upto: int) -> None:
    for k in range(upto + 1):
        sa, sb = a["seen"][k], b["seen"][k]
        assert sa["train"] == sb["train"], f"training set of meta-epoch {k} changed"
        assert sa["val"] == sb["val"], f"validation set of meta-epoch {k} changed"
        np.testing.assert_array_equal(
            sa["scores"], sb["scores"], err_msg=f"scores of meta-epoch {k} changed"
        )
        for name in sa["state"]:
            assert torch.equal(sa["state"][name], sb["state"][name]), (
                f"{name} after meta-epoch {k} changed"
            )


@pytest.mark.parametrize("after", [7, 0])
def test_altering_everything_after_the_label_horizon_changes_nothing_up_to_meta_epoch_k(
    smoke_events, tmp_path, after
):
    s_cfg = _scfg(after)
    base = _run(smoke_events, s_cfg, tmp_path / "a")
    me = base["mes"][K]
    horizon = me.hi - 1 + after  # last day whose events the labels of window K may look at
    altered = _alter_after(smoke_events, horizon, base["grid"])
    assert len(altered) != len(smoke_events)
    other = _run(altered, s_cfg, tmp_path / "b")
    _assert_same(base, other, K)


def test_the_alteration_is_seen_later(smoke_events, tmp_path):
    """The check has teeth: the same alteration one window earlier changes meta-epoch K."""
    s_cfg = _scfg(7)
    base = _run(smoke_events, s_cfg, tmp_path / "a")
    me = base["mes"][K]
    altered = _alter_after(smoke_events, me.lo - 10, base["grid"])
    other = _run(altered, s_cfg, tmp_path / "b")
    with pytest.raises(AssertionError):
        _assert_same(base, other, K)


def test_a_leaky_training_set_is_caught(smoke_events, tmp_path, monkeypatch):
    """A mutant schedule that trains on the validation window itself fails the invariant."""
    s_cfg = _scfg(0)
    base = _run(smoke_events, s_cfg, tmp_path / "a")
    horizon = base["mes"][K].hi - 1
    altered = _alter_after(smoke_events, horizon, base["grid"])

    def leaky(table, me):  # also trains on the next segment (the future)
        return (table["segment"].to_numpy() <= me.segment + 1) & (
            table["segment"].to_numpy() != me.segment
        )

    monkeypatch.setattr("espb.training.loop.training_mask", leaky)
    monkeypatch.setattr(schedule, "training_mask", leaky)
    a = _run(smoke_events, s_cfg, tmp_path / "c")
    b = _run(altered, s_cfg, tmp_path / "d")
    with pytest.raises(AssertionError):
        _assert_same(a, b, K)


def test_blocks_never_contain_the_forecast_day():
    """Changing the cube on or after a sample's forecast day leaves its block unchanged; a block
    source reading one day later (the classic off-by-one) would not pass."""
    rng = np.random.default_rng(0)
    b = rng.random((200, 20, 20)).astype(np.float32)
    table = pd.DataFrame(
        {
            "target": rng.integers(64, 200, 50),
            "row": rng.integers(8, 13, 50),
            "col": rng.integers(8, 13, 50),
        }
    )
    src = BlockSource(b, table, 64, 16, torch.device("cpu"))
    sids = torch.arange(50)
    x = src.raw(sids)
    for i in range(50):
        t = int(table["target"][i])
        b2 = b.copy()
        b2[t:] = -1.0
        x2 = BlockSource(b2, table.iloc[[i]], 64, 16, torch.device("cpu")).raw(torch.tensor([0]))
        assert torch.equal(x[i], x2[0])
        r, c = int(table["row"][i]), int(table["col"][i])
        np.testing.assert_array_equal(x[i].numpy(), b[t - 64 : t, r - 8 : r + 8, c - 8 : c + 8])


def _assert_training_same(a: dict, b: dict, upto: int) -> None:
    """The training sets of meta-epochs 0..upto and the models they trained are identical."""
    for k in range(upto + 1):
        sa, sb = a["seen"][k], b["seen"][k]
        assert sa["train"] == sb["train"], f"training set of meta-epoch {k} changed"
        assert sa["loss"] == sb["loss"], f"training loss of meta-epoch {k} changed"
        for name in sa["state"]:
            assert torch.equal(sa["state"][name], sb["state"][name]), (
                f"{name} after meta-epoch {k} changed"
            )


def _k_after_a_drawn_segment(base) -> int:
    """A meta-epoch whose previous segment holds EQ samples (so it has an nEQ draw whose last
    week decides what trains this meta-epoch)."""
    mes = base["mes"]
    ks = [k for k in range(1, len(mes)) if mes[k].segment - 1 == mes[k - 1].segment]
    assert ks, "the smoke catalog must give two consecutive validation segments"
    return ks[0]


def _alter_from_validation_start(smoke_events, base, k):
    """Everything from the first day of meta-epoch K's validation window on is altered (the
    window's own events too), and large events are added on its first days right at the nEQ
    candidates of the previous segment's last week, so that their exclusion flips: the labels
    of the window change, its training set may not."""
    me, grid = base["mes"][k], base["grid"]
    ev = _alter_after(smoke_events, me.lo - 1, grid)
    pool = base["samples"].pool
    flat = pool.flat[pool.day_ptr[me.lo - 7] : pool.day_ptr[me.lo]]
    _, r, c = pool.unravel(flat[:: max(len(flat) // 12, 1)][:12])
    assert len(r), "the previous segment's last week must hold nEQ candidates"
    n = len(r)
    big = ev.iloc[:n].copy()
    big["event_id"] = [f"flip{i}" for i in range(n)]
    big["time"] = grid.start + pd.to_timedelta(me.lo + 0.5 + np.arange(n) % 3, unit="D")
    big["latitude"] = grid.lat0 + (r + 0.5) * grid.res
    big["longitude"] = grid.lon0 + (c + 0.5) * grid.res
    big["mw"] = 6.0
    out = pd.concat([ev, big], ignore_index=True)
    return out.sort_values("time", kind="stable").reset_index(drop=True)


def test_events_from_the_validation_window_on_leave_its_training_set_alone(smoke_events, tmp_path):
    """Issue 13: every training input of meta-epoch K is a function of events before its
    validation segment's first day. nEQ candidates in the last 7 days of segment K-1 are only
    known 7 days into segment K; the settled/late split of the draw keeps the training part of
    segment K-1's draw independent of them."""
    s_cfg = _scfg(7)
    base = _run(smoke_events, s_cfg, tmp_path / "a")
    k = _k_after_a_drawn_segment(base)
    altered = _alter_from_validation_start(smoke_events, base, k)
    other = _run(altered, s_cfg, tmp_path / "b")
    _assert_training_same(base, other, k)


def test_the_single_draw_of_the_old_code_is_caught(smoke_events, tmp_path, monkeypatch):
    """The test above fails on the draw espb made before issue 13: one seeded draw over the
    whole segment's pool, so a candidate that the segment's last days add or remove (known only
    from events inside the next window) reshuffles the nEQ that train the next meta-epoch."""
    from espb.samples.table import Samples

    def single_draw(self, pool, lo, hi, n, seed):
        return pool.draw(lo, hi, n, np.random.default_rng([seed, lo, 0x6E4551]))

    monkeypatch.setattr(Samples, "draw_neq", single_draw)
    s_cfg = _scfg(7)
    base = _run(smoke_events, s_cfg, tmp_path / "a")
    k = _k_after_a_drawn_segment(base)
    other = _run(_alter_from_validation_start(smoke_events, base, k), s_cfg, tmp_path / "b")
    with pytest.raises(AssertionError, match="training set of meta-epoch"):
        _assert_training_same(base, other, k)
