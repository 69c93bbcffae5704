"""Seed replicates in one run (``training.seeds``; docs/training.md "Seed replicates").

The paper trains one seed per configuration. ``training.seeds=[0,1,2]`` trains the same
configuration with each initial-weight seed in the list: every replicate is a configuration of
its own (``training.init_seed = s``; its own config hash, run folder and MLflow run, a child of
the sweep's parent run like any other), and the replicates are trained together, on the same
batches, as one fused model (:class:`espb.training.loop.ProgressiveTrainer` with ``replicas``).
The data seed ``training.seed`` (nEQ draws, label shuffle, batch order) is shared, so the
replicates differ by their initial weights only, and replicate ``s`` computes what a separate
run ``training.init_seed=s`` computes. The replicate whose seed is ``training.seed`` is the
plain run (same config hash), so a sweep re-run with seeds re-uses its finished runs.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Sequence
from contextlib import ExitStack

from omegaconf import DictConfig, open_dict

from espb.errors import ConfigError
from espb.faults import failpoint
from espb.progress import Reporter
from espb.tracking import Tracker, tracker_for
from espb.training.autoencoder import block_source
from espb.training.inputs import RunCache, build_inputs, input_identity
from espb.training.lock import run_lock
from espb.training.loop import make_fabric
from espb.training.plan import RunPlan, plan_run
from espb.training.tracked import open_tracked_run


def replicate_configs(cfg: DictConfig) -> list[DictConfig]:
    """One config per seed of ``training.seeds``: ``training.seeds`` cleared and
    ``training.init_seed`` the replicate's seed (None for the seed equal to ``training.seed``,
    which is the plain run)."""
    seeds = [int(s) for s in cfg.training.seeds]
    base = int(cfg.training.seed)
    out = []
    for s in seeds:
        c = copy.deepcopy(cfg)
        with open_dict(c):
            c.training.seeds = None
            c.training.init_seed = None if s == base else s
        out.append(c)
    return out


def run_replicates(
    cfg: DictConfig,
    rep: Reporter,
    cache: RunCache,
    finishers: Sequence = (),
    t0: float | None = None,
):
    """Run (or resume, or skip the finished ones of) the seed replicates of ``cfg``; the
    outcome of the first, with every replicate's in ``.replicates``."""
    from espb.training.run import _train_and_log, finished_before

    t0 = time.perf_counter() if t0 is None else t0
    plans = [plan_run(c) for c in replicate_configs(cfg)]
    if len({p.hash for p in plans}) != len(plans):
        raise ConfigError(
            f"training.seeds={list(cfg.training.seeds)}: two replicates are the same run"
        )
    trackers = [tracker_for(p.settings.tracking, p.out_dir, p.name) for p in plans]
    outcomes = {}
    with ExitStack() as locks:
        for p in plans:
            locks.enter_context(run_lock(p.run_dir, p.settings.run.on_lock, rep.say))
        ident = input_identity(plans[0], rep, cache)
        todo = []
        for p, tr in zip(plans, trackers, strict=True):
            done = finished_before(p, tr, ident, rep, t0)
            if done is not None:
                outcomes[p.hash] = done
            else:
                todo.append((p, tr))
        if len(todo) == 1:
            p, tr = todo[0]
            outcomes[p.hash] = _train_and_log(p, tr, ident, rep, cache, finishers, t0)
        elif todo:
            for o in _train_fused(todo, ident, rep, cache, finishers, t0):
                outcomes[o.plan.hash] = o
    ordered = [outcomes[p.hash] for p in plans]
    ordered[0].replicates = ordered
    return ordered[0]


def _train_fused(
    todo: list[tuple[RunPlan, Tracker]],
    ident: dict[str, str],
    rep: Reporter,
    cache: RunCache,
    finishers: Sequence,
    t0: float,
):
    """Steps 3-7 of :func:`espb.training.run.run_one` for several replicates at once: inputs,
    block source and autoencoder built once, one MLflow run each, trained fused."""
    from espb.training.run import conclude, prepare_folder, train_replicates, write_state

    states = [prepare_folder(p, tr, ident) for p, tr in todo]
    plan0 = todo[0][0]
    inputs = build_inputs(plan0, rep, cache)
    failpoint("after_inputs")
    fabric = make_fabric(plan0.settings.training)
    source, ae = block_source(plan0, inputs, fabric.device, rep)
    run_ids = []
    for (p, tr), st in zip(todo, states, strict=True):
        run_ids.append(open_tracked_run(p, inputs, tr, st, ae, str(fabric.device)))
        st.update(ident)
        write_state(p, st)
    failpoint("after_open_run")
    try:
        results = train_replicates(todo, inputs, source, fabric, rep, ident)
    except KeyboardInterrupt:
        for _, tr in todo:
            tr.end("KILLED")
        raise
    return [
        conclude(p, tr, st, inputs, res, rid, fabric, ae, finishers, t0)
        for (p, tr), st, res, rid in zip(todo, states, results, run_ids, strict=True)
    ]
