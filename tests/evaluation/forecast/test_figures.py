"""Each figure draws from computed data on tiny inputs and shows what it was given."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from espb.evaluation.forecast.alarms import molchan
from espb.evaluation.forecast.figures import (
    forecast_map_figure,
    ig_time_figure,
    molchan_figure,
    reliability_figure,
)
from espb.evaluation.forecast.scores import ig_over_time, reliability


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=40)
    return buf.getvalue()


def test_molchan_figure(cube):
    p, y, r, _, mask = cube
    curves = {"model": molchan(p, y, mask=mask), "spatial": molchan(r, y, mask=mask)}
    for log_tau in (False, True):
        fig = molchan_figure(curves, log_tau=log_tau)
        ax = fig.axes[0]
        lines = ax.get_lines()
        assert len(lines) == 3  # diagonal + two curves
        assert np.array_equal(lines[1].get_xdata(), curves["model"].tau)
        labels = [t.get_text() for t in ax.get_legend().get_texts()]
        assert any(f"{curves['model'].ass:.3f}" in s for s in labels)
        assert ax.get_xscale() == ("log" if log_tau else "linear")
        assert _png(fig).startswith(b"\x89PNG")


def test_reliability_figure(cube):
    p, y, r, _, mask = cube
    tabs = {
        "model": reliability(p, y, mask=mask, n_bins=5, strategy="quantile"),
        "spatial": reliability(r, y, mask=mask, n_bins=5, strategy="log"),
    }
    fig = reliability_figure(tabs)
    assert len(fig.axes) == 2
    assert len(fig.axes[1].get_lines()) == 2  # one count histogram per forecast
    assert _png(fig)


def test_ig_time_figure(cube):
    p, y, r, day, mask = cube
    s = ig_over_time(p, r, y, day, mask=mask)
    dates = pd.date_range("2020-01-01", periods=p.shape[0], freq="D")
    fig = ig_time_figure(
        {"model vs spatial": s, "model vs self": ig_over_time(p, p, y, day)}, dates=dates
    )
    line = fig.axes[0].get_lines()[0]
    assert np.allclose(line.get_ydata(), s["cum_ig"].to_numpy(), equal_nan=True)
    assert _png(fig)


def test_forecast_map_figure_any_region():
    rng = np.random.default_rng(0)
    lat = -33.0 + 0.5 * np.arange(4)  # southern hemisphere, coarse grid
    lon = 150.0 + 0.5 * np.arange(5)
    prob = rng.uniform(1e-4, 0.1, (4, 5))
    prob[0, 0] = np.nan  # outside the scored cells
    fig = forecast_map_figure(
        prob, lat, lon, event_lat=np.array([-32.0]), event_lon=np.array([151.0]), title="day 12"
    )
    ax = fig.axes[0]
    img = ax.get_images()[0]
    assert np.nanmax(img.get_array()) == np.log10(np.nanmax(prob))
    assert img.get_extent() == [149.75, 152.25, -33.25, -31.25]
    assert len(ax.collections) == 1  # the target events
    assert _png(fig)
