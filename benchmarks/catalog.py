"""Catalog-layer benchmark: paper-scale synthetic generation, ISC export and ISC ingest.

    .venv/bin/python benchmarks/catalog.py [--preset paper] [--seed 0] [--out benchmarks/results]

Prints seconds, events per second and peak memory per step, plus the machine it ran on, and
writes the figures as JSON (benchmarks/results/catalog-<preset>.json). Each step runs in a fresh
subprocess so its peak RSS is its own.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine

STEP = r"""
import json, resource, sys, time
step, preset, seed, work = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
from pathlib import Path
work = Path(work)
t0 = time.perf_counter()
if step == "synth":
    from espb.catalog.schema import save_events
    from espb.catalog.synthetic.config import load_synth_config
    from espb.catalog.synthetic.generate import synthesize
    from espb.catalog.writers import write_isc
    res = synthesize(load_synth_config(preset, [f"seed={seed}"]))
    gen = time.perf_counter() - t0
    save_events(res.events, work / "catalog.parquet", res.meta)
    t1 = time.perf_counter()
    write_isc(res.raw, work / "catalog_isc.csv")
    exp = time.perf_counter() - t1
    dev = int((res.events["time"] < "2020-01-01").sum())
    out = {"generate_s": gen, "export_isc_s": exp, "n_simulated": res.meta["synthetic"]["n_simulated"],
           "n_recorded": len(res.raw.events), "n_events": len(res.events), "n_events_to_2019": dev,
           "isc_bytes": (work / "catalog_isc.csv").stat().st_size}
else:
    from espb.catalog.build import FilterConfig, IngestConfig
    from espb.catalog.magnitudes import PAPER_FAMILY_RELATION, MagnitudeConfig
    from espb.catalog.readers import ingest
    from espb.catalog.schema import catalog_hash, load_events
    from espb.catalog.synthetic.config import load_synth_config
    filt = load_synth_config(preset).filters
    cfg = IngestConfig(magnitudes=MagnitudeConfig(mw_round=0.1, family_relation=dict(PAPER_FAMILY_RELATION)), filters=filt)
    df, rep, meta = ingest(work / "catalog_isc.csv", "isc", cfg)
    out = {"ingest_isc_s": time.perf_counter() - t0, "n_rows": rep.n_input, "n_events": len(df),
           "same_as_synthetic": catalog_hash(df) ==
               catalog_hash(load_events(work / "catalog.parquet"))}
out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(out))
"""


def run_step(step: str, preset: str, seed: int, work: Path) -> dict:
    r = subprocess.run(
        [sys.executable, "-c", STEP, step, preset, str(seed), str(work)],
        capture_output=True,
        text=True,
        check=False,
    )
    if r.returncode != 0:
        sys.stderr.write(r.stderr)
        raise SystemExit(f"step {step} failed")
    return json.loads(r.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--preset", default="paper")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        synth = run_step("synth", args.preset, args.seed, work)
        read = run_step("ingest", args.preset, args.seed, work)
    res = {
        "machine": machine(),
        "preset": args.preset,
        "seed": args.seed,
        "synth": synth,
        "ingest": read,
        "when": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    print(f"machine: {res['machine']}")
    print(
        f"synthetic '{args.preset}' (seed {args.seed}): {synth['n_simulated']:,} simulated, "
        f"{synth['n_events']:,} in the table ({synth['n_events_to_2019']:,} before 2020)"
    )
    print(
        f"  generate      {synth['generate_s']:7.1f} s  {synth['n_simulated'] / synth['generate_s']:>12,.0f} sim. events/s"
    )
    print(
        f"  export ISC    {synth['export_isc_s']:7.1f} s  {synth['n_recorded'] / synth['export_isc_s']:>12,.0f} rows/s "
        f"({synth['isc_bytes'] / 2**20:.0f} MiB)   peak RSS {synth['peak_rss_mb']:.0f} MB"
    )
    print(
        f"  ingest ISC    {read['ingest_isc_s']:7.1f} s  {read['n_rows'] / read['ingest_isc_s']:>12,.0f} rows/s   "
        f"peak RSS {read['peak_rss_mb']:.0f} MB   same table as the synthetic: {read['same_as_synthetic']}"
    )
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"catalog-{args.preset}.json"
    path.write_text(json.dumps(res, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
