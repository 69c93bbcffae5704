"""Writers: ISC and ComCat files that the readers read back into the same event table."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from espb.catalog.build import FilterConfig, IngestConfig, RawCatalog, build_events
from espb.catalog.readers import read_raw, sniff_format
from espb.catalog.writers import _fixed, raw_from_events, write_comcat, write_isc

NO_FILTERS = IngestConfig(filters=FilterConfig(region=None, max_depth_km=None))
TYPES = np.array(["MJMA", "mb", "Ms", "Mw", "ML"])
AUTHORS = np.array(["JMA", "ISC", "NEIC", "GCMT", "IDC"])


def make_raw(n: int = 300, seed: int = 7) -> RawCatalog:
    """A hand-made catalog: ms times, several magnitude reports per event, a few gaps."""
    rng = np.random.default_rng(seed)
    t0 = np.datetime64("1999-12-31T23:59:00", "ms")
    ms = rng.integers(0, 25 * 365 * 86_400_000, n).astype("timedelta64[ms]")
    times = pd.DatetimeIndex(t0 + ms).tz_localize("UTC")
    depth = np.round(rng.uniform(0, 120, n), 2)
    depth[rng.random(n) < 0.05] = np.nan
    events = pd.DataFrame(
        {
            "event_id": [f"{600_000_000 + i}" for i in range(n)],
            "time": times,
            "latitude": rng.uniform(-89.9, 89.9, n),
            "longitude": rng.uniform(-179.9, 179.9, n),
            "depth": depth,
            "line": np.arange(1, n + 1),
            "event_type": rng.choice(["ke", "se", "", "fe"], n),
        }
    )
    k = rng.integers(1, 6, n)
    k[:5] = 0  # events without any magnitude
    rows = np.repeat(np.arange(n), k)
    mags = pd.DataFrame(
        {
            "row": rows,
            "mag": np.round(rng.uniform(2.0, 8.0, len(rows)), 3),
            "mag_type": rng.choice(TYPES, len(rows)),
            "author": rng.choice(AUTHORS, len(rows)),
        }
    )
    return RawCatalog("handmade", None, events, mags)


def assert_same_events(got: pd.DataFrame, want: pd.DataFrame) -> None:
    assert len(got) == len(want) > 0
    g = got.set_index("event_id").loc[want["event_id"]]
    w = want.set_index("event_id")
    assert (g["time"].to_numpy() == w["time"].to_numpy()).all()  # exact to the ms
    np.testing.assert_allclose(g["latitude"], w["latitude"], atol=1e-4 / 2 + 1e-12)
    np.testing.assert_allclose(g["longitude"], w["longitude"], atol=1e-4 / 2 + 1e-12)
    np.testing.assert_allclose(g["depth"], w["depth"], atol=0.05 + 1e-9)
    np.testing.assert_allclose(g["mw"], w["mw"], atol=1e-3)
    assert (g["mag_type"].astype(str).to_numpy() == w["mag_type"].astype(str).to_numpy()).all()
    assert (g["mag_author"].astype(str).to_numpy() == w["mag_author"].astype(str).to_numpy()).all()


@pytest.fixture(scope="module")
def raw() -> RawCatalog:
    return make_raw()


@pytest.fixture(scope="module")
def reference(raw: RawCatalog) -> tuple[pd.DataFrame, dict]:
    ev, rep = build_events(raw, NO_FILTERS)
    return ev, rep.to_dict()


def test_isc_round_trip(tmp_path: Path, raw: RawCatalog, reference) -> None:
    p = write_isc(raw, tmp_path / "cat.isc")
    assert sniff_format(p) == "isc"
    back = read_raw(p, "isc")
    assert len(back.bad) == 0
    assert len(back.events) == len(raw.events) and len(back.mags) == len(raw.mags)
    np.testing.assert_array_equal(back.mags["mag"], raw.mags["mag"])  # 3 decimals survive exactly
    assert back.mags["mag_type"].tolist() == raw.mags["mag_type"].tolist()
    assert back.mags["author"].tolist() == raw.mags["author"].tolist()
    assert back.events["line"].tolist() == list(range(5, 5 + len(raw.events)))
    want_type = raw.events["event_type"].replace("", "ke")
    assert back.events["event_type"].tolist() == want_type.tolist()
    ev, rep = build_events(back, NO_FILTERS)
    got, want = rep.to_dict(), reference[1]
    # the file's times carry no UTC offset (ISC's layout): the report says they were read as UTC
    assert got["flags"].pop("time_zone") == {"no UTC offset: read as UTC": len(raw.events)}
    assert any("taken as UTC" in n for n in got["notes"])
    got["notes"] = [n for n in got["notes"] if "taken as UTC" not in n]
    assert got == want
    assert_same_events(ev, reference[0])


def test_comcat_round_trip(tmp_path: Path, raw: RawCatalog, reference) -> None:
    p = write_comcat(raw, tmp_path / "cat.csv")
    assert sniff_format(p) == "comcat"
    back = read_raw(p, "comcat")
    assert len(back.events) == len(raw.events)
    assert (back.events["event_type"] == "earthquake").all()
    # events without a magnitude are written with an empty mag: bad rows for the reader
    assert sorted(back.bad["row"].tolist()) == [0, 1, 2, 3, 4]
    ev, rep = build_events(back, IngestConfig(filters=NO_FILTERS.filters, on_bad_rows="skip"))
    assert rep.reasons.get("bad_row") == 5
    assert_same_events(ev, reference[0])


def test_round_trip_with_paper_filters(tmp_path: Path, raw: RawCatalog) -> None:
    want, rep0 = build_events(raw)
    got, rep1 = build_events(read_raw(write_isc(raw, tmp_path / "c.isc"), "isc"))
    assert rep1.reasons == rep0.reasons
    if len(want):
        assert_same_events(got, want)


def test_raw_from_events_round_trip(tmp_path: Path, reference) -> None:
    ev = reference[0]
    raw2 = raw_from_events(ev)
    assert raw2.source == "handmade" and len(raw2.mags) == len(ev)
    for writer, fmt in ((write_isc, "isc"), (write_comcat, "comcat")):
        out, rep = build_events(read_raw(writer(raw2, tmp_path / f"e.{fmt}"), fmt), NO_FILTERS)
        assert rep.n_kept == len(ev)
        assert_same_events(out, ev)


def test_writers_are_atomic_and_overwrite(tmp_path: Path, raw: RawCatalog) -> None:
    p = tmp_path / "sub" / "cat.isc"
    write_isc(raw, p)
    first = p.read_bytes()
    small = RawCatalog("x", None, raw.events.head(3), raw.mags[raw.mags["row"] < 3])
    write_isc(small, p)
    assert p.read_bytes() != first and p.read_bytes().endswith(b"STOP\n")
    assert [q.name for q in p.parent.iterdir()] == ["cat.isc"]  # no temporary file left
    bad = RawCatalog("x", None, raw.events.drop(columns="latitude"), raw.mags)
    with pytest.raises(KeyError):
        write_comcat(bad, tmp_path / "sub" / "c.csv")
    assert [q.name for q in p.parent.iterdir()] == ["cat.isc"]


def test_isc_layout(tmp_path: Path) -> None:
    ev = pd.DataFrame(
        {
            "event_id": ["16958065", "7"],
            "time": pd.to_datetime(
                ["2000-01-01 00:08:14.95", "2001-02-03 04:05:06.0004"], utc=True
            ),
            "latitude": [35.953, -5.1],
            "longitude": [139.756, -170.5],
            "depth": [54.4, np.nan],
            "line": [1, 2],
            "event_type": ["", "km"],
        }
    )
    mags = pd.DataFrame(
        {"row": [0, 0], "mag": [3.2, 4.1], "mag_type": ["MJMA", "mb"], "author": ["JMA", "ISC"]}
    )
    p = write_isc(RawCatalog("x", None, ev, mags), tmp_path / "a.isc")
    lines = p.read_text().splitlines()
    assert lines[0] == "DATA_TYPE EVENT_CATALOGUE"
    assert lines[3].lstrip().startswith("EVENTID,TYPE,AUTHOR")
    assert lines[4] == (
        " 16958065,ke ,ISC      ,2000-01-01,00:08:14.950, 35.9530, 139.7560, 54.4,FALSE ,"
        "JMA      ,MJMA  , 3.200,ISC      ,mb    , 4.100"
    )
    assert (
        lines[5]
        == "        7,km ,ISC      ,2001-02-03,04:05:06.000, -5.1000,-170.5000,     ,FALSE "
    )
    assert lines[6] == "STOP"


def test_comcat_layout(tmp_path: Path) -> None:
    ev = pd.DataFrame(
        {
            "event_id": ["a,1"],
            "time": pd.to_datetime(["2026-02-25T17:17:01.958Z"]),
            "latitude": [31.6595],
            "longitude": [132.0641],
            "depth": [10.0],
            "line": [1],
            "event_type": ["km"],
        }
    )
    mags = pd.DataFrame(
        {"row": [0, 0], "mag": [4.5, 4.9], "mag_type": ["MJMA", "mww"], "author": ["JMA", "us"]}
    )
    p = write_comcat(RawCatalog("x", None, ev, mags), tmp_path / "a.csv")
    lines = p.read_text().splitlines()
    assert lines[0].startswith(
        "time,latitude,longitude,depth,mag,magType,nst,gap,dmin,rms,net,id,updated,place,type"
    )
    assert (
        lines[1]
        == '2026-02-25T17:17:01.958Z,31.6595,132.0641,10.000,4.900,mww,,,,,us,"a,1",,,km,,,,,,,us'
    )
    back = read_raw(p, "comcat")
    assert back.events["event_id"].tolist() == ["a,1"]


def test_fixed_matches_fstrings() -> None:
    rng = np.random.default_rng(1)
    x = np.concatenate(
        [
            rng.uniform(-400, 400, 20_000),
            np.round(rng.uniform(-10, 10, 5_000), 4),  # many exact ties at 3 decimals
            [
                0.0,
                -0.0,
                -0.0004,
                0.0005,
                0.0015,
                2.5,
                1e6 + 0.0005,
                -179.99995,
                123456789.1234,
                3e20,
                -1.5e16,
            ],
        ]
    )
    for d, w in ((4, 9), (3, 0), (1, 5), (0, 0)):
        got = _fixed(x, d, w).to_pylist()
        want = [f"{v:{w}.{d}f}" if w else f"{v:.{d}f}" for v in x]
        assert got == want
    assert _fixed(np.array([np.nan, 1.0]), 1, 5).to_pylist() == ["     ", "  1.0"]


@pytest.mark.slow
def test_isc_read_speed_paper_size(tmp_path: Path) -> None:
    n = 1_700_000
    rng = np.random.default_rng(0)
    t0 = np.datetime64("1964-01-01T00:00:00", "ms")
    times = pd.DatetimeIndex(
        t0 + np.sort(rng.integers(0, 55 * 365 * 86_400_000, n)).astype("timedelta64[ms]")
    )
    events = pd.DataFrame(
        {
            "event_id": np.arange(600_000_000, 600_000_000 + n).astype(str),
            "time": times.tz_localize("UTC"),
            "latitude": rng.uniform(30, 47, n),
            "longitude": rng.uniform(128, 150, n),
            "depth": np.where(rng.random(n) < 0.03, np.nan, rng.uniform(0, 200, n)),
            "line": np.arange(1, n + 1),
            "event_type": rng.choice(["ke", "se", "km"], n, p=[0.9, 0.08, 0.02]),
        }
    )
    k = rng.integers(1, 4, n)
    rows = np.repeat(np.arange(n), k)
    mags = pd.DataFrame(
        {
            "row": rows,
            "mag": np.round(rng.uniform(1, 7, len(rows)), 1),
            "mag_type": rng.choice(TYPES, len(rows)),
            "author": rng.choice(AUTHORS, len(rows)),
        }
    )
    p = tmp_path / "paper_size.isc"
    t = time.perf_counter()
    write_isc(RawCatalog("synthetic", None, events, mags), p)
    t_write = time.perf_counter() - t
    t = time.perf_counter()
    back = read_raw(p, "isc")
    t_read = time.perf_counter() - t
    size = p.stat().st_size / 2**20
    print(
        f"\nISC {n:,} rows, {len(rows):,} magnitudes, {size:.0f} MiB: write {t_write:.1f} s "
        f"({n / t_write:,.0f} rows/s), read {t_read:.1f} s ({n / t_read:,.0f} rows/s)"
    )
    assert len(back.events) == n and len(back.mags) == len(rows) and len(back.bad) == 0
    assert t_read < 60
