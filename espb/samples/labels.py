"""EQ / nEQ labelling rules of paper Section 2.2, as pure vectorised functions.

Conventions (all day numbers are UTC day indices into the cube, day 0 = the cube's first day):

- A sample is ``(target, row, col)``: the block covers days ``target - lookback .. target - 1``
  (``lookback`` days ending the day before ``target``) and cells
  ``row - patch/2 .. row + patch/2 - 1`` x ``col - patch/2 .. col + patch/2 - 1``; ``target`` is
  the forecast day, "the day after the block ends" (paper Section 3.1).
- A centre is usable when the block fits in the grid (``patch/2 <= row <= nlat - patch/2``) and
  in time (``lookback <= target <= n_days - 1``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from espb.samples.config import SampleConfig

#: tolerance on the L1 radius (degrees), so events exactly on the radius count
L1_TOL = 1e-9


@dataclass(frozen=True)
class Grid:
    """The cube's cell grid and calendar: cell ``(i, j)`` covers
    ``[lat0 + i*res, lat0 + (i+1)*res) x [lon0 + j*res, lon0 + (j+1)*res)``."""

    lat0: float
    lon0: float
    res: float
    nlat: int
    nlon: int
    start: pd.Timestamp
    n_days: int

    @classmethod
    def from_cube(cls, ds) -> Grid:
        lat = np.asarray(ds["lat"].values, dtype=float)
        lon = np.asarray(ds["lon"].values, dtype=float)
        res = float(
            ds.attrs.get("resolution", round(float(lat[1] - lat[0]), 10) if len(lat) > 1 else 0.1)
        )
        start = pd.Timestamp(ds["time"].values[0]).tz_localize("UTC")
        return cls(
            float(lat[0]) - res / 2,
            float(lon[0]) - res / 2,
            res,
            len(lat),
            len(lon),
            start,
            int(ds.sizes["time"]),
        )

    def lat_centres(self) -> np.ndarray:
        return self.lat0 + (np.arange(self.nlat) + 0.5) * self.res

    def lon_centres(self) -> np.ndarray:
        return self.lon0 + (np.arange(self.nlon) + 0.5) * self.res

    def day(self, times: pd.Series) -> np.ndarray:
        """UTC day index of each time (floor: 23:59:59.999 belongs to its day)."""
        t = pd.to_datetime(times, utc=True)
        return ((t - self.start) // pd.Timedelta(days=1)).to_numpy(dtype=np.int64)

    def cells(self, lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Cell row and column of each position (may fall outside ``[0, n)``)."""
        r = np.floor((np.asarray(lat, float) - self.lat0) / self.res + 1e-9).astype(np.int64)
        c = np.floor((np.asarray(lon, float) - self.lon0) / self.res + 1e-9).astype(np.int64)
        return r, c

    def day_of(self, date: str | pd.Timestamp) -> int:
        """The day index of a date (``"2019-12-31"``: the day it names, UTC)."""
        ts = pd.Timestamp(date)
        ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
        return int((ts - self.start) // pd.Timedelta(days=1))

    def date(self, day: np.ndarray | int) -> pd.DatetimeIndex:

        return (self.start + pd.to_timedelta(np.asarray(day), unit="D")).tz_localize(None)


def eq_samples(events: pd.DataFrame, grid: Grid, cfg: SampleConfig) -> pd.DataFrame:
    """EQ samples (paper Section 2.2): an event with Mw >= ``eq_min_mag`` at the centre cell on the
    day after the block ends; one per (cell, day), keeping the largest magnitude and its event id;
    centres at least ``patch/2`` cells from the border and with a full ``lookback`` before.

    Returns columns ``target, row, col, mw, event_id, n_events_same_cell_day`` sorted by target,
    row, col. The counts of events removed by each rule are in ``.attrs["dropped"]``.
    """
    ev = events[events["mw"].to_numpy() >= cfg.eq_min_mag]
    day = grid.day(ev["time"])
    r, c = grid.cells(ev["latitude"].to_numpy(), ev["longitude"].to_numpy())
    h = cfg.half
    in_time = (day >= cfg.lookback) & (day <= grid.n_days - 1)
    in_grid = (r >= 0) & (r < grid.nlat) & (c >= 0) & (c < grid.nlon)
    centre_ok = (r >= h) & (r <= grid.nlat - h) & (c >= h) & (c <= grid.nlon - h)
    dropped = {
        "outside_time": int(np.count_nonzero(~in_time)),
        "outside_grid": int(np.count_nonzero(in_time & ~in_grid)),
        "near_border": int(np.count_nonzero(in_time & in_grid & ~centre_ok)),
    }
    keep = in_time & in_grid & centre_ok
    df = pd.DataFrame(
        {
            "target": day[keep],
            "row": r[keep],
            "col": c[keep],
            "mw": ev["mw"].to_numpy()[keep].astype(float),
            "event_id": ev["event_id"].to_numpy()[keep]
            if "event_id" in ev
            else np.arange(int(keep.sum())),
        }
    )
    df = df.sort_values(
        ["target", "row", "col", "mw"], ascending=[True, True, True, False], kind="stable"
    )
    counts = df.groupby(["target", "row", "col"], sort=False)["mw"].transform("size")
    df["n_events_same_cell_day"] = counts.to_numpy()
    before = len(df)
    df = df.drop_duplicates(["target", "row", "col"], keep="first").reset_index(drop=True)
    dropped["same_cell_day"] = before - len(df)
    df.attrs["dropped"] = dropped
    df.attrs["n_candidates"] = len(ev)
    return df


def exclusion_mask(events: pd.DataFrame, grid: Grid, cfg: SampleConfig) -> np.ndarray:
    """``(n_days, nlat, nlon)`` bool: True where a cell-day may not be an nEQ forecast day because
    an event with Mw >= ``m_lim`` lies within the L1 (taxicab) radius ``l1_radius`` of the cell
    centre, ``|dlat| + |dlon| <= l1_radius`` in degrees, and between ``exclusion_before`` days
    before and ``exclusion_after`` days after (paper Section 2.2: 0.8 deg, +-7 days).

    Events outside the cube's days still exclude the days within reach of them."""
    ev = events[events["mw"].to_numpy() >= cfg.m_lim]
    T, H, W = grid.n_days, grid.nlat, grid.nlon
    diff = np.zeros((T + 1, H, W), dtype=np.int32)
    if len(ev):
        day = grid.day(ev["time"])
        lat = ev["latitude"].to_numpy(float)
        lon = ev["longitude"].to_numpy(float)
        lo = np.maximum(day - cfg.exclusion_after, 0)  # forecast days tau with day - after <= tau
        hi = np.minimum(day + cfg.exclusion_before, T - 1)  # ... and tau <= day + before
        ok = lo <= hi
        r0, c0 = grid.cells(lat, lon)
        k = int(np.ceil(cfg.l1_radius / grid.res)) + 1
        off = np.arange(-k, k + 1)
        dr, dc = np.meshgrid(off, off, indexing="ij")
        dr, dc = dr.ravel(), dc.ravel()
        rr = r0[:, None] + dr[None, :]
        cc = c0[:, None] + dc[None, :]
        dist = np.abs(grid.lat0 + (rr + 0.5) * grid.res - lat[:, None]) + np.abs(
            grid.lon0 + (cc + 0.5) * grid.res - lon[:, None]
        )
        m = (
            (dist <= cfg.l1_radius + L1_TOL)
            & (rr >= 0)
            & (rr < H)
            & (cc >= 0)
            & (cc < W)
            & ok[:, None]
        )
        e_idx, _ = np.nonzero(m)
        rr, cc = rr[m], cc[m]
        np.add.at(diff, (lo[e_idx], rr, cc), 1)
        np.add.at(diff, (hi[e_idx] + 1, rr, cc), -1)
    return np.cumsum(diff[:T], axis=0, dtype=np.int32) > 0


def block_mean_counts(n_events: np.ndarray, cfg: SampleConfig) -> np.ndarray:
    """Mean of ``n_events`` over every block: ``out[target, row, col]`` for the block that
    ends on ``target - 1`` centred at ``(row, col)``; NaN where the block does not fit.

    Summed-area tables in space and then in time: O(n_days x nlat x nlon), exact in float64."""
    T, H, W = n_events.shape
    P, L, h = cfg.patch, cfg.lookback, cfg.half
    out = np.full((T, H, W), np.nan, dtype=np.float32)
    if H < P or W < P or T <= L:
        return out
    # spatial box sums of every P x P window, per day: (T, H-P+1, W-P+1), top-left indexed
    box = np.empty((T, H - P + 1, W - P + 1), dtype=np.float64)
    step = 512
    for t0 in range(0, T, step):
        s = np.zeros((min(step, T - t0), H + 1, W + 1), dtype=np.float64)
        s[:, 1:, 1:] = np.cumsum(
            np.cumsum(n_events[t0 : t0 + step], axis=1, dtype=np.float64), axis=2
        )
        box[t0 : t0 + step] = s[:, P:, P:] - s[:, :-P, P:] - s[:, P:, :-P] + s[:, :-P, :-P]
    cum = np.zeros((T + 1,) + box.shape[1:], dtype=np.float64)
    np.cumsum(box, axis=0, out=cum[1:])
    # block for forecast day tau covers days tau-L .. tau-1: cum[tau] - cum[tau-L]
    tau = np.arange(L, T)
    mean = (cum[tau] - cum[tau - L]) / float(L * P * P)
    out[L:T, h : H - P + 1 + h, h : W - P + 1 + h] = mean
    return out


@dataclass
class NeqPool:
    """The nEQ candidates: flat indices into ``(n_days, nlat, nlon)``, sorted (by day first), and
    ``day_ptr`` such that the candidates with forecast day ``d`` are ``flat[day_ptr[d]:day_ptr[d+1]]``."""

    flat: np.ndarray
    day_ptr: np.ndarray
    shape: tuple[int, int, int]

    def __len__(self) -> int:
        return len(self.flat)

    def count(self, lo: int, hi: int) -> int:
        lo, hi = max(lo, 0), min(hi, self.shape[0])
        return int(self.day_ptr[hi] - self.day_ptr[lo]) if hi > lo else 0

    def draw(self, lo: int, hi: int, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` candidates (flat indices, sorted) with forecast day in ``[lo, hi)``, uniformly
        without replacement; all of them if there are fewer."""
        a, b = int(self.day_ptr[max(lo, 0)]), int(self.day_ptr[min(hi, self.shape[0])])
        if b - a <= n:
            return self.flat[a:b].copy()
        pick = rng.choice(b - a, size=n, replace=False)
        return np.sort(self.flat[a + pick])

    def unravel(self, flat: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return np.unravel_index(flat, self.shape)

    def per_day(self) -> np.ndarray:
        return np.diff(self.day_ptr)


def neq_pool(excluded: np.ndarray, mean_counts: np.ndarray, cfg: SampleConfig) -> NeqPool:
    """nEQ candidates (paper Section 2.2): usable centres with no exclusion and a block mean of at
    least ``min_mean_events`` events per cylinder."""
    T, H, W = excluded.shape
    ok = ~excluded & (mean_counts >= cfg.min_mean_events)  # NaN (block does not fit) -> False
    flat = np.flatnonzero(ok)
    day_ptr = np.searchsorted(flat, np.arange(T + 1) * (H * W)).astype(np.int64)
    return NeqPool(flat.astype(np.int64), day_ptr, (T, H, W))
