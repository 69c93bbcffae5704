"""A finished run read back from its folder (``<out_dir>/runs/<name>/<hash>/``): its plan and
its inputs, exactly as the run had them. What the forecast layer and the run diagnostics read.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from omegaconf import OmegaConf

from espb.errors import EspbError
from espb.progress import Reporter
from espb.training.inputs import RunCache, RunInputs, build_inputs
from espb.training.plan import RunPlan, plan_run


def read_run_config(run_dir: str | Path) -> dict:
    """The resolved config of the run in ``run_dir`` (its ``config.yaml``)."""
    p = Path(run_dir) / "config.yaml"
    if not p.is_file():
        raise EspbError(
            f"{run_dir}: no config.yaml; pass a run folder (outputs/runs/<name>/<config hash>/)"
        )
    try:
        cfg = yaml.safe_load(p.read_text())
    except yaml.YAMLError as exc:
        raise EspbError(f"{p}: not valid YAML ({exc}); restore it from the run") from exc
    for key in ("samples", "training", "bvalue", "catalog"):
        if not isinstance(cfg, dict) or not isinstance(cfg.get(key), dict):
            raise EspbError(f"{p}: the section '{key}' is missing; is this an espb run folder?")
    return cfg


def plan_of_folder(run_dir: str | Path, cfg: dict | None = None) -> RunPlan:
    """The plan of the run in ``run_dir``. ``out_dir`` is the folder's own
    (``<out_dir>/runs/<name>/<hash>``), so a moved output tree still finds its catalog; the
    plan's ``run_dir`` is ``run_dir`` itself."""
    run_dir = Path(run_dir).resolve()
    cfg = dict(cfg or read_run_config(run_dir))
    cfg["out_dir"] = str(run_dir.parents[2])
    plan = plan_run(OmegaConf.create(cfg))
    plan.run_dir = run_dir
    return plan


def inputs_of_folder(
    run_dir: str | Path, rep: Reporter | None = None, cache: RunCache | None = None
) -> tuple[RunPlan, RunInputs]:
    """The plan and the inputs (catalog, cube, samples, schedule) of the run in ``run_dir``."""
    plan = plan_of_folder(run_dir)
    return plan, build_inputs(plan, rep or Reporter(say=lambda s: None), cache)
