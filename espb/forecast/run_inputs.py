"""What the forecast layer needs from a finished run, in one place (an adapter: the training
layer is being restructured; re-point these functions, nothing else in espb.forecast imports
espb.training).

A run is read through its folder (:mod:`espb.training.experiment`): ``config.yaml`` (the resolved
configuration), ``metrics.csv`` (one row per completed meta-epoch), ``weights/me_XXXX.pt`` (the
model after each meta-epoch), ``predictions.parquet``, ``state.json``. The catalog and cube are
those the configuration names, from the cube cache (built there if missing; same key, same
numbers); the autoencoder is the cached one of the run (trained again, deterministically, if the
cache lost it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import yaml

from espb.errors import EspbError
from espb.samples.labels import Grid


@dataclass
class RunInputs:
    """The data a run's forecast is computed from."""

    config: dict
    events: pd.DataFrame
    b: np.ndarray  # (n_days, nlat, nlon) float32
    grid: Grid
    cube_key: str
    catalog_hash: str
    autoencoder: torch.nn.Module | None = None
    ae_key: str | None = None
    extra: dict = field(default_factory=dict)


def read_config(run_dir: Path) -> dict:
    p = Path(run_dir) / "config.yaml"
    if not p.is_file():
        raise EspbError(
            f"{run_dir}: no config.yaml; pass a run folder (outputs/runs/<name>/<config hash>/)"
        )
    try:
        cfg = yaml.safe_load(p.read_text())
    except yaml.YAMLError as exc:
        raise EspbError(f"{p}: not valid YAML ({exc}); restore it from the run") from exc
    for key in ("samples", "training", "bvalue", "catalog"):
        if not isinstance(cfg, dict) or not isinstance(cfg.get(key), dict):
            raise EspbError(f"{p}: the section '{key}' is missing; is this an espb run folder?")
    return cfg


def load_run_inputs(run_dir: Path, cfg: dict | None = None, say=print) -> RunInputs:
    """Catalog, cube and (if the run used it) autoencoder of the run in ``run_dir``."""
    from espb.bvalue.cache import cache_root, get_cube
    from espb.bvalue.config import CubeConfig
    from espb.config import from_node
    from espb.training.experiment import Reporter, load_catalog

    run_dir = Path(run_dir)
    cfg = cfg or read_config(run_dir)
    rep = Reporter(say=say)
    # the run folder is <out_dir>/runs/<name>/<hash>: where its synthetic catalog was written
    out_dir = run_dir.resolve().parents[2]
    events = load_catalog(cfg["catalog"], out_dir, rep)
    cube_cfg = from_node(CubeConfig, cfg["bvalue"], "bvalue")
    cube = get_cube(events, cube_cfg, cache_root(cfg.get("cache_dir")), on_wait=say)
    ds = cube.open()
    inputs = RunInputs(
        cfg,
        events,
        np.asarray(ds["b"].values, dtype=np.float32),
        Grid.from_cube(ds),
        cube.key,
        cube.catalog_hash,
    )
    if (cfg.get("autoencoder") or {}).get("enabled"):
        inputs.autoencoder, inputs.ae_key = _autoencoder(cfg, events, ds, cube, run_dir, rep)
    return inputs


def _autoencoder(cfg: dict, events, ds, cube, run_dir: Path, rep):
    """The run's autoencoder: the training layer's own cached one (same key)."""
    from espb.bvalue.cache import cache_root
    from espb.config import from_node
    from espb.models.ae_fit import AEConfig
    from espb.samples.config import SampleConfig
    from espb.samples.table import Samples, segment_bounds
    from espb.training.experiment import _dev_end_day, autoencoder_for
    from espb.training.schedule import MetaEpoch

    s_cfg = from_node(SampleConfig, cfg["samples"], "samples")
    a_cfg = from_node(AEConfig, cfg["autoencoder"], "autoencoder")
    samples = Samples.build(events, ds, s_cfg)
    metrics = read_metrics(run_dir)
    bounds = segment_bounds(s_cfg.lookback, samples.grid.n_days, int(cfg["training"]["l_me"]))
    seg = int(metrics["segment"].iloc[0])
    first = MetaEpoch(0, seg, int(bounds[seg][0]), int(bounds[seg][1]), "dev")
    p = {
        "a_cfg": a_cfg,
        "s_cfg": s_cfg,
        "samples": samples,
        "dev_end": _dev_end_day(samples.grid, cfg["training"]["dev_end"]),
        "mes": [first],
        "cube": cube,
        "ds": ds,
        "cache_root": cache_root(cfg.get("cache_dir")),
    }
    model, key, _ = autoencoder_for(p, torch.device("cpu"), rep)
    return model.eval(), key


def read_metrics(run_dir: Path) -> pd.DataFrame:
    p = Path(run_dir) / "metrics.csv"
    if not p.is_file():
        raise EspbError(
            f"{run_dir}: no metrics.csv; the run has not completed a meta-epoch "
            "(train it with espb-train first)"
        )
    df = pd.read_csv(p)
    for col in ("meta_epoch", "segment", "date"):
        if col not in df.columns:
            raise EspbError(f"{p}: column '{col}' is missing; is this an espb run's metrics.csv?")
    return df


def block_source(b: np.ndarray, table: pd.DataFrame, lookback: int, patch: int):
    """The training layer's block cutter (:class:`espb.training.blocks.BlockSource`) on CPU."""
    from espb.training.blocks import BlockSource

    return BlockSource(b, table, lookback, patch, torch.device("cpu"))


def tune_allocator() -> bool:
    """The training layer's glibc allocator setting (large blocks stay in the heap)."""
    from espb.training.perf import tune_allocator as tune

    return tune()
