"""``espb sweep prepare``: build a sweep's shared work up front, in parallel: every distinct
b-value cube first, then every distinct autoencoder (paper: 12 cubes and 36 autoencoders).
The caches' file locks make this safe next to running jobs; the jobs then only read."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from omegaconf import DictConfig


def _quiet_reporter():
    from espb.training.experiment import Reporter

    return Reporter(say=lambda line: None)


def build_cube_task(cfg: DictConfig) -> dict:
    """Catalog and cube of one job config (cached: built only if absent)."""
    from espb.bvalue.cache import cache_root, get_cube
    from espb.training.experiment import load_catalog, plan

    t0 = time.perf_counter()
    pl = plan(cfg)
    events = load_catalog(pl["resolved"]["catalog"], Path(cfg.out_dir), _quiet_reporter())
    cube = get_cube(events, pl["cube_cfg"], cache_root(cfg.get("cache_dir")))
    return {
        "kind": "cube",
        "key": cube.key,
        "built": cube.built,
        "seconds": time.perf_counter() - t0,
        "what": f"dr {pl['cube_cfg'].dr} dt {pl['cube_cfg'].dt}",
    }


def build_ae_task(cfg: DictConfig) -> dict:
    """The autoencoder of one job config (cached: trained only if absent), on the GPU when
    there is one (the paper-scale fit), else on one CPU thread per process."""
    import torch

    from espb.training.experiment import autoencoder_for, prepare

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.type == "cpu":
        torch.set_num_threads(1)
    t0 = time.perf_counter()
    rep = _quiet_reporter()
    p = prepare(cfg, rep)
    _, key, info = autoencoder_for(p, device, rep)
    return {
        "kind": "autoencoder",
        "key": key,
        "built": None,
        "seconds": time.perf_counter() - t0,
        "what": f"dr {p['cube_cfg'].dr} dt {p['cube_cfg'].dt} M_lim {p['s_cfg'].m_lim}",
        "epochs": info.get("epochs"),
    }


def prepare_shared(
    cube_cfgs: Sequence[DictConfig],
    ae_cfgs: Sequence[DictConfig],
    n_jobs: int | None = None,
    on_done: Callable[[dict, int, int], None] | None = None,
) -> list[dict]:
    """Build the cubes (in parallel), then the autoencoders (in parallel, each needs its cube).
    ``n_jobs`` None: one process per core."""
    from joblib import Parallel, delayed

    n_jobs = n_jobs or os.cpu_count() or 1
    results: list[dict] = []
    for tasks, fn in ((cube_cfgs, build_cube_task), (ae_cfgs, build_ae_task)):
        if not tasks:
            continue
        par = Parallel(
            n_jobs=min(n_jobs, len(tasks)),
            prefer="processes",
            return_as="generator_unordered",
            batch_size=1,
        )
        for i, res in enumerate(par(delayed(fn)(c) for c in tasks)):
            results.append(res)
            if on_done is not None:
                on_done(res, i + 1, len(tasks))
    return results
