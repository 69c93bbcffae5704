"""Input conventions: time zones, depth sign, compression, 24:00 / :60, encodings, dates out of
range, each bad row reported once. Small hand-made catalogs; every test fails on the code
before these conventions were handled."""

from __future__ import annotations

import bz2
import gzip
import lzma
from pathlib import Path

import pandas as pd
import pytest

from espb.catalog.build import FilterConfig, IngestConfig
from espb.catalog.readers import ingest
from espb.errors import CatalogError, ConfigError
from tests.catalog.test_bad_input import (
    COMCAT_HEADER,
    CSV_HEADER,
    CSV_MAPPING,
    ISC_HEAD,
    comcat_row,
    isc_row,
    qml_event,
    write,
)

NO_FILTERS = FilterConfig(region=None, max_depth_km=None)


def cfg(**kw) -> IngestConfig:
    return IngestConfig(filters=kw.pop("filters", NO_FILTERS), **kw)


def csv_text(rows: list[str]) -> str:
    return "\n".join([CSV_HEADER, *rows]) + "\n"


def times(df: pd.DataFrame) -> list[str]:
    return [t.isoformat() for t in df.sort_values("event_id")["time"]]


# --- time zones -----------------------------------------------------------------------------


def test_naive_times_are_utc_unless_a_timezone_is_given(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        "jst.csv",
        csv_text(
            [
                "2020-01-01 09:00:00,35,140,10,2.0",  # naive: local time when told
                "2020-01-01T09:00:00+09:00,35,140,10,2.1",  # has an offset: always converted
                "2020-01-01T00:00:00Z,35,140,10,2.2",
            ]
        ),
    )
    opts = {"mapping": {**CSV_MAPPING, "event_id": "magnitude"}, "mag_type": "ML"}
    ev, rep, _ = ingest(p, "csv", cfg(), **opts)
    assert times(ev) == [
        "2020-01-01T09:00:00+00:00",
        "2020-01-01T00:00:00+00:00",
        "2020-01-01T00:00:00+00:00",
    ]
    assert rep.flags["time_zone"] == {
        "no UTC offset: read as UTC": 1,
        "with a UTC offset: converted to UTC": 2,
    }
    assert any("taken as UTC" in n and "--timezone" in n for n in rep.notes)
    for tz in ("Asia/Tokyo", "+09:00", "UTC+9"):
        ev, rep, meta = ingest(p, "csv", cfg(timezone=tz), **opts)
        assert times(ev) == ["2020-01-01T00:00:00+00:00"] * 3, tz
        assert rep.flags["time_zone"][f"no UTC offset: read as {tz}"] == 1
        assert meta["ingest_config"]["timezone"] == tz
    with pytest.raises(ConfigError, match="Mars/Olympus"):
        cfg(timezone="Mars/Olympus").validate()


def test_local_times_that_do_not_exist_are_bad_rows(tmp_path: Path) -> None:
    # 2020-03-29 02:30 does not exist in Zurich (clocks jump from 02:00 to 03:00)
    p = write(
        tmp_path,
        "ch.csv",
        csv_text(["2020-03-29 02:30:00,47,8,5,1.0", "2020-03-29 04:00:00,47,8,5,1.1"]),
    )
    opts = {"mapping": CSV_MAPPING, "mag_type": "ML"}
    with pytest.raises(CatalogError, match="does not exist or is ambiguous in Europe/Zurich"):
        ingest(p, "csv", cfg(timezone="Europe/Zurich"), **opts)
    ev, rep, _ = ingest(p, "csv", cfg(timezone="Europe/Zurich", on_bad_rows="skip"), **opts)
    assert times(ev) == ["2020-03-29T02:00:00+00:00"] and rep.reasons["bad_row"] == 1


# --- depth sign -----------------------------------------------------------------------------


def test_negative_down_depths_are_flipped_so_the_depth_limit_works(tmp_path: Path) -> None:
    rows = [comcat_row(depth=d, eid=f"e{i}") for i, d in enumerate(["-5", "-8", "-100"])]
    p = write(tmp_path, "neg.csv", "\n".join([COMCAT_HEADER, *rows]) + "\n")
    limit = FilterConfig(region=None, max_depth_km=70)
    with pytest.raises(CatalogError) as ei:  # -100 km is outside the depth bounds
        ingest(p, "comcat", cfg(filters=limit))
    assert "--depth-positive up" in str(ei.value) and "line 4, column 'depth'" in str(ei.value)
    ev, rep, _ = ingest(p, "comcat", cfg(filters=limit, depth_positive="up"))
    assert sorted(ev["depth"]) == [5.0, 8.0] and rep.reasons == {"too_deep": 1}
    assert rep.flags["depth_flipped"] == {"depths multiplied by -1": 3}
    # negative depths within the bounds pass the limit: said loudly
    q = write(tmp_path, "neg2.csv", "\n".join([COMCAT_HEADER, *rows[:2]]) + "\n")
    ev, rep, _ = ingest(q, "comcat", cfg(filters=limit))
    assert len(ev) == 2 and rep.flags["negative_depth"] == {"depth < 0 km (above sea level)": 2}
    assert any("--depth-positive up" in n for n in rep.notes)
    with pytest.raises(ConfigError, match="depth_positive"):
        cfg(depth_positive="sideways").validate()


# --- compression ----------------------------------------------------------------------------


def _files(tmp_path: Path) -> dict[str, tuple[str, str, dict]]:
    qml = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<q:quakeml xmlns="http://quakeml.org/xmlns/bed/1.2" '
        'xmlns:q="http://quakeml.org/xmlns/quakeml/1.2">\n  <eventParameters publicID="smi:x/ep">\n'
        + qml_event(1)
        + qml_event(2, t="2020-01-02T00:00:00Z")
        + "  </eventParameters>\n</q:quakeml>\n"
    )
    return {
        "comcat": (
            "\n".join([COMCAT_HEADER, comcat_row(), comcat_row(eid="b")]) + "\n",
            "comcat",
            {},
        ),
        "isc": ("\n".join([*ISC_HEAD, isc_row(), isc_row(eid="2"), "STOP"]) + "\n", "isc", {}),
        "csv": (
            csv_text(["2020-01-01,35,140,10,2.0", "2020-01-02,35,140,10,2.1"]),
            "csv",
            {"mapping": CSV_MAPPING, "mag_type": "ML"},
        ),
        "quakeml": (qml, "quakeml", {}),
    }


@pytest.mark.parametrize("fmt", ["comcat", "isc", "csv", "quakeml"])
@pytest.mark.parametrize("comp", ["gzip", "bz2", "xz"])
def test_every_text_format_reads_compressed_files_by_magic_bytes(
    tmp_path: Path, fmt: str, comp: str
) -> None:
    text, _, opts = _files(tmp_path)[fmt]
    plain = write(tmp_path, "plain.txt", text)
    packed = tmp_path / "catalog.dat"  # no telling suffix: detected by content
    packed.write_bytes({"gzip": gzip, "bz2": bz2, "xz": lzma}[comp].compress(text.encode()))
    want, _, _ = ingest(plain, "auto" if fmt != "csv" else fmt, cfg(), **opts)
    for f in ("auto", fmt) if fmt != "csv" else (fmt,):
        got, _, meta = ingest(packed, f, cfg(), **opts)
        pd.testing.assert_frame_equal(got, want)
        assert meta["source"]["sha256"] != ""  # provenance hashes the file as stored


def test_damaged_compressed_file_is_a_clear_error(tmp_path: Path) -> None:
    text, _, _ = _files(tmp_path)["comcat"]
    p = tmp_path / "cut.csv.gz"
    p.write_bytes(gzip.compress(text.encode())[:-12])
    with pytest.raises(CatalogError, match="cut.csv.gz.*damaged or truncated"):
        ingest(p, "comcat", cfg())
    z = tmp_path / "cat.zip"
    z.write_bytes(b"PK\x03\x04" + b"\x00" * 40)
    with pytest.raises(CatalogError, match="zip archive"):
        ingest(z, "auto", cfg())


# --- 24:00:00 and :60 -----------------------------------------------------------------------


def test_end_of_day_and_leap_seconds_roll_over_and_are_counted(tmp_path: Path) -> None:
    cc = write(
        tmp_path,
        "cc.csv",
        "\n".join(
            [
                COMCAT_HEADER,
                comcat_row(t="2016-12-31T23:59:60.500Z", eid="leap"),
                comcat_row(t="2020-01-01T24:00:00Z", eid="eod"),
                comcat_row(t="2020-01-01T12:34:60Z", eid="round"),
            ]
        )
        + "\n",
    )
    ev, rep, _ = ingest(cc, "comcat", cfg())
    assert dict(zip(ev["event_id"], [t.isoformat() for t in ev["time"]], strict=True)) == {
        "leap": "2017-01-01T00:00:00.500000+00:00",
        "eod": "2020-01-02T00:00:00+00:00",
        "round": "2020-01-01T12:35:00+00:00",
    }
    assert rep.flags["time_rolled"] == {
        "24:00:00 -> 00:00:00 of the next day": 1,
        "second 60 (leap second or rounding) -> next minute": 2,
    }
    isc = write(
        tmp_path,
        "isc.csv",
        "\n".join(
            [*ISC_HEAD, isc_row(tod="24:00:00.00"), isc_row(eid="2", tod="23:59:60.25"), "STOP"]
        )
        + "\n",
    )
    ev, rep, _ = ingest(isc, "isc", cfg())
    assert times(ev) == ["2000-01-02T00:00:00+00:00", "2000-01-02T00:00:00.250000+00:00"]
    assert sum(rep.flags["time_rolled"].values()) == 2
    with pytest.raises(CatalogError, match="25:61"):  # not a rollover: still bad
        ingest(
            write(
                tmp_path, "b.csv", "\n".join([*ISC_HEAD, isc_row(tod="25:61:00.00"), "STOP"]) + "\n"
            ),
            "isc",
            cfg(),
        )


# --- dates outside what pandas holds --------------------------------------------------------


@pytest.mark.parametrize("fmt", ["comcat", "isc", "csv", "quakeml"])
def test_out_of_range_dates_are_bad_rows_not_a_crash(tmp_path: Path, fmt: str) -> None:
    if fmt == "comcat":
        rows = [
            comcat_row(),
            comcat_row(t="1200-01-01T00:00:00Z", eid="b"),
            comcat_row(t="2300-06-01T00:00:00Z", eid="c"),
        ]
        p = write(tmp_path, "c.csv", "\n".join([COMCAT_HEADER, *rows]) + "\n")
        opts: dict = {}
    elif fmt == "isc":
        rows = [isc_row(), isc_row(eid="2", date="1200-01-01"), isc_row(eid="3", date="2300-06-01")]
        p = write(tmp_path, "i.csv", "\n".join([*ISC_HEAD, *rows, "STOP"]) + "\n")
        opts = {}
    elif fmt == "csv":
        p = write(
            tmp_path,
            "g.csv",
            csv_text(
                ["2020-01-01,35,140,10,2", "1200-01-01,35,140,10,2", "2300-06-01,35,140,10,2"]
            ),
        )
        opts = {"mapping": CSV_MAPPING, "mag_type": "ML"}
    else:
        p = write(
            tmp_path,
            "q.xml",
            _files(tmp_path)["quakeml"][0].replace("2020-01-02T00:00:00Z", "1200-01-02T00:00:00Z"),
        )
        opts = {}
    n_bad = 1 if fmt == "quakeml" else 2
    with pytest.raises(CatalogError, match="outside the range espb can represent") as ei:
        ingest(p, fmt, cfg(), **opts)
    assert p.name in str(ei.value) and "1200-01-0" in str(ei.value)
    ev, rep, _ = ingest(p, fmt, cfg(on_bad_rows="skip"), **opts)
    assert len(ev) == 1 and rep.reasons == {"bad_row": n_bad}


def test_date_settings_outside_pandas_are_config_errors() -> None:
    for key, v in (("start", "1200-01-01"), ("end", "99999-01-01")):
        with pytest.raises(ConfigError, match=f"filters.{key}"):
            FilterConfig(**{key: v}).validate()
    FilterConfig(end="2262-04-11").validate()  # the last representable day: no overflow
    with pytest.raises(ConfigError, match="after filters.end"):
        FilterConfig(start="2020-01-02", end="2020-01-01").validate()


# --- encodings ------------------------------------------------------------------------------


def test_utf16_with_bom_is_read(tmp_path: Path) -> None:
    for fmt in ("comcat", "isc"):
        text, _, _ = _files(tmp_path)[fmt]
        p = tmp_path / f"{fmt}16.csv"
        p.write_bytes(text.encode("utf-16"))
        want, _, _ = ingest(write(tmp_path, f"{fmt}8.csv", text), fmt, cfg())
        for f in (fmt, "auto"):
            got, _, _ = ingest(p, f, cfg())
            pd.testing.assert_frame_equal(got, want)


@pytest.mark.parametrize(("encoding", "agency"), [("cp1252", "Zürich"), ("shift_jis", "気象庁")])
def test_other_encodings_need_the_option_and_are_then_read_exactly(
    tmp_path: Path, encoding: str, agency: str
) -> None:
    head = "when,lat,lon,depth_km,magnitude,agency"
    text = f"{head}\n2020-01-01,35,140,10,2.0,JMA\n2020-01-02,35,140,10,2.1,{agency}\n"
    p = tmp_path / "local.csv"
    p.write_bytes(text.encode(encoding))
    opts = {"mapping": {**CSV_MAPPING, "author": "agency"}, "mag_type": "ML"}
    with pytest.raises(CatalogError) as ei:
        ingest(p, "csv", cfg(), **opts)
    msg = str(ei.value)
    assert "local.csv" in msg and "not UTF-8" in msg and "line 3" in msg and "--encoding" in msg
    ev, _, meta = ingest(p, "csv", cfg(), encoding=encoding, **opts)
    assert set(ev["mag_author"].astype(str)) == {"JMA", agency}
    assert meta["source"]["reader_options"]["encoding"] == encoding
    with pytest.raises(ConfigError, match="not a known text encoding"):
        ingest(p, "csv", cfg(), encoding="klingon", **opts)


# --- each bad row once ----------------------------------------------------------------------


def test_each_bad_row_is_reported_once(tmp_path: Path) -> None:
    p = write(tmp_path, "twice.csv", "t,c,dep,m\n2020-01-01,abc,10,2.0\n2020-01-02,35,10,2.0\n")
    mapping = {"time": "t", "latitude": "c", "longitude": "c", "depth": "dep", "mag": "m"}
    with pytest.raises(CatalogError) as ei:
        ingest(p, "csv", cfg(), mapping=mapping, mag_type="ML")
    msg = str(ei.value)
    assert "1 of 2 rows have bad values" in msg
    assert msg.count("line 2") == 1, msg
    # a row with two different problems: listed once, saying there is more
    q = write(
        tmp_path, "two.csv", "t,la,lo,dep,m\nyesterday,95,140,10,2.0\n2020-01-02,35,140,10,2.0\n"
    )
    with pytest.raises(CatalogError) as ei:
        ingest(
            q,
            "csv",
            cfg(),
            mapping={"time": "t", "latitude": "la", "longitude": "lo", "depth": "dep", "mag": "m"},
            mag_type="ML",
        )
    msg = str(ei.value)
    assert msg.count("line 2") == 1 and "1 more problem(s) in this row" in msg
