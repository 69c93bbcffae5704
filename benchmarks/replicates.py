"""Seed replicates: K = 3 separate runs against one fused run (``training.seeds=[0,1,2]``).

For each scale and implementation, in one process on the same cached catalog and cube:
three runs ``training.init_seed=0,1,2`` one after the other (what three separate sweep jobs
compute), then one run ``training.seeds=[0,1,2]`` (espb.training.replicates). Reports the wall
time of each (the whole ``run_one``: inputs, training, outputs, MLflow), the saving, and checks
that every fused replicate gives its separate run's predictions: bit for bit with the
reference model (``replicate_method=loop``), within 1e-5 with the fast one (``grouped``).

    .venv/bin/python benchmarks/replicates.py [--scales sweep_demo,demo] [--stop-after 6]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _machine import machine

SCALES = {
    "sweep_demo": ("experiment=sweep_demo",),  # the demo sweep's jobs: 16 x 16 x 16 blocks
    "demo": ("experiment=demo",),  # make run: 128 x 32 x 32 blocks
}


def _cfg(out: Path, scale: str, name: str, *ov: str):
    from hydra import compose, initialize_config_dir

    from espb.paths import conf_dir

    args = [*SCALES[scale], f"out_dir={out}", f"name={name}", "run.progress=false", *ov]
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        return compose("train", overrides=args)


def _timed(cfg):
    from espb.progress import Reporter
    from espb.training.inputs import RunCache
    from espb.training.run import run_one

    t0 = time.perf_counter()
    out = run_one(cfg, Reporter(say=lambda s: None), cache=RunCache())
    return out, time.perf_counter() - t0


def measure(out: Path, scale: str, impl: str, k: int, stop_after: int | None) -> dict:
    ov = [f"model.impl={impl}", "run.force=true"]
    if stop_after is not None:
        ov.append(f"run.stop_after={stop_after}")
    sep, t_sep = [], []
    for s in range(k):
        o, t = _timed(_cfg(out, scale, f"sep_{impl}", *ov, f"training.init_seed={s}"))
        sep.append(o)
        t_sep.append(t)
    seeds = "[" + ",".join(map(str, range(k))) + "]"
    fused, t_fused = _timed(_cfg(out, scale, f"fused_{impl}", *ov, f"training.seeds={seeds}"))
    diffs = []
    for a, b in zip(fused.replicates, sep, strict=True):
        pa = pd.read_parquet(a.run_dir / "predictions.parquet")["score"].to_numpy()
        pb = pd.read_parquet(b.run_dir / "predictions.parquet")["score"].to_numpy()
        diffs.append(float(np.max(np.abs(pa - pb))) if len(pa) else 0.0)
    n_me = len(fused.records)
    return {
        "scale": scale,
        "impl": impl,
        "replicates": k,
        "meta_epochs": n_me,
        "separate_s": [round(t, 2) for t in t_sep],
        "separate_total_s": round(sum(t_sep), 2),
        "fused_s": round(t_fused, 2),
        "saving": round(1 - t_fused / sum(t_sep), 3),
        "speedup": round(sum(t_sep) / t_fused, 2),
        "max_abs_score_diff": max(diffs),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scales", default="sweep_demo,demo")
    ap.add_argument("--impls", default="reference,fast")
    ap.add_argument("--k", type=int, default=3)
    ap.add_argument("--stop-after", type=int, default=6, help="meta-epochs of the demo scale")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=None, help="scratch folder (default: a temp one)")
    ap.add_argument("--json", type=Path, default=Path("benchmarks/results/replicates.json"))
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    out = a.out or Path(tempfile.mkdtemp(prefix="espb-replicates-"))
    rows, bad = [], []
    for scale in a.scales.split(","):
        stop = a.stop_after if scale == "demo" else None
        _timed(_cfg(out, scale, "warmup", "run.stop_after=1"))  # catalog + cube + imports, once
        for impl in a.impls.split(","):
            r = measure(out, scale, impl, a.k, stop)
            rows.append(r)
            exact = r["max_abs_score_diff"] == 0.0
            ok = exact if impl == "reference" else r["max_abs_score_diff"] <= 1e-5
            bad += [] if ok else [r]
            print(
                f"{scale:10s} {impl:9s} {r['meta_epochs']:3d} meta-epochs: separate x{a.k} "
                f"{r['separate_total_s']:7.1f} s, fused {r['fused_s']:7.1f} s "
                f"({r['speedup']:.2f}x, saves {100 * r['saving']:.0f} %); max |score diff| "
                f"{r['max_abs_score_diff']:.1e}" + ("" if ok else "  <-- NOT EQUAL"),
                flush=True,
            )
    info = machine(torch=torch.__version__)
    print(f"machine: {info}")
    a.json.parent.mkdir(parents=True, exist_ok=True)
    a.json.write_text(json.dumps({"rows": rows, "machine": info}, indent=1))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
