"""The autoencoder step of a run (paper Appendix A): the cached map autoencoder of this cube,
sample rules and settings (trained once if absent), and the block source that feeds the
classifier raw b blocks or, with the autoencoder on, residual blocks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from espb.models.ae_fit import (
    ae_key,
    fit_autoencoder,
    gather_maps,
    get_autoencoder,
    sample_map_index,
)
from espb.progress import Reporter
from espb.training.blocks import BlockSource
from espb.training.inputs import RunInputs
from espb.training.plan import RunPlan


@dataclass
class AutoencoderInfo:
    """The autoencoder a run used: its cache key, epochs and held-out MSE."""

    key: str
    epochs: int
    best_val_mse: float
    built: bool


def ae_day_limit(plan: RunPlan, inputs: RunInputs) -> int:
    """The first forecast day whose maps the autoencoder may not see: the day after the
    development end (``period=development``, the paper), or the first day of the first
    validation segment less the label delay (``period=time_forward``)."""
    s_cfg = plan.settings.samples
    if plan.settings.autoencoder.period == "development":
        return inputs.dev_end + 1
    return inputs.meta_epochs[0].lo - (s_cfg.exclusion_after if s_cfg.label_delay else 0)


def autoencoder_for(plan: RunPlan, inputs: RunInputs, device: torch.device, rep: Reporter):
    """The cached autoencoder of this run (trained if absent) and its :class:`AutoencoderInfo`."""
    a_cfg, s_cfg = plan.settings.autoencoder, plan.settings.samples
    pool = inputs.samples.pool
    day_hi = ae_day_limit(plan, inputs)
    key = ae_key(inputs.cube.key, s_cfg.key_fields(), a_cfg, day_hi)

    def build():
        rng = np.random.default_rng([a_cfg.seed, 0xAE])
        b = np.asarray(inputs.ds["b"].values)
        hi = min(day_hi, pool.shape[0])
        eq = inputs.samples.eq
        extra = None
        if a_cfg.maps == "neq_and_eq":  # Appendix A: also the windows before the earthquakes
            extra = tuple(eq[k].to_numpy(np.int64) for k in ("target", "row", "col"))
        day, r, c = sample_map_index(pool, s_cfg.lookback, a_cfg.n_maps, hi, rng, extra)
        maps = gather_maps(b, day, r, c, s_cfg.patch)
        rep.say(
            f"training the autoencoder on {len(maps):,} maps ({a_cfg.period} period; key {key})"
        )

        def prog(epoch, tl, vl):
            text = f"epoch {epoch + 1} train {tl:.4g} val {vl:.4g}"
            rep.bar("autoencoder", epoch + 1, a_cfg.max_epochs, text)

        return fit_autoencoder(maps, a_cfg, device, prog)

    model, info, built = get_autoencoder(key, inputs.cache_root, build, on_wait=rep.say)
    rep.say(
        f"autoencoder {key}: {'trained' if built else 'from cache'}, {info['epochs']} epochs, "
        f"held-out MSE {info['best_val_mse']:.4g}"
    )
    return model, AutoencoderInfo(key, int(info["epochs"]), float(info["best_val_mse"]), built)


def block_source(
    plan: RunPlan, inputs: RunInputs, device: torch.device, rep: Reporter
) -> tuple[BlockSource, AutoencoderInfo | None]:
    """The device-resident block source of the run's samples; residual blocks with the
    autoencoder on (Appendix A)."""
    s_cfg = plan.settings.samples
    b = np.asarray(inputs.ds["b"].values)
    source = BlockSource(b, inputs.table, s_cfg.lookback, s_cfg.patch, device)
    if not plan.settings.autoencoder.enabled:
        return source, None
    ae, info = autoencoder_for(plan, inputs, device, rep)
    source.attach_autoencoder(ae, progress=lambda d, n: rep.bar("residual blocks", d, n, ""))
    return source, info
