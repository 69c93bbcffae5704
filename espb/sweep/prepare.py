"""``espb sweep prepare``: build a sweep's shared work up front, in parallel: every distinct
b-value cube first, then every distinct autoencoder (paper: 12 cubes and 36 autoencoders).
The caches' file locks make this safe next to running jobs; the jobs then only read."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence

from omegaconf import DictConfig

from espb.progress import quiet


def build_cube_task(cfg: DictConfig) -> dict:
    """Catalog and cube of one job config (cached: built only if absent)."""
    from espb.bvalue.cache import cache_root
    from espb.training.inputs import RunCache, load_cube, load_events
    from espb.training.plan import plan_run

    t0 = time.perf_counter()
    plan = plan_run(cfg)
    rep = quiet()
    events = load_events(plan, rep, RunCache())
    cube, _ = load_cube(plan, events, rep, cache_root(cfg.get("cache_dir")))
    c = plan.settings.cube
    return {
        "kind": "cube",
        "key": cube.key,
        "built": cube.built,
        "seconds": time.perf_counter() - t0,
        "what": f"dr {c.dr} dt {c.dt}",
    }


def build_ae_task(cfg: DictConfig) -> dict:
    """The autoencoder of one job config (cached: trained only if absent), on the GPU when
    there is one (the paper-scale fit), else on one CPU thread per process."""
    import torch

    from espb.models.determinism import configure_determinism
    from espb.training.autoencoder import autoencoder_for
    from espb.training.inputs import build_inputs
    from espb.training.plan import plan_run

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.type == "cpu":
        torch.set_num_threads(1)
    else:  # the CUDA settings of make_fabric (docs/performance.md "Determinism on CUDA")
        configure_determinism(device, bool(cfg.training.deterministic))
    t0 = time.perf_counter()
    rep = quiet()
    plan = plan_run(cfg)
    _, info = autoencoder_for(plan, build_inputs(plan, rep), device, rep)
    s = plan.settings
    return {
        "kind": "autoencoder",
        "key": info.key,
        "built": None,
        "seconds": time.perf_counter() - t0,
        "what": f"dr {s.cube.dr} dt {s.cube.dt} M_lim {s.samples.m_lim}",
        "epochs": info.epochs,
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
