"""What a cube cache hit costs, phase by phase (issue 12: checksums must not slow it noticeably).

    .venv/bin/python benchmarks/cube_cache_hit.py --catalog outputs/demo/catalog.parquet \\
        --preset demo --dr 0.25 --dt 365 --cache-dir outputs/cache
    .venv/bin/python benchmarks/cube_cache_hit.py --catalog outputs/paper/catalog.parquet \\
        --preset paper --dr 0.65 --dt 730 --cache-dir outputs/cache

The cube must be in the cache already (``espb cube build`` with the same settings). In one
process, repeated ``--repeat`` times (median reported): load the event table, hash it, the cache
lookup ``get_cube(..., catalog_hash=h)`` (manifest, file list, sizes, content checksums of the
files not verified before, and the coverage check), ``open_cube``. With the checksum manifest
also: ``check_store(full=True)`` (every file re-hashed: the cost of the first open of a store,
or of ``espb cube ls --verify``) and the coverage checks alone (the time range, on every call;
the counts, before a build only). Files are in the page cache (the
store was just read); a cold read from disk adds the disk's time to the full check. Prints one
JSON object; nothing is written.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _machine


def _time(fn, repeat: int) -> tuple[float, object]:
    out, ts = None, []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts) * 1e3, out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--catalog", type=Path, required=True)
    ap.add_argument("--preset", default="paper")
    ap.add_argument("--dr", type=float, default=0.65)
    ap.add_argument("--dt", type=int, default=730)
    ap.add_argument("--cache-dir", type=Path, default=None)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()

    import espb.bvalue.cache as cache
    from espb.bvalue.config import load_cube_config
    from espb.catalog.schema import catalog_hash, load_events

    cfg = load_cube_config(args.preset, dr=args.dr, dt=args.dt)
    ms = {}
    ms["load_events"], events = _time(lambda: load_events(args.catalog), args.repeat)
    ms["catalog_hash"], h = _time(lambda: catalog_hash(events), args.repeat)
    res = cache.get_cube(events, cfg, args.cache_dir, catalog_hash=h)
    if res.built:
        print("the cube was not in the cache: built it now; run again to time a hit")
        return 1
    ms["get_cube_hit"], _ = _time(
        lambda: cache.get_cube(events, cfg, args.cache_dir, catalog_hash=h), args.repeat
    )
    ms["open_cube"], _ = _time(lambda: cache.open_cube(res.path), args.repeat)
    ms["check_store"], _ = _time(lambda: cache.check_store(res.path, res.key), args.repeat)
    manifest = json.loads((res.path / cache.MANIFEST).read_text())
    version = manifest.get("manifest_version", 1)
    if version >= 2:
        from espb.bvalue import integrity

        ms["check_store_full"], _ = _time(
            lambda: integrity.check_store(res.path, res.key, full=True), args.repeat
        )
        from espb.bvalue.guards import assess_coverage

        ms["coverage_time_range (every get_cube)"], _ = _time(
            lambda: assess_coverage(events, cfg, counts=False), args.repeat
        )
        ms["coverage_counts (builds only)"], _ = _time(
            lambda: assess_coverage(events, cfg), args.repeat
        )
    n_files = len(manifest["files"])
    size = sum(v["size"] if isinstance(v, dict) else v for v in manifest["files"].values())
    hit = ms["load_events"] + ms["catalog_hash"] + ms["get_cube_hit"] + ms["open_cube"]
    out = {
        "machine": _machine.machine(),
        "when": time.strftime("%Y-%m-%d %H:%M:%S"),
        "store": str(res.path),
        "manifest_version": version,
        "files": n_files,
        "store_mb": size / 1e6,
        "shape": [cfg.n_days, *(round(x) for x in _cells(cfg))],
        "ms": {k: round(v, 2) for k, v in ms.items()},
        "cli_hit_ms (load + hash + get_cube + open)": round(hit, 1),
    }
    print(json.dumps(out, indent=1))
    return 0


def _cells(cfg) -> tuple[float, float]:
    la0, la1, lo0, lo1 = cfg.region
    return (la1 - la0) / cfg.resolution, (lo1 - lo0) / cfg.resolution


if __name__ == "__main__":
    sys.exit(main())
