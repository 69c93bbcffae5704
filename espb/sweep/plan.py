"""What a sweep file asks for, computed the way Hydra's basic sweeper does it: the list of jobs
(each a list of overrides), the composed config of each job, and the shared work (the distinct
cubes and autoencoders) that ``espb sweep prepare`` builds up front."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from espb.errors import ConfigError
from espb.paths import REPO_ROOT, conf_dir

SWEEPS_DIR = REPO_ROOT / "sweeps"


def _is_hydra_sweep(f: Path) -> bool:
    return "\nhydra:" in "\n" + f.read_text()


def sweep_file(sweep: str | Path) -> Path:
    """``paper_432`` -> ``sweeps/paper_432.yaml``; a path to a YAML file is taken as is."""
    p = Path(sweep)
    cand = (
        p.resolve()
        if p.suffix in (".yaml", ".yml") and p.exists()
        else SWEEPS_DIR / f"{sweep}.yaml"
    )
    if cand.exists():
        if not _is_hydra_sweep(cand):
            raise ConfigError(
                f"{cand} is not a Hydra sweep file (no hydra: node); an Optuna study file runs "
                f"with: espb optuna run {cand}"
            )
        return cand
    known = sorted(f.stem for f in SWEEPS_DIR.glob("*.yaml") if _is_hydra_sweep(f))
    raise ConfigError(
        f"sweep {sweep!r}: no file {cand}; known sweeps: {', '.join(known)} (or give a path to a YAML file)"
    )


def compose_sweep(
    sweep: str | Path, overrides: Sequence[str] = (), hydra_node: bool = True
) -> DictConfig:
    """The sweep file composed with ``overrides`` (non-sweep values; the Hydra node included)."""
    from hydra import compose, initialize_config_dir

    f = sweep_file(sweep)
    with initialize_config_dir(config_dir=str(f.parent), version_base="1.3"):
        return compose(
            f.stem,
            overrides=[f"hydra.searchpath=[file://{conf_dir()}]", *overrides],
            return_hydra_config=hydra_node,
        )


def split_overrides(overrides: Sequence[str]) -> tuple[list[str], list[str]]:
    """(sweep overrides with several values, plain overrides)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parsed = OverridesParser.create().parse_overrides(list(overrides))
    sweeps = [o.input_line for o in parsed if o.is_sweep_override()]
    plain = [o.input_line for o in parsed if not o.is_sweep_override()]
    return sweeps, plain


def sweep_jobs(sweep: str | Path, overrides: Sequence[str] = ()) -> list[list[str]]:
    """Every job of the multirun ``espb-train -m --config-dir sweeps --config-name SWEEP
    OVERRIDES``: the sweep file's ``hydra.sweeper.params`` with the command line's overrides
    (a key given on the command line replaces the file's values, keeping its place), expanded by
    Hydra's own ``BasicSweeper.split_arguments`` (the last factor varies fastest)."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser

    sweeps, plain = split_overrides(overrides)
    cfg = compose_sweep(sweep, plain)
    params = dict(OmegaConf.to_container(cfg.hydra.sweeper.params or {}, resolve=False))
    lines = [f"{k}={v}" for k, v in params.items()] + list(overrides)  # as BasicSweeper.sweep
    parsed = OverridesParser.create().parse_overrides(lines)
    batches = BasicSweeper.split_arguments(parsed, None)
    return [list(job) for batch in batches for job in batch]


def effective_grid(params: dict, task_overrides: Sequence[str]) -> dict[str, str]:
    """The sweep's factors as run: the file's values, replaced by the command line's."""
    grid = {str(k): str(v) for k, v in params.items()}
    for o in task_overrides:
        k, _, v = o.partition("=")
        if k in grid:
            grid[k] = v
    return grid


def n_configs(grid: dict[str, str]) -> int:
    n = 1
    for v in grid.values():
        n *= len(str(v).split(","))
    return n


def job_config(sweep: str | Path, job: Sequence[str], overrides: Sequence[str] = ()) -> DictConfig:
    """The composed config one job runs (without the Hydra node)."""
    _, plain = split_overrides(overrides)
    cfg = compose_sweep(sweep, [*plain, *job], hydra_node=False)
    return cfg


def shared_work(configs: Sequence[DictConfig]) -> tuple[list[DictConfig], list[DictConfig]]:
    """One representative job config per distinct cube, and per distinct autoencoder (configs
    with the autoencoder on; a time-forward AE also depends on the meta-epoch length)."""
    cubes: dict[str, DictConfig] = {}
    aes: dict[str, DictConfig] = {}
    for c in configs:
        r = OmegaConf.to_container(c, resolve=True)
        ck = repr((r["catalog"], r["bvalue"], r.get("cache_dir"), r["out_dir"]))
        cubes.setdefault(ck, c)
        if r["autoencoder"].get("enabled"):
            extra = (
                r["training"]["l_me"] if r["autoencoder"].get("period") == "time_forward" else None
            )
            ak = repr(
                (
                    ck,
                    r["samples"],
                    r["autoencoder"],
                    r["training"]["dev_end"],
                    r["training"]["warmup"],
                    extra,
                )
            )
            aes.setdefault(ak, c)
    return list(cubes.values()), list(aes.values())


def grid_product(grid: dict[str, str]) -> list[dict[str, str]]:
    keys = list(grid)
    return [
        dict(zip(keys, vals, strict=True))
        for vals in itertools.product(*(grid[k].split(",") for k in keys))
    ]
