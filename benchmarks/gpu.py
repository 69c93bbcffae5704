"""Training throughput of the CNN-TCN on one device (a GPU if there is one), and what it means
for the paper's runs (docs/performance.md, "GPU readiness").

For the reference (``CnnTcn``, Conv3d) and the fast implementation (``FastCnnTcn``), at batch
32 (the paper's) and larger, in float32 and under bf16 autocast: training samples/s of the real
step (forward, MAE loss with sample weights, backward, Adam), and for fused replicates
(``StackedClassifier``, K = 3) samples/s per replicate. Then the projected time of one
paper-scale configuration (14.2 M sample passes of 512 x 32 x 32 blocks: Model14.0, 20 epochs
over training sets growing to 3300 samples, docs/training.md) at batch 32, and of the
432-configuration sweep (432 x that; configurations differ in their sample counts, and
validation passes are not counted).

    make bench-gpu                                   # = .venv/bin/python benchmarks/gpu.py
    .venv/bin/python benchmarks/gpu.py --device cpu --tiny   # seconds; what the test runs

Writes ``benchmarks/results/gpu-<device>.json`` (``--json``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _machine import machine

#: sample passes of one paper-scale configuration (docs/training.md) and the sweep's size
PAPER_SAMPLE_PASSES = 14.2e6
SWEEP_CONFIGS = 432


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _model(impl: str, lookback: int, patch: int, replicates: int):
    from espb.models.registry import build_classifier
    from espb.models.replicates import StackedClassifier

    name = {"reference": "cnn_tcn", "fast": "cnn_tcn_fast"}[impl]
    if replicates == 1:
        torch.manual_seed(0)
        return build_classifier(name, lookback=lookback, patch=patch)
    return StackedClassifier.from_seeds(
        lambda: build_classifier(name, lookback=lookback, patch=patch),
        range(replicates),
        "grouped" if impl == "fast" else "vmap",
    )


def measure(
    impl: str,
    batch: int,
    precision: str,
    device: torch.device,
    lookback: int,
    patch: int,
    steps: int,
    warmup: int,
    replicates: int = 1,
) -> dict:
    """Samples/s (per replicate) of ``steps`` timed training steps after ``warmup`` ones."""
    from espb.models.replicates import replicate_losses

    model = _model(impl, lookback, patch, replicates).to(device).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-4, weight_decay=1e-5)
    g = torch.Generator(device="cpu").manual_seed(1)
    x = (1.0 + 0.2 * torch.randn(batch, lookback, patch, patch, generator=g)).to(device)
    y = (torch.arange(batch) % 2).float().to(device)
    w = torch.ones(batch, device=device)
    kinds = ["mae"] * replicates
    amp = (
        torch.autocast(device.type, dtype=torch.bfloat16)
        if precision == "bf16"
        else contextlib.nullcontext()
    )

    def step() -> None:
        with amp:
            z = model(x)
        z = z.unsqueeze(1) if z.dim() == 1 else z
        loss = replicate_losses(z, y, w, kinds).sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(warmup):
        step()
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    _sync(device)
    dt = time.perf_counter() - t0
    return {
        "impl": impl,
        "batch": batch,
        "precision": precision,
        "replicates": replicates,
        "steps": steps,
        "seconds": dt,
        "samples_per_s": steps * batch * replicates / dt,
    }


def projection(samples_per_s: float) -> dict:
    """Hours for one paper-scale configuration and for the sweep, one job at a time."""
    config_h = PAPER_SAMPLE_PASSES / samples_per_s / 3600
    return {"config_hours": config_h, "sweep_days": config_h * SWEEP_CONFIGS / 24}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--device", default="auto", help="auto (cuda if available) | cpu | cuda")
    ap.add_argument("--batches", default="32,128,512")
    ap.add_argument("--precisions", default="fp32,bf16")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--replicates", type=int, default=3, help="K of the fused measurement")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    ap.add_argument("--nondeterministic", action="store_true", help="allow TF32/cuDNN tuning")
    ap.add_argument(
        "--tiny", action="store_true", help="16 x 4 x 4 blocks, batch 4, 1 step: a smoke test"
    )
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args(argv)

    from espb.models.determinism import configure_determinism

    if a.device == "auto":
        a.device = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(a.device)
    if a.threads:
        torch.set_num_threads(a.threads)
    if device.type == "cpu":
        from espb.training.perf import tune_allocator

        tune_allocator()  # as a training run on CPU does (make_fabric)
    settings = configure_determinism(device, not a.nondeterministic)
    lookback, patch = (16, 4) if a.tiny else (512, 32)
    batches = [4] if a.tiny else [int(b) for b in a.batches.split(",")]
    steps, warmup = (1, 1) if a.tiny else (a.steps, a.warmup)
    if a.tiny:
        a.replicates = min(a.replicates, 2)
    precisions = a.precisions.split(",")
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(f"device {device} ({name}), blocks {lookback} x {patch} x {patch}, {steps} timed steps")
    rows = []
    for prec in precisions:
        for batch in batches:
            for impl in ("reference", "fast"):
                rows.append(measure(impl, batch, prec, device, lookback, patch, steps, warmup))
                r = rows[-1]
                print(f"  {prec:5s} batch {batch:4d} {impl:9s} {r['samples_per_s']:9.1f} samples/s")
        if a.replicates > 1:
            b0 = batches[0]
            for impl in ("reference", "fast"):
                rows.append(
                    measure(impl, b0, prec, device, lookback, patch, steps, warmup, a.replicates)
                )
                r = rows[-1]
                print(
                    f"  {prec:5s} batch {b0:4d} {impl:9s} K={a.replicates} fused "
                    f"{r['samples_per_s']:9.1f} samples/s per replicate"
                )
    b32 = [r for r in rows if r["batch"] == batches[0] and r["replicates"] == 1]
    proj = {f"{r['impl']}/{r['precision']}": projection(r["samples_per_s"]) for r in b32}
    print(
        f"projected at batch {batches[0]} ({PAPER_SAMPLE_PASSES / 1e6:.1f} M sample passes a "
        f"configuration, {SWEEP_CONFIGS} configurations, one job at a time)"
        + (" - tiny blocks, not meaningful" if a.tiny else "")
    )
    for k, p in proj.items():
        print(
            f"  {k:16s} one configuration {p['config_hours']:8.2f} h, sweep {p['sweep_days']:8.1f} days"
        )
    res = {
        "machine": machine(torch=torch.__version__, device=name),
        "device": str(device),
        "tiny": a.tiny,
        "block": [lookback, patch, patch],
        "determinism": settings,
        "rows": rows,
        "projection": proj,
        "paper_sample_passes": PAPER_SAMPLE_PASSES,
        "sweep_configs": SWEEP_CONFIGS,
    }
    out = a.json or Path(f"benchmarks/results/gpu-{device.type}{'-tiny' if a.tiny else ''}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
