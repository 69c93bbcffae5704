"""Bridge to pyCSEP (Savran et al. 2022, SRL 93, "pyCSEP: a Python toolkit for earthquake
forecast developers"; installed 0.8): export gridded forecasts and observed targets as pyCSEP
objects and run its gridded consistency and comparison tests, reported as a table.

The export is generic: any ``(lat, lon)`` or ``(lat, lon, magnitude)`` array of expected counts
over a window on a regular grid (a daily probability map, a weekly count forecast of the rate
layer), with the cells to keep. A daily probability becomes an expected count through the
Poisson relation ``p = 1 - exp(-lambda)``, i.e. ``lambda = -ln(1 - p)``; a window's count is the
sum over its days, so ``1 - exp(-Lambda) = 1 - prod (1 - p_d)`` is the probability of at least
one target in the cell over the window (the binary tests' event).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import pandas as pd

from espb.errors import EspbError


def _csep():
    try:
        from csep.core.catalogs import CSEPCatalog
        from csep.core.forecasts import GriddedForecast
        from csep.core.regions import CartesianGrid2D
    except ImportError as e:  # pragma: no cover - pycsep is a dev/extra dependency
        raise EspbError(
            "pyCSEP is not installed; install it into this environment (pip install pycsep)"
        ) from e
    return CSEPCatalog, GriddedForecast, CartesianGrid2D


def expected_counts(p: np.ndarray) -> np.ndarray:
    """Expected count ``lambda = -ln(1 - p)`` of a probability ``p`` of at least one event
    (the Poisson relation pyCSEP's binary tests invert, ``p = 1 - exp(-lambda)``)."""
    p = np.asarray(p, dtype=np.float64)
    if np.any(~((p >= 0) & (p < 1))):
        raise EspbError("expected_counts: probabilities must lie in [0, 1) (and not be NaN)")
    return -np.log1p(-p)


def _cells(lat: np.ndarray, lon: np.ndarray, cells: np.ndarray | None) -> np.ndarray:
    shape = (np.size(lat), np.size(lon))
    if cells is None:
        return np.ones(shape, dtype=bool)
    cells = np.asarray(cells, dtype=bool)
    if cells.shape != shape:
        raise EspbError(f"pyCSEP export: 'cells' has shape {cells.shape}, the grid is {shape}")
    if not cells.any():
        raise EspbError("pyCSEP export: 'cells' selects no cell")
    return cells


def _dh(lat: np.ndarray, dh: float | None) -> float:
    if dh is not None:
        return float(dh)
    if np.size(lat) < 2:
        raise EspbError("pyCSEP export: pass dh (the grid resolution) for a one-row grid")
    return float(round(float(lat[1] - lat[0]), 10))


def csep_region(
    lat: np.ndarray,
    lon: np.ndarray,
    *,
    magnitudes: Sequence[float],
    cells: np.ndarray | None = None,
    dh: float | None = None,
    name: str = "espb",
):
    """A ``csep.core.regions.CartesianGrid2D`` of the selected cells of a regular grid with cell
    centres ``lat`` (rows) and ``lon`` (columns), built with ``CartesianGrid2D.from_origins``
    from the cells' lower-left corners; cells are numbered row-major over ``cells`` (all when
    None), the order :func:`gridded_forecast` uses. ``magnitudes``: the lower edges of the
    magnitude bins (one bin at the target magnitude for a binary daily forecast)."""
    _, _, grid2d = _csep()
    lat, lon = np.asarray(lat, float), np.asarray(lon, float)
    cells = _cells(lat, lon, cells)
    h = _dh(lat, dh)
    la, lo = np.meshgrid(lat, lon, indexing="ij")
    origins = np.column_stack([lo[cells] - h / 2, la[cells] - h / 2])
    return grid2d.from_origins(origins, dh=h, magnitudes=np.asarray(magnitudes, float), name=name)


def gridded_forecast(
    counts: np.ndarray,
    region,
    *,
    cells: np.ndarray | None = None,
    start: dt.datetime,
    end: dt.datetime,
    name: str = "forecast",
):
    """A ``csep.core.forecasts.GriddedForecast`` of expected ``counts`` per cell over
    ``[start, end)``: ``(lat, lon)`` for one magnitude bin or ``(lat, lon, n_mag)``, the cells
    of ``cells`` kept in the region's (row-major) order."""
    _, forecast, _ = _csep()
    c = np.asarray(counts, dtype=np.float64)
    if c.ndim == 2:
        c = c[..., None]
    cells = np.ones(c.shape[:2], bool) if cells is None else np.asarray(cells, bool)
    data = c[cells]
    if data.shape != (region.num_nodes, np.size(region.magnitudes)):
        raise EspbError(
            f"gridded_forecast: {data.shape} counts for a region of {region.num_nodes} cells x "
            f"{np.size(region.magnitudes)} magnitude bins; pass the same cells and bins"
        )
    if np.any(~np.isfinite(data)) or np.any(data < 0):
        raise EspbError("gridded_forecast: expected counts must be finite and >= 0")
    return forecast(
        start_time=start,
        end_time=end,
        data=data,
        region=region,
        magnitudes=np.asarray(region.magnitudes, float),
        name=name,
    )


def _day_window(times: np.ndarray, start: dt.datetime, end: dt.datetime) -> np.ndarray:
    t = pd.DatetimeIndex(pd.to_datetime(times)).tz_localize(None)
    sel = (t >= pd.Timestamp(start)) & (t < pd.Timestamp(end))
    if not sel.any():
        raise EspbError(f"pyCSEP export: no day of the cube in [{start}, {end})")
    return np.asarray(sel)


def window_forecast(
    p: np.ndarray,
    times: np.ndarray,
    region,
    *,
    start: dt.datetime,
    end: dt.datetime,
    cells: np.ndarray | None = None,
    name: str = "forecast",
):
    """The daily probability cube ``p(time, lat, lon)`` over ``[start, end)`` as one
    ``GriddedForecast`` with one magnitude bin: expected count per cell
    ``sum_d -ln(1 - p_d)`` over the window's days (``times``: each slice's day)."""
    sel = _day_window(times, start, end)
    lam = expected_counts(np.asarray(p)[sel]).sum(axis=0)
    return gridded_forecast(lam, region, cells=cells, start=start, end=end, name=name)


def catalog_from_counts(
    counts: np.ndarray,
    times: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    region,
    *,
    start: dt.datetime,
    end: dt.datetime,
    cells: np.ndarray | None = None,
    name: str = "observed",
):
    """Observed events as a ``csep.core.catalogs.CSEPCatalog`` (fields id, origin_time in UTC
    epoch ms, latitude, longitude, depth, magnitude): ``counts(time, lat, lon)`` (targets,
    0/1) or ``counts(time, lat, lon, n_mag)`` events per cell-day and magnitude bin, in
    ``[start, end)`` and the selected ``cells``. Each becomes an event at the cell centre at noon
    UTC of its day, at the lower edge of its magnitude bin, depth 0 km (unknown; unused by the
    gridded tests)."""
    catalog, _, _ = _csep()
    c = np.asarray(counts)
    if c.ndim == 3:
        c = c[..., None]
    lat, lon = np.asarray(lat, float), np.asarray(lon, float)
    cells = _cells(lat, lon, cells)
    sel = _day_window(times, start, end)
    c = np.where(cells[None, :, :, None], c[sel], 0).astype(np.int64)
    t, i, j, m = np.nonzero(c)
    rep = c[t, i, j, m]
    t, i, j, m = (np.repeat(a, rep) for a in (t, i, j, m))
    day = pd.DatetimeIndex(pd.to_datetime(times)).tz_localize(None)[sel]
    ms = (day.to_numpy().astype("datetime64[ms]").astype(np.int64) + 43_200_000)[t]
    mags = np.asarray(region.magnitudes, float)
    data = np.zeros(t.size, dtype=catalog.dtype)
    data["id"] = [str(k).encode() for k in range(t.size)]
    data["origin_time"], data["latitude"], data["longitude"] = ms, lat[i], lon[j]
    data["depth"], data["magnitude"] = 0.0, mags[m]
    return catalog(data=data, region=region, name=name)


def export_window(
    p: np.ndarray,
    y: np.ndarray,
    times: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    *,
    start: dt.datetime,
    end: dt.datetime,
    target_mag: float,
    cells: np.ndarray | None = None,
    dh: float | None = None,
    name: str = "forecast",
):
    """One window of a daily binary forecast as ``(GriddedForecast, CSEPCatalog)`` on the same
    region (the selected ``cells``, one magnitude bin at ``target_mag``): the summed expected
    counts of :func:`window_forecast` and one event per target cell-day."""
    region = csep_region(lat, lon, magnitudes=[target_mag], cells=cells, dh=dh)
    fc = window_forecast(p, times, region, start=start, end=end, cells=cells, name=name)
    cat = catalog_from_counts(y, times, lat, lon, region, start=start, end=end, cells=cells)
    return fc, cat
