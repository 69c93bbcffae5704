"""What the forecast layer needs from a finished run, in one place: the run read back through
the training layer (:mod:`espb.training.folder`). A run folder holds ``config.yaml`` (the
resolved configuration), ``metrics.csv`` (one row per completed meta-epoch),
``weights/me_XXXX.pt`` (the model after each meta-epoch), ``predictions.parquet``,
``state.json``. The catalog and cube are those the configuration names, from the cube cache
(built there if missing; same key, same numbers); the autoencoder is the cached one of the run
(trained again, deterministically, if the cache lost it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from espb.errors import EspbError
from espb.progress import Reporter
from espb.samples.labels import Grid
from espb.training.folder import inputs_of_folder
from espb.training.folder import read_run_config as read_config

__all__ = [
    "RunInputs",
    "block_source",
    "load_run_inputs",
    "read_config",
    "read_metrics",
    "tune_allocator",
]


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


def load_run_inputs(run_dir: Path, cfg: dict | None = None, say=print) -> RunInputs:
    """Catalog, cube and (if the run used it) autoencoder of the run in ``run_dir``."""
    from espb.training.autoencoder import autoencoder_for

    rep = Reporter(say=say)
    plan, inp = inputs_of_folder(run_dir, rep)
    out = RunInputs(
        cfg or plan.resolved,
        inp.events,
        np.asarray(inp.ds["b"].values, dtype=np.float32),
        inp.samples.grid,
        inp.cube.key,
        inp.cube.catalog_hash,
    )
    if plan.settings.autoencoder.enabled:
        model, info = autoencoder_for(plan, inp, torch.device("cpu"), rep)
        out.autoencoder, out.ae_key = model.eval(), info.key
    return out


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
