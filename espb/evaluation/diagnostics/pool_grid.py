"""The nEQ pool maps of several settings (paper Appendix B, Figure B.5): the run's config with
each combination of the varied settings (e.g. ``samples.m_lim`` x ``bvalue.dr`` x
``bvalue.dt``), its cube (from the cache; built only when asked) and its nEQ pool map.
``espb report sweep`` can call :func:`pool_maps_for` with the sweep's configurations."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

import xarray as xr
from omegaconf import DictConfig, OmegaConf

from espb.errors import EspbError
from espb.evaluation.diagnostics.neq_pool import pool_map, pool_map_grid
from espb.progress import Reporter, quiet
from espb.samples.table import Samples
from espb.training.inputs import RunCache, load_cube
from espb.training.plan import plan_run


def parse_vary(items: Sequence[str]) -> dict[str, list]:
    """``["samples.m_lim=4.0,4.5,4.9", "bvalue.dr=0.25,0.35"]`` -> ``{key: [values]}`` (values
    parsed as YAML scalars)."""
    import yaml

    out: dict[str, list] = {}
    for it in items:
        key, sep, vals = it.partition("=")
        if not sep or not key.strip() or not vals.strip():
            raise EspbError(f"--pool-grid {it!r}: write KEY=V1,V2,... e.g. samples.m_lim=4.0,4.9")
        out[key.strip()] = [yaml.safe_load(v) for v in vals.split(",") if v.strip()]
    return out


def grid_configs(cfg: DictConfig, vary: Mapping[str, Sequence]) -> list[tuple[tuple, DictConfig]]:
    """The run config ``cfg`` with every combination of ``vary`` applied, keyed by the values
    (in the order of ``vary``)."""
    out = []
    for combo in itertools.product(*vary.values()):
        c = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))
        for k, v in zip(vary, combo, strict=True):
            if OmegaConf.select(c, k, default="__missing__") == "__missing__":
                raise EspbError(f"--pool-grid: the run's config has no key {k!r}")
            OmegaConf.update(c, k, v, merge=False)
        out.append((tuple(combo), c))
    return out


def pool_maps_for(
    configs: Sequence[tuple[tuple, DictConfig]],
    names: Sequence[str],
    rep: Reporter | None = None,
    cache: RunCache | None = None,
    build_cube: bool = False,
) -> xr.DataArray:
    """Figure B.5 data: the nEQ pool map (:func:`pool_map`, every forecast day) of each
    config, stacked by :func:`pool_map_grid`. A config whose cube is not cached is an error
    unless ``build_cube``."""
    from espb.bvalue.cache import cache_root, check_store, cube_key, store_path
    from espb.catalog.source import catalog_path

    rep, cache = rep or quiet(), cache or RunCache()
    maps = {}
    for key, cfg in configs:
        plan = plan_run(cfg)
        path = catalog_path(plan.settings.catalog, plan.out_dir, rep.say)
        events, h = cache.events(path), cache.catalog_hash(path)
        croot = cache_root(plan.cfg.get("cache_dir"))
        ck = cube_key(h, plan.settings.cube)
        if not build_cube and check_store(store_path(croot, plan.settings.cube, ck), ck):
            raise EspbError(
                f"pool grid {dict(zip(names, key, strict=True))}: its cube ({ck}) is not in the "
                f"cache {croot}; build it (espb cube build / a run) or pass --build-cube"
            )
        _, ds = load_cube(plan, events, rep, croot, h)
        s = Samples.build(events, ds, plan.settings.samples)
        maps[key] = pool_map(s.pool, s.grid, day_lo=plan.settings.samples.lookback)
        rep.say(
            f"pool map {dict(zip(names, key, strict=True))}: {int(maps[key].sum()):,} candidates"
        )
    return pool_map_grid(maps, names)
