"""The typed settings of one rate-forecast run, checked before any data is read (a light module:
no torch, statsmodels or MLflow import, so a bad setting fails fast)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd
from omegaconf import DictConfig

from espb.config import from_node
from espb.errors import ConfigError
from espb.rates.config import (
    LAG_WARMUP,
    DataConfig,
    EvalConfig,
    FeatureConfig,
    FigureConfig,
    ModelConfig,
)


@dataclass
class RateSettings:
    """The typed sections of a run's config."""

    data: DataConfig
    features: FeatureConfig
    model: ModelConfig
    evaluation: EvalConfig
    figures: FigureConfig

    @classmethod
    def from_cfg(cls, cfg: DictConfig) -> RateSettings:
        s = cls(
            from_node(DataConfig, cfg.get("data"), "data"),
            from_node(FeatureConfig, cfg.get("features"), "features"),
            from_node(ModelConfig, cfg.get("model"), "model"),
            from_node(EvalConfig, cfg.get("evaluation"), "evaluation"),
            from_node(FigureConfig, cfg.get("figures"), "figures"),
        )
        s.check_folds()
        if s.features.big_mag < s.data.m_min:
            raise ConfigError(
                f"features.big_mag={s.features.big_mag} is below data.m_min={s.data.m_min}: the "
                "'periods since the last big event' feature only sees counted events"
            )
        return s

    def to_dict(self) -> dict[str, Any]:
        return {k: asdict(v) for k, v in self.__dict__.items()}

    @property
    def label(self) -> str:
        """Short model name for tables and the UI: ``nb_glm``, ``earthquakenet+b`` ..."""
        m = self.model
        out = m.kind + ("[exp]" if m.kind == "earthquakenet" and m.mu_link == "exp" else "")
        out += "[cells]" if m.kind != "earthquakenet" and m.cell_effects else ""
        return out + ("+b" if self.features.bvalue else "")

    @property
    def warmup(self) -> int:
        """Periods of feature history before the first row (lag windows; 2K for b features)."""
        return max(LAG_WARMUP, 2 * self.features.b_periods if self.features.bvalue else 0)

    def check_folds(self) -> None:
        """The first fold needs training periods after the feature warm-up."""
        d, e = self.data, self.evaluation
        first_row = d.start_ts + pd.Timedelta(days=d.period_days * (self.warmup + 2))
        if pd.Timestamp(e.test_start, tz="UTC") < first_row:
            raise ConfigError(
                f"evaluation.test_start {e.test_start}: no training periods before the first fold "
                f"(the first {self.warmup} periods from data.start {d.start} are feature warm-up); "
                f"use a test_start on or after {first_row.date()}"
            )
        if pd.Timestamp(e.test_start, tz="UTC") > d.end_ts:
            raise ConfigError(f"evaluation.test_start {e.test_start} is after data.end {d.end}")
