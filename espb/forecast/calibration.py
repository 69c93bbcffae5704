"""Time-forward calibration of the classifier's scores into daily probabilities.

Everything applied to a day of segment ``s`` (the progressive scheme's segments, paper Section
3.3) is fitted on data of days before the segment's first day ``lo_s`` only:

- **prior shift** (Saerens, Latinne & Decaestecker 2002, Neural Computation 14(1)): a classifier
  trained with class prior ``pi_t`` (balanced training: 0.5) estimates odds under that prior; under
  the real prior ``pi``, ``logit p = logit s + logit pi - logit pi_t``. ``pi`` is the past rate of
  target cell-days over the eligible cells, ``pi = (k + 1/2) / (n + 1)`` for ``k`` target
  cell-days among the ``n`` eligible cell-days of the days ``[lo_s - window, lo_s)`` (all past days
  when ``prior_window_days`` is None; the 1/2 keeps ``pi > 0`` before the first target).
- **calibration map** (``isotonic`` via scikit-learn, or ``logistic``: ``logit p = a + b logit
  s``, fitted by maximum likelihood), from one of two sources:
  ``dense``: the dense scores of the past ``fit_window_days`` days against their targets (these
  days have the real base rate, so the map's output is the probability itself);
  ``validation``: the run's validation samples (``predictions.parquet``) whose labels were known
  before ``lo_s`` (EQ on their day, nEQ after the exclusion window); these are balanced, so the
  map's output is then prior-shifted with ``pi_t`` = their EQ share.
  With fewer than ``min_events`` positives to fit on, the day falls back to the prior shift.

A score trained with the L1 (MAE) loss is not a probability estimate (L1 pushes outputs to 0 and 1;
docs/forecasts.md): the prior shift then only sets the level, the map is the calibration.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from espb.errors import ConfigError, EspbError

METHODS = ("none", "prior_shift", "isotonic", "logistic")
SOURCES = ("dense", "validation")
#: calibration applied to a day (the ``calibration`` variable of the forecast cube)
CODES = {
    0: "not_scored",
    1: "raw_score",
    2: "prior_shift",
    3: "map_dense",
    4: "map_validation_then_prior_shift",
}


@dataclass
class CalibrationConfig:
    method: str = "prior_shift"
    source: str = "dense"
    train_prior: float = 0.5
    prior_window_days: int | None = None
    fit_window_days: int = 365
    min_events: int = 5
    p_floor: float = 1e-7

    def validate(self) -> None:
        if self.method not in METHODS:
            raise ConfigError(f"calibration.method={self.method!r}; use one of {list(METHODS)}")
        if self.source not in SOURCES:
            raise ConfigError(f"calibration.source={self.source!r}; use one of {list(SOURCES)}")
        if not 0 < self.train_prior < 1:
            raise ConfigError(f"calibration.train_prior={self.train_prior} must be in (0, 1)")
        if self.prior_window_days is not None and self.prior_window_days < 1:
            raise ConfigError("calibration.prior_window_days must be >= 1 or null (all past days)")
        if self.fit_window_days < 1 or self.min_events < 1 or not 0 < self.p_floor < 0.5:
            raise ConfigError(
                "calibration: fit_window_days >= 1, min_events >= 1, 0 < p_floor < 0.5 needed"
            )

    @property
    def dense_history(self) -> int:
        """Days of dense scores needed before the first calibrated day."""
        return self.fit_window_days if self.method in ("isotonic", "logistic") else 0

    def key_fields(self) -> dict:
        return asdict(self)


def logit(p: np.ndarray, eps: float = 1e-7) -> np.ndarray:
    p = np.clip(np.asarray(p, np.float64), eps, 1 - eps)
    return np.log(p) - np.log1p(-p)


def expit(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(z, np.float64)))


def prior_shift(z: np.ndarray, pi: float, pi_t: float) -> np.ndarray:
    """``logit p = z + logit pi - logit pi_t`` (Saerens et al. 2002, Eq. 2.4 in logit form)."""
    return np.asarray(z, np.float64) + float(logit(pi) - logit(pi_t))


def prior_days(lo: int, window: int | None) -> tuple[int, int]:
    """The days ``[a, lo)`` the real prior of a segment starting at ``lo`` is estimated on."""
    return (0 if window is None else max(0, lo - window)), lo


def fit_days(lo: int, first: int, window: int) -> tuple[int, int]:
    """The days ``[a, lo)`` (not before ``first``, the first scored day) a dense map is fitted on."""
    return max(first, lo - window), lo


def past_base_rate(targets: np.ndarray, lo: int, window: int | None) -> float:
    """Smoothed rate of target cell-days on the days :func:`prior_days` (``targets``: the
    eligible box, ``(n_days, rows, cols)`` bool from cube day 0)."""
    a, e = prior_days(lo, window)
    t = targets[a:e]
    return (float(t.sum()) + 0.5) / (float(t.size) + 1.0)


def fit_map(method: str, z: np.ndarray, y: np.ndarray):
    """A calibration map ``logit s -> p`` fitted on ``(z, y)`` (scikit-learn)."""
    try:
        from sklearn.isotonic import IsotonicRegression
        from sklearn.linear_model import LogisticRegression
    except ImportError as exc:  # scikit-learn is a dev extra
        raise EspbError(
            f"calibration.method={method} needs scikit-learn: pip install scikit-learn"
        ) from exc
    z = np.asarray(z, np.float64)
    y = np.asarray(y, np.float64)
    if method == "isotonic":
        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(z, y)
        return lambda x: iso.predict(np.ravel(x)).reshape(np.shape(x))
    lr = LogisticRegression(C=np.inf, tol=1e-10, max_iter=1000).fit(z[:, None], y)
    a, b = float(lr.intercept_[0]), float(lr.coef_[0, 0])
    return lambda x: expit(a + b * np.asarray(x, np.float64))


@dataclass
class Calibrated:
    prob: np.ndarray  # like the logits, float32
    prior: np.ndarray  # (days,) the real prior used, NaN where not scored
    code: np.ndarray  # (days,) int8, CODES


def calibrate(
    logits: np.ndarray,
    day0: int,
    targets: np.ndarray,
    bounds: np.ndarray,
    cfg: CalibrationConfig,
    validation: pd.DataFrame | None = None,
) -> Calibrated:
    """Probabilities for ``logits`` ``(n, rows, cols)`` of days ``day0 ..``; ``targets``: the
    eligible box's target cube from day 0; ``bounds``: the segments; ``validation``: columns
    ``available, label, logit`` (the run's validation samples), for ``source=validation``."""
    cfg.validate()
    n = logits.shape[0]
    prob = np.full(logits.shape, np.nan, np.float32)
    prior = np.full(n, np.nan)
    code = np.zeros(n, np.int8)
    scored = np.isfinite(logits).reshape(n, -1).any(axis=1)
    days = day0 + np.arange(n)
    seg = np.searchsorted(bounds[:, 0], days, side="right") - 1
    first = int(days[scored][0]) if scored.any() else day0
    for s in np.unique(seg[scored]):
        sel = np.flatnonzero(scored & (seg == s))
        lo = int(bounds[s, 0])
        z = logits[sel].astype(np.float64)
        pi = past_base_rate(targets, lo, cfg.prior_window_days)
        prior[sel] = pi
        p, c = _one_segment(z, lo, first, day0, logits, targets, pi, cfg, validation)
        prob[sel] = np.clip(p, cfg.p_floor, 1 - cfg.p_floor)
        code[sel] = c
    return Calibrated(prob, prior, code)


def _one_segment(z, lo, first, day0, logits, targets, pi, cfg, validation):
    if cfg.method == "none":
        return expit(z), 1
    shifted = expit(prior_shift(z, pi, cfg.train_prior)), 2
    if cfg.method == "prior_shift":
        return shifted
    if cfg.source == "dense":
        a, e = fit_days(lo, first, cfg.fit_window_days)
        if e <= a:
            return shifted
        x = logits[a - day0 : e - day0]
        y = targets[a:e]
        ok = np.isfinite(x)
        if int(y[ok].sum()) < cfg.min_events:
            return shifted
        return fit_map(cfg.method, x[ok], y[ok])(z), 3
    if validation is None:
        raise EspbError("calibration.source=validation needs the run's predictions.parquet")
    v = validation[validation["available"].to_numpy() < lo]
    yv = v["label"].to_numpy()
    if int(yv.sum()) < cfg.min_events or int((1 - yv).sum()) < cfg.min_events:
        return shifted
    p = fit_map(cfg.method, v["logit"].to_numpy(), yv)(z)
    pi_fit = float(yv.mean())
    return expit(prior_shift(logit(p), pi, pi_fit)), 4
