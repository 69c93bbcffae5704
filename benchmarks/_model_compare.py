"""Side-by-side training throughput of CNN-TCN implementations (used by train_throughput.py).

Every variant trains its own copy (same initial weights) on the *same* batches, gathered from
the same in-memory cube by ``BlockSource``, with the same torch thread count, in one process.
The variants take turns: each repeat runs every variant for ``steps`` steps, in a rotated order,
so a change in the machine's load hits all of them alike; reported are the min and median over
the repeats of each variant's samples/s and of the per-repeat speed-up.

A step is what the training loop does: gather the batch, forward, weighted MAE, backward, Adam
(lr 1e-4, weight decay 1e-5, paper Section 3.3). "separate x K" is K models one after the other,
each gathering its own batch (K separate runs); "fused x K" gathers once and trains the K
replicates in one pass (``StackedClassifier``). Replicate samples/s count each replicate.
"""

from __future__ import annotations

import os
import statistics
import time

import numpy as np
import pandas as pd
import torch


def _variants(lookback: int, patch: int, k: int) -> dict:
    from espb.models.classifier import CnnTcn
    from espb.models.cnn_tcn_fast import FastCnnTcn
    from espb.models.replicates import StackedClassifier

    def one(cls):
        torch.manual_seed(0)
        return [cls(lookback, patch)]

    def sep(cls):
        out = []
        for s in range(k):
            torch.manual_seed(s)
            out.append(cls(lookback, patch))
        return out

    def fused(cls, method):
        return [StackedClassifier.from_seeds(lambda: cls(lookback, patch), range(k), method)]

    return {
        "reference": (one(CnnTcn), False),
        "fast": (one(FastCnnTcn), False),
        f"separate x{k} (fast)": (sep(FastCnnTcn), False),
        f"fused x{k} (fast, grouped)": (fused(FastCnnTcn, "grouped"), True),
        f"fused x{k} (reference, vmap)": (fused(CnnTcn, "vmap"), True),
    }


def compare(
    b: np.ndarray,
    lookback: int,
    patch: int = 32,
    batch: int = 32,
    steps: int = 6,
    repeats: int = 3,
    k: int = 3,
    seed: int = 0,
    only: tuple[str, ...] | None = None,
    variants: dict | None = None,
) -> dict:
    """Samples/s of each variant at ``lookback`` x ``patch`` x ``patch`` blocks of cube ``b``.
    ``variants``: name -> (models, fused) to time instead of the default set (the ablation of
    ``benchmarks/fast_ablation.py``)."""
    from espb.models.replicates import replicate_losses
    from espb.training.blocks import BlockSource

    T, H, W = b.shape
    n = (steps * repeats + 1) * batch
    rng = np.random.default_rng(seed)
    h = patch // 2
    centres = np.stack(
        [
            rng.integers(lookback, T, n),
            rng.integers(h, H - h + 1, n),
            rng.integers(h, W - h + 1, n),
        ],
        1,
    )
    src = BlockSource(
        b,
        pd.DataFrame(centres, columns=["target", "row", "col"]),
        lookback,
        patch,
        torch.device("cpu"),
    )
    y = (torch.arange(batch) % 2).float()
    w = torch.linspace(0.5, 1.5, batch)
    variants = variants if variants is not None else _variants(lookback, patch, k)
    if only:
        variants = {name: v for name, v in variants.items() if name in only}
    state = {}
    for name, (models, fused) in variants.items():
        opts = [torch.optim.Adam(m.parameters(), lr=1e-4, weight_decay=1e-5) for m in models]
        state[name] = (models, opts, fused)

    def run(name: str, first: int, count: int) -> float:
        models, opts, fused = state[name]
        t0 = time.perf_counter()
        for i in range(first, first + count):
            sids = torch.arange(i * batch, (i + 1) * batch)
            for m, opt in zip(models, opts, strict=True):
                x = src.blocks(sids)  # each separate model gathers its batch, as its run would
                z = m(x)
                z = z.unsqueeze(1) if z.dim() == 1 else z
                loss = replicate_losses(z, y, w, ["mae"] * z.shape[1]).sum()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
        return time.perf_counter() - t0

    names = list(state)
    load_before = os.getloadavg()
    for name in names:  # warm-up: one step each
        run(name, 0, 1)
    rates: dict[str, list[float]] = {name: [] for name in names}
    for r in range(repeats):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            dt = run(name, 1 + r * steps, steps)
            reps = k if ("x" + str(k)) in name else 1
            rates[name].append(steps * batch * reps / dt)
    load_after = os.getloadavg()
    out = {
        "block": [lookback, patch, patch],
        "batch": batch,
        "threads": torch.get_num_threads(),
        "steps_per_repeat": steps,
        "repeats": repeats,
        "loadavg_before": load_before,
        "loadavg_after": load_after,
        "samples_per_s": {
            name: {"min": min(v), "median": statistics.median(v), "all": v}
            for name, v in rates.items()
        },
    }
    if "reference" in rates and "fast" in rates:
        sp = [f / r for f, r in zip(rates["fast"], rates["reference"], strict=True)]
        out["fast_over_reference"] = {"min": min(sp), "median": statistics.median(sp), "all": sp}
    sep, fus = f"separate x{k} (fast)", f"fused x{k} (fast, grouped)"
    if sep in rates and fus in rates:
        sp = [f / s for f, s in zip(rates[fus], rates[sep], strict=True)]
        out["fused_over_separate"] = {"min": min(sp), "median": statistics.median(sp), "all": sp}
    return out


def describe(res: dict) -> str:
    L, P, _ = res["block"]
    rows = [
        f"blocks {L}x{P}x{P}, batch {res['batch']}, {res['threads']} torch threads, "
        f"{res['repeats']} repeats x {res['steps_per_repeat']} steps "
        f"(load average {res['loadavg_before'][0]:.2f} -> {res['loadavg_after'][0]:.2f})"
    ]
    for name, v in res["samples_per_s"].items():
        per = " per replicate" if " x" in name else ""
        rows.append(f"  {name:30s} {v['median']:7.1f} samples/s{per} (median; min {v['min']:.1f})")
    for key, label in (
        ("fast_over_reference", "fast / reference"),
        ("fused_over_separate", "fused / separate"),
    ):
        if key in res:
            v = res[key]
            rows.append(f"  {label}: {v['median']:.2f}x median, {v['min']:.2f}x min")
    return "\n".join(rows)
