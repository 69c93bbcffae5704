"""``cube show``'s picture (espb.bvalue.plot): the events circled are those of the day after the
map's day (the day a map of day d forecasts; issue 15 found them off by one day), bad options
are clear errors, and nothing region-specific is drawn unless the caller asks for it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from espb.bvalue.config import load_cube_config
from espb.bvalue.cube import build_cube
from espb.bvalue.plot import Annotation, draw_cube, next_day_events, plot_cube
from espb.errors import EspbError

from .helpers import events_frame

DAY = "2019-07-05"  # the map's day


def _catalog() -> pd.DataFrame:
    """Background events in Southern California plus hand-placed Mw >= 5 events around DAY."""
    rng = np.random.default_rng(1)
    n = 400
    t = pd.Timestamp("2019-01-01", tz="UTC") + pd.to_timedelta(rng.uniform(0, 360, n), unit="D")
    lat = 35.0 + rng.uniform(-0.9, 0.9, n)
    lon = -117.5 + rng.uniform(-0.9, 0.9, n)
    mw = np.minimum(np.round(1.5 + rng.exponential(0.43, n), 1), 4.5)
    special = [  # (time, mw): which of them are "next day" for the map of DAY
        ("2019-07-05T12:00:00", 6.0),  # the map's own day: NOT next day
        ("2019-07-05T23:59:59.999", 5.1),  # still the map's day
        ("2019-07-06T00:00:00", 5.5),  # next day, first instant
        ("2019-07-06T03:19:53", 7.1),  # next day
        ("2019-07-06T23:59:59.999", 5.0),  # next day, last instant, exactly the threshold
        ("2019-07-06T10:00:00", 4.9),  # next day but below the threshold
        ("2019-07-07T00:00:00", 6.4),  # the day after next
    ]
    st = pd.to_datetime([s[0] for s in special], utc=True, format="ISO8601")
    df = events_frame(
        np.r_[lat, np.full(len(special), 35.7)],
        np.r_[lon, np.full(len(special), -117.5)],
        np.r_[mw, [s[1] for s in special]],
        np.r_[t.to_numpy(), st.to_numpy()],
    )
    return df


@pytest.fixture(scope="module")
def catalog():
    return _catalog()


@pytest.fixture(scope="module")
def cube(catalog):
    cfg = load_cube_config(
        "paper",
        region=[34.0, 36.0, -118.5, -116.5],
        start="2019-03-01",
        end="2019-12-31",
        dr=0.5,
        dt=90,
    )
    ds, _ = build_cube(catalog, cfg)
    return ds


def test_next_day_events_are_those_of_day_plus_one(catalog):
    got = next_day_events(catalog, pd.Timestamp(DAY), 5.0)
    assert sorted(got["mw"].tolist()) == [5.0, 5.5, 7.1]
    t = pd.DatetimeIndex(got["time"])
    assert (t >= pd.Timestamp("2019-07-06", tz="UTC")).all()
    assert (t < pd.Timestamp("2019-07-07", tz="UTC")).all()
    # tz-aware day and a naive day agree
    assert next_day_events(catalog, pd.Timestamp(DAY, tz="UTC"), 5.0).equals(got)


def test_the_plot_circles_the_next_days_events(catalog, cube, tmp_path):
    info = plot_cube(cube, tmp_path / "b.png", day=DAY, events=catalog)
    assert info["day"] == DAY and info["marked_day"] == "2019-07-06"
    assert info["n_marked"] == 3
    ids = set(next_day_events(catalog, pd.Timestamp(DAY), 5.0)["event_id"])
    assert set(info["marked_event_ids"]) == ids
    assert (tmp_path / "b.png").stat().st_size > 10_000
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left
    # another magnitude: 4.9 joins
    assert (
        plot_cube(cube, tmp_path / "c.png", day=DAY, events=catalog, mag_min=4.9)["n_marked"] == 4
    )


def _texts(fig) -> str:
    """Every text of the figure: titles, annotations, legend labels, the suptitle."""
    parts = [fig._suptitle.get_text() if fig._suptitle else ""]
    for ax in fig.axes:
        parts += [ax.get_title(), *(t.get_text() for t in ax.texts)]
        parts += ax.get_legend_handles_labels()[1]
    return " | ".join(parts)


def test_nothing_region_specific_unless_asked(catalog, cube):
    import matplotlib.pyplot as plt

    fig, _ = draw_cube(cube, day=DAY, events=catalog)
    text = _texts(fig)
    plt.close(fig)
    for word in ("Tohoku", "Tōhoku", "Japan", "2011"):
        assert word not in text
    assert "2019-07-06 (next day)" in text
    marks = [Annotation("Ridgecrest M7.1", pd.Timestamp("2019-07-06T03:19:53Z"), 35.77, -117.6)]
    fig, _ = draw_cube(cube, day=DAY, events=catalog, annotations=marks)
    text = _texts(fig)
    plt.close(fig)
    assert "Ridgecrest M7.1" in text


@pytest.mark.parametrize(
    ("kw", "words"),
    [
        ({"min_events": 0}, ["--min-events 0", ">= 1"]),
        ({"min_events": -3}, ["--min-events -3"]),
        ({"day": "not-a-day"}, ["--day 'not-a-day'", "YYYY-MM-DD", "2019-03-01"]),
        ({"day": "2030-01-01"}, ["outside the cube"]),
        ({"cell": (float("nan"), -117.0)}, ["--cell", "finite"]),
        ({"cell": (10.0, 10.0)}, ["outside the cube's grid"]),
    ],
)
def test_bad_options_are_clear_errors(cube, tmp_path, kw, words):
    with pytest.raises(EspbError) as ei:
        plot_cube(cube, tmp_path / "x.png", **kw)
    for w in words:
        assert w in str(ei.value), (w, str(ei.value))


def test_an_unwritable_output_is_a_clear_error(cube, tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(EspbError, match="cannot write"):
        plot_cube(cube, tmp_path / "file" / "b.png")
