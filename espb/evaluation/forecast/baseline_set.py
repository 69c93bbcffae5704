"""The baselines of a run's forecast on exactly the model's scored cell-days, computed once per
(catalog, grid, days, settings) and cached like the forecast cubes.

Each baseline is one of :mod:`espb.forecast.baselines` (uniform, spatial, recent, oracle ETAS),
time-forward by construction. The oracle needs the generator's full simulation, which exists
only for a synthetic catalog: it is re-simulated from the run's catalog settings
(:func:`espb.catalog.synthetic.generate.synthesize` with ``keep_simulation``) and checked to
reproduce the run's very catalog (same content hash) before it is used.

Cache: ``<cache>/forecasts/baselines/bl-<name>-<key>.zarr`` (the forecast store's atomic,
checksummed writer). The key hashes the catalog's content hash, the grid, the eligible box, the
days, the target magnitude, the baseline's settings and the source code of the baseline
modules, so a change of either recomputes it.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from espb.config import from_node
from espb.errors import EspbError
from espb.forecast.baselines import (
    OracleConfig,
    RecentConfig,
    SpatialConfig,
    UniformConfig,
    oracle_etas,
    recent,
    spatial,
    uniform,
)
from espb.forecast.run_inputs import RunInputs
from espb.forecast.store import cache_root, cached
from espb.forecast.targets import Eligible

#: clip baselines into the open interval the log-likelihood needs (counted, never silent)
P_CLIP = 1e-12


def baseline_configs(names: list[str], settings: Any, l_me: int) -> dict[str, Any]:
    """The typed settings of each named baseline from the ``forecast`` node's dicts
    (``recent.refit_days`` defaults to the run's ``training.l_me``)."""
    out: dict[str, Any] = {}
    for name in names:
        if name == "uniform":
            out[name] = UniformConfig()
        elif name == "spatial":
            out[name] = from_node(SpatialConfig, dict(settings.spatial), "forecast.spatial")
        elif name == "recent":
            node = {"refit_days": int(l_me), **dict(settings.recent)}
            out[name] = from_node(RecentConfig, node, "forecast.recent")
        elif name == "oracle":
            out[name] = from_node(OracleConfig, dict(settings.oracle), "forecast.oracle")
    return out


def _code_digest() -> str:
    import espb.forecast.baselines as pkg

    h = hashlib.sha256()
    for path in sorted(Path(inspect.getfile(pkg)).parent.glob("*.py")):
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def baseline_key(name: str, cfg: Any, inp: RunInputs, elig: Eligible, days, mag: float) -> str:
    g = inp.grid
    payload = {
        "name": name,
        "settings": asdict(cfg),
        "catalog": inp.catalog_hash,
        "grid": [g.lat0, g.lon0, g.res, g.nlat, g.nlon, str(g.start), g.n_days],
        "eligible": asdict(elig),
        "days": hashlib.sha256(np.asarray(days, np.int64).tobytes()).hexdigest()[:16],
        "target_mag": float(mag),
        "code": _code_digest(),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[
        :20
    ]


def simulation_of(catalog: dict, catalog_hash: str, say: Callable[[str], None]):
    """The generator's full simulation of the run's synthetic catalog, checked to reproduce the
    run's catalog (content hash); EspbError for a catalog that is not synthetic."""
    from espb.catalog.schema import catalog_hash as content_hash
    from espb.catalog.source import CatalogSource
    from espb.catalog.synthetic.config import load_synth_config
    from espb.catalog.synthetic.generate import synthesize

    src = from_node(CatalogSource, catalog, "catalog")
    if src.path or not src.synthetic:
        raise EspbError(
            f"the oracle ETAS baseline needs a synthetic catalog; this run reads catalog.path="
            f"{src.path!r}; leave 'oracle' out of the baselines"
        )
    say(f"oracle: re-simulating the synthetic catalog '{src.synthetic}' (seed {src.seed})")
    scfg = load_synth_config(
        str(src.synthetic), [f"seed={src.seed}", f"precursors.mode={src.mode}"]
    )
    res = synthesize(scfg, keep_simulation=True)
    got = content_hash(res.events)
    if got != catalog_hash:
        raise EspbError(
            f"the oracle's simulation of '{src.synthetic}' (seed {src.seed}, {src.mode}) gives a "
            f"catalog with hash {got}, the run's catalog has {catalog_hash}: the generator changed "
            "since the run; retrain the run on the current catalog or leave 'oracle' out"
        )
    return res.simulation


def is_synthetic(catalog: dict) -> bool:
    return not catalog.get("path") and bool(catalog.get("synthetic"))


def _compute(name, cfg, inp: RunInputs, run_cfg: dict, elig, days, mag, say) -> xr.Dataset:
    if name == "oracle":
        sim = simulation_of(run_cfg["catalog"], inp.catalog_hash, say)
        da = oracle_etas(sim, inp.grid, elig, days, mag, cfg)
    else:
        fn = {"uniform": uniform, "spatial": spatial, "recent": recent}[name]
        da = fn(inp.events, inp.grid, elig, days, mag, cfg)
    return da.astype(np.float64).to_dataset(name="p")


def baseline_forecasts(
    configs: dict[str, Any],
    inp: RunInputs,
    run_cfg: dict,
    elig: Eligible,
    days: np.ndarray,
    target_mag: float,
    cache_dir: str | Path | None = None,
    say: Callable[[str], None] = print,
) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """Each baseline's probabilities on the eligible box of ``days`` (``(len(days), rows,
    cols)`` float64), and per baseline the number of values clipped into ``[P_CLIP, 1 -
    P_CLIP]`` (a probability of exactly 0 or 1 has no finite log-likelihood)."""
    root = cache_root(cache_dir or run_cfg.get("cache_dir")) / "forecasts" / "baselines"
    box = (slice(None), slice(elig.row_lo, elig.row_hi + 1), slice(elig.col_lo, elig.col_hi + 1))
    out, clipped = {}, {}
    for name, cfg in configs.items():
        key = baseline_key(name, cfg, inp, elig, days, target_mag)
        path = root / f"bl-{name}-{key}.zarr"
        ds, built = cached(
            path,
            key,
            lambda n=name, c=cfg: _compute(n, c, inp, run_cfg, elig, days, target_mag, say),
            on_wait=say,
        )
        p = np.asarray(ds["p"].values, np.float64)[box]
        if p.shape[0] != len(days) or not np.isfinite(p).all():
            raise EspbError(f"{path}: baseline '{name}' is not finite on every scored cell-day")
        clipped[name] = int(np.count_nonzero((p < P_CLIP) | (p > 1 - P_CLIP)))
        out[name] = np.clip(p, P_CLIP, 1 - P_CLIP)
        say(f"baseline {name}: {'computed' if built else 'from cache'} ({path.name})")
    return out, clipped
