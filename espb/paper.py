"""The paper's constants, in one place (Koehler et al.; pycsep's ``utils/constants.py`` style).

The six factors of the parameter search (Section 3.4, Table 1) are defined here once: their
config key, the short name used in MLflow params, tables and figures, the levels of Table 1 in
the paper's order (the first of each is the baseline of Figure C.7) and their unit. Everything
that names a factor reads it from :data:`FACTORS`: the training run's logged params, the sweep
report, the Optuna space check, and the tests that check ``sweeps/paper_432.yaml`` and
``sweeps/optuna_tpe.yaml`` against it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Factor:
    """One factor of paper Table 1."""

    #: the espb-train config key (``bvalue.dr``)
    key: str
    #: the short name of params, tables and figures (``dr``)
    short: str
    #: Table 1 levels, in the paper's order
    levels: tuple[Any, ...]
    #: the unit (``""`` for none)
    unit: str
    #: how the paper writes one value (``0.15°``, ``730d``, ``MAE``, ``OFF``)
    label: Callable[[Any], str]


#: the six factors of Table 1, in the order of the paper's figures (C.7-C.9)
FACTORS: tuple[Factor, ...] = (
    Factor("bvalue.dr", "dr", (0.15, 0.25, 0.35, 0.65), "deg", lambda v: f"{v:g}°"),
    Factor("bvalue.dt", "dt", (150, 365, 730), "d", lambda v: f"{v:g}d"),
    Factor("samples.m_lim", "M_lim", (4.0, 4.5, 4.9), "Mw", lambda v: f"{v:.1f}"),
    Factor("training.loss", "loss", ("mae", "bce"), "", lambda v: str(v).upper()),
    Factor("training.l_me", "l_ME", (14, 30, 50), "d", lambda v: f"{v:g}d"),
    Factor("autoencoder.enabled", "AE", (True, False), "", lambda v: "ON" if v else "OFF"),
)
#: short names in figure order
FACTOR_NAMES: tuple[str, ...] = tuple(f.short for f in FACTORS)
#: short name -> config key
FACTOR_KEYS: dict[str, str] = {f.short: f.key for f in FACTORS}
#: short name -> Factor
BY_SHORT: dict[str, Factor] = {f.short: f for f in FACTORS}
#: config key -> Factor
BY_KEY: dict[str, Factor] = {f.key: f for f in FACTORS}
#: the order in which the paper writes a configuration (Appendix C.1):
#: [lookback dt, radius dr, M_lim, loss, l_ME, AE], e.g. [730d, 0.15°, 4.0, MAE, 14d, OFF]
PAPER_NOTATION: tuple[str, ...] = ("dt", "dr", "M_lim", "loss", "l_ME", "AE")
#: the number of configurations of the full factorial (4 x 3 x 3 x 2 x 3 x 2)
N_CONFIGS = 432


def notation(values: Mapping[str, Any]) -> str:
    """A configuration in the paper's notation (Appendix C.1), e.g. ``[730d, 0.15°, 4.0, MAE,
    14d, OFF]``, from typed values by short name (missing ones as ``?``)."""
    return (
        "["
        + ", ".join(
            BY_SHORT[s].label(values[s]) if values.get(s) is not None else "?"
            for s in PAPER_NOTATION
        )
        + "]"
    )


def short_name(key: str) -> str:
    """The short name of a config key: a factor's (``samples.m_lim`` -> ``M_lim``), else the
    key's last part (``training.lr`` -> ``lr``)."""
    f = BY_KEY.get(key)
    return f.short if f is not None else key.rsplit(".", 1)[-1]
