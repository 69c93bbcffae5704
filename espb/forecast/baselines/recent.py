"""Recent-activity baseline: a logistic regression of target occurrence on recent event counts.

Features of cell-day ``(d, c)``: ``log(1 + n_{R,N}(d, c))`` for every radius ``R`` in
``radii_deg`` and window ``N`` in ``windows_days``, where ``n_{R,N}`` counts the catalog events
(``Mw >= min_mag``, default 3.5; all when None) on the days ``d-N .. d-1`` whose cell centre lies within ``R``
degrees (planar, like the cube's ``n_events``) of the centre of ``c`` (events binned to cells).
With ``disjoint_windows`` (default) the windows are the lag bins [0, N1), [N1, N2), ... instead.
The model ``P(y = 1 | x) = 1 / (1 + exp(-(b0 + b . x)))`` (scikit-learn's
``LogisticRegression``: Newton-Cholesky, L2 with ``C``, standardised features) is refitted at
the start of every segment of ``refit_days`` (anchored at the first eligible day) on the
cell-days *before* the segment: all
target cell-days and a deterministic subsample of the others (a hash of the cell-day below
``f = min(1, max_train_rows / past cell-days)``, weighted ``1/f``, so the fit is that of the full
data in expectation); with ``monotone`` a feature whose coefficient comes out negative is
dropped and the model refitted, until none is (more events never lower the probability). Until ``min_positives`` target cell-days exist, the uniform baseline
stands in. This is the aftershock-driven competitor: high where the catalog was recently busy.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
import xarray as xr
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from espb.errors import ConfigError
from espb.forecast.baselines.base import event_days, forecast_days, segment_start, to_dataarray
from espb.forecast.baselines.uniform import UniformConfig, uniform_rate
from espb.forecast.targets import Eligible, target_cube
from espb.samples.labels import Grid

_DAY_CHUNK = 512


@dataclass
class RecentConfig:
    windows_days: list[int] = field(default_factory=lambda: [1, 7, 30, 180])
    #: features from the lag bins [0, N1), [N1, N2), ... instead of nested windows
    disjoint_windows: bool = True
    #: drop features with a negative coefficient (refit) so the model is monotone
    monotone: bool = True
    radii_deg: list[float] = field(default_factory=lambda: [0.25])
    #: counted events (None: all). 3.5 is far less sensitive to the short-term incompleteness
    #: after large events than all magnitudes (chosen on the demo's development period)
    min_mag: float | None = 3.5
    refit_days: int = 30
    max_train_rows: int = 50_000
    min_positives: int = 5
    #: inverse L2 strength of scikit-learn's LogisticRegression
    C: float = 1.0
    seed: int = 0
    #: stands in before min_positives target cell-days
    uniform: UniformConfig = field(default_factory=UniformConfig)

    def validate(self) -> None:
        if not self.windows_days or min(self.windows_days) < 1:
            raise ConfigError(f"recent.windows_days must be >= 1 day each, not {self.windows_days}")
        if self.disjoint_windows and len(set(self.windows_days)) != len(self.windows_days):
            raise ConfigError(
                f"recent.windows_days must differ for disjoint_windows: {self.windows_days}"
            )
        if not self.radii_deg or min(self.radii_deg) < 0:
            raise ConfigError(f"recent.radii_deg must be >= 0 each, not {self.radii_deg}")
        if int(self.refit_days) < 1:
            raise ConfigError(f"recent.refit_days must be >= 1, not {self.refit_days}")
        if int(self.max_train_rows) < 100:
            raise ConfigError(f"recent.max_train_rows must be >= 100, not {self.max_train_rows}")
        if not self.C > 0:
            raise ConfigError(f"recent.C must be > 0, not {self.C}")
        self.uniform.validate()


def _window_counts(cum: np.ndarray, day: np.ndarray, n: int, off: int, cell=None) -> np.ndarray:
    """Events on days ``day-n .. day-1`` from the exclusive running sum ``cum`` (time first;
    ``cum[t]`` counts the days before ``t - off``), of every cell or of ``cell[i]`` per day."""
    if cell is None:
        return cum[day + off] - cum[day + off - n]
    return cum[day + off, cell] - cum[day + off - n, cell]


def disk_counts(
    events: pd.DataFrame, grid: Grid, eligible: Eligible, radius_deg: float, back: int
) -> np.ndarray:
    """``(back + n_days + 1, rows, cols)`` int32 exclusive running sums over days
    ``-back .. n_days-1``: element ``t`` counts the events within ``radius_deg`` of each
    eligible cell on the days before ``t - back``."""
    k = int(math.floor(radius_deg / grid.res + 1e-9))
    off = np.arange(-k, k + 1)
    dr, dc = np.meshgrid(off, off, indexing="ij")
    disk = (dr**2 + dc**2) * grid.res**2 <= radius_deg**2 + 1e-12
    dr, dc = dr[disk], dc[disk]
    _, h, w = eligible.shape
    hx, wx = h + 2 * k, w + 2 * k
    day = event_days(events, grid) + back
    r, c = grid.cells(events["latitude"].to_numpy(), events["longitude"].to_numpy())
    r, c = r - (eligible.row_lo - k), c - (eligible.col_lo - k)
    t_all = back + grid.n_days
    ok = (day >= 0) & (day < t_all) & (r >= 0) & (r < hx) & (c >= 0) & (c < wx)
    day, r, c = day[ok], r[ok], c[ok]
    order = np.argsort(day, kind="stable")
    day, flat = day[order], (r * wx + c)[order]
    out = np.zeros((t_all + 1, h, w), dtype=np.int32)
    bounds = np.searchsorted(day, np.arange(0, t_all + _DAY_CHUNK, _DAY_CHUNK))
    for i, t0 in enumerate(range(0, t_all, _DAY_CHUNK)):
        nd = min(_DAY_CHUNK, t_all - t0)
        a, b = bounds[i], bounds[i + 1]
        binned = np.bincount(
            (day[a:b] - t0) * (hx * wx) + flat[a:b], minlength=nd * hx * wx
        ).reshape(nd, hx, wx)
        blk = out[1 + t0 : 1 + t0 + nd]
        for a_r, a_c in zip(dr, dc, strict=True):
            blk += binned[:, k + a_r : k + a_r + h, k + a_c : k + a_c + w].astype(np.int32)
    np.cumsum(out, axis=0, out=out)
    return out


def _counts_to_features(cols: list[np.ndarray], cfg: RecentConfig) -> np.ndarray:
    """log(1 + count) per window; with ``disjoint_windows`` the windows become the lag bins
    [0, N1), [N1, N2), ... (sorted), which are far less collinear."""
    if cfg.disjoint_windows:
        nw = len(cfg.windows_days)
        out = []
        for i in range(len(cols) // nw):
            grp = cols[i * nw : (i + 1) * nw]
            out += [grp[0]] + [grp[j] - grp[j - 1] for j in range(1, nw)]
        cols = out
    return np.stack([np.log1p(c.astype(np.float64)) for c in cols], axis=-1)


def _features(cums: list[np.ndarray], cfg: RecentConfig, day: np.ndarray, back: int):
    """``(len(day), rows*cols, n_features)`` float64 features of every eligible cell."""
    cols = [
        _window_counts(cum, day, int(n), back).reshape(day.size, -1)
        for cum in cums
        for n in sorted(cfg.windows_days)
    ]
    return _counts_to_features(cols, cfg)


def _row_features(cums: list[np.ndarray], cfg: RecentConfig, day, cell, back: int):
    """``(len(day), n_features)`` features of the cell-days ``(day[i], cell[i])``."""
    cols = [
        _window_counts(cum.reshape(cum.shape[0], -1), day, int(n), back, cell)
        for cum in cums
        for n in sorted(cfg.windows_days)
    ]
    return _counts_to_features(cols, cfg)


def _hash_uniform(flat: np.ndarray, seed: int) -> np.ndarray:
    """A fixed pseudo-random number in [0, 1) per cell-day index (splitmix64)."""
    with np.errstate(over="ignore"):
        z = flat.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15) * np.uint64(seed + 1)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) / float(1 << 53)


@dataclass
class _Monotone:
    """A fitted logistic regression on the features ``keep`` (all coefficients >= 0), or a
    constant probability when no feature is kept."""

    model: Pipeline | None
    keep: list[int]
    rate: float

    def predict(self, x: np.ndarray) -> np.ndarray:
        if self.model is None:
            return np.full(x.shape[0], self.rate)
        with threadpool_limits(1):
            return self.model.predict_proba(x[:, self.keep])[:, 1]


def _fit(x: np.ndarray, y: np.ndarray, wgt: np.ndarray, cfg: RecentConfig) -> _Monotone:
    """scikit-learn's logistic regression (standardised features) of the rows, identical rows
    merged with their weights summed (the same likelihood, fewer rows: counts repeat). While a
    coefficient is negative the most negative feature is dropped and the model refitted, so
    more recent events never lower the probability (no wild extrapolation beyond the past)."""
    key = np.concatenate([x, y[:, None].astype(np.float64)], axis=1)
    order = np.lexsort(key.T[::-1])
    key = key[order]
    start = np.concatenate([[True], np.any(key[1:] != key[:-1], axis=1)])
    w = np.bincount(np.cumsum(start) - 1, weights=wgt[order])
    uniq = key[start]
    yy = uniq[:, -1].astype(np.int8)
    keep = list(range(x.shape[1]))
    while keep:
        model = make_pipeline(
            StandardScaler(),
            LogisticRegression(C=cfg.C, solver="newton-cholesky", max_iter=500, tol=1e-10),
        )
        with threadpool_limits(1):  # tiny problems: threads only contend
            model.fit(uniq[:, keep], yy, logisticregression__sample_weight=w)
        coef = model[-1].coef_[0]
        if coef.min() >= 0 or not cfg.monotone:
            return _Monotone(model, keep, 0.0)
        keep.pop(int(np.argmin(coef)))
    return _Monotone(None, [], float((w * yy).sum() / w.sum()))


def recent(
    events: pd.DataFrame,
    grid: Grid,
    eligible: Eligible,
    days: np.ndarray | None,
    target_mag: float,
    cfg: RecentConfig | None = None,
) -> xr.DataArray:
    """The recent-activity baseline on ``days`` (grid day indices; None: every eligible day)."""
    cfg = cfg or RecentConfig()
    cfg.validate()
    d = forecast_days(eligible, days)
    ev = events if cfg.min_mag is None else events[events["mw"].to_numpy() >= cfg.min_mag]
    back = int(max(cfg.windows_days))
    cums = [disk_counts(ev, grid, eligible, float(rad), back) for rad in cfg.radii_deg]
    y = target_cube(events, grid, target_mag)[
        :, eligible.row_lo : eligible.row_hi + 1, eligible.col_lo : eligible.col_hi + 1
    ].reshape(grid.n_days, -1)
    n_cells = y.shape[1]
    p_unif = uniform_rate(events, grid, eligible, target_mag, cfg.uniform)
    seg = segment_start(d, eligible, cfg.refit_days)
    out = np.empty((d.size, n_cells))
    sample = np.zeros(0, dtype=np.int64)  # flat (day * n_cells + cell) indices, sorted
    upto = 0
    n_fits = 0
    for u in np.unique(seg):
        f = min(1.0, cfg.max_train_rows / max(1, int(u) * n_cells))
        new = np.arange(upto * n_cells, int(u) * n_cells, dtype=np.int64)
        sample = np.concatenate([sample, new])
        keep = (_hash_uniform(sample, cfg.seed) < f) | y.reshape(-1)[sample]
        sample, upto = sample[keep], int(u)
        sel = seg == u
        yy = y.reshape(-1)[sample]
        if int(yy.sum()) < cfg.min_positives:
            out[sel] = p_unif[d[sel]][:, None]
            continue
        sd, sc = np.divmod(sample, n_cells)
        x = _row_features(cums, cfg, sd, sc, back)
        model = _fit(x, yy, np.where(yy, 1.0, 1.0 / f), cfg)
        n_fits += 1
        xf = _features(cums, cfg, d[sel], back)
        out[sel] = model.predict(xf.reshape(-1, xf.shape[-1])).reshape(-1, n_cells)
    _, h, w = eligible.shape
    attrs = {k: v for k, v in asdict(cfg).items() if k != "uniform"}
    attrs["n_fits"] = n_fits
    return to_dataarray(out.reshape(d.size, h, w), grid, eligible, d, "recent", target_mag, attrs)
