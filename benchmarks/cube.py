"""b-value cube benchmark: a paper-size daily cube, timed, against the straightforward reference.

    .venv/bin/python benchmarks/cube.py                  # dr=0.65 deg, dt=730 d, preset `paper`
    .venv/bin/python benchmarks/cube.py --all12          # + the 12 sweep cubes (dr x dt)
    .venv/bin/python benchmarks/cube.py --catalog C.parquet --set end=2001-12-31 --out /tmp/c.json

Targets (from the issue): the paper-size cube (7305 days x 110 x 110 cells, paper-scale synthetic
catalog, dr = 0.65 deg, dt = 730 d) built in at most 60 s on 2 cores with a peak memory under 4 GB,
at least 100x faster per cell-day than the straightforward reference; the 12 sweep cubes
(dr in 0.15, 0.25, 0.35, 0.65 x dt in 150, 365, 730) in at most 600 s in all.

What runs, in order:

1. The catalog (``--catalog``, default outputs/paper/catalog.parquet) is generated first with
   ``espb catalog synth --preset <synth-preset> --seed <seed>`` if the file is missing.
2. A fresh child process (this script, ``--child``) loads the event table, hashes it, builds one
   tiny cube (same settings, 30 days, <= 10 x 10 cells; it loads or compiles the Numba kernels and
   warms up the zarr writer; timed and reported apart, not in the build time), then builds the
   cube with ``espb.bvalue.cache.get_cube(..., rebuild=True)`` into the cache directory. Build
   seconds are ``get_cube``'s own (event preparation + kernel + zarr write); peak memory is the
   child's maximum resident set (``getrusage``), so it covers loading the catalog, the warm-up and
   the build, and nothing of this parent process. GB here are 10^9 bytes.
3. This process loads the catalog, picks ``--ref-days`` random days and ``--ref-cells`` random
   cells (at least half of them with events in the fast cube on one of those days; seeded by
   ``--ref-seed``), times ``espb.bvalue.reference.reference_values`` on those cell-days and checks
   that the stored cube agrees: n_events and n_used exactly, b within 1e-5 (the store is float32).
   Speed-up = reference seconds per cell-day / (build seconds / cell-days of the whole cube).
4. ``--all12``: one more fresh child loads the catalog once, does the same warm-up, and builds the
   12 sweep cubes one after another (``--mode`` and ``--set`` apply to all of them; ``--dr`` and
   ``--dt`` do not). Each store is deleted right after it is built unless ``--cache-dir`` is
   given. Peak RSS is reported as the child's running maximum after each cube.

The cache directory is a temporary one, removed at the end, unless ``--cache-dir`` is given.
Results go to ``--out`` (default benchmarks/results/cube-<preset>.json) with the machine's
description and the date; a table is printed.

Exit status: 0 = the cube agrees with the reference and every target is met (or the cube is not
the paper-size one, for which the targets are only printed); 1 = the cube disagrees with the
reference, or a step failed; 3 = the cube agrees but a target was missed; 2 = bad arguments.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _machine

ROOT = Path(__file__).resolve().parent.parent
SWEEP_DR = (0.15, 0.25, 0.35, 0.65)
SWEEP_DT = (150, 365, 730)
PAPER_SHAPE = (7305, 110, 110)
TARGET_BUILD_S = 60.0
TARGET_RSS_GB = 4.0
TARGET_SPEEDUP = 100.0
TARGET_ALL12_S = 600.0
B_TOL = 1e-5


# ---------------------------------------------------------------------------------------- child
def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


def warmup_config(cfg):
    """The same settings on <= 30 days and the <= 10 x 10 cells around the region's centre."""
    import pandas as pd

    from espb.bvalue.grid import cell_centres

    res = float(cfg.resolution)
    la0, la1, lo0, lo1 = cfg.region

    def shrink(lo: float, hi: float) -> tuple[float, float]:
        n = cell_centres(lo, hi, res).size
        k = min(n, 10)
        a = round(lo + (n - k) // 2 * res, 10)
        return a, round(a + k * res, 10)

    (wa0, wa1), (wo0, wo1) = shrink(la0, la1), shrink(lo0, lo1)
    end = min(cfg.end_ts, cfg.start_ts + pd.Timedelta(days=29))
    w = dataclasses.replace(
        cfg, name=f"{cfg.name}-warmup", end=end.strftime("%Y-%m-%d"), region=[wa0, wa1, wo0, wo1]
    )
    w.validate()
    return w


def store_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file()) / 1e6


def child(spec: dict) -> dict:
    """Runs in a fresh process: load, hash, warm up, build the cubes of ``spec``; returns figures."""
    t_child = time.perf_counter()
    import numba

    from espb.bvalue.cache import get_cube
    from espb.bvalue.config import load_cube_config
    from espb.catalog.schema import catalog_hash, load_events

    out: dict = {
        "numba_threads": numba.get_num_threads(),
        "rss_after_imports_gb": peak_rss_bytes() / 1e9,
    }
    t0 = time.perf_counter()
    events = load_events(spec["catalog"])
    out["load_s"] = time.perf_counter() - t0
    out["n_catalog"] = len(events)
    out["rss_after_load_gb"] = peak_rss_bytes() / 1e9
    t0 = time.perf_counter()
    h = catalog_hash(events)
    out["hash_s"] = time.perf_counter() - t0
    out["catalog_hash"] = h
    cfgs = [
        load_cube_config(spec["preset"], spec["overrides"], **fields) for fields in spec["cubes"]
    ]
    with tempfile.TemporaryDirectory(prefix="espb-bench-warmup-") as wtmp:
        w = warmup_config(cfgs[0])
        t0 = time.perf_counter()
        get_cube(events, w, cache_dir=wtmp, catalog_hash=h, rebuild=True)
        out["warmup_s"] = time.perf_counter() - t0
        out["warmup_shape"] = [
            w.n_days,
            *(round((b - a) / w.resolution) for a, b in (w.region[:2], w.region[2:])),
        ]
    out["rss_after_warmup_gb"] = peak_rss_bytes() / 1e9
    rows = []
    for cfg in cfgs:
        t0 = time.perf_counter()
        res = get_cube(events, cfg, cache_dir=spec["cache_dir"], catalog_hash=h, rebuild=True)
        wall = time.perf_counter() - t0
        ds = res.open()
        shape = [int(ds.sizes[d]) for d in ("time", "lat", "lon")]
        ds.close()
        s = res.stats
        ncd = int(np.prod(shape))
        rows.append(
            {
                "name": cfg.name,
                "mode": cfg.mode,
                "dr": float(cfg.dr),
                "dt": int(cfg.dt),
                "shape": shape,
                "cell_days": ncd,
                "path": str(res.path),
                "key": res.key,
                "compute_s": s["compute_s"],
                "write_s": s["write_s"],
                "total_s": s["total_s"],
                "prepare_s": s["total_s"] - s["compute_s"] - s["write_s"],
                "get_cube_wall_s": wall,
                "pairs": int(s["pairs"]),
                "n_events_used": int(s["n_events_used"]),
                "events_per_s": s["n_events_used"] / s["total_s"],
                "cell_days_per_s": ncd / s["total_s"],
                "store_mb": store_mb(res.path),
                "peak_rss_gb_so_far": peak_rss_bytes() / 1e9,
            }
        )
        if spec["discard"]:
            shutil.rmtree(res.path, ignore_errors=True)
    out["cubes"] = rows
    out["peak_rss_gb"] = peak_rss_bytes() / 1e9
    out["child_wall_s"] = time.perf_counter() - t_child
    return out


def run_child(spec: dict, threads: int | None) -> dict:
    env = dict(os.environ)
    if threads:
        env["NUMBA_NUM_THREADS"] = str(threads)
    t0 = time.perf_counter()
    r = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(spec)],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        cwd=ROOT,
    )
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        sys.stderr.write(r.stdout[-4000:] + r.stderr[-8000:])
        raise SystemExit(f"the benchmark child process failed (exit {r.returncode})")
    res = json.loads(r.stdout.strip().splitlines()[-1])
    res["process_wall_s"] = wall
    return res


# ---------------------------------------------------------------------------------------- parent
def machine() -> dict:
    import numba
    import pandas as pd
    import xarray as xr
    import zarr

    return _machine.machine(
        numpy=np.__version__,
        pandas=pd.__version__,
        numba=numba.__version__,
        zarr=zarr.__version__,
        xarray=xr.__version__,
    )


def ensure_catalog(path: Path, synth_preset: str, seed: int) -> bool:
    """Generate the synthetic catalog at ``path`` if it is missing; True if generated."""
    if path.exists():
        return False
    print(
        f"{path} is missing: generating it with `espb catalog synth --preset {synth_preset} "
        f"--seed {seed}` (the paper preset takes ~20 s)",
        flush=True,
    )
    exe = Path(sys.executable).with_name("espb")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "espb.cli.main"]
    path.parent.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(
        [*cmd, "catalog", "synth", "--preset", synth_preset, "--seed", str(seed), "-o", str(path)],
        check=False,
    )
    if r.returncode != 0 or not path.exists():
        raise SystemExit(f"generating the catalog {path} failed (exit {r.returncode})")
    return True


def pick_cells_days(ds, n_cells: int, n_days: int, seed: int) -> tuple[list, list, int]:
    """Random days, and random cells of which at least half have events on one of those days."""
    rng = np.random.default_rng(seed)
    nt, nlat, nlon = (ds.sizes[d] for d in ("time", "lat", "lon"))
    days = sorted(int(d) for d in rng.choice(nt, size=min(n_days, nt), replace=False))
    n_cells = min(n_cells, nlat * nlon)
    active = np.flatnonzero((ds["n_events"].isel(time=days).values > 0).any(axis=0).ravel())
    n_act = min(len(active), (n_cells + 1) // 2)
    chosen = [int(c) for c in rng.choice(active, size=n_act, replace=False)] if n_act else []
    rest = np.setdiff1d(np.arange(nlat * nlon), chosen)
    chosen += [int(c) for c in rng.choice(rest, size=n_cells - n_act, replace=False)]
    chosen.sort()
    return [(c // nlon, c % nlon) for c in chosen], days, int(len(active))


def reference_check(events, cfg, store: Path, args) -> dict:
    from espb.bvalue.cache import open_cube
    from espb.bvalue.reference import reference_values

    ds = open_cube(store)
    cells, days, n_active = pick_cells_days(ds, args.ref_cells, args.ref_days, args.ref_seed)
    ii = np.array([c[0] for c in cells])
    jj = np.array([c[1] for c in cells])
    fast = {k: ds[k].isel(time=days).values[:, ii, jj] for k in ("b", "n_events", "n_used")}
    ds.close()
    t0 = time.perf_counter()
    ref = reference_values(events, cfg, cells, days)
    ref_s = time.perf_counter() - t0
    db = np.abs(fast["b"].astype("float64") - ref["b"])
    dn = np.abs(fast["n_events"].astype("int64") - ref["n_events"])
    du = np.abs(fast["n_used"].astype("int64") - ref["n_used"])
    n_cd = len(cells) * len(days)
    return {
        "cells": [list(c) for c in cells],
        "days": days,
        "n_cell_days": n_cd,
        "n_cells_active_on_days": n_active,
        "n_cell_days_with_events": int((ref["n_events"] > 0).sum()),
        "n_cell_days_with_b": int((ref["b"] > 0).sum()),
        "seconds": ref_s,
        "seconds_per_cell_day": ref_s / n_cd,
        "max_abs_b_diff": float(db.max()),
        "max_abs_n_events_diff": int(dn.max()),
        "max_abs_n_used_diff": int(du.max()),
        "n_mismatches": int(((db > B_TOL) | (dn > 0) | (du > 0)).sum()),
    }


def fmt_rate(x: float) -> str:
    for div, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if x >= div:
            return f"{x / div:.1f} {unit}"
    return f"{x:.0f} "


def main() -> int:
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        print(json.dumps(child(json.loads(sys.argv[2]))))
        return 0
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--catalog",
        type=Path,
        default=ROOT / "outputs/paper/catalog.parquet",
        help="event table (.parquet); generated if missing",
    )
    ap.add_argument("--synth-preset", default="paper", help="synthetic preset used to generate it")
    ap.add_argument("--seed", type=int, default=0, help="seed used to generate the catalog")
    ap.add_argument("--preset", default="paper", help="cube preset (conf/bvalue/<preset>.yaml)")
    ap.add_argument("--dr", type=float, default=0.65, help="radius (deg) of the timed cube")
    ap.add_argument("--dt", type=int, default=730, help="window (days) of the timed cube")
    ap.add_argument("--mode", default=None, help="paper | binned | classic (default: the preset's)")
    ap.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="cube setting override, e.g. --set end=2001-12-31 (repeatable)",
    )
    ap.add_argument("--ref-cells", type=int, default=12, help="cells of the reference subset")
    ap.add_argument("--ref-days", type=int, default=8, help="days of the reference subset")
    ap.add_argument("--ref-seed", type=int, default=0, help="seed of the subset's choice")
    ap.add_argument("--all12", action="store_true", help="also build the 12 sweep cubes")
    ap.add_argument(
        "--threads",
        type=int,
        default=None,
        help="NUMBA_NUM_THREADS for the builds (default: Numba's, i.e. all cores)",
    )
    ap.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        help="keep the cubes here (default: a temporary directory, removed)",
    )
    ap.add_argument(
        "--out",
        type=Path,
        default=None,
        help="JSON results (default benchmarks/results/cube-<preset>.json)",
    )
    args = ap.parse_args()

    from espb.bvalue.config import load_cube_config
    from espb.errors import EspbError

    fields = {"dr": args.dr, "dt": args.dt, "mode": args.mode}
    try:
        cfg = load_cube_config(args.preset, args.overrides, **fields)
        sweep = (
            [
                load_cube_config(args.preset, args.overrides, dr=dr, dt=dt, mode=args.mode)
                for dr in SWEEP_DR
                for dt in SWEEP_DT
            ]
            if args.all12
            else []
        )
    except EspbError as exc:
        ap.error(str(exc))
    generated = ensure_catalog(args.catalog, args.synth_preset, args.seed)
    out_path = args.out or ROOT / "benchmarks/results" / f"cube-{args.preset}.json"
    tmp = None if args.cache_dir else tempfile.mkdtemp(prefix="espb-bench-cube-")
    cache_dir = str(Path(args.cache_dir or tmp).resolve())
    spec = {
        "catalog": str(args.catalog.resolve()),
        "preset": args.preset,
        "overrides": args.overrides,
        "cache_dir": cache_dir,
    }
    try:
        print(f"building the cube (dr={cfg.dr:g}, dt={cfg.dt}) in a child process ...", flush=True)
        main_run = run_child({**spec, "cubes": [fields], "discard": False}, args.threads)
        cube = main_run["cubes"][0]
        from espb.catalog.schema import load_events

        print("timing the reference on a subset ...", flush=True)
        events = load_events(args.catalog)
        ref = reference_check(events, cfg, Path(cube["path"]), args)
        del events
        if tmp is not None:
            shutil.rmtree(cube["path"], ignore_errors=True)
        all12 = None
        if sweep:
            print("building the 12 sweep cubes in a child process ...", flush=True)
            all12 = run_child(
                {
                    **spec,
                    "cubes": [
                        {"dr": dr, "dt": dt, "mode": args.mode}
                        for dr in SWEEP_DR
                        for dt in SWEEP_DT
                    ],
                    "discard": tmp is not None,
                },
                args.threads,
            )
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)

    fast_per_cd = cube["total_s"] / cube["cell_days"]
    speedup = ref["seconds_per_cell_day"] / fast_per_cd
    paper_size = tuple(cube["shape"]) == PAPER_SHAPE
    targets = [
        ("build <= 60 s", f"{cube['total_s']:.1f} s", cube["total_s"] <= TARGET_BUILD_S),
        (
            "peak RSS < 4 GB",
            f"{main_run['peak_rss_gb']:.2f} GB",
            main_run["peak_rss_gb"] < TARGET_RSS_GB,
        ),
        ("speed-up >= 100x", f"{speedup:,.0f}x", speedup >= TARGET_SPEEDUP),
    ]
    if all12 is not None:
        s12 = sum(c["total_s"] for c in all12["cubes"])
        targets.append(("12 sweep cubes <= 600 s", f"{s12:.1f} s", s12 <= TARGET_ALL12_S))
    agree = ref["n_mismatches"] == 0

    mach = machine()
    mach["numba_threads"] = main_run["numba_threads"]
    res = {
        "machine": mach,
        "when": time.strftime("%Y-%m-%d %H:%M:%S"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "catalog": str(args.catalog),
        "catalog_generated": generated,
        "n_catalog": main_run["n_catalog"],
        "catalog_hash": main_run["catalog_hash"],
        "preset": args.preset,
        "overrides": args.overrides,
        "config": cfg.key_fields(),
        "paper_size": paper_size,
        "build": {k: v for k, v in main_run.items() if k != "cubes"} | {"cube": cube},
        "reference": ref,
        "speedup": speedup,
        "fast_seconds_per_cell_day": fast_per_cd,
        "agree": agree,
        "targets": [{"target": t, "value": v, "pass": bool(p)} for t, v, p in targets],
        "all12": all12,
    }

    m = mach
    print(
        f"machine: {m.get('cpu', '?')}, {m['cpus']} CPUs ({m.get('affinity_cpus', '?')} usable), "
        f"{m.get('mem_gb', '?')} GB RAM, {m['platform']}, Python {m['python']}, numpy "
        f"{m['numpy']}, numba {m['numba']} ({m['numba_threads']} threads), zarr {m['zarr']}"
    )
    print(
        f"catalog: {args.catalog}{' (generated now)' if generated else ''}: "
        f"{main_run['n_catalog']:,} events, hash {main_run['catalog_hash']}"
    )
    shp = " x ".join(str(x) for x in cube["shape"])
    print(
        f"cube: preset {args.preset!r}, mode={cfg.mode}, dr={cfg.dr:g} deg, dt={cfg.dt} d, "
        f"{cfg.start}..{cfg.end}, region {cfg.region}: {shp} = {cube['cell_days']:,} cell-days; "
        f"{cube['n_events_used']:,} events used, {cube['pairs']:,} (event, cell) pairs"
    )
    b = main_run
    print(
        f"  child: load catalog {b['load_s']:6.1f} s   hash {b['hash_s']:5.1f} s   "
        f"warm-up/JIT (tiny cube, not timed below) {b['warmup_s']:5.1f} s   "
        f"whole child {b['process_wall_s']:.1f} s"
    )
    print(f"  prepare events {cube['prepare_s']:7.2f} s")
    print(f"  compute        {cube['compute_s']:7.2f} s")
    print(f"  write zarr     {cube['write_s']:7.2f} s   ({cube['store_mb']:.0f} MB)")
    print(
        f"  build total    {cube['total_s']:7.2f} s   {fmt_rate(cube['events_per_s'])}events/s   "
        f"{fmt_rate(cube['cell_days_per_s'])}cell-days/s   "
        f"(load + hash + build {b['load_s'] + b['hash_s'] + cube['total_s']:.1f} s)"
    )
    print(
        f"  peak RSS {b['peak_rss_gb']:.2f} GB (imports {b['rss_after_imports_gb']:.2f}, "
        f"after loading the catalog {b['rss_after_load_gb']:.2f}, after warm-up "
        f"{b['rss_after_warmup_gb']:.2f})"
    )
    print(
        f"reference: {len(ref['cells'])} cells x {len(ref['days'])} days = {ref['n_cell_days']} "
        f"cell-days ({ref['n_cell_days_with_events']} with events, {ref['n_cell_days_with_b']} "
        f"with b > 0) in {ref['seconds']:.2f} s = {ref['seconds_per_cell_day'] * 1e3:.3g} ms "
        f"per cell-day; fast: {fast_per_cd * 1e9:.0f} ns per cell-day; speed-up {speedup:,.0f}x"
    )
    print(
        f"  fast cube vs reference: max |b diff| {ref['max_abs_b_diff']:.2e} (tol {B_TOL:g}), "
        f"max n_events diff {ref['max_abs_n_events_diff']}, max n_used diff "
        f"{ref['max_abs_n_used_diff']}: {'AGREE' if agree else 'MISMATCH'} "
        f"({ref['n_mismatches']} cell-days differ)"
    )
    if all12 is not None:
        print(
            f"12 sweep cubes (one child; load {all12['load_s']:.1f} s, warm-up "
            f"{all12['warmup_s']:.1f} s, peak RSS {all12['peak_rss_gb']:.2f} GB):"
        )
        print(
            f"  {'dr':>5} {'dt':>4} {'compute s':>9} {'write s':>8} {'total s':>8} "
            f"{'pairs':>13} {'events/s':>9} {'RSS GB':>7}"
        )
        for c in all12["cubes"]:
            print(
                f"  {c['dr']:5.2f} {c['dt']:4d} {c['compute_s']:9.2f} {c['write_s']:8.2f} "
                f"{c['total_s']:8.2f} {c['pairs']:13,} {fmt_rate(c['events_per_s']):>8}  "
                f"{c['peak_rss_gb_so_far']:7.2f}"
            )
        print(f"  sum {sum(c['total_s'] for c in all12['cubes']):.1f} s")
    note = (
        ""
        if paper_size
        else (
            f"  (this {shp} cube is not the paper-size "
            f"{' x '.join(map(str, PAPER_SHAPE))} one: targets informational)"
        )
    )
    print("targets:" + note)
    for t, v, p in targets:
        print(f"  {t:<24} {v:>12}   {'PASS' if p else 'FAIL'}")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(res, indent=2))
    print(f"wrote {out_path}")
    if not agree:
        return 1
    if paper_size and not all(p for _t, _v, p in targets):
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
