"""Bad input: every error names the file, the problem, and (where there is one) line and column.

With ``on_bad_rows="skip"`` the same files ingest and the drop report counts the bad rows.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from espb.catalog.build import FilterConfig, IngestConfig
from espb.catalog.readers import FORMATS, ingest, read_raw
from espb.errors import CatalogError, ConfigError

COMCAT_HEADER = (
    "time,latitude,longitude,depth,mag,magType,nst,gap,dmin,rms,net,id,updated,place,type"
)
ISC_HEAD = [
    "DATA_TYPE EVENT_CATALOGUE",
    "ISC Bulletin",
    "--EVENT--|TYPE|----ORIGIN (PRIME HYPOCENTRE)----|----MAGNITUDES----",
    "  EVENTID,TYPE,AUTHOR   ,DATE      ,TIME       ,LAT     ,LON      ,DEPTH,DEPFIX,AUTHOR   ,TYPE  ,MAG ",
]  # the first data row is on line 5
CSV_HEADER = "when,lat,lon,depth_km,magnitude"
CSV_MAPPING = {
    "time": "when",
    "latitude": "lat",
    "longitude": "lon",
    "depth": "depth_km",
    "mag": "magnitude",
}
NO_FILTERS = FilterConfig(region=None, max_depth_km=None)
QML_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<q:quakeml xmlns="http://quakeml.org/xmlns/bed/1.2" xmlns:q="http://quakeml.org/xmlns/quakeml/1.2">\n'
    '  <eventParameters publicID="smi:x/ep">\n'
)
QML_TAIL = "  </eventParameters>\n</q:quakeml>\n"


def comcat_row(
    t: str = "2020-01-01T00:00:00.000Z",
    lat: str = "35",
    lon: str = "140",
    depth: str = "10",
    mag: str = "4.5",
    mtype: str = "mb",
    eid: str = "us1",
) -> str:
    return f"{t},{lat},{lon},{depth},{mag},{mtype},,,,,us,{eid},,,earthquake"


def isc_row(
    eid: str = "1",
    date: str = "2000-01-01",
    tod: str = "00:08:14.95",
    lat: str = " 35.9530",
    lon: str = " 139.7560",
    depth: str = " 54.4",
    mags: str = "JMA      ,MJMA  , 3.2",
) -> str:
    row = f"  {eid:>8},ke ,ISC      ,{date},{tod},{lat},{lon},{depth},FALSE "
    return row + ("," + mags if mags else "")


def qml_event(
    i: int, mag: str = "<mag><value>3.1</value></mag>", t: str = "2020-01-01T00:00:00Z"
) -> str:
    return (
        f'    <event publicID="smi:x/e{i}">\n'
        f'      <origin publicID="smi:x/o{i}"><time><value>{t}</value></time>'
        "<latitude><value>1</value></latitude><longitude><value>2</value></longitude>"
        "<depth><value>1000</value></depth></origin>\n"
        f'      <magnitude publicID="smi:x/m{i}">{mag}<type>ML</type></magnitude>\n'
        "    </event>\n"
    )


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def comcat_file(tmp_path: Path, rows: list[str], name: str = "comcat.csv") -> Path:
    return write(tmp_path, name, "\n".join([COMCAT_HEADER, *rows]) + "\n")


def isc_file(tmp_path: Path, rows: list[str], name: str = "isc.csv", stop: bool = True) -> Path:
    return write(tmp_path, name, "\n".join([*ISC_HEAD, *rows, *(["STOP"] if stop else [])]) + "\n")


def csv_file(tmp_path: Path, rows: list[str], name: str = "cat.csv") -> Path:
    return write(tmp_path, name, "\n".join([CSV_HEADER, *rows]) + "\n")


def qml_file(tmp_path: Path, events: list[str], name: str = "cat.xml") -> Path:
    return write(tmp_path, name, QML_HEAD + "".join(events) + QML_TAIL)


def read_opts(fmt: str) -> dict:
    return {"mapping": CSV_MAPPING, "mag_type": "ML"} if fmt == "csv" else {}


def fails(path: Path, fmt: str, *must: str, skip: bool = False, **options) -> str:
    """Ingest with on_bad_rows=error; the message must name the file and each of ``must``."""
    cfg = IngestConfig(filters=NO_FILTERS, on_bad_rows="skip" if skip else "error")
    with pytest.raises(CatalogError) as exc:
        ingest(path, fmt, cfg, **options)
    msg = str(exc.value)
    assert path.name in msg, msg
    for m in must:
        assert m in msg, f"{m!r} not in:\n{msg}"
    return msg


def skipped(path: Path, fmt: str, n_bad: int, n_rows: int, **options) -> None:
    """With on_bad_rows=skip the file ingests and the drop report counts ``n_bad`` bad rows."""
    ev, rep, meta = ingest(
        path, fmt, IngestConfig(filters=NO_FILTERS, on_bad_rows="skip"), **options
    )
    assert rep.n_input == n_rows
    assert rep.reasons.get("bad_row", 0) == n_bad
    assert len(ev) == n_rows - n_bad
    assert meta["drop_report"]["reasons"].get("bad_row", 0) == n_bad


# --- missing columns ---------------------------------------------------------------------------


def test_comcat_missing_columns(tmp_path: Path) -> None:
    p = write(
        tmp_path, "short.csv", "time,latitude,longitude,mag\n2020-01-01T00:00:00Z,35,140,4.5\n"
    )
    msg = fails(p, "comcat", "['depth', 'magType']", "'time'", "'latitude'", "--format csv")
    assert "missing" in msg


# --- unparsable dates ------------------------------------------------------------------------


def test_comcat_unparsable_date(tmp_path: Path) -> None:
    p = comcat_file(
        tmp_path,
        [comcat_row(), comcat_row(t="2020-13-45T00:00:00Z", eid="x"), comcat_row(t="yesterday")],
    )
    fails(
        p,
        "comcat",
        "2 of 3 rows",
        "line 3, column 'time'",
        "'2020-13-45T00:00:00Z'",
        "line 4",
        "'yesterday'",
        "unparsable time",
    )
    skipped(p, "comcat", 2, 3)


def test_isc_unparsable_date_and_time(tmp_path: Path) -> None:
    p = isc_file(
        tmp_path,
        [isc_row(), isc_row(eid="2", date="2000-02-31"), isc_row(eid="3", tod="25:61:00.00")],
    )
    fails(
        p, "isc", "line 6, column 'DATE'", "'2000-02-31'", "line 7, column 'TIME'", "'25:61:00.00'"
    )
    skipped(p, "isc", 2, 3)


def test_csv_unparsable_date(tmp_path: Path) -> None:
    p = csv_file(tmp_path, ["2020-01-01 00:00:00,35,140,10,2.0", "01/02/2020 x,35,140,10,2.0"])
    fails(p, "csv", "line 3, column 'when'", "'01/02/2020 x'", mapping=CSV_MAPPING, mag_type="ML")
    skipped(p, "csv", 1, 2, mapping=CSV_MAPPING, mag_type="ML")


def test_csv_time_format_mismatch(tmp_path: Path) -> None:
    p = csv_file(tmp_path, ["2020-01-01 00:00:00,35,140,10,2.0"])
    fails(
        p,
        "csv",
        "line 2, column 'when'",
        "format '%d/%m/%Y'",
        mapping=CSV_MAPPING,
        mag_type="ML",
        time_format="%d/%m/%Y",
    )


# --- coordinates and numbers -------------------------------------------------------------------


def test_latitude_longitude_out_of_range(tmp_path: Path) -> None:
    p = comcat_file(
        tmp_path, [comcat_row(lat="95"), comcat_row(lon="-200", eid="b"), comcat_row(eid="c")]
    )
    fails(p, "comcat", "line 2, column 'latitude'", "[-90, 90]", "line 3, column 'longitude'")
    skipped(p, "comcat", 2, 3)
    q = isc_file(
        tmp_path, [isc_row(lat=" -91.0000"), isc_row(eid="2", lon=" 400.0000"), isc_row(eid="3")]
    )
    fails(q, "isc", "line 5, column 'latitude'", "line 6, column 'longitude'")
    skipped(q, "isc", 2, 3)


def test_non_numeric_coordinates(tmp_path: Path) -> None:
    p = isc_file(
        tmp_path,
        [isc_row(lat=" 35.9x30"), isc_row(eid="2", depth=" deep"), isc_row(eid="3", depth="")],
    )
    fails(p, "isc", "line 5, column 'LAT'", "'35.9x30'", "line 6, column 'DEPTH'", "not a number")
    skipped(p, "isc", 2, 3)  # the empty depth is not bad
    q = csv_file(tmp_path, ["2020-01-01,3o.5,140,10,2.0", "2020-01-02,30.5,140,,2.0"])
    fails(q, "csv", "line 2, column 'lat'", "'3o.5'", mapping=CSV_MAPPING, mag_type="ML")
    skipped(q, "csv", 1, 2, mapping=CSV_MAPPING, mag_type="ML")


# --- magnitudes --------------------------------------------------------------------------------


def test_nan_magnitude(tmp_path: Path) -> None:
    p = comcat_file(
        tmp_path, [comcat_row(), comcat_row(mag="", eid="b"), comcat_row(mag="NaN", eid="c")]
    )
    fails(p, "comcat", "line 3, column 'mag'", "missing magnitude", "line 4")
    skipped(p, "comcat", 2, 3)
    q = isc_file(
        tmp_path,
        [
            isc_row(),
            isc_row(eid="2", mags="JMA      ,MJMA  ,    "),
            isc_row(eid="3", mags="JMA      ,MJMA  , 3.2,ISC      ,mb    , x.1"),
        ],
    )
    fails(q, "isc", "line 6, column 'MAG'", "'MJMA' has no value", "line 7", "'x.1'")
    skipped(q, "isc", 2, 3)
    x = qml_file(
        tmp_path,
        [
            qml_event(1),
            qml_event(2, mag="<mag><value>abc</value></mag>"),
            qml_event(3, mag="<mag></mag>"),
        ],
    )
    fails(x, "quakeml", "line 8, column 'magnitude/mag/value'", "'abc'", "line 12", "has no value")
    skipped(x, "quakeml", 2, 3)


@pytest.mark.parametrize("value", ["99", "-9", "12.5"])
def test_absurd_magnitude(tmp_path: Path, value: str) -> None:
    p = comcat_file(tmp_path, [comcat_row(), comcat_row(mag=value, eid="b")])
    fails(p, "comcat", "line 3, column 'magnitude (mb)'", "outside [-2.0, 10.0]")
    skipped(p, "comcat", 1, 2)
    q = isc_file(tmp_path, [isc_row(mags=f"JMA      ,MJMA  , {value}"), isc_row(eid="2")])
    fails(q, "isc", "line 5, column 'magnitude (MJMA)'")
    skipped(q, "isc", 1, 2)


# --- empty and header-only files ------------------------------------------------------------


@pytest.mark.parametrize("fmt", [*FORMATS, "auto"])
def test_empty_file(tmp_path: Path, fmt: str) -> None:
    p = tmp_path / "empty.csv"
    p.write_bytes(b"")
    fails(p, fmt, "empty (0 bytes)", **read_opts(fmt))
    fails(p, fmt, "empty (0 bytes)", skip=True, **read_opts(fmt))


def test_header_only_files(tmp_path: Path) -> None:
    fails(comcat_file(tmp_path, []), "comcat", "no data rows", skip=True)
    fails(isc_file(tmp_path, []), "isc", "no data rows", "line 4", skip=True)
    fails(
        csv_file(tmp_path, []), "csv", "no data rows", skip=True, mapping=CSV_MAPPING, mag_type="ML"
    )
    fails(qml_file(tmp_path, []), "quakeml", "contains no events", skip=True)
    blank = write(tmp_path, "blank.csv", "\n\n\n")
    fails(blank, "csv", "no header", mapping=CSV_MAPPING, mag_type="ML")


# --- the wrong format ----------------------------------------------------------------------


def test_isc_file_read_as_comcat(tmp_path: Path) -> None:
    p = isc_file(tmp_path, [isc_row()])
    msg = fails(p, "comcat", "--format comcat", "ISC", "--format isc")
    assert "missing" in msg


def test_comcat_file_read_as_isc(tmp_path: Path) -> None:
    p = comcat_file(tmp_path, [comcat_row()])
    fails(p, "isc", "--format isc", "does not look like an ISC", "ComCat", "--format comcat")


def test_csv_read_as_quakeml(tmp_path: Path) -> None:
    p = comcat_file(tmp_path, [comcat_row()])
    fails(
        p, "quakeml", "--format quakeml", "not XML", "line 1, column 1", "ComCat", "--format comcat"
    )
    q = csv_file(tmp_path, ["2020-01-01,35,140,10,2.0"])
    fails(q, "quakeml", "--format quakeml", "not XML", "--format csv", "column mapping")


def test_wrong_files_read_as_csv(tmp_path: Path) -> None:
    isc = isc_file(tmp_path, [isc_row()])
    fails(isc, "csv", "ISC", "--format isc", mapping=CSV_MAPPING, mag_type="ML")
    cc = comcat_file(tmp_path, [comcat_row()])
    fails(
        cc,
        "csv",
        "not in the file",
        "ComCat",
        "--format comcat",
        mapping=CSV_MAPPING,
        mag_type="ML",
    )


def test_quakeml_read_as_comcat_and_isc(tmp_path: Path) -> None:
    p = qml_file(tmp_path, [qml_event(1)])
    fails(p, "comcat", "QuakeML", "--format quakeml")
    fails(p, "isc", "QuakeML", "--format quakeml")


def test_auto_format_unknown(tmp_path: Path) -> None:
    p = write(tmp_path, "notes.txt", "just some words\n")
    fails(p, "auto", "could not be detected", "--format")


# --- XML problems -------------------------------------------------------------------------


def test_malformed_xml(tmp_path: Path) -> None:
    text = QML_HEAD + qml_event(1) + qml_event(2).replace("</origin>", "</orign>") + QML_TAIL
    p = write(tmp_path, "broken.xml", text)
    msg = fails(p, "quakeml", "not well-formed XML", "mismatched tag")
    line = next(i + 1 for i, s in enumerate(text.splitlines()) if "</orign>" in s)
    assert re.search(rf"line {line}, column \d+", msg), msg
    cut = write(tmp_path, "cut.xml", (QML_HEAD + qml_event(1))[:-30])
    fails(cut, "quakeml", "not well-formed XML", "line", "download it again")


def test_xml_that_is_not_quakeml(tmp_path: Path) -> None:
    p = write(tmp_path, "other.xml", '<?xml version="1.0"?>\n<stations><station/></stations>\n')
    fails(p, "quakeml", "not QuakeML", "<stations>")


def test_quakeml_unparsable_time(tmp_path: Path) -> None:
    p = qml_file(tmp_path, [qml_event(1), qml_event(2, t="2020-02-30T00:00:00Z")])
    fails(p, "quakeml", "line 8, column 'origin/time/value'", "'2020-02-30T00:00:00Z'")
    skipped(p, "quakeml", 1, 2)


# --- truncated ISC downloads ----------------------------------------------------------------


def test_isc_without_stop(tmp_path: Path) -> None:
    p = isc_file(tmp_path, [isc_row(), isc_row(eid="2", tod="00:09:00.00")], stop=False)
    fails(p, "isc", "no STOP line", "truncated", "--on-bad-rows skip")
    with pytest.warns(UserWarning, match="no STOP line"):
        skipped(p, "isc", 0, 2)


def test_isc_cut_mid_row(tmp_path: Path) -> None:
    p = isc_file(tmp_path, [isc_row(), isc_row(eid="2")], stop=False)
    p.write_bytes(p.read_bytes()[:-6])  # the download stopped inside the last magnitude
    fails(p, "isc", "no STOP line")
    with pytest.warns(UserWarning, match="no STOP line"):
        skipped(p, "isc", 1, 2)


# --- names, paths, options ----------------------------------------------------------------


def test_unknown_format(tmp_path: Path) -> None:
    p = comcat_file(tmp_path, [comcat_row()])
    msg = fails(p, "gcmt", "unknown catalog format 'gcmt'")
    for f in FORMATS:
        assert f in msg


def test_missing_file(tmp_path: Path) -> None:
    p = tmp_path / "nowhere.csv"
    for fmt in FORMATS:
        fails(p, fmt, "does not exist", **read_opts(fmt))
    with pytest.raises(CatalogError, match="not a file"):
        read_raw(tmp_path, "comcat")


def test_generic_csv_mapping_errors(tmp_path: Path) -> None:
    p = csv_file(tmp_path, ["2020-01-01,35,140,10,2.0"])
    fails(
        p,
        "csv",
        "unknown espb names ['magnitude']",
        "event_id",
        mapping={**CSV_MAPPING, "magnitude": "magnitude"},
        mag_type="ML",
    )
    fails(
        p,
        "csv",
        "not in the file",
        "mag_type='type'",
        "['when', 'lat', 'lon', 'depth_km', 'magnitude']",
        mapping={**CSV_MAPPING, "mag_type": "type"},
    )
    fails(p, "csv", "magnitude type is unknown", "--mag-type", mapping=CSV_MAPPING)
    fails(
        p,
        "csv",
        "lacks ['mag']",
        mapping={k: v for k, v in CSV_MAPPING.items() if k != "mag"},
        mag_type="ML",
    )
    fails(p, "csv", "needs a column mapping")
    with pytest.raises(ConfigError, match="depth_unit"):
        read_raw(p, "csv", mapping=CSV_MAPPING, mag_type="ML", depth_unit="ft")
    with pytest.raises(ConfigError, match="do not apply to --format comcat"):
        read_raw(p, "comcat", mapping=CSV_MAPPING)


def test_csv_too_many_fields(tmp_path: Path) -> None:
    p = csv_file(tmp_path, ["2020-01-01,35,140,10,2.0", "2020-01-01,35,140,10,2.0,7,8"])
    fails(p, "csv", "not a well-formed", "line 3", mapping=CSV_MAPPING, mag_type="ML")


def test_error_shows_first_rows_and_count(tmp_path: Path) -> None:
    rows = [comcat_row(lat="95", eid=f"e{i}") for i in range(8)]
    msg = fails(
        comcat_file(tmp_path, rows), "comcat", "8 of 8 rows", "... and 3 more", "--on-bad-rows skip"
    )
    assert msg.count("column 'latitude'") == 5
