"""A Hydra launcher that runs each sweep job as a Ray task (``hydra/launcher=espb_ray``).

Hydra's own Ray plugin pins a Ray release too old for Python 3.11, so espb ships this small
one. It connects to a running cluster (``address: auto`` or ``ray://head:10001``) or starts a
local Ray, submits one task per configuration with ``num_gpus``/``num_cpus`` each, and waits
for all of them. Jobs are the same as with any launcher: finished configurations are skipped,
killed ones resume from their checkpoint, every job logs to ``tracking.uri`` (use a tracking
server reachable from the workers). Needs ``pip install -e '.[ray]'``."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, filter_overrides, run_job, setup_globals
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf, open_dict

log = logging.getLogger(__name__)


def _execute(
    idx: int,
    overrides: Sequence[str],
    hydra_context: HydraContext,
    config: DictConfig,
    task_function: TaskFunction,
    singleton_state: dict[Any, Any],
) -> JobReturn:
    """One job inside a Ray worker (as Hydra's launchers do it: compose, set globals, run)."""
    from hydra.core.hydra_config import HydraConfig

    setup_globals()
    Singleton.set_state(singleton_state)
    sweep_config = hydra_context.config_loader.load_sweep_config(config, list(overrides))
    with open_dict(sweep_config):
        sweep_config.hydra.job.id = f"{sweep_config.hydra.job.name}_{idx}"
        sweep_config.hydra.job.num = idx
    HydraConfig.instance().set_config(sweep_config)
    return run_job(
        hydra_context=hydra_context,
        config=sweep_config,
        task_function=task_function,
        job_dir_key="hydra.sweep.dir",
        job_subdir_key="hydra.sweep.subdir",
    )


class RayLauncher(Launcher):
    def __init__(
        self,
        address: str | None = None,
        num_cpus_per_job: float = 1,
        num_gpus_per_job: float = 0,
        max_retries: int = 0,
        init: dict | None = None,
        **kwargs: Any,
    ) -> None:
        self.address = address
        self.num_cpus = num_cpus_per_job
        self.num_gpus = num_gpus_per_job
        self.max_retries = max_retries
        self.init_kwargs = dict(init or {})
        self.config: DictConfig | None = None
        self.task_function: TaskFunction | None = None
        self.hydra_context: HydraContext | None = None

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        self.config, self.task_function, self.hydra_context = config, task_function, hydra_context

    def launch(
        self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
    ) -> Sequence[JobReturn]:
        try:
            import ray
        except ImportError as exc:  # the extra is optional
            from espb.errors import ConfigError

            raise ConfigError("hydra/launcher=espb_ray needs Ray: pip install -e '.[ray]'") from exc
        assert (
            self.config is not None
            and self.hydra_context is not None
            and self.task_function is not None
        )
        setup_globals()
        Path(str(self.config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)
        if not ray.is_initialized():
            init = {
                k: v
                for k, v in OmegaConf.to_container(OmegaConf.create(self.init_kwargs)).items()
                if v is not None
            }
            ray.init(address=self.address, **init)
        log.info(
            f"Ray ({self.address or 'local'}): launching {len(job_overrides)} jobs, "
            f"{self.num_cpus} CPU / {self.num_gpus} GPU each"
        )
        for i, ov in enumerate(job_overrides):
            log.info(f"\t#{initial_job_idx + i} : {' '.join(filter_overrides(ov))}")
        task = ray.remote(_execute).options(
            num_cpus=self.num_cpus, num_gpus=self.num_gpus, max_retries=self.max_retries
        )
        state = Singleton.get_state()
        refs = [
            task.remote(
                initial_job_idx + i,
                list(ov),
                self.hydra_context,
                self.config,
                self.task_function,
                state,
            )
            for i, ov in enumerate(job_overrides)
        ]
        return list(ray.get(refs))
