"""Baseline forecasts on the model's cell-days, all time-forward (issue 14; docs/forecasts.md):

- :func:`uniform` - the past rate of target cell-days, the same everywhere;
- :func:`spatial` - that rate redistributed by kernel-smoothed past events (Gaussian or the
  adaptive kernel of Helmstetter, Kagan & Jackson 2007);
- :func:`recent` - a logistic regression on recent event counts around the cell;
- :func:`oracle_etas` - for the synthetic catalogs, the generating ETAS process itself.

Each returns a ``(time, lat, lon)`` DataArray of the probability of at least one target event in
the cell on the day, NaN outside the eligible cells.
"""

from espb.forecast.baselines.base import Baseline, forecast_days
from espb.forecast.baselines.oracle import OracleConfig, oracle_etas, oracle_lambda
from espb.forecast.baselines.recent import RecentConfig, recent
from espb.forecast.baselines.spatial import SpatialConfig, spatial
from espb.forecast.baselines.uniform import UniformConfig, uniform

#: the baselines that need only the event table: name -> function
CATALOG_BASELINES: dict[str, Baseline] = {"uniform": uniform, "spatial": spatial, "recent": recent}

__all__ = [
    "CATALOG_BASELINES",
    "Baseline",
    "OracleConfig",
    "RecentConfig",
    "SpatialConfig",
    "UniformConfig",
    "forecast_days",
    "oracle_etas",
    "oracle_lambda",
    "recent",
    "spatial",
    "uniform",
]
