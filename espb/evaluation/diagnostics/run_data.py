"""A finished (or stopped) run folder, read back: its resolved config, plan, metrics,
predictions and weight snapshots, and the inputs rebuilt from the config exactly as
:func:`espb.training.inputs.build_inputs` built them for training.

Run folder layout (``espb.training.run``): ``<out>/runs/<name>/<hash>/`` with ``config.yaml``,
``metrics.csv``, ``predictions.parquet``, ``weights/me_XXXX.pt``, ``state.json``, ``model.txt``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import DictConfig, OmegaConf

from espb.errors import EspbError
from espb.progress import Reporter, quiet
from espb.training.inputs import RunCache, RunInputs
from espb.training.plan import RunPlan, plan_run

_ME = re.compile(r"me_(\d+)\.pt$")


@dataclass
class RunFolder:
    """What a run folder holds. ``metrics`` is one row per meta-epoch (``metrics.csv``),
    ``predictions`` one row per validation sample (empty when the run wrote none),
    ``weights`` the snapshot files by meta-epoch index."""

    run_dir: Path
    cfg: DictConfig
    plan: RunPlan
    metrics: pd.DataFrame
    predictions: pd.DataFrame
    state: dict
    weights: dict[int, Path] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.plan.name

    @property
    def title(self) -> str:
        return f"{self.plan.name} ({self.run_dir.name})"

    def annotations(self) -> list[tuple[pd.Timestamp, str]]:
        """``cfg.region.annotations`` (a list of ``{date, label}``), when the config has them."""
        return annotations_of(self.cfg)


def annotations_of(cfg: DictConfig | dict) -> list[tuple[pd.Timestamp, str]]:
    """Dated markers for the time axes: the run config's region's large events
    (``region.annotations``, :func:`espb.training.regions.annotations_of`, as the run's own
    ``accuracy.png`` draws them); none for a config without a region."""
    from espb.training.figures import date_marks
    from espb.training.regions import annotations_of as region_marks

    node = cfg if isinstance(cfg, dict) else OmegaConf.to_container(cfg, resolve=True)
    return date_marks(region_marks(node))


def _read_config(run_dir: Path) -> DictConfig:
    p = run_dir / "config.yaml"
    if not p.is_file():
        raise EspbError(
            f"{run_dir}: no config.yaml; give a run folder <out>/runs/<name>/<hash>/ written by "
            "espb-train (or use --latest NAME)"
        )
    return OmegaConf.create(OmegaConf.to_container(OmegaConf.load(p), resolve=True))


def load_run(run_dir: str | Path) -> RunFolder:
    """Read a run folder (nothing is recomputed). A folder without ``metrics.csv`` (a run that
    never completed a meta-epoch) is an :class:`EspbError`."""
    run_dir = Path(run_dir).resolve()
    if not run_dir.is_dir():
        raise EspbError(f"{run_dir}: no such run folder")
    cfg = _read_config(run_dir)
    plan = plan_run(cfg)
    m = run_dir / "metrics.csv"
    if not m.is_file() or m.stat().st_size == 0:
        raise EspbError(
            f"{run_dir}: no metrics.csv: the run has not completed a meta-epoch; finish it with "
            "espb-train (it resumes) before reporting"
        )
    metrics = pd.read_csv(m)
    if not len(metrics):
        raise EspbError(f"{m}: no meta-epoch recorded; finish the run before reporting")
    p = run_dir / "predictions.parquet"
    pred = pd.read_parquet(p) if p.is_file() else pd.DataFrame()
    s = run_dir / "state.json"
    state = json.loads(s.read_text()) if s.is_file() else {}
    weights = {}
    for w in sorted((run_dir / "weights").glob("me_*.pt")):
        mm = _ME.search(w.name)
        if mm:
            weights[int(mm.group(1))] = w
    return RunFolder(run_dir, cfg, plan, metrics, pred, state, weights)


def latest_run(out_root: str | Path, name: str) -> Path:
    """The most recently written run folder of preset ``name`` under ``<out_root>/runs/``."""
    base = Path(out_root) / "runs" / name
    found = [d for d in base.glob("*") if (d / "metrics.csv").is_file()]
    if not found:
        raise EspbError(
            f"no run of {name!r} with metrics under {base}; set ESPB_OUT to the output folder "
            "the run used, or give the run folder"
        )
    return max(found, key=lambda d: (d / "metrics.csv").stat().st_mtime)


def _check_cube_cached(run: RunFolder, rep: Reporter, cache: RunCache) -> None:
    """The run's cube must be in the cache (a report never rebuilds a cube silently), and the
    catalog must be the one the run was trained on."""
    from espb.bvalue.cache import cache_root, check_store, cube_key, store_path
    from espb.catalog.source import catalog_path

    plan = run.plan
    path = catalog_path(plan.settings.catalog, plan.out_dir, rep.say)
    h = cache.catalog_hash(path)
    key = cube_key(h, plan.settings.cube)
    if run.state.get("cube_key") and run.state["cube_key"] != key:
        raise EspbError(
            f"{run.run_dir}: the run was trained on cube {run.state['cube_key']}, but its "
            f"catalog {path} now gives cube {key} (the catalog or the cube code changed since); "
            "the report would not describe this run. Re-run the configuration first"
        )
    store = store_path(cache_root(plan.cfg.get("cache_dir")), plan.settings.cube, key)
    if check_store(store, key) is not None:
        raise EspbError(
            f"{run.run_dir}: the run's cube is not in the cache ({store}); set ESPB_CACHE_DIR "
            "to the cache the run used, or pass --build-cube to build it again"
        )


def rebuild_inputs(
    run: RunFolder,
    rep: Reporter | None = None,
    cache: RunCache | None = None,
    build_cube: bool = False,
) -> RunInputs:
    """The run's inputs (events, cube, samples, table, schedule) rebuilt from its config with
    :func:`espb.training.inputs.build_inputs`, checked against its predictions: every
    predicted sample must be the same (target, row, col, label) in the rebuilt table."""
    from espb.training.inputs import build_inputs

    rep, cache = rep or quiet(), cache or RunCache()
    if not build_cube:
        _check_cube_cached(run, rep, cache)
    inputs = build_inputs(run.plan, rep, cache)
    check_same_samples(run.predictions, inputs.table, run.run_dir)
    return inputs


def check_same_samples(pred: pd.DataFrame, table: pd.DataFrame, where: Path | str) -> None:
    """Raise if any predicted sample differs from the rebuilt sample table (the sample code or
    the catalog changed since the run)."""
    if not len(pred):
        return
    sid = pred["sid"].to_numpy()
    if sid.max() >= len(table):
        raise EspbError(
            f"{where}: predictions name sample {int(sid.max())} but the rebuilt table has "
            f"{len(table)} samples: the samples changed since the run; re-run it"
        )
    t = table.iloc[sid]
    bad = np.zeros(len(pred), bool)
    for k in ("target", "row", "col", "label"):
        bad |= t[k].to_numpy() != pred[k].to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise EspbError(
            f"{where}: {int(bad.sum())} predicted samples differ from the rebuilt sample table "
            f"(first: sid {int(sid[i])}); the sample code or the catalog changed since the run: "
            "re-run it before reporting"
        )
