"""The scientific check of the training issue: does the method find planted precursors?

Runs the `demo` experiment twice on the demo synthetic catalog with planted precursors
(b 1.0 -> 0.7 in the 180 days before 70 % of the Mw >= 5 events, within 40 km):

1. as is: the pooled validation AUC over the second half of the meta-epochs must be >= 0.7;
2. with the training labels shuffled (``training.shuffle_labels=true``, validation labels
   untouched): nothing is left to learn, so the same AUC must stay within [0.4, 0.6].

    .venv/bin/python benchmarks/signal_check.py [--out DIR] [--null] [extra Hydra overrides ...]

``--null`` adds a third, informational run on the null catalog (the same seismicity with nothing
planted): what the method finds there is what it finds without precursors.

Writes ``<out>/signal_check.json`` and prints the figures with the machine they ran on.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _machine import machine


def run(out: Path, overrides: list[str]) -> dict:
    from hydra import compose, initialize_config_dir

    from espb.cli.train import main_task
    from espb.paths import conf_dir
    from espb.training.run import run_one

    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = compose("train", overrides=[f"out_dir={out}", "run.progress=false", *overrides])
    t0 = time.perf_counter()
    main_task(cfg)
    wall = time.perf_counter() - t0
    res = run_one(cfg)  # finished: reads the records back, trains and logs nothing
    s = dict(res.summary)
    s["wall_s"] = wall
    s["run_dir"] = str(res.run_dir)
    return s


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--out", default="outputs/signal_check")
    ap.add_argument(
        "--null",
        action="store_true",
        help="also run on the null catalog (same seismicity, nothing planted): informational",
    )
    ap.add_argument("overrides", nargs="*", help="extra Hydra overrides (default experiment: demo)")
    a = ap.parse_args()
    out = Path(a.out)
    base = ["experiment=demo", *a.overrides]
    planted = run(out, base)
    shuffled = run(out, [*base, "training.shuffle_labels=true"])
    ok_p = planted["auc_second_half"] >= 0.7
    ok_s = 0.4 <= shuffled["auc_second_half"] <= 0.6
    result = {
        "machine": machine(),
        "overrides": base,
        "planted": planted,
        "shuffled": shuffled,
        "pass_planted": ok_p,
        "pass_shuffled": ok_s,
    }
    if a.null:
        result["null_catalog"] = run(out, [*base, "catalog.precursors=null"])
    out.mkdir(parents=True, exist_ok=True)
    (out / "signal_check.json").write_text(json.dumps(result, indent=1, default=str))
    for name, s, ok in (("planted", planted, ok_p), ("shuffled labels", shuffled, ok_s)):
        print(
            f"{name:>16}: AUC second half {s['auc_second_half']:.3f} ({s['n_second_half']:.0f} samples), "
            f"dev cumulative accuracy {s.get('val_acc_cumulative', float('nan')):.3f}, "
            f"test {s.get('test_acc_cumulative', float('nan')):.3f}, {s['wall_s']:.0f} s  "
            f"[{'pass' if ok else 'FAIL'}]"
        )
    if a.null:
        s = result["null_catalog"]
        print(
            f"{'null catalog':>16}: AUC second half {s['auc_second_half']:.3f} ({s['n_second_half']:.0f} samples), "
            f"dev cumulative accuracy {s.get('val_acc_cumulative', float('nan')):.3f}, {s['wall_s']:.0f} s  [informational]"
        )
    print(f"machine: {result['machine']}")
    return 0 if ok_p and ok_s else 1


if __name__ == "__main__":
    sys.exit(main())
