"""Settings of a run's forecast evaluation (``espb forecast RUN`` and the ``forecast`` node of
espb-train): which period, which snapshot, which calibration, which baselines, which pyCSEP
windows, and how the intervals are drawn (docs/forecasts.md, "Commands").

The same dataclass is the Hydra node (``conf/forecast/default.yaml``, read with
:func:`espb.config.from_node`) and what the command line fills in; the command line's spellings
(``time-forward``, ``prior``) are mapped to the canonical names by :func:`parse_cli`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from espb.errors import ConfigError
from espb.forecast.calibration import METHODS, SOURCES, CalibrationConfig

PERIODS = ("test", "dev", "all")
BASELINES = ("uniform", "spatial", "recent", "oracle")
#: the pyCSEP windows by name; anything else is ``FIRST:LAST`` (dates, inclusive)
WINDOWS = ("map_day", "period")
#: what the finisher does when the evaluation meets an input error (EspbError)
ON_ERROR = ("record", "fail")

_SNAPSHOT_ALIASES = {"time-forward": "time_forward", "timeforward": "time_forward"}
_CAL_ALIASES = {"prior": "prior_shift", "prior-shift": "prior_shift", "raw": "none"}


@dataclass
class ForecastSettings:
    """- ``enabled``: the espb-train finisher forecasts and scores the run at its end (only the
      Hydra node uses it; ``espb forecast`` always runs);
    - ``period``: ``test`` (after ``training.dev_end``), ``dev`` (up to it) or ``all`` (both,
      scored apart; a run trained only through the development period gives ``dev`` only);
    - ``snapshot``: ``time_forward`` (each day by the snapshot the progressive scheme had then),
      ``latest`` or a meta-epoch index (days before its validation segment are then in sample);
    - ``calibration``: ``prior_shift`` | ``isotonic`` | ``logistic`` | ``none``, fitted on
      ``calibration_source`` (``dense``: past dense scores; ``validation``: past validation
      samples), :mod:`espb.forecast.calibration`;
    - ``baselines``: any of ``uniform, spatial, recent, oracle`` (the oracle only for a
      synthetic catalog); ``reference``: the baseline the information gain, BSS and the paired
      tests refer to (the spatial base rate);
    - ``spatial``, ``recent``, ``oracle``: settings of those baselines
      (:class:`~espb.forecast.baselines.SpatialConfig` etc.; ``recent.refit_days`` defaults to
      the run's ``training.l_me``, the progressive segments);
    - ``csep_windows``: pyCSEP gridded-test windows: ``map_day`` (the mapped day), ``period``
      (the whole period, counts summed), or ``FIRST:LAST`` dates;
    - ``map_day``: the day of the forecast map (None: the day with the most target cell-days
      in the period, the earliest of ties);
    - ``n_boot``, ``block_days``, ``seed``, ``level``: the block bootstrap of the intervals;
      ``csep_simulations``: pyCSEP's simulated catalogs per test;
    - ``log``: log metrics and artifacts to the run's MLflow run;
    - ``on_error``: the finisher on an input error: ``record`` (tag ``forecast_error``, print it,
      let the run complete) or ``fail`` (the run is not marked complete).
    """

    enabled: bool = False
    period: str = "all"
    snapshot: str = "time_forward"
    calibration: str = "prior_shift"
    calibration_source: str = "dense"
    baselines: list[str] = field(default_factory=lambda: list(BASELINES))
    reference: str = "spatial"
    spatial: dict[str, Any] = field(default_factory=dict)
    recent: dict[str, Any] = field(default_factory=dict)
    oracle: dict[str, Any] = field(default_factory=dict)
    csep_windows: list[str] = field(default_factory=lambda: list(WINDOWS))
    map_day: str | None = None
    n_boot: int = 1000
    block_days: int = 7
    seed: int = 0
    level: float = 0.95
    csep_simulations: int = 1000
    log: bool = True
    on_error: str = "record"

    def validate(self) -> None:
        self.snapshot = _snapshot(self.snapshot)
        self.calibration = _CAL_ALIASES.get(str(self.calibration), str(self.calibration))
        if self.period not in PERIODS:
            raise ConfigError(f"forecast.period={self.period!r}; use one of {list(PERIODS)}")
        if self.calibration not in METHODS:
            raise ConfigError(
                f"forecast.calibration={self.calibration!r}; use prior (prior_shift), isotonic, "
                "logistic or none"
            )
        if self.calibration_source not in SOURCES:
            raise ConfigError(
                f"forecast.calibration_source={self.calibration_source!r}; use {list(SOURCES)}"
            )
        bad = [b for b in self.baselines if b not in BASELINES]
        if bad or len(set(self.baselines)) != len(self.baselines):
            raise ConfigError(
                f"forecast.baselines={list(self.baselines)}: use distinct names of {list(BASELINES)}"
            )
        if self.reference not in self.baselines or self.reference == "oracle":
            raise ConfigError(
                f"forecast.reference={self.reference!r} must be one of the baselines "
                f"{list(self.baselines)} other than the oracle (default: spatial)"
            )
        for w in self.csep_windows:
            if w not in WINDOWS and w.count(":") != 1:
                raise ConfigError(
                    f"forecast.csep_windows: {w!r}; use map_day, period or FIRST:LAST dates"
                )
        if self.n_boot < 10 or self.block_days < 1 or not 0.5 < self.level < 1:
            raise ConfigError("forecast: n_boot >= 10, block_days >= 1 and 0.5 < level < 1 needed")
        if self.csep_simulations < 10:
            raise ConfigError("forecast.csep_simulations must be >= 10")
        if self.on_error not in ON_ERROR:
            raise ConfigError(f"forecast.on_error={self.on_error!r}; use one of {list(ON_ERROR)}")
        self.calibration_config().validate()

    def calibration_config(self) -> CalibrationConfig:
        return CalibrationConfig(method=self.calibration, source=self.calibration_source)

    @property
    def snapshot_arg(self) -> str | int:
        """The snapshot as :func:`espb.forecast.api.forecast_run` takes it."""
        return int(self.snapshot) if self.snapshot.lstrip("-").isdigit() else self.snapshot

    @property
    def label(self) -> str:
        """``<period>-<snapshot>-<calibration>``: the output folder's name under
        ``<run>/forecast/`` and the artifact folder under ``forecast/`` in MLflow."""
        cal = self.calibration + ("" if self.calibration_source == "dense" else "_validation")
        return f"{self.period}-{self.snapshot}-{cal}"

    @property
    def model_name(self) -> str:
        """The model's name in the tables and metric keys: ``model`` with the default snapshot
        and calibration, else ``model_<snapshot>_<calibration>`` (the baselines do not depend
        on them), so that variants logged to one run stay apart."""
        if self.snapshot == "time_forward" and self.calibration == "prior_shift":
            if self.calibration_source == "dense":
                return "model"
        src = "" if self.calibration_source == "dense" else "_validation"
        return f"model_{self.snapshot}_{self.calibration}{src}"


def _snapshot(s: Any) -> str:
    s = str(s).strip().lower()
    s = _SNAPSHOT_ALIASES.get(s, s)
    if s in ("time_forward", "latest") or s.isdigit():
        return s
    raise ConfigError(f"forecast.snapshot={s!r}; use time-forward, latest or a meta-epoch index K")


def split_list(text: str | None) -> list[str] | None:
    """``"a,b, c"`` -> ``["a", "b", "c"]``; None stays None; ``none`` / empty -> ``[]``."""
    if text is None:
        return None
    t = text.strip()
    if t.lower() in ("", "none"):
        return []
    return [("map_day" if x.strip() == "map-day" else x.strip()) for x in t.split(",")]


def parse_cli(**given: Any) -> ForecastSettings:
    """Settings from command-line values (None: the default), validated."""
    kw = {k: v for k, v in given.items() if v is not None}
    for key in ("baselines", "csep_windows"):
        if isinstance(kw.get(key), str):
            kw[key] = split_list(kw[key])
    s = ForecastSettings(**kw)
    s.validate()
    return s
