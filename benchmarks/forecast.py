"""Dense forecast scoring against per-block scoring, side by side (docs/performance.md).

1. **Demo, side by side.** The demo cube (``experiment=demo``: dr 0.35, dt 150, 60 x 60 cells,
   128-day x 32 x 32 blocks, 30-day segments) and one snapshot per segment (random weights, or the
   snapshots of a real demo run with ``--run``): the dense engine scores every eligible centre on
   every day of the test period (2013-2014), each day by its time-forward snapshot; per-block
   scoring (the training layer's block cutter and the network, ``eval_batch`` 128) scores a random
   sample of the same cell-days. Both rates, the speed-up and the largest difference on the
   sample. With ``--ae`` the same with an autoencoder (random weights; residuals of each block).
2. **Demo test period end to end**: ``forecast_run(RUN, "test")`` (recomputed, not from the cache)
   on ``--run`` or on a run folder of the demo configuration with random weights (one snapshot per
   segment after the warm-up), its inputs loaded through the run folder.
3. **Paper scale** (2020-2022, 79 x 79 centres of a 110 x 110 grid, 512 x 32 x 32 blocks, one
   snapshot per 14-day segment, the paper layout): random weights on a random cube of that size;
   ``--paper-segments`` segments are scored in full and the 79 segments of the period extrapolated;
   with ``--ae``, one tile of 79 windows (one row of centres) through the autoencoder and
   ``--paper-segments`` snapshots, extrapolated to all windows and segments.

Wall and CPU seconds are both reported (on a shared machine the wall time includes waiting for the
CPU; the load average is recorded before and after).

    .venv/bin/python benchmarks/forecast.py [--run RUN] [--ae] [--per-block 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _machine import machine

from espb.forecast.engine import dense_logits
from espb.forecast.folded import fold
from espb.forecast.perblock import perblock_logits
from espb.forecast.snapshots import Schedule, assign_snapshots
from espb.forecast.targets import Eligible
from espb.models.autoencoder import MapAutoencoder
from espb.models.classifier import CnnTcn
from espb.samples.table import segment_bounds


class Clock:
    def __enter__(self):
        self.w, self.c = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall, self.cpu = time.perf_counter() - self.w, time.process_time() - self.c


def random_model(lookback: int, patch: int, seed: int) -> CnnTcn:
    torch.manual_seed(seed)
    m = CnnTcn(lookback, patch)
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, torch.nn.BatchNorm3d):
                mod.running_mean.uniform_(-0.5, 0.5)
                mod.running_var.uniform_(0.5, 2.0)
    return m.eval()


def demo_inputs(out: Path):
    from espb.training.experiment import Reporter, load_catalog

    from espb.bvalue.cache import get_cube
    from espb.bvalue.config import load_cube_config
    from espb.samples.labels import Grid

    ev = load_catalog({"synthetic": "demo", "seed": 0, "precursors": "planted"}, out, Reporter())
    ds = get_cube(ev, load_cube_config("demo", [], dr=0.35, dt=150)).open()
    return np.asarray(ds["b"].values, np.float32), Grid.from_cube(ds)


def side_by_side(b, grid, models, sched, days, n_sample, ae, rng) -> dict:
    """Dense over ``days`` x every eligible centre; per-block on a sample of the same."""
    lookback, patch = models[0].lookback, models[0].patch
    elig = Eligible.of(grid, lookback, patch)
    assign, _ = assign_snapshots(days, sched)
    nets = {k: fold(models[k]) for k in np.unique(assign[assign >= 0])}
    with Clock() as cd:
        lg, timing = dense_logits(nets, assign, int(days[0]), b, elig, ae)
    n_scores = int(np.isfinite(lg).sum())
    k = rng.choice(np.flatnonzero(assign >= 0), n_sample)
    r = rng.integers(0, lg.shape[1], n_sample)
    c = rng.integers(0, lg.shape[2], n_sample)
    with Clock() as cp:
        ref = perblock_logits(
            models, b, days[k], r + elig.row_lo, c + elig.col_lo, ae, snapshot=assign[k]
        )
    sig = lambda x: 1 / (1 + np.exp(-x.astype(np.float64)))  # noqa: E731
    d = float(np.abs(sig(lg[k, r, c]) - sig(ref)).max())
    return {
        "cell_days": n_scores,
        "snapshots": len(nets),
        "dense_wall_s": cd.wall,
        "dense_cpu_s": cd.cpu,
        "dense_scores_per_s": n_scores / cd.wall,
        "dense_timing": timing,
        "perblock_blocks": n_sample,
        "perblock_wall_s": cp.wall,
        "perblock_cpu_s": cp.cpu,
        "perblock_blocks_per_s": n_sample / cp.wall,
        "speedup_wall": (n_scores / cd.wall) / (n_sample / cp.wall),
        "speedup_cpu": (n_scores / cd.cpu) / (n_sample / cp.cpu),
        "perblock_projected_wall_s": n_scores / (n_sample / cp.wall),
        "max_abs_score_diff": d,
    }


def demo(a, rng) -> dict:
    b, grid = demo_inputs(a.out)
    lookback, patch, l_me = 128, 32, 30
    bounds = segment_bounds(lookback, grid.n_days, l_me)
    dev_end = int((np.datetime64("2012-12-31") - np.datetime64(grid.start.date())).astype(int))
    days = np.arange(dev_end + 1, grid.n_days)
    if a.run:
        from espb.forecast.run_inputs import read_config
        from espb.forecast.snapshots import load_snapshot, read_schedule

        cfg = read_config(a.run)
        sched = read_schedule(a.run, cfg, grid.n_days)
        models = {k: load_snapshot(a.run, k, cfg) for k in range(len(sched.me_segment))}
        src = f"snapshots of {a.run}"
    else:
        sched = Schedule(bounds, np.arange(6, len(bounds)))
        models = {k: random_model(lookback, patch, k) for k in range(len(sched.me_segment))}
        src = "random weights, one snapshot per segment from segment 6"
    res = {
        "weights": src,
        "days": [str(grid.date(int(days[0])))[:10], str(grid.date(int(days[-1])))[:10]],
    }
    print(f"demo test period {res['days']}, {src}", flush=True)
    res["ae_off"] = side_by_side(b, grid, models, sched, days, a.per_block, None, rng)
    print(json.dumps(res["ae_off"], indent=1), flush=True)
    if a.ae:
        torch.manual_seed(7)
        ae = MapAutoencoder().eval()
        res["ae_on"] = side_by_side(b, grid, models, sched, days, a.per_block_ae, ae, rng)
        print(json.dumps(res["ae_on"], indent=1), flush=True)
    return res


def fake_demo_run(out: Path, n_days: int) -> Path:
    """A run folder of the demo configuration (the resolved `experiment=demo` config) with random
    weights for one meta-epoch per segment from segment 6 (the demo's warm-up)."""
    import pandas as pd
    import yaml
    from espb.training.experiment import plan
    from hydra import compose, initialize_config_dir

    from espb.paths import conf_dir

    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = compose("train", overrides=["experiment=demo", f"out_dir={out}"])
    pl = plan(cfg)
    run = out / "runs" / "demo-forecast-bench" / pl["hash"]
    (run / "weights").mkdir(parents=True, exist_ok=True)
    res = pl["resolved"]
    (run / "config.yaml").write_text(yaml.safe_dump(res))
    lookback, patch = int(res["samples"]["lookback"]), int(res["samples"]["patch"])
    bounds = segment_bounds(lookback, n_days, int(res["training"]["l_me"]))
    start = pd.Timestamp(res["bvalue"]["start"])
    rows = []
    for k, seg in enumerate(range(6, len(bounds))):
        day = start + pd.Timedelta(days=int(bounds[seg][0]))
        rows.append({"meta_epoch": k, "segment": seg, "date": day.strftime("%Y-%m-%d")})
        sd = random_model(lookback, patch, k).state_dict()
        torch.save({f"model.{n}": v for n, v in sd.items()}, run / "weights" / f"me_{k:04d}.pt")
    pd.DataFrame(rows).to_csv(run / "metrics.csv", index=False)
    (run / "state.json").write_text(json.dumps({"config_hash": pl["hash"], "completed": True}))
    return run


def end_to_end(run: Path) -> dict:
    """``forecast_run(run, "test")`` recomputed: inputs loaded through the run folder (catalog,
    cube from the cache), then the dense scores, calibration and the zarr store."""
    from espb.forecast.api import forecast_run
    from espb.forecast.run_inputs import load_run_inputs

    with Clock() as cl:
        inp = load_run_inputs(run, say=lambda s: None)
    with Clock() as c:
        ds = forecast_run(run, "test", inputs=inp, refresh=True, say=lambda s: None)
    return {
        "run": str(run),
        "load_inputs_wall_s": cl.wall,
        "load_inputs_cpu_s": cl.cpu,
        "forecast_wall_s": c.wall,
        "forecast_cpu_s": c.cpu,
        "timing": json.loads(ds.attrs["timing"]),
        "cell_days": int(np.isfinite(ds["score"].values).sum()),
    }


def paper(a, rng) -> dict:
    """Paper scale: a fraction measured, the test period extrapolated."""
    lookback, patch, seg_len, n_seg = 512, 32, 14, int(np.ceil(1096 / 14))
    h, size = patch // 2, 110
    n_days = lookback + a.paper_segments * seg_len + 1
    b = (1 + 0.3 * rng.standard_normal((n_days, size, size))).clip(0, 2).astype(np.float32)
    import pandas as pd

    from espb.samples.labels import Grid

    grid = Grid(35.0, 135.0, 0.1, size, size, pd.Timestamp("2020-01-01", tz="UTC"), n_days)
    elig = Eligible.of(grid, lookback, patch)
    models = {k: random_model(lookback, patch, k) for k in range(a.paper_segments)}
    nets = {k: fold(m) for k, m in models.items()}
    days = np.arange(lookback, lookback + a.paper_segments * seg_len)
    assign = np.repeat(np.arange(a.paper_segments), seg_len)
    with Clock() as c:
        lg, _ = dense_logits(nets, assign, lookback, b, elig, None)
    assert np.isfinite(lg).all() and lg.shape[1:] == (79, 79)
    res = {
        "ae_off": {
            "segments_measured": a.paper_segments,
            "wall_s": c.wall,
            "cpu_s": c.cpu,
            "projected_test_period_wall_s": c.wall / a.paper_segments * n_seg,
            "projected_test_period_cpu_s": c.cpu / a.paper_segments * n_seg,
        }
    }
    # per-block at paper scale: a few blocks
    k = rng.choice(len(days), 64)
    r, cc = rng.integers(0, 79, 64) + h, rng.integers(0, 79, 64) + h
    with Clock() as cp:
        perblock_logits(models[0], b, days[k], r, cc)
    res["perblock_blocks_per_s"] = 64 / cp.wall
    res["perblock_projected_test_period_wall_s"] = 79 * 79 * 1096 / (64 / cp.wall)
    print(json.dumps(res, indent=1), flush=True)
    if a.ae:
        torch.manual_seed(7)
        ae = MapAutoencoder().eval()
        one_row = Eligible(
            elig.day_lo, elig.n_days, elig.row_lo, elig.row_lo, elig.col_lo, elig.col_hi
        )
        with Clock() as c:
            lg, t = dense_logits(nets, assign, lookback, b, one_row, ae)
        n_maps = t["ae_maps"]
        n_ws = 79 * a.paper_segments  # window-segments measured
        total_maps, total_ws = 79 * 79 * (1096 + lookback - 1), 79 * 79 * n_seg
        res["ae_on"] = {
            "windows_measured": 79,
            "segments_measured": a.paper_segments,
            "wall_s": c.wall,
            "cpu_s": c.cpu,
            "ae_maps": n_maps,
            "ae_cpu_s_per_map": t["autoencoder_cpu_s"] / n_maps,
            "classifier_cpu_s_per_window_segment": t["classifier_cpu_s"] / n_ws,
            "projected_ae_cpu_s": t["autoencoder_cpu_s"] / n_maps * total_maps,
            "projected_classifier_cpu_s": t["classifier_cpu_s"] / n_ws * total_ws,
            "projected_test_period_cpu_s": t["autoencoder_cpu_s"] / n_maps * total_maps
            + t["classifier_cpu_s"] / n_ws * total_ws,
            "projected_test_period_wall_s": t["autoencoder_s"] / n_maps * total_maps
            + t["classifier_s"] / n_ws * total_ws,
            "timing": t,
        }
        print(json.dumps(res["ae_on"], indent=1), flush=True)
    return res


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--out", type=Path, default=Path("outputs"))
    ap.add_argument(
        "--run",
        type=Path,
        default=None,
        help="a finished demo run folder (default: random weights)",
    )
    ap.add_argument("--per-block", type=int, default=1000)
    ap.add_argument("--per-block-ae", type=int, default=100)
    ap.add_argument("--paper-segments", type=int, default=2)
    ap.add_argument("--ae", action="store_true", help="also with the autoencoder on")
    ap.add_argument("--skip-paper", action="store_true")
    ap.add_argument("--skip-demo", action="store_true", help="only the paper-scale projection")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--json", type=Path, default=Path("benchmarks/results/forecast.json"))
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    from espb.training.perf import tune_allocator

    tune_allocator()  # as training does: no page faults on every large allocation
    rng = np.random.default_rng(0)
    res = {
        "machine": machine(torch=torch.__version__),
        "torch_threads": torch.get_num_threads(),
        "load_before": os.getloadavg(),
    }
    if not a.skip_demo:
        res["demo"] = demo(a, rng)
        run = a.run or fake_demo_run(a.out, 3287)
        res["demo_end_to_end"] = end_to_end(run)
        print(json.dumps(res["demo_end_to_end"], indent=1), flush=True)
    if not a.skip_paper:
        res["paper"] = paper(a, rng)
    res["load_after"] = os.getloadavg()
    a.json.parent.mkdir(parents=True, exist_ok=True)
    a.json.write_text(json.dumps(res, indent=1, default=str))
    if a.skip_demo:
        return 0
    off = res["demo"]["ae_off"]
    print(
        f"\ndemo: dense {off['dense_scores_per_s']:,.0f} scores/s vs per-block "
        f"{off['perblock_blocks_per_s']:,.0f} blocks/s: {off['speedup_wall']:,.0f}x; "
        f"max |score diff| {off['max_abs_score_diff']:.1e}; load {res['load_before']} -> {res['load_after']}"
    )
    ok = off["max_abs_score_diff"] <= 1e-5 and off["speedup_wall"] >= 100
    if "ae_on" in res["demo"]:
        ok &= res["demo"]["ae_on"]["max_abs_score_diff"] <= 1e-5
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
