"""``espb sweep continue``: the second half of the paper's protocol (Section 4, Table 2).

The search (``sweeps/paper_432.yaml``, ``run.until=dev_end``) trains every configuration over
the development period only. This step selects configurations on their development-period
accuracy alone - the best overall (the paper's Model14.0) and the best with ``M_lim`` 4.9
(Model14.9), or the ``top`` N - and continues each through the test period: the same
configuration with ``run.until=end`` resumes from its checkpoint, in the same MLflow run, and
ends exactly as if it had been trained straight through. Nothing of the test period is seen
before the selection is made.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from espb.errors import ConfigError, EspbError
from espb.paper import FACTORS
from espb.sweep.supervise import Say

#: the selections: Table 2's two models, or the best N overall
SELECTIONS = ("table2", "best", "best_mlim49", "top")


@dataclass
class Continuation:
    """What :func:`continue_sweep` selected and how each continuation ended."""

    selected: list[dict[str, Any]]
    #: exit status per selected configuration (0: continued through the test period)
    rcs: list[int] = field(default_factory=list)


def select(acc, how: str = "table2", top: int = 2) -> list[dict[str, Any]]:
    """The configurations to continue, from the development-period accuracy table ``acc``
    (``espb.evaluation.sweep.analysis.period_accuracy(phase="dev")``), as rows (dicts)."""
    from espb.evaluation.sweep.analysis import best_configs, top_configs

    if how not in SELECTIONS:
        raise ConfigError(f"--select {how!r}; use one of {list(SELECTIONS)}")
    if how == "top":
        rows = top_configs(acc, "T_all", top).to_dict("records")
    else:
        best = best_configs(acc)
        keys = {"table2": ["overall", "m_lim"], "best": ["overall"], "best_mlim49": ["m_lim"]}[how]
        rows = [best[k] for k in keys if best[k] is not None]
    seen, out = set(), []
    for r in rows:
        key = r.get("config_hash") or tuple(r.get(f.short) for f in FACTORS)
        if key not in seen:
            seen.add(key)
            out.append(r)
    if not out:
        raise EspbError("no configuration of the sweep has development-period predictions yet")
    return out


def factor_overrides(row: dict[str, Any]) -> list[str]:
    """The six factors of a configuration as espb-train overrides."""
    from espb.sweep.optuna.space import hydra_value

    return [f"{f.key}={hydra_value(row[f.short])}" for f in FACTORS]


def continue_sweep(
    sweep: str | Path,
    overrides: Sequence[str] = (),
    how: str = "table2",
    top: int = 2,
    say: Say = print,
) -> Continuation:
    """Select on the development period, then continue each selected configuration through
    the test period (one multirun of one job each, under the sweep's MLflow parent)."""
    from omegaconf import OmegaConf

    from espb.evaluation.sweep.analysis import period_accuracy
    from espb.evaluation.sweep.data import load_sweep
    from espb.sweep.plan import compose_sweep, split_overrides
    from espb.sweep.run import run_sweep
    from espb.tracking import default_uri

    cfg = compose_sweep(sweep, split_overrides(list(overrides))[1])
    tracking = OmegaConf.to_container(cfg.tracking, resolve=True)
    uri = tracking.get("uri") or default_uri(Path(cfg.out_dir))
    experiment = tracking.get("experiment") or f"espb-{cfg.name}"
    dl = Path(cfg.out_dir) / "reports" / experiment / "predictions"
    configs, preds, _ = load_sweep(uri, experiment, dl, say)
    chosen = select(period_accuracy(preds, configs, phase="dev"), how, top)
    res = Continuation(chosen)
    for i, row in enumerate(chosen, 1):
        ov = [*overrides, *factor_overrides(row), "run.until=end"]
        say(
            f"continuing {i}/{len(chosen)} through the test period: {' '.join(ov[len(overrides) :])}"
        )
        run = run_sweep(sweep, ov, n_jobs=1, prepare=False, report=False, say=say)
        res.rcs.append(run.rc)
        if run.rc != 0:
            break
    return res
