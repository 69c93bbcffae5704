"""Settings of a rate-forecast run (EarthquakeNet, arXiv 2605.21437, Sections 2-4; espb issue 16).

One dataclass per concern, merged by :func:`espb.config.from_node` from the Hydra config
(``conf/rates.yaml`` and ``conf/rates/preset/*.yaml``), so a misspelled key or a bad value is a
:class:`~espb.errors.ConfigError` naming it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from espb.errors import ConfigError

MODEL_KINDS = ("poisson_glm", "nb_glm", "earthquakenet")
MAGNITUDE_COLUMNS = ("mw", "mag")
NEIGHBOURS = ("rook", "queen")
#: periods of history the lag features need (the 12-period count); earlier periods are neither
#: trained nor tested
LAG_WARMUP = 12


def _ts(value: str, where: str) -> pd.Timestamp:
    try:
        t = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{where}: {value!r} is not a date (use YYYY-MM-DD)") from exc
    return (t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")).normalize()


@dataclass
class DataConfig:
    """Counts per cell and period (seed paper Section 2: M >= 3, 3 deg cells, weeks).

    - ``region`` [lat_min, lat_max, lon_min, lon_max]: cells start at (lat_min, lon_min) and
      are ``cell_deg`` wide; a span that is not a whole number of cells leaves partial cells
      at the north and east edges (the seed's 38-45 N x 65-85 E in 3 deg cells: 3 x 7 cells).
    - periods of ``period_days`` days from ``start``; only whole periods up to ``end`` count.
    - ``m_min``: events with magnitude >= m_min count; ``magnitude``: the event-table column
      compared with it (``mw``, espb's homogenised Mw, or ``mag``, the source's magnitude, as
      the seed paper counted ComCat magnitudes).
    """

    region: list[float] = field(default_factory=lambda: [37.0, 43.0, 139.0, 145.0])
    cell_deg: float = 1.0
    period_days: int = 7
    start: str = "2005-01-01"
    end: str = "2014-12-31"
    m_min: float = 3.0
    magnitude: str = "mw"

    def validate(self) -> None:
        if len(self.region) != 4:
            raise ConfigError(
                f"data.region needs [lat_min, lat_max, lon_min, lon_max], got {self.region}"
            )
        la0, la1, lo0, lo1 = self.region
        if not (-90 <= la0 < la1 <= 90 and -180 <= lo0 < lo1 <= 360):
            raise ConfigError(
                f"data.region {self.region} is not [lat_min < lat_max, lon_min < lon_max]"
            )
        if not self.cell_deg > 0:
            raise ConfigError(f"data.cell_deg={self.cell_deg} must be > 0 (degrees)")
        if int(self.period_days) != self.period_days or self.period_days < 1:
            raise ConfigError(f"data.period_days={self.period_days} must be a whole number >= 1")
        if self.magnitude not in MAGNITUDE_COLUMNS:
            raise ConfigError(
                f"data.magnitude={self.magnitude!r}; use one of {list(MAGNITUDE_COLUMNS)}"
            )
        if self.end_ts < self.start_ts + pd.Timedelta(days=self.period_days - 1):
            raise ConfigError(f"data.start/end {self.start}..{self.end} hold no whole period")

    @property
    def start_ts(self) -> pd.Timestamp:
        return _ts(self.start, "data.start")

    @property
    def end_ts(self) -> pd.Timestamp:
        return _ts(self.end, "data.end")

    @property
    def n_lat(self) -> int:
        return math.ceil((self.region[1] - self.region[0]) / self.cell_deg - 1e-9)

    @property
    def n_lon(self) -> int:
        return math.ceil((self.region[3] - self.region[2]) / self.cell_deg - 1e-9)


@dataclass
class CubeFeatureConfig:
    """The b-value cube behind the b features (espb.bvalue.CubeConfig without region and time,
    which follow ``data``): cylinder radius ``dr`` (deg) and length ``dt`` (days), estimator
    ``mode``, grid ``resolution`` (must divide ``data.cell_deg`` and the region's span)."""

    dr: float = 0.35
    dt: int = 60
    mode: str = "paper"
    threshold: float | None = None
    delta_m: float = 0.1
    metric: str = "planar"
    resolution: float = 0.1
    b_max: float = 2.0
    round_magnitudes: bool = False


@dataclass
class FeatureConfig:
    """Lag features of seed paper Section 3.1, plus (``bvalue: true``) espb's b-value features.

    - ``big_mag``: "weeks since the last M >= 4.5", capped at ``since_cap`` periods (also the
      value when no such event is in the record yet).
    - ``b_periods`` K: mean b and mean cylinder count over the last K periods, and their change
      against the K periods before.
    """

    big_mag: float = 4.5
    since_cap: int = 260
    bvalue: bool = False
    b_periods: int = 4
    cube: CubeFeatureConfig = field(default_factory=CubeFeatureConfig)

    def validate(self) -> None:
        if self.since_cap < 1 or self.b_periods < 1:
            raise ConfigError("features.since_cap and features.b_periods must be >= 1")


@dataclass
class ModelConfig:
    """One model (seed paper Section 3).

    - ``kind``: ``poisson_glm``, ``nb_glm`` (one global alpha; statsmodels) or
      ``earthquakenet`` (embedding ``embedding_dim`` + features -> ``hidden`` with ReLU and
      ``dropout`` -> 2 -> softplus for mu and alpha; Adam ``lr``, ``batch_size``, early stopping
      after ``patience`` epochs without a better NLL on the last ``val_fraction`` of the training
      periods, at most ``max_epochs``).
    - ``cell_effects`` (GLMs only): one indicator per cell (the network has its embedding);
      off by default as in the seed's baseline.
    - ``accelerator``: cpu (default) or auto/gpu for the network (Lightning Fabric);
      ``threads``: torch CPU threads (1: a network this small runs fastest on one; null: torch's
      default).
    - ``init_bias``: start the network's mu output at the mean training count and alpha at 1
      (the paper does not say how it initialises; false: PyTorch's default initialisation).
    - ``mu_link``: ``softplus`` (the paper's output for mu) or ``exp`` (a log link, as the
      GLMs have; a departure, for the extrapolation to aftershock-sequence counts).
    - ``maxiter``: iterations of the GLM optimisers (statsmodels).
    """

    kind: str = "nb_glm"
    cell_effects: bool = False
    embedding_dim: int = 8
    hidden: list[int] = field(default_factory=lambda: [64, 32])
    dropout: float = 0.2
    lr: float = 1.0e-3
    batch_size: int = 64
    max_epochs: int = 200
    patience: int = 10
    val_fraction: float = 0.2
    seed: int = 0
    accelerator: str = "cpu"
    threads: int | None = 1
    init_bias: bool = True
    mu_link: str = "softplus"
    maxiter: int = 500

    def validate(self) -> None:
        if self.kind not in MODEL_KINDS:
            raise ConfigError(f"model.kind={self.kind!r}; use one of {list(MODEL_KINDS)}")
        if not 0 < self.val_fraction < 1:
            raise ConfigError(f"model.val_fraction={self.val_fraction} must be in (0, 1)")
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"model.dropout={self.dropout} must be in [0, 1)")
        if self.batch_size < 2 or self.max_epochs < 1 or self.patience < 1:
            raise ConfigError("model.batch_size >= 2, model.max_epochs >= 1, model.patience >= 1")
        if self.mu_link not in ("softplus", "exp"):
            raise ConfigError(f"model.mu_link={self.mu_link!r}; use softplus or exp")
        if self.accelerator not in ("cpu", "auto", "gpu", "cuda"):
            raise ConfigError(f"model.accelerator={self.accelerator!r}; use cpu, auto or gpu")


@dataclass
class EvalConfig:
    """Walk-forward evaluation (seed paper Section 4: refit before each test year 2018-2023).

    - folds start at ``test_start`` and every ``step`` (``year``: each 1 January; or a number of
      periods) until ``test_end``; each fold refits on every period before it.
    - ``tail_min``: tail strata, rows with at least this many observed events.
    - ``pycsep``: run pyCSEP's Poisson and negative-binomial number tests and the spatial test
      on every test period (``pycsep_sims`` simulations, seeded by ``seed``).
    """

    test_start: str = "2009-01-01"
    test_end: str = "2014-12-31"
    step: str = "year"
    tail_min: list[int] = field(default_factory=lambda: [5])
    pit_bins: int = 10
    neighbours: str = "rook"
    moran_permutations: int = 999
    pycsep: bool = True
    pycsep_sims: int = 1000
    seed: int = 0

    def validate(self) -> None:
        s, e = (
            _ts(self.test_start, "evaluation.test_start"),
            _ts(self.test_end, "evaluation.test_end"),
        )
        if e < s:
            raise ConfigError(
                f"evaluation.test_end {self.test_end} is before test_start {self.test_start}"
            )
        if self.step != "year" and not (str(self.step).isdigit() and int(self.step) >= 1):
            raise ConfigError(
                f"evaluation.step={self.step!r}; use 'year' or a number of periods >= 1"
            )
        if self.neighbours not in NEIGHBOURS:
            raise ConfigError(
                f"evaluation.neighbours={self.neighbours!r}; use one of {list(NEIGHBOURS)}"
            )
        if self.pit_bins < 2 or self.pycsep_sims < 10:
            raise ConfigError("evaluation.pit_bins >= 2 and evaluation.pycsep_sims >= 10")


@dataclass
class FigureConfig:
    """``cells``: [lat, lon] points whose cells get an observed-vs-predicted series (None: the
    ``n_cells`` cells with the most events before the first test fold); ``interval``: the
    central predictive interval drawn."""

    cells: list[list[float]] | None = None
    n_cells: int = 3
    interval: float = 0.9
