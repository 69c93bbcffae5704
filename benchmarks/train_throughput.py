"""Training throughput: blocks gathered from the in-memory cube vs. a plain DataLoader over zarr.

Both paths feed the same training step (the real `BlockClassifier.training_step`, backward and
Adam step, batch 32) with blocks of ``lookback x 32 x 32`` (paper: 512) cut around random
usable centres of a cube on disk:

- **espb**: the training path of `espb.training` - the cube held in one tensor
  (`BlockSource`), a batch gathered by index in one operation;
- **zarr DataLoader**: a `torch.utils.data.Dataset` whose `__getitem__` reads one block from the
  zarr store (`xarray.open_zarr(...)["b"][t0:t1, r0:r1, c0:c1].values`), batched by a
  `DataLoader` (``--workers`` processes; default 0 on the 2-core target).

Reports samples/s of each and their ratio (the issue's target: >= 5 on CPU), and the data path
alone (time to get a batch: zarr read / gather). On CPU the training step itself dominates, so the
end-to-end ratio is bounded by (read + step) / (gather + step); see docs/performance.md. ``--cube`` takes a store; by default the demo cube is built (or taken from the
cache) from the demo synthetic catalog.

    .venv/bin/python benchmarks/train_throughput.py [--lookback 512] [--batches 12] [--workers 0]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _machine import machine


def demo_cube(out: Path) -> Path:
    from espb.bvalue.cache import get_cube
    from espb.bvalue.config import load_cube_config
    from espb.catalog.schema import load_events
    from espb.catalog.source import CatalogSource, catalog_path

    ev = load_events(catalog_path(CatalogSource(synthetic="demo"), out))
    return get_cube(ev, load_cube_config("demo", [], dr=0.35, dt=150)).path


def demo_share(out: Path) -> dict:
    """Train the demo experiment again (catalog and cube cached) and return its time/* metrics."""
    from hydra import compose, initialize_config_dir
    from mlflow.tracking import MlflowClient

    from espb.cli.train import main_task
    from espb.paths import conf_dir

    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = compose(
            "train",
            overrides=["experiment=demo", f"out_dir={out}", "run.force=true", "run.progress=false"],
        )
    main_task(cfg)
    newest = max((out / "runs" / "demo").glob("*/state.json"), key=lambda p: p.stat().st_mtime)
    st = json.loads(newest.read_text())
    run = MlflowClient(st["tracking_uri"]).get_run(st["run_id"])
    return {k: v for k, v in run.data.metrics.items() if k.startswith("time/")}


class ZarrBlocks(torch.utils.data.Dataset):
    def __init__(self, store: Path, centres: np.ndarray, lookback: int, patch: int) -> None:
        self.store, self.centres, self.L, self.h = store, centres, lookback, patch // 2
        self.da = None

    def __len__(self) -> int:
        return len(self.centres)

    def __getitem__(self, i: int):
        import xarray as xr

        if self.da is None:  # opened lazily (once per worker)
            self.da = xr.open_zarr(self.store, consolidated=False, chunks=None)["b"]
        t, r, c = (int(v) for v in self.centres[i])
        x = self.da[t - self.L : t, r - self.h : r + self.h, c - self.h : c + self.h].values
        return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)), torch.tensor(
            float(i % 2)
        )


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--cube", type=Path, default=None)
    ap.add_argument("--lookback", type=int, default=512)
    ap.add_argument(
        "--batches", type=int, default=12, help="timed batches per path (after 2 warm-up)"
    )
    ap.add_argument("--workers", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path("outputs"))
    ap.add_argument("--json", type=Path, default=Path("benchmarks/results/train_throughput.json"))
    ap.add_argument(
        "--demo",
        action="store_true",
        help="also run the demo experiment (run.force=true, ~5 min) and report the share of its "
        "wall time spent outside forward/backward (target <= 10 %%)",
    )
    a = ap.parse_args()

    import pandas as pd

    from espb.bvalue.cache import open_cube
    from espb.training.blocks import BlockSource
    from espb.training.config import TrainConfig
    from espb.training.loop import make_fabric
    from espb.training.module import BlockClassifier

    store = a.cube or demo_cube(a.out)
    t0 = time.perf_counter()
    ds = open_cube(store)
    b = np.asarray(ds["b"].values)
    load_s = time.perf_counter() - t0
    T, H, W = b.shape
    L, P, B = a.lookback, 32, 32
    n = (a.batches + 2) * B
    rng = np.random.default_rng(0)
    centres = np.stack(
        [rng.integers(L, T, n), rng.integers(16, H - 16 + 1, n), rng.integers(16, W - 16 + 1, n)], 1
    )
    table = pd.DataFrame(centres, columns=["target", "row", "col"])
    fabric = make_fabric(TrainConfig(accelerator="cpu"))
    torch.manual_seed(0)
    module = BlockClassifier(lookback=L, patch=P)
    opt = module.configure_optimizers()

    def step(x, y):
        loss = module.training_step((x, y, torch.ones_like(y)))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    def timed(next_batch) -> tuple[float, float]:
        """Seconds getting batches and seconds in the training step, over the timed batches."""
        get_s = step_s = 0.0
        for k in range(a.batches + 2):  # 2 warm-up batches
            t0 = time.perf_counter()
            x, yb = next_batch(k)
            t1 = time.perf_counter()
            step(x, yb)
            t2 = time.perf_counter()
            if k >= 2:
                get_s += t1 - t0
                step_s += t2 - t1
        return get_s, step_s

    # --- espb: device-resident cube, one gather per batch
    src = BlockSource(b, table, L, P, fabric.device)
    y = torch.tensor([float(i % 2) for i in range(B)])
    g_s, s_s = timed(lambda k: (src.blocks(torch.arange(k * B, (k + 1) * B)), y))
    espb_rate = a.batches * B / (g_s + s_s)

    # --- plain DataLoader reading every block from zarr
    dl = torch.utils.data.DataLoader(
        ZarrBlocks(store, centres, L, P), batch_size=B, shuffle=False, num_workers=a.workers
    )
    it = iter(dl)
    r_s, z_s = timed(lambda k: next(it))
    zarr_rate = a.batches * B / (r_s + z_s)
    res = {
        "machine": machine(torch=torch.__version__),
        "store": str(store),
        "cube_shape": [T, H, W],
        "block": [L, P, P],
        "batch": B,
        "timed_batches": a.batches,
        "workers": a.workers,
        "cube_load_s": load_s,
        "espb": {
            "samples_per_s": espb_rate,
            "gather_ms_per_batch": 1e3 * g_s / a.batches,
            "step_ms_per_batch": 1e3 * s_s / a.batches,
        },
        "zarr_dataloader": {
            "samples_per_s": zarr_rate,
            "read_ms_per_batch": 1e3 * r_s / a.batches,
            "step_ms_per_batch": 1e3 * z_s / a.batches,
        },
        "ratio": espb_rate / zarr_rate,
        "data_path_ratio": (r_s / a.batches) / max(g_s / a.batches, 1e-12),
    }
    if a.demo:
        res["demo_run"] = demo_share(a.out)
    a.json.parent.mkdir(parents=True, exist_ok=True)
    a.json.write_text(json.dumps(res, indent=1))
    print(f"blocks {L}x{P}x{P}, batch {B}, cube {T}x{H}x{W} ({load_s:.1f} s to load into memory)")
    print(
        f"  espb (in-memory gather): {espb_rate:7.1f} samples/s  gather {res['espb']['gather_ms_per_batch']:.1f} ms + "
        f"step {res['espb']['step_ms_per_batch']:.1f} ms per batch"
    )
    print(
        f"  zarr DataLoader (w={a.workers}):  {zarr_rate:7.1f} samples/s  read {res['zarr_dataloader']['read_ms_per_batch']:.1f} ms + "
        f"step {res['zarr_dataloader']['step_ms_per_batch']:.1f} ms per batch"
    )
    print(
        f"  ratio {res['ratio']:.2f}x end to end (target >= 5x); data path alone: zarr read / gather = "
        f"{res['data_path_ratio']:.1f}x"
    )
    if a.demo:
        d = res["demo_run"]
        print(
            f"  demo run: {d['time/wall_s']:.0f} s wall, {d['time/fwd_bwd_s']:.0f} s forward/backward, "
            f"{100 * d['time/share_outside_fwd_bwd']:.1f} % outside (target <= 10 %), "
            f"{d['time/train_samples_per_s']:.0f} training samples/s"
        )
    print(f"  machine: {res['machine']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
