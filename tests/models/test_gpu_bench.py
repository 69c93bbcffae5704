"""benchmarks/gpu.py (make bench-gpu) runs end to end on CPU at a tiny size, so it cannot rot
while no GPU is there to run it for real; and its projection is the arithmetic it claims."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu.py"


@pytest.fixture
def gpu_bench():
    spec = importlib.util.spec_from_file_location("espb_bench_gpu", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    det = torch.are_deterministic_algorithms_enabled()
    threads = torch.get_num_threads()
    yield mod
    torch.use_deterministic_algorithms(det)
    torch.set_num_threads(threads)


def test_gpu_benchmark_runs_tiny_on_cpu(gpu_bench, tmp_path, capsys):
    out = tmp_path / "gpu.json"
    assert gpu_bench.main(["--device", "cpu", "--tiny", "--threads", "1", "--json", str(out)]) == 0
    res = json.loads(out.read_text())
    printed = capsys.readouterr().out
    assert res["device"] == "cpu" and res["tiny"] and res["block"] == [16, 4, 4]
    assert res["determinism"]["use_deterministic_algorithms"] is True
    got = {(r["impl"], r["precision"], r["replicates"]) for r in res["rows"]}
    for impl in ("reference", "fast"):
        for prec in ("fp32", "bf16"):
            assert (impl, prec, 1) in got and (impl, prec, 2) in got
    assert all(r["samples_per_s"] > 0 and r["seconds"] > 0 for r in res["rows"])
    for key, p in res["projection"].items():
        impl, prec = key.split("/")
        (row,) = [
            r
            for r in res["rows"]
            if r["impl"] == impl and r["precision"] == prec and r["replicates"] == 1
        ]
        hours = 14.2e6 / row["samples_per_s"] / 3600
        assert p["config_hours"] == pytest.approx(hours)
        assert p["sweep_days"] == pytest.approx(hours * 432 / 24)
    assert "projected at batch 4" in printed and "not meaningful" in printed


def test_projection_arithmetic(gpu_bench):
    p = gpu_bench.projection(100.0)  # the CPU's ~100 samples/s: the issue's ~45 h / config
    assert p["config_hours"] == pytest.approx(14.2e6 / 100 / 3600)
    assert 39 < p["config_hours"] < 40


def test_model_comparison_of_bench_train_runs_tiny():
    """benchmarks/_model_compare.py (make bench-train's side-by-side part) at a tiny size."""
    import sys

    import numpy as np

    sys.path.insert(0, str(SCRIPT.parent))
    try:
        from _model_compare import compare, describe
    finally:
        sys.path.remove(str(SCRIPT.parent))
    b = np.random.default_rng(0).normal(1.0, 0.2, (40, 12, 12)).astype(np.float32)
    res = compare(b, lookback=16, patch=4, batch=4, steps=1, repeats=2, k=3)
    assert set(res["samples_per_s"]) == {
        "reference",
        "fast",
        "separate x3 (fast)",
        "fused x3 (fast, grouped)",
        "fused x3 (reference, vmap)",
    }
    assert all(len(v["all"]) == 2 and v["min"] > 0 for v in res["samples_per_s"].values())
    assert len(res["fast_over_reference"]["all"]) == 2 and res["fused_over_separate"]["min"] > 0
    text = describe(res)
    assert "16x4x4" in text and "fast / reference" in text and "fused / separate" in text
