"""The plan of one run: its validated, typed settings, its identity and its folder. Cheap:
nothing is loaded or written (``espb sweep prepare`` and the tests plan thousands of runs).

Run folder: ``<out_dir>/runs/<name>/<config hash>``, deterministic per configuration (no time
stamps), holding the resolved config, the checkpoint of the last completed meta-epoch, the
per-meta-epoch weights, the predictions table and ``state.json`` (the MLflow run to resume).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from espb.bvalue.config import CubeConfig
from espb.catalog.source import CatalogSource
from espb.config import from_node
from espb.errors import ConfigError
from espb.models.classifier import layout_for
from espb.models.config import AEConfig, ModelConfig
from espb.samples.config import SampleConfig
from espb.tracking import TrackingConfig
from espb.training.config import TrainConfig
from espb.training.identity import config_hash

#: how far a run trains: the whole schedule, or the development period only
UNTIL = ("end", "dev_end")


@dataclass
class RunOptions:
    """The ``run`` node: how this invocation runs; none of it changes the numbers.

    - ``resume``: continue from the last completed meta-epoch if a checkpoint exists;
    - ``force``: discard a previous checkpoint of this configuration and start over;
    - ``stop_after``: stop after this many meta-epochs (a later call resumes);
    - ``progress``: progress bars on a terminal; ``threads``: torch CPU threads (None: torch's
      default; parallel sweeps set 1);
    - ``on_lock``: when another process runs this configuration: ``fail`` (exit 2, naming it)
      or ``wait`` (then skip it if it finished; sweep files set this);
    - ``until``: ``end`` (every meta-epoch) or ``dev_end`` (stop after the development
      period: the paper's parameter search; ``espb sweep continue`` later resumes the selected
      configurations through the test period, in the same run);
    - ``report``: write the run report (``espb report run``, docs/diagnostics.md) into
      ``<run_dir>/report/`` at the end and log it to MLflow (espb-train wires it)."""

    resume: bool = True
    force: bool = False
    stop_after: int | None = None
    progress: bool = True
    threads: int | None = None
    on_lock: str = "fail"
    until: str = "end"
    report: bool = False

    def validate(self) -> None:
        if self.until not in UNTIL:
            raise ConfigError(f"run.until={self.until!r}; use one of {list(UNTIL)}")
        from espb.training.lock import ON_LOCK

        if self.on_lock not in ON_LOCK:
            raise ConfigError(f"run.on_lock={self.on_lock!r}; use one of {list(ON_LOCK)}")
        if self.threads is not None and self.threads < 1:
            raise ConfigError(f"run.threads={self.threads} must be >= 1 (or null)")
        if self.stop_after is not None and self.stop_after < 0:
            raise ConfigError(f"run.stop_after={self.stop_after} must be >= 0 (or null)")


@dataclass
class RunSettings:
    """The typed config groups of a run, one per layer."""

    catalog: CatalogSource
    cube: CubeConfig
    samples: SampleConfig
    model: ModelConfig
    autoencoder: AEConfig
    training: TrainConfig
    tracking: TrackingConfig
    run: RunOptions


@dataclass
class RunPlan:
    """One configuration, planned: ``resolved`` is the config as run (interpolations resolved,
    no Hydra node), ``hash`` its identity (:func:`espb.training.identity.config_hash`)."""

    cfg: DictConfig
    resolved: dict[str, Any]
    hash: str
    name: str
    out_dir: Path
    run_dir: Path
    settings: RunSettings
    #: the sweep this run is a child of (``sweep.name``), or None
    sweep: str | None = None

    @property
    def experiment(self) -> str:
        return self.settings.tracking.experiment or f"espb-{self.name}"


def _catalog_source(node: Any) -> CatalogSource:
    syn = node.get("synthetic") if node is not None else None
    if syn is not None and not isinstance(syn, str):
        raise ConfigError(
            "catalog.synthetic must name a synthetic preset (demo, paper, smoke) or a YAML file, "
            "e.g. catalog.synthetic=paper; the catalog presets are not config groups of espb-train"
        )
    return from_node(CatalogSource, node, "catalog")


def settings_of(cfg: DictConfig | dict) -> RunSettings:
    """Every config group of ``cfg`` (interpolations resolved) through its schema (a
    ConfigError names a bad key)."""
    if isinstance(cfg, DictConfig):
        cfg = OmegaConf.to_container(cfg, resolve=True)
    cfg = OmegaConf.create(cfg)
    s = RunSettings(
        catalog=_catalog_source(cfg.get("catalog")),
        cube=from_node(CubeConfig, cfg.bvalue, "bvalue"),
        samples=from_node(SampleConfig, cfg.samples, "samples"),
        model=from_node(ModelConfig, cfg.model, "model"),
        autoencoder=from_node(AEConfig, cfg.autoencoder, "autoencoder"),
        training=from_node(TrainConfig, cfg.training, "training"),
        tracking=from_node(TrackingConfig, cfg.get("tracking"), "tracking"),
        run=from_node(RunOptions, cfg.get("run"), "run"),
    )
    try:
        layout_for(s.samples.lookback, s.samples.patch, s.model.layout)
    except ValueError as exc:
        raise ConfigError(f"samples/model: {exc}") from exc
    if s.run.stop_after is not None:
        s.training.max_meta_epochs = int(s.run.stop_after)
    return s


def plan_run(cfg: DictConfig) -> RunPlan:
    """Validate ``cfg`` and compute the run's identity and folder (nothing loaded or written)."""
    resolved = OmegaConf.to_container(cfg, resolve=True)
    resolved.pop("hydra", None)
    settings = settings_of(resolved)
    h = config_hash(resolved)
    name = str(cfg.get("name") or "run")
    out_dir = Path(cfg.out_dir)
    sweep = (resolved.get("sweep") or {}).get("name")
    return RunPlan(
        cfg=cfg,
        resolved=resolved,
        hash=h,
        name=name,
        out_dir=out_dir,
        run_dir=out_dir / "runs" / name / h,
        settings=settings,
        sweep=str(sweep) if sweep else None,
    )
