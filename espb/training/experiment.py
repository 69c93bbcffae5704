"""One experiment, end to end: catalog -> cube -> samples -> (autoencoder) -> progressive training,
logged to MLflow. The Hydra entry point (``espb-train``) only composes the config and calls
:func:`run_experiment`; every step lives in its layer.

Run folder: ``<out_dir>/runs/<name>/<config hash>``, deterministic per configuration (no time
stamps), holding the resolved config, the checkpoint of the last completed meta-epoch, the
per-meta-epoch weights, the predictions table and the MLflow run id used to resume.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from omegaconf import DictConfig, OmegaConf

from espb import __version__
from espb.bvalue.cache import cache_root, get_cube
from espb.bvalue.config import CubeConfig
from espb.config import from_node
from espb.errors import ConfigError
from espb.models.ae_fit import (
    AEConfig,
    ae_key,
    fit_autoencoder,
    gather_maps,
    get_autoencoder,
    sample_map_index,
)
from espb.models.classifier import describe, layout_for, n_parameters
from espb.paths import REPO_ROOT
from espb.samples.config import SampleConfig
from espb.samples.table import Samples
from espb.training.blocks import BlockSource
from espb.training.config import ModelConfig, TrainConfig
from espb.training.loop import LoopResult, ProgressiveTrainer, make_fabric
from espb.training.schedule import meta_epochs
from espb.training.tracking import Tracker, default_uri, flatten, tracker_for

#: config keys that do not change a run's numbers (left out of the config hash)
VOLATILE = ("run", "tracking", "out_dir", "cache_dir", "hydra", "sweep")
#: the six factors of paper Table 1, logged under short names too
FACTORS = {
    "dr": "bvalue.dr",
    "dt": "bvalue.dt",
    "M_lim": "samples.m_lim",
    "loss": "training.loss",
    "l_ME": "training.l_me",
    "AE": "autoencoder.enabled",
}


@dataclass
class Reporter:
    """Where progress goes: ``say(line)`` and ``bar(name, done, total, text)``."""

    say: Callable[[str], None] = print
    bar: Callable[[str, int, int, str], None] = lambda name, done, total, text: None


@dataclass
class ExperimentResult:
    run_dir: Path
    run_id: str
    tracking_uri: str
    experiment: str
    records: list[dict]
    predictions: pd.DataFrame
    timing: dict
    completed: bool
    config: dict = field(default_factory=dict)
    tracker: Tracker | None = None
    #: the configuration had finished before: nothing was trained or logged
    already_done: bool = False


def config_hash(cfg: dict) -> str:
    sem = {k: v for k, v in cfg.items() if k not in VOLATILE}
    return hashlib.sha256(json.dumps(sem, sort_keys=True, default=str).encode()).hexdigest()[:16]


def git_commit() -> str:
    env = os.environ.get("ESPB_GIT_COMMIT")
    if env:
        return env
    try:
        out = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        return out + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def load_catalog(cat: dict, out_dir: Path, rep: Reporter) -> pd.DataFrame:
    """The event table: ``catalog.path`` (an espb Parquet table) or the synthetic catalog
    ``catalog.synthetic`` generated once into ``<out_dir>/catalogs/``."""
    from filelock import FileLock

    from espb.catalog.schema import load_events, save_events

    if cat.get("path"):
        return _load_memo(Path(cat["path"]), load_events)
    preset = cat.get("synthetic")
    if preset and not isinstance(preset, str):
        raise ConfigError(
            "catalog.synthetic must name a synthetic preset (demo, paper, smoke) or a YAML file, e.g. "
            "catalog.synthetic=paper; the catalog/synthetic and catalog/ingest folders of conf/ are not "
            "config groups of espb-train"
        )
    if not preset:
        raise ConfigError(
            "catalog: set catalog.path (an event table from `espb catalog ingest`) or catalog.synthetic"
        )
    seed, mode = int(cat.get("seed", 0)), cat.get("precursors", "planted")
    mode = (
        "null" if mode is None or str(mode).lower() in ("none", "null") else str(mode)
    )  # YAML null too
    d = out_dir / "catalogs"
    d.mkdir(parents=True, exist_ok=True)
    path = d / f"synthetic-{preset}-seed{seed}-{mode}.parquet"
    with FileLock(str(path) + ".lock"):
        if not path.exists():
            from espb.catalog.synthetic.config import load_synth_config
            from espb.catalog.synthetic.generate import synthesize

            rep.say(
                f"generating the synthetic catalog '{preset}' (seed {seed}, precursors {mode}) -> {path}"
            )
            scfg = load_synth_config(preset, [f"seed={seed}", f"precursors.mode={mode}"])
            res = synthesize(scfg, lambda msg: rep.say(f"  {msg}"))
            tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
            save_events(res.events, tmp, res.meta)
            os.replace(tmp, path)
            res.plants.to_parquet(path.with_name(path.stem + ".plants.parquet"), index=False)
    return _load_memo(path, load_events)


#: the last event table read in this process (sweep workers run many jobs on one catalog)
_MEMO: dict[tuple, pd.DataFrame] = {}
#: the last labelled samples built in this process, by (cube key, sample rules)
_SAMPLES_MEMO: dict[tuple, Samples] = {}


def _load_memo(path: Path, load: Callable[[Path], pd.DataFrame]) -> pd.DataFrame:
    st = path.stat()
    key = (str(path.resolve()), st.st_mtime_ns, st.st_size)
    if key not in _MEMO:
        _MEMO.clear()
        _MEMO[key] = load(path)
    return _MEMO[key].copy(deep=False)


def _dev_end_day(grid, dev_end: str) -> int:
    return int((pd.Timestamp(dev_end, tz="UTC") - grid.start) // pd.Timedelta(days=1))


def plan(cfg: DictConfig) -> dict[str, Any]:
    """The cheap part of :func:`prepare`: validated settings, the resolved config, its hash and
    the run folder (nothing loaded, nothing written)."""
    out_dir = Path(cfg.out_dir)
    cube_cfg = from_node(CubeConfig, cfg.bvalue, "bvalue")
    s_cfg = from_node(SampleConfig, cfg.samples, "samples")
    t_cfg = from_node(TrainConfig, cfg.training, "training")
    m_cfg = from_node(ModelConfig, cfg.model, "model")
    a_cfg = from_node(AEConfig, cfg.autoencoder, "autoencoder")
    try:
        layout_for(s_cfg.lookback, s_cfg.patch, m_cfg.layout)
    except ValueError as exc:
        raise ConfigError(f"samples/model: {exc}") from exc
    resolved = OmegaConf.to_container(cfg, resolve=True)
    resolved.pop("hydra", None)
    h = config_hash(resolved)
    name = str(cfg.get("name") or "run")
    return dict(
        cfg=cfg,
        resolved=resolved,
        hash=h,
        name=name,
        run_dir=out_dir / "runs" / name / h,
        out_dir=out_dir,
        cube_cfg=cube_cfg,
        s_cfg=s_cfg,
        t_cfg=t_cfg,
        m_cfg=m_cfg,
        a_cfg=a_cfg,
    )


def prepare(
    cfg: DictConfig, rep: Reporter, planned: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Everything before training: configs, catalog, cube, samples, schedule."""
    pl = planned or plan(cfg)
    resolved, h, name, run_dir, out_dir = (
        pl["resolved"],
        pl["hash"],
        pl["name"],
        pl["run_dir"],
        pl["out_dir"],
    )
    cube_cfg, s_cfg, t_cfg, m_cfg, a_cfg = (
        pl["cube_cfg"],
        pl["s_cfg"],
        pl["t_cfg"],
        pl["m_cfg"],
        pl["a_cfg"],
    )
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.yaml").write_text(OmegaConf.to_yaml(OmegaConf.create(resolved)))

    t0 = time.perf_counter()
    events = load_catalog(resolved["catalog"], out_dir, rep)
    rep.say(f"catalog: {len(events):,} events ({time.perf_counter() - t0:.1f} s)")
    croot = cache_root(cfg.get("cache_dir"))

    def cube_progress(done, total, text=""):
        rep.bar("cube", done, total, text)

    t0 = time.perf_counter()
    cube = get_cube(events, cube_cfg, croot, progress=cube_progress, on_wait=rep.say)
    ds = cube.open()
    rep.say(
        f"cube {cube.path.name}: {dict(ds.sizes)} ({'built' if cube.built else 'from cache'}, "
        f"{time.perf_counter() - t0:.1f} s)"
    )
    t0 = time.perf_counter()
    skey = (cube.key, repr(s_cfg))
    if skey not in _SAMPLES_MEMO:  # sweep workers: consecutive jobs share cube and sample rules
        _SAMPLES_MEMO.clear()
        _SAMPLES_MEMO[skey] = Samples.build(events, ds, s_cfg)
    samples = _SAMPLES_MEMO[skey]
    table = samples.table(t_cfg.l_me, t_cfg.seed)
    bounds = table.attrs["bounds"]
    dev_end = _dev_end_day(samples.grid, t_cfg.dev_end)
    mes = meta_epochs(table, bounds, t_cfg.warmup, dev_end)
    summ = samples.summary()
    rep.say(
        f"samples: {summ['n_eq']} EQ of {summ['n_eq_candidates']} events with Mw >= {s_cfg.eq_min_mag} "
        f"(dropped: {', '.join(f'{k[11:]} {v}' for k, v in summ.items() if k.startswith('eq_dropped_'))}); "
        f"nEQ pool {summ['n_neq_pool']:,}; {len(table)} samples in {len(bounds)} segments of {t_cfg.l_me} d; "
        f"{len(mes)} meta-epochs ({sum(m.phase == 'test' for m in mes)} in the test period) "
        f"({time.perf_counter() - t0:.1f} s)"
    )
    if not mes:
        raise ConfigError(
            f"no meta-epoch: {len(bounds)} segments of {t_cfg.l_me} d and {summ['n_eq']} EQ samples leave no "
            f"validation segment after the {t_cfg.warmup}-segment warm-up; use a longer cube, a shorter "
            "samples.lookback or training.l_me, or a lower training.warmup"
        )
    per_seg = table.groupby("segment")["label"].agg(["sum", "size"])
    missing = 2 * per_seg["sum"] - per_seg["size"]  # EQ minus nEQ per segment
    short, n_short = int(missing.sum()), int((missing > 0).sum())
    if short:
        rep.say(
            f"note: {n_short} segments had fewer nEQ candidates than EQ samples ({short} nEQ short in all)"
        )
    return dict(
        cfg=cfg,
        resolved=resolved,
        hash=h,
        name=name,
        run_dir=run_dir,
        out_dir=out_dir,
        events=events,
        cube=cube,
        ds=ds,
        samples=samples,
        table=table,
        bounds=bounds,
        mes=mes,
        dev_end=dev_end,
        cube_cfg=cube_cfg,
        s_cfg=s_cfg,
        t_cfg=t_cfg,
        m_cfg=m_cfg,
        a_cfg=a_cfg,
        cache_root=croot,
        n_short=short,
    )


def autoencoder_for(p: dict, device: torch.device, rep: Reporter):
    """The cached autoencoder of this (cube, sample rules, settings), trained if absent."""
    a_cfg: AEConfig = p["a_cfg"]
    s_cfg: SampleConfig = p["s_cfg"]
    pool = p["samples"].pool
    if a_cfg.period == "development":
        day_hi = p["dev_end"] + 1
    else:  # labels known before the first validation segment starts
        day_hi = p["mes"][0].lo - (s_cfg.exclusion_after if s_cfg.label_delay else 0)
    key = ae_key(p["cube"].key, s_cfg.key_fields(), a_cfg, day_hi)

    def build():
        rng = np.random.default_rng([a_cfg.seed, 0xAE])
        b = np.asarray(p["ds"]["b"].values)
        day, r, c = sample_map_index(
            pool, s_cfg.lookback, a_cfg.n_maps, min(day_hi, pool.shape[0]), rng
        )
        maps = gather_maps(b, day, r, c, s_cfg.patch)
        rep.say(
            f"training the autoencoder on {len(maps):,} maps ({a_cfg.period} period; key {key})"
        )

        def prog(epoch, tl, vl):
            rep.bar(
                "autoencoder",
                epoch + 1,
                a_cfg.max_epochs,
                f"epoch {epoch + 1} train {tl:.4g} val {vl:.4g}",
            )

        return fit_autoencoder(maps, a_cfg, device, prog)

    model, info, built = get_autoencoder(key, p["cache_root"], build, on_wait=rep.say)
    rep.say(
        f"autoencoder {key}: {'trained' if built else 'from cache'}, {info['epochs']} epochs, "
        f"held-out MSE {info['best_val_mse']:.4g}"
    )
    return model, key, info


def run_experiment(cfg: DictConfig, rep: Reporter | None = None) -> ExperimentResult:
    """Prepare, train (resuming if a checkpoint exists), log to MLflow; returns the records."""
    rep = rep or Reporter()
    pl = plan(cfg)
    run_dir: Path = pl["run_dir"]
    run_cfg = dict(pl["resolved"].get("run") or {})
    threads = run_cfg.get("threads")
    if threads:
        torch.set_num_threads(int(threads))
    force = bool(run_cfg.get("force", False))
    state_path = run_dir / "state.json"
    state = json.loads(state_path.read_text()) if state_path.exists() else {}

    def finished_before(run_id: str, where: str) -> ExperimentResult:
        rep.say(
            f"this configuration (hash {pl['hash']}) already finished: {where}, MLflow run {run_id}; "
            "nothing to do (run.force=true trains it again)"
        )
        records = (
            pd.read_csv(run_dir / "metrics.csv").to_dict("records")
            if (run_dir / "metrics.csv").exists()
            else []
        )
        pred_path = run_dir / "predictions.parquet"
        pred = pd.read_parquet(pred_path) if pred_path.exists() else pd.DataFrame()
        return ExperimentResult(
            run_dir,
            run_id,
            state.get("tracking_uri", uri),
            exp_name,
            records,
            pred,
            {},
            True,
            config=pl["resolved"],
            already_done=True,
        )

    tcfg = pl["resolved"]["tracking"]
    uri = tcfg.get("uri") or default_uri(pl["out_dir"])
    exp_name = tcfg.get("experiment") or f"espb-{pl['name']}"
    # "finished" is what MLflow says (tag espb_completed, set after a run's last artifact): a
    # run killed after its last meta-epoch but before its logging ended resumes from its
    # checkpoint (nothing is trained again) and completes its MLflow run
    tracker = tracker_for(tcfg, pl["out_dir"], pl["name"])
    if not force:
        done = tracker.find_finished(pl["hash"])
        if done is not None:
            return finished_before(
                done, f"in MLflow experiment '{exp_name}' ({uri}), run folder {run_dir}"
            )
    sweep = dict(pl["resolved"].get("sweep") or {})
    run_tags = dict(tcfg.get("tags") or {})
    if sweep.get("name"):
        parent = tracker.ensure_parent(str(sweep["name"]), lock_dir=pl["out_dir"] / "hydra")
        run_tags.update(
            {"mlflow.parentRunId": parent, "sweep_name": str(sweep["name"]), "sweep_role": "child"}
        )
    if force:
        for f in ("checkpoint.pt", "state.json"):
            (run_dir / f).unlink(missing_ok=True)
        state = {}

    p = prepare(cfg, rep, pl)
    t_cfg: TrainConfig = p["t_cfg"]
    s_cfg: SampleConfig = p["s_cfg"]

    fabric = make_fabric(t_cfg)
    device = fabric.device
    source = BlockSource(
        np.asarray(p["ds"]["b"].values), p["table"], s_cfg.lookback, s_cfg.patch, device
    )
    ae_tag = ""
    if p["a_cfg"].enabled:
        ae, ae_tag, _ = autoencoder_for(p, device, rep)
        source.attach_autoencoder(ae, progress=lambda d, n: rep.bar("residual blocks", d, n, ""))

    run_id = tracker.start(
        state.get("run_id"), run_name=f"{p['name']}-{p['hash'][:8]}", tags=run_tags
    )
    if run_tags:  # a resumed run too
        tracker.set_tags(run_tags)
    state.update(
        {"run_id": run_id, "tracking_uri": uri, "experiment": exp_name, "config_hash": p["hash"]}
    )
    state_path.write_text(json.dumps(state, indent=1))
    flat = flatten(p["resolved"])
    params = {k: v for k, v in flat.items() if not k.startswith(("run.", "tracking."))}
    params.update({short: OmegaConf.select(cfg, long) for short, long in FACTORS.items()})
    tracker.log_params(params)
    tracker.set_tags(
        {
            "config_hash": p["hash"],
            "catalog_hash": p["cube"].catalog_hash,
            "cube_key": p["cube"].key,
            "autoencoder_key": ae_tag or "off",
            "espb_version": __version__,
            "git_commit": git_commit(),
            "device": str(device),
            "preset": p["name"],
        }
    )
    tracker.log_artifact(run_dir / "config.yaml")

    wdir = run_dir / "weights"
    wdir.mkdir(exist_ok=True)

    def on_me(me, rec, pred, state_dict):
        torch.save(state_dict, wdir / f"me_{me.index:04d}.pt")  # logged as artifacts at the end
        tracker.log_metrics({k: v for k, v in rec.items() if "/" in k}, step=me.index)

    def prog(done, total, rec):
        p_ = "test" if rec["phase"] == "test" else "val"
        rep.bar(
            "meta-epochs",
            done,
            total,
            f"{rec['date']} acc {rec[f'{p_}/accuracy']:.2f} cum {rec[f'{p_}/acc_cumulative']:.3f}",
        )

    module_kwargs = dict(lookback=s_cfg.lookback, patch=s_cfg.patch, **asdict(p["m_cfg"]))
    trainer = ProgressiveTrainer(
        p["table"],
        p["mes"],
        source,
        t_cfg,
        module_kwargs,
        fabric,
        run_dir,
        p["samples"].grid.date,
        on_meta_epoch=on_me,
        progress=prog,
    )
    model = trainer.module.model
    rep.say(f"classifier: {n_parameters(model)} parameters, layout {model.layout}, device {device}")
    (run_dir / "model.txt").write_text(describe(model) + "\n")
    stop = run_cfg.get("stop_after")
    if stop is not None:
        t_cfg.max_meta_epochs = int(stop)
    res: LoopResult = trainer.run(resume=bool(run_cfg.get("resume", True)))
    if res.resumed_from >= 0:
        rep.say(f"resumed from the checkpoint after meta-epoch {res.resumed_from - 1}")
        # records logged before a kill may be missing from MLflow: log any step not there yet
        have = tracker.logged_steps("train/n_samples")
        for rec in res.records:
            if rec["meta_epoch"] not in have:
                tracker.log_metrics(
                    {k: v for k, v in rec.items() if "/" in k}, step=rec["meta_epoch"]
                )
    state.update(
        {
            "completed": res.completed,
            "meta_epochs_done": len(res.records),
            "n_meta_epochs": len(p["mes"]),
        }
    )
    state_path.write_text(json.dumps(state, indent=1))
    if len(res.predictions):
        pred = res.predictions.copy()
        grid = p["samples"].grid
        pred["lat"] = grid.lat0 + (pred["row"] + 0.5) * grid.res
        pred["lon"] = grid.lon0 + (pred["col"] + 0.5) * grid.res
        pred.to_parquet(run_dir / "predictions.parquet", index=False)
    pd.DataFrame(res.records).to_csv(run_dir / "metrics.csv", index=False)
    tracker.log_artifacts(wdir, "weights")  # one call: per-meta-epoch uploads cost ~0.1 s each
    return ExperimentResult(
        run_dir,
        run_id,
        uri,
        exp_name,
        res.records,
        res.predictions,
        res.timing,
        res.completed,
        config=p["resolved"],
        tracker=tracker,
    )
