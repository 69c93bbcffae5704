"""The report steps that cost more than the others: Figure 6 (every snapshot scored on all
later validation data), Figure B.3 (Mc estimates; cached per catalog, region and periods, since
every run on one catalog shares them) and Figure B.5 (one nEQ pool per setting)."""

from __future__ import annotations

import hashlib
import json

import pandas as pd

from espb.evaluation.diagnostics import completeness, neq_pool, pool_grid, snapshots
from espb.evaluation.diagnostics.steps import Context, Figured, figure
from espb.evaluation.diagnostics.weights import load_snapshots
from espb.progress import Reporter


@figure("fig06_snapshots", "Figure 6 / E.13", "every snapshot on all later validation data")
def fig06(ctx: Context, rep: Reporter) -> Figured:
    """Figure 6 with the run's block source (residual blocks when its autoencoder is on, from
    the autoencoder cache) on the run's training device."""
    from espb.training.autoencoder import block_source
    from espb.training.loop import make_fabric
    from espb.training.module import BlockClassifier

    plan = ctx.run.plan
    s_cfg, t_cfg = plan.settings.samples, plan.settings.training
    device = make_fabric(t_cfg).device
    source, _ = block_source(plan, ctx.inputs, device, rep)
    states = ctx.extra.get("states")
    if states is None:
        mes, st = load_snapshots(ctx.run.weights)
        states = dict(zip(mes, st, strict=True))
    kwargs = dict(lookback=s_cfg.lookback, patch=s_cfg.patch, **vars(plan.settings.model))

    def make_model():
        return BlockClassifier(
            loss=t_cfg.loss, lr=t_cfg.lr, weight_decay=t_cfg.weight_decay, **kwargs
        )

    pred = ctx.run.predictions
    data = snapshots.score_snapshots(states, make_model, source, pred, t_cfg.eval_batch_size)
    if data.self_check_max_diff > snapshots.SELF_CHECK_TOL:
        from espb.errors import EspbError

        raise EspbError(
            f"{ctx.run.run_dir}: snapshot j rescored on its own validation segment differs from "
            f"the run's recorded score by up to {data.self_check_max_diff:.3g}: the snapshots or "
            "the inputs do not belong to these predictions; re-run the configuration"
        )
    fig = snapshots.snapshot_figure(data, ctx.me_dates, ctx.annotations, ctx.dev_end)
    cost = pd.DataFrame(
        [
            {
                "snapshots": len(states),
                "samples": len(pred),
                "block_evaluations": data.n_evaluations,
                "seconds": data.seconds,
                "ms_per_evaluation": 1e3 * data.per_evaluation_s,
                "device": str(device),
                "lookback": s_cfg.lookback,
                "patch": s_cfg.patch,
                "autoencoder": plan.settings.autoencoder.enabled,
                "self_check_max_diff": data.self_check_max_diff,
            }
        ]
    )
    final = data.curves.groupby("snapshot")["acc_cumulative"].last()
    summ = (
        f"{len(states)} snapshots x later samples = {data.n_evaluations:,} block evaluations in "
        f"{data.seconds:.1f} s ({1e3 * data.per_evaluation_s:.2f} ms each, {device}); snapshot "
        f"j on its own segment reproduces the run's scores to {data.self_check_max_diff:.1g}; "
        f"final cumulative accuracy of the snapshots: median {final.median():.3f}, range "
        f"{final.min():.3f}-{final.max():.3f}; always-latest {data.latest['acc_cumulative'].iloc[-1]:.3f}"
    )
    return fig, {"curves": data.curves, "latest": data.latest, "cost": cost}, summ


def _mc_key(ctx: Context, start, end, method: str) -> str:
    cube = ctx.run.plan.settings.cube
    payload = {
        "catalog": ctx.inputs.cube.catalog_hash,
        "region": list(cube.region),
        "start": str(start),
        "dev_end": str(ctx.dev_end),
        "end": str(end),
        "method": method,
        "delta_m": cube.delta_m,
        "version": 1,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


@figure("figB3_completeness", "Figure B.3", "magnitude of completeness")
def figB3(ctx: Context) -> Figured:
    """Figure B.3 over the cube's region and days, split at the development end. The table
    depends only on the catalog, region, dates and method: it is cached under
    ``<cache>/diagnostics/`` so that the runs of a sweep compute it once."""
    cube = ctx.run.plan.settings.cube
    start, end = pd.Timestamp(cube.start), pd.Timestamp(cube.end)
    method = ctx.opts.mc_method
    path = ctx.cache_dir / "diagnostics" / f"mc-{_mc_key(ctx, start, end, method)}.csv"
    if path.is_file():
        table = pd.read_csv(path)
        how = "from the cache"
    else:
        table = completeness.completeness_table(
            ctx.inputs.events, cube.region, start, ctx.dev_end, end, method, cube.delta_m
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        table.to_csv(tmp, index=False)
        tmp.replace(path)
        how = "computed"
    fig = completeness.completeness_figure(table, cube.region)
    parts = [f"method: {completeness.METHOD_NAMES[method]} ({how})"]
    for p, name in (("dev", "development"), ("test", "test")):
        y = table[(table["period"] == p) & (table["kind"] == "year")]
        if len(y) and y["mc"].notna().any():
            parts.append(
                f"{name}: Mc by year {y['mc'].min():.1f}-{y['mc'].max():.1f} "
                f"(highest {int(y.loc[y['mc'].idxmax(), 'key'])})"
            )
    return fig, {"mc": table}, "; ".join(parts)


@figure("figB5_neq_grid", "Figure B.5", "nEQ availability per setting")
def figB5(ctx: Context, rep: Reporter, cache) -> Figured:
    vary = ctx.opts.pool_grid
    names = [k.rsplit(".", 1)[-1] for k in vary]
    configs = pool_grid.grid_configs(ctx.run.cfg, vary)
    grid = pool_grid.pool_maps_for(configs, names, rep, cache, ctx.opts.build_cube)
    fig = neq_pool.pool_grid_figure(grid)
    tot = grid.sum(dim=("lat", "lon")).to_dataframe(name="candidates").reset_index()
    summ = "candidate cell-days per setting: " + ", ".join(
        " ".join(f"{n}={r[n]}" for n in names) + f": {int(r['candidates']):,}"
        for _, r in tot.iterrows()
    )
    maps = grid.to_dataframe(name="n_candidate_days").reset_index()
    return fig, {"totals": tot, "maps": maps}, summ
