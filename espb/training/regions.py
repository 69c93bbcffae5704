"""The region of a run: its preset node (``cfg.region``), its annotations for figures, the
whole check of a composed config (``espb region check``, ``espb sweep``), and ``region=auto``
(a region derived from the catalog, written as a preset the user can keep).

``region=auto`` (docs/regions.md): the box holding all but 0.5 % of the events on each side,
rounded out to whole cells of ``bvalue.resolution`` and at least :data:`MIN_CELLS` cells a
side; the cube's days from the catalog's first to its last day; the development end three
quarters into the forecast days; the largest patch the grid holds, up to the configured one;
the configured target magnitude if :data:`~espb.training.check.MIN_TARGETS` events in the box
reach it, else the magnitude that many reach; and the completeness magnitude by seismostats'
b-value stability, as a suggestion (``region.mc``; nothing is cut by it).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from omegaconf import DictConfig, OmegaConf, open_dict

from espb.catalog.region import RegionIngest, RegionSpec, catalog_extent, region_from_node
from espb.errors import ConfigError
from espb.training.check import MIN_TARGETS, Check, _suggest_target, valid_patches

#: the smallest side of a derived grid, in cells (a patch of 8 at least)
MIN_CELLS = 8
#: where each region key goes in the run config
TARGETS = {
    "box": "bvalue.region",
    "start": "bvalue.start",
    "end": "bvalue.end",
    "dev_end": "training.dev_end",
    "target_mag": "samples.eq_min_mag",
    "patch": "samples.patch",
}


def region_of(resolved: dict) -> RegionSpec | None:
    """The region node of a resolved run config, or None (a config without a region)."""
    node = resolved.get("region") if isinstance(resolved, dict) else None
    return region_from_node(node) if node else None


def annotations_of(resolved: dict) -> list:
    """The region's large events as :class:`espb.bvalue.plot.Annotation` (for figures): only
    those the region's preset lists, none for a config without a region."""
    from espb.bvalue.plot import Annotation

    spec = region_of(resolved)
    if spec is None:
        return []
    return [Annotation(m.label, pd.Timestamp(m.date), m.lat, m.lon) for m in spec.annotations]


def _pad(lo: float, hi: float, res: float, n_min: int) -> tuple[float, float]:
    n = int(round((hi - lo) / res))
    if n >= n_min:
        return lo, hi
    extra = n_min - n
    lo2 = round(lo - (extra // 2) * res, 10)
    return lo2, round(lo2 + n_min * res, 10)


def derive_region(events: pd.DataFrame, cfg: dict, name: str = "auto") -> tuple[RegionSpec, dict]:
    """A region for ``events`` under the run config ``cfg`` (resolved; module docstring), and
    the further settings it needs (``samples.m_lim`` when the target drops below it)."""
    res = float((cfg.get("bvalue") or {}).get("resolution", 0.1))
    s = cfg["samples"]
    ext = catalog_extent(events, res)
    la0, la1 = _pad(*ext.box[:2], res, MIN_CELLS)
    lo0, lo1 = _pad(*ext.box[2:], res, MIN_CELLS)
    n_cells = min(int(round((la1 - la0) / res)), int(round((lo1 - lo0) / res)))
    patches = [p for p in valid_patches(n_cells, int(s["lookback"])) if p <= int(s["patch"])]
    n_days = int((ext.last_day - ext.first_day).days) + 1
    dev_day = int(s["lookback"]) + int(0.75 * max(n_days - int(s["lookback"]), 0))
    dev_end = ext.first_day + pd.Timedelta(days=min(dev_day, n_days - 1))
    lat, lon = events["latitude"].to_numpy(float), events["longitude"].to_numpy(float)
    mw = events["mw"].to_numpy(float)[(lat >= la0) & (lat <= la1) & (lon >= lo0) & (lon <= lo1)]
    target = float(s["eq_min_mag"])
    if np.count_nonzero(mw >= target - 1e-9) < MIN_TARGETS:
        target = _suggest_target(mw) or target
    meta = (events.attrs.get("espb") or {}).get("ingest_config") or {}
    f, m = meta.get("filters", {}), meta.get("magnitudes", {})
    spec = RegionSpec(
        name=name,
        description=f"derived by region=auto from {ext.n_events:,} events",
        box=[la0, la1, lo0, lo1],
        start=f"{ext.first_day:%Y-%m-%d}",
        end=f"{ext.last_day:%Y-%m-%d}",
        dev_end=f"{dev_end:%Y-%m-%d}",
        target_mag=target,
        patch=patches[-1] if patches else 2,
        mc=ext.mc,
        ingest=RegionIngest(
            ml_relation=(m.get("family_relation") or {}).get("ML"),
            max_depth_km=f.get("max_depth_km"),
            min_mw=f.get("min_mw"),
        ),
    )
    extra = {}
    if float(s["m_lim"]) > target:
        extra["samples.m_lim"] = round(target - 0.1, 1)
    spec.validate()
    return spec, extra


def describe(spec: RegionSpec, extra: dict, n_outside: int | None = None) -> list[str]:
    """What ``region=auto`` chose, in words."""
    b = spec.box
    out = [
        f"region=auto chose: box {b[0]:g}-{b[1]:g} N, {b[2]:g}-{b[3]:g} E; days "
        f"{spec.start}..{spec.end}; development to {spec.dev_end}; EQ targets Mw >= "
        f"{spec.target_mag:g}; patch {spec.patch}" + "".join(f"; {k}={v}" for k, v in extra.items())
    ]
    mc = f"{spec.mc:.1f}" if spec.mc is not None else "none found"
    out.append(
        f"  suggested completeness Mc {mc} (seismostats b-value stability; not applied: "
        "ingest with --min-mw to cut)"
    )
    return out


def region_yaml(spec: RegionSpec, extra: dict, source: str = "") -> str:
    """``spec`` as a region preset (conf/region/<name>.yaml) with its mapping onto the run
    config, ready for ``region=<name>``."""
    node = {
        "name": spec.name,
        "description": spec.description,
        "catalog": source or spec.catalog,
        "box": [float(x) for x in spec.box],
        "start": spec.start,
        "end": spec.end,
        "dev_end": spec.dev_end,
        "target_mag": float(spec.target_mag),
        "patch": int(spec.patch),
        "mc": spec.mc,
        "ingest": vars(spec.ingest),
        "annotations": [vars(a) for a in spec.annotations],
    }
    mapping: dict[str, dict[str, Any]] = {}
    for key, dotted in TARGETS.items():
        group, leaf = dotted.split(".")
        mapping.setdefault(group, {})[leaf] = f"${{region.{key}}}"
    for dotted, v in extra.items():
        group, leaf = dotted.split(".")
        mapping.setdefault(group, {})[leaf] = v
    head = (
        "# @package _global_\n"
        f"# Region '{spec.name}', derived by `espb region auto` from {source or 'a catalog'}.\n"
        "# Edit freely; use it with region=" + spec.name + " (docs/regions.md).\n"
    )
    body = yaml.safe_dump({"region": node, **mapping}, sort_keys=False, allow_unicode=True)
    return head + body


def run_catalog(cfg: DictConfig, say: Callable[[str], None] = print) -> tuple[Path, pd.DataFrame]:
    """The event table of a composed run config (``catalog.path``, or its synthetic catalog,
    generated if absent) and its events."""
    from espb.catalog.schema import load_events
    from espb.catalog.source import catalog_path
    from espb.training.plan import _catalog_source

    path = catalog_path(_catalog_source(cfg.get("catalog")), str(cfg.out_dir), say)
    return path, load_events(path)


def _given(node: Any, key: str) -> bool:
    return node is not None and OmegaConf.select(node, key) is not None


def resolve_auto(cfg: DictConfig, say: Callable[[str], None] = print) -> DictConfig:
    """``cfg`` itself unless its region is ``auto``; then a copy with the region derived from
    its catalog (:func:`derive_region`; keys the user gave as ``region.<key>=...`` are kept),
    told through ``say`` and written to ``<out_dir>/regions/auto-<catalog>.yaml``."""
    node = cfg.get("region")
    if node is None or node.get("name") != "auto":
        return cfg
    out_dir = Path(str(cfg.out_dir))
    path, events = run_catalog(cfg, say)
    resolved = OmegaConf.to_container(cfg, resolve=True)
    spec, extra = derive_region(events, resolved)
    for key in TARGETS:
        if _given(node, key):
            setattr(spec, key, OmegaConf.to_container(node, resolve=True)[key])
    spec.validate()
    cfg = cfg.copy()
    with open_dict(cfg):
        cfg.region = OmegaConf.create(OmegaConf.to_container(OmegaConf.structured(spec)))
        for key, dotted in TARGETS.items():
            OmegaConf.update(cfg, dotted, getattr(spec, key), merge=False)
        for dotted, v in extra.items():
            OmegaConf.update(cfg, dotted, v, merge=False)
    for line in describe(spec, extra):
        say(line)
    keep = out_dir / "regions" / f"auto-{path.stem}.yaml"
    write_region_file(keep, region_yaml(spec, extra, str(path)), force=True)
    say(f"  kept as {keep}: copy it to conf/region/NAME.yaml (name: NAME) to use region=NAME")
    return cfg


def write_region_file(path: Path, text: str, force: bool = False) -> Path:
    """Write a region preset (atomically; an existing file only with ``force``)."""
    from espb.safeio import atomic_write

    path = Path(path)
    if path.exists() and not force:
        raise ConfigError(f"{path} exists; choose another --name / -o, or pass --force")
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as tmp:
        tmp.write_text(text)
    return path


def check_config(cfg: DictConfig, say: Callable[[str], None] = print, cube: bool = True) -> Check:
    """Every check of a composed run config on its catalog (:mod:`espb.training.check`): the
    preflight, then (``cube``: building or reading the cached cube, which the run reuses) the
    nEQ candidates and the schedule. Nothing is trained or logged."""
    from espb.bvalue.cache import cache_root
    from espb.catalog.source import catalog_path
    from espb.progress import Reporter
    from espb.samples.table import Samples
    from espb.training.check import preflight
    from espb.training.checkcube import complete
    from espb.training.inputs import RunCache, dev_end_day, load_cube
    from espb.training.plan import plan_run
    from espb.training.schedule import meta_epochs

    cfg = resolve_auto(cfg, say)
    plan = plan_run(cfg)
    rep, cache = Reporter(say=say), RunCache()
    path = catalog_path(plan.settings.catalog, plan.out_dir, say)
    events = cache.events(path)
    st = plan.settings
    chk = preflight(events, st.cube, st.samples, region_of(plan.resolved), with_mc=True)
    if not cube or chk.problems:
        return chk
    croot = cache_root(plan.cfg.get("cache_dir"))
    _, ds = load_cube(plan, events, rep, croot, cache.catalog_hash(path))
    samples = Samples.build(events, ds, st.samples)
    dev_end = dev_end_day(samples.grid, st.training.dev_end)
    table = samples.table(st.training.l_me, st.training.seed, dev_end)
    bounds = table.attrs["bounds"]
    mes = meta_epochs(table, bounds, st.training.warmup, dev_end)
    return complete(chk, samples, table, bounds, mes, st.training, events, st.cube, ds)


def compose_run_config(overrides: list[str]) -> DictConfig:
    """espb-train's config for ``overrides``, as Hydra composes it (no Hydra node)."""
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException

    from espb.paths import conf_dir

    try:
        with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
            return compose("train", overrides=list(overrides))
    except HydraException as exc:
        raise ConfigError(f"the settings {' '.join(overrides)}: {exc}") from exc


__all__ = [
    "MIN_CELLS",
    "TARGETS",
    "annotations_of",
    "check_config",
    "compose_run_config",
    "derive_region",
    "describe",
    "region_of",
    "region_yaml",
    "resolve_auto",
    "run_catalog",
    "write_region_file",
]
