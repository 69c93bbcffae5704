"""Random models, cubes and hand-made run folders for the forecast tests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import yaml

from espb.forecast.run_inputs import RunInputs
from espb.models.autoencoder import MapAutoencoder
from espb.models.classifier import CnnTcn
from espb.samples.labels import Grid

START = pd.Timestamp("2020-01-01", tz="UTC")


def random_model(lookback: int, patch: int, layout=None, seed: int = 0, bias=True) -> CnnTcn:
    """A CnnTcn with random weights and random BatchNorm statistics, in eval mode."""
    torch.manual_seed(seed)
    m = CnnTcn(lookback, patch, layout, conv_bias=bias)
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, torch.nn.BatchNorm3d):
                mod.running_mean.uniform_(-0.5, 0.5)
                mod.running_var.uniform_(0.5, 2.0)
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.uniform_(-0.5, 0.5)
    return m.eval()


def random_ae(seed: int = 0) -> MapAutoencoder:
    torch.manual_seed(seed)
    return MapAutoencoder().eval()


def random_cube(n_days: int, nlat: int, nlon: int, seed: int = 0) -> np.ndarray:
    """b values in [0.5, 1.5] with a smooth part, float32."""
    rng = np.random.default_rng(seed)
    b = 1.0 + 0.3 * rng.standard_normal((n_days, nlat, nlon))
    return np.clip(b, 0.0, 2.0).astype(np.float32)


def grid(n_days: int, nlat: int, nlon: int) -> Grid:
    return Grid(38.0, 140.0, 0.1, nlat, nlon, START, n_days)


def random_events(g: Grid, n: int, mag: float = 5.0, seed: int = 0) -> pd.DataFrame:
    """``n`` events with ``Mw >= mag`` at random cells and days of the grid."""
    rng = np.random.default_rng(seed)
    day = rng.integers(0, g.n_days, n)
    return pd.DataFrame(
        {
            "time": g.start + pd.to_timedelta(day, unit="D") + pd.Timedelta(hours=12),
            "latitude": g.lat0 + (rng.integers(0, g.nlat, n) + 0.5) * g.res,
            "longitude": g.lon0 + (rng.integers(0, g.nlon, n) + 0.5) * g.res,
            "mw": mag + rng.random(n),
        }
    )


def make_run(
    run_dir: Path,
    lookback: int,
    patch: int,
    l_me: int,
    me_segments: list[int],
    n_days: int,
    layout=None,
    ae: bool = False,
    dev_end_day: int | None = None,
    complete: bool = True,
) -> Path:
    """A run folder as espb-train leaves it, with random weights per meta-epoch."""
    run_dir.mkdir(parents=True, exist_ok=True)
    dev_end = START + pd.Timedelta(days=dev_end_day if dev_end_day is not None else n_days // 2)
    cfg = {
        "name": "fake",
        "cache_dir": None,
        "catalog": {"synthetic": "none"},
        "bvalue": {"start": START.strftime("%Y-%m-%d")},
        "samples": {
            "lookback": lookback,
            "patch": patch,
            "eq_min_mag": 5.0,
            "exclusion_after": 7,
            "label_delay": True,
        },
        "model": {"layout": layout, "conv_bias": True, "negative_slope": 0.1},
        "autoencoder": {"enabled": ae},
        "training": {"l_me": l_me, "dev_end": dev_end.strftime("%Y-%m-%d")},
    }
    (run_dir / "config.yaml").write_text(yaml.safe_dump(cfg))
    rows = []
    (run_dir / "weights").mkdir(exist_ok=True)
    for k, s in enumerate(me_segments):
        lo = lookback + s * l_me
        rows.append({"meta_epoch": k, "segment": s, "date": (START + pd.Timedelta(days=lo))})
        sd = random_model(lookback, patch, layout, seed=100 + k).state_dict()
        torch.save({f"model.{n}": v for n, v in sd.items()}, run_dir / "weights" / f"me_{k:04d}.pt")
    m = pd.DataFrame(rows)
    m["date"] = m["date"].dt.strftime("%Y-%m-%d")
    m.to_csv(run_dir / "metrics.csv", index=False)
    n_planned = len(me_segments) + (0 if complete else 1)
    (run_dir / "state.json").write_text(
        json.dumps(
            {
                "config_hash": "fakehash" + run_dir.name,
                "completed": complete,
                "meta_epochs_done": len(me_segments),
                "n_meta_epochs": n_planned,
            }
        )
    )
    return run_dir


def inputs(run_dir: Path, b: np.ndarray, events: pd.DataFrame, ae=None, tag: str = "a"):
    cfg = yaml.safe_load((run_dir / "config.yaml").read_text())
    g = grid(*b.shape)
    return RunInputs(cfg, events, b, g, f"cube-{tag}", f"cat-{tag}", ae, "ae-x" if ae else None)


def write_predictions(run_dir: Path, n: int, n_days: int, lookback: int, seed: int = 0) -> Path:
    """A predictions.parquet of validation samples (label, score related)."""
    rng = np.random.default_rng(seed)
    lab = rng.integers(0, 2, n)
    df = pd.DataFrame(
        {
            "target": rng.integers(lookback, n_days, n),
            "label": lab,
            "score": 1 / (1 + np.exp(-rng.normal(2 * lab - 1, 1.0))),
        }
    )
    df.to_parquet(run_dir / "predictions.parquet", index=False)
    return run_dir / "predictions.parquet"
