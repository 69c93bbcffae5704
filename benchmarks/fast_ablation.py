"""What each ingredient of the fast CNN-TCN gives: an ablation, side by side in one process.

Issue 17 asks what was tried for the fast implementation and what each gave. This times, on the
same batches, with the same initial weights and the same torch thread count, one training step
(gather, forward, weighted MAE, backward, Adam; ``benchmarks/_model_compare.py``) of:

- ``reference``: ``CnnTcn`` (``Conv3d``, contiguous NCDHW), the default;
- ``reference channels_last_3d``: the same model and its input in ``torch.channels_last_3d``;
- ``reference torch.compile``: ``torch.compile(CnnTcn)`` (inductor; ``--compile``, off by default:
  the first steps compile for minutes on 2 cores and need a C++ compiler);
- ``fast``: ``FastCnnTcn`` as shipped (Z-order views, channels-last matrix products, BatchNorm
  folded into the next product, products packed to width ``CPU_PACK_WIDTH``);
- ``fast pack=0``: the same without packing (one product per position group);
- ``fast pack=16`` / ``fast pack=64``: other packing widths;
- ``fast fuse_spatial``: consecutive spatial stages composed into one product before the
  temporal one (``fuse_spatial=True``) instead of applied one after the other.

The cube is random (N(1, 0.2), float32, no NaN): the step's cost does not depend on the values.
glibc's allocator is tuned first, as a training run does (``espb.training.perf.tune_allocator``).
Each variant's samples/s is the median (and min) over ``--repeats`` rotated repeats of
``--steps`` steps; the speed-up of each is against ``reference`` in the same repeat.

    .venv/bin/python benchmarks/fast_ablation.py [--lookbacks 512 128] [--threads 2]
        [--repeats 3] [--steps 6] [--compile] [--json benchmarks/results/fast_ablation.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _machine import machine
from _model_compare import compare


class ChannelsLast(nn.Module):
    """``model`` with its input (and, by ``.to``, its weights) in ``channels_last_3d``."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model.to(memory_format=torch.channels_last_3d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.unsqueeze(1) if x.dim() == 4 else x
        return self.model(x.contiguous(memory_format=torch.channels_last_3d))


def variants(lookback: int, patch: int, with_compile: bool) -> dict:
    """name -> ([model], fused=False), every model from the same initial weights."""
    from espb.models.classifier import CnnTcn
    from espb.models.cnn_tcn_fast import FastCnnTcn

    def ref() -> CnnTcn:
        torch.manual_seed(0)
        return CnnTcn(lookback, patch)

    def fast(**opts) -> FastCnnTcn:
        torch.manual_seed(0)
        m = FastCnnTcn(lookback, patch)
        for k, v in opts.items():
            setattr(m, k, v)
        return m

    out = {
        "reference": ref(),
        "reference channels_last_3d": ChannelsLast(ref()),
        "fast": fast(),
        "fast pack=0": fast(pack=0),
        "fast pack=16": fast(pack=16),
        "fast pack=64": fast(pack=64),
        "fast fuse_spatial": fast(fuse_spatial=True),
    }
    if with_compile:
        out["reference torch.compile"] = torch.compile(ref())
    return {name: ([m], False) for name, m in out.items()}


def speedups(res: dict) -> dict[str, dict[str, float]]:
    """Per variant: median and min over the repeats of (variant / reference) samples/s."""
    ref = res["samples_per_s"]["reference"]["all"]
    out = {}
    for name, v in res["samples_per_s"].items():
        r = [a / b for a, b in zip(v["all"], ref, strict=True)]
        out[name] = {"median": statistics.median(r), "min": min(r)}
    return out


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--lookbacks", type=int, nargs="+", default=[512, 128])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--compile", action="store_true", help="also time torch.compile(reference)")
    ap.add_argument("--json", type=Path, default=Path("benchmarks/results/fast_ablation.json"))
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    from espb.training.perf import tune_allocator

    tune_allocator()  # as training does (make_fabric): no page faults on every large allocation
    patch = 32
    results = []
    for lb in a.lookbacks:
        rng = np.random.default_rng(0)
        b = rng.normal(1.0, 0.2, (lb + 400, 48, 48)).astype(np.float32)
        res = compare(
            b,
            lb,
            patch,
            a.batch,
            a.steps,
            a.repeats,
            variants=variants(lb, patch, a.compile),
        )
        res["speedup_over_reference"] = speedups(res)
        results.append(res)
        print(
            f"blocks {lb}x{patch}x{patch}, batch {a.batch}, {res['threads']} threads, "
            f"{a.repeats} repeats x {a.steps} steps (load average "
            f"{res['loadavg_before'][0]:.2f} -> {res['loadavg_after'][0]:.2f})"
        )
        for name, v in res["samples_per_s"].items():
            s = res["speedup_over_reference"][name]
            print(
                f"  {name:28s} {v['median']:7.1f} samples/s (min {v['min']:6.1f})  "
                f"{s['median']:.2f}x reference (min {s['min']:.2f}x)"
            )
    info = machine(torch=torch.__version__)
    print(f"  machine: {info}")
    a.json.parent.mkdir(parents=True, exist_ok=True)
    a.json.write_text(json.dumps({"machine": info, "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
