"""Hydra callback of the sweep files (``sweeps/*.yaml``): the MLflow parent run.

Before any job runs, ``on_multirun_start`` creates (or finds, when a sweep is re-run) the sweep's
parent run in the experiment its jobs log to, so the child runs (``sweep.name`` set) attach to
one parent. ``on_multirun_end`` marks it finished. It runs in the launching process only."""

from __future__ import annotations

from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf


def _tracker(config: DictConfig):
    from espb.tracking import tracker_for

    tracking = OmegaConf.to_container(config.tracking, resolve=True)
    return tracker_for(tracking, config.out_dir, str(config.name))


class SweepParent(Callback):
    def __init__(self) -> None:
        self.parent: str | None = None

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        from espb.tracking import provenance

        name = config.get("sweep", {}).get("name")
        if not name:
            return
        tracker = _tracker(config)
        hc = config.hydra
        from espb.sweep.plan import effective_grid, n_configs

        eff = effective_grid(dict(hc.sweeper.get("params") or {}), list(hc.overrides.task))
        grid = {f"grid.{k}": v for k, v in eff.items()}
        grid["grid.n_configs"] = n_configs(eff)
        launcher = str(hc.launcher.get("_target_", "")).rsplit(".", 1)[-1]
        self.parent = tracker.ensure_parent(str(name), lock_dir=f"{config.out_dir}/hydra")
        tracker.run_id = self.parent
        tracker.client.update_run(self.parent, status="RUNNING")
        tracker.set_tags(
            {
                **provenance(),
                "launcher": launcher,
                "overrides": " ".join(hc.overrides.task),
            }
        )
        tracker.log_params(grid)
        print(
            f"sweep '{name}': MLflow parent run {self.parent} in experiment '{tracker.experiment}' "
            f"({tracker.uri}); launcher {launcher}",
            flush=True,
        )

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        if self.parent:
            tracker = _tracker(config)
            tracker.run_id = self.parent
            tracker.end("FINISHED")
