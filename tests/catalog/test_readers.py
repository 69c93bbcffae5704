"""Readers against real catalogs, with pandas and ObsPy as independent oracles."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from espb.catalog.build import FilterConfig, IngestConfig, build_events
from espb.catalog.magnitudes import families
from espb.catalog.readers import FORMATS, ingest, read_raw, sniff_format
from espb.catalog.readers.generic_csv import read_generic_csv
from espb.catalog.readers.isc import read_isc

SED_MAPPING = {
    "event_type": "event_type",
    "time": "time",
    "latitude": "latitude",
    "longitude": "longitude",
    "depth": "depth",
    "mag": "magnitude",
    "mag_type": "magnitude_type",
}

ISC_SAMPLE = "\n".join(
    [
        "<html><head><title>ISC Bulletin</title></head><body>",
        "<pre>",
        "DATA_TYPE EVENT_CATALOGUE",
        "ISC Bulletin",
        "--EVENT--|TYPE|----ORIGIN (PRIME HYPOCENTRE)----|----MAGNITUDES----",
        "  EVENTID,TYPE,AUTHOR   ,DATE      ,TIME       ,LAT     ,LON      ,DEPTH,DEPFIX,AUTHOR   ,TYPE  ,MAG ",
        "  16958065,ke ,ISC      ,2000-01-01,00:08:14.95, 35.9530, 139.7560, 54.4,FALSE ,JMA      ,MJMA  , 3.2,ISC      ,mb    , 4.1",
        "  16958070,se ,ISC      ,2000-01-01,00:31:02.17, 36.1120, 140.0210,     ,FALSE ,JMA      ,MJMA  , 2.9",
        "  16958099,km ,ISC      ,2000-01-01,01:02:03.456, -5.1000, -170.5000, 10.0,TRUE  ,NEIC     ,mb    , 4.6,GCMT     ,Mw    , 4.8,ISC      ,Ms    , 4.2",
        "  16958100,ke ,ISC      ,2000-01-02,23:59:59.99, 44.0000, 145.0000, 700.0,FALSE ",
        "STOP",
        "</pre></body></html>",
        "",
    ]
)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- ComCat, real file ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def comcat_pd(real_comcat: Path) -> pd.DataFrame:
    return pd.read_csv(real_comcat)


@pytest.fixture(scope="module")
def comcat_raw(real_comcat: Path):
    return read_raw(real_comcat, "comcat")


def test_comcat_real_rows_and_types(comcat_raw, comcat_pd: pd.DataFrame) -> None:
    raw = comcat_raw
    assert len(raw.events) == len(comcat_pd) == 12_353
    assert len(raw.bad) == 0
    assert len(raw.mags) == len(comcat_pd)
    got = raw.mags["mag_type"].astype(str).value_counts().sort_index()
    want = comcat_pd["magType"].value_counts().sort_index()
    pd.testing.assert_series_equal(got, want, check_names=False, check_index_type=False)
    assert (raw.events["event_id"].to_numpy() == comcat_pd["id"].to_numpy()).all()
    t = pd.to_datetime(comcat_pd["time"], utc=True)
    assert (raw.events["time"].to_numpy() == t.to_numpy()).all()
    np.testing.assert_array_equal(raw.events["latitude"], comcat_pd["latitude"])
    np.testing.assert_array_equal(raw.events["longitude"], comcat_pd["longitude"])
    np.testing.assert_array_equal(raw.events["depth"], comcat_pd["depth"])
    np.testing.assert_array_equal(raw.mags["mag"], comcat_pd["mag"])
    np.testing.assert_array_equal(raw.events["line"], np.arange(len(comcat_pd)) + 2)
    assert (raw.mags["author"] == comcat_pd["magSource"]).all()
    assert (raw.events["event_type"] == comcat_pd["type"]).all()


def test_comcat_real_no_filters_keeps_earthquakes(comcat_raw, comcat_pd: pd.DataFrame) -> None:
    cfg = IngestConfig(filters=FilterConfig(region=None, max_depth_km=None))
    ev, rep = build_events(comcat_raw, cfg)
    rep.check()
    quake = comcat_pd["type"] == "earthquake"
    # ComCat's bare "m" (unspecified magnitude) has no relation to Mw and is dropped as unusable
    unusable = quake & (comcat_pd["magType"] == "m")
    assert rep.reasons.get("no_usable_magnitude", 0) == int(unusable.sum())
    assert len(ev) == int(quake.sum() - unusable.sum())
    assert set(ev["event_id"]) == set(comcat_pd.loc[quake & ~unusable, "id"])
    assert set(rep.reasons) <= {"no_usable_magnitude"}


def test_comcat_real_paper_filters(comcat_raw, comcat_pd: pd.DataFrame) -> None:
    ev, rep = build_events(comcat_raw, IngestConfig())
    rep.check()
    assert rep.n_input == rep.n_kept + sum(rep.reasons.values())
    d = comcat_pd
    inside = d.latitude.between(35, 46) & d.longitude.between(135, 146)
    assert rep.reasons.get("outside_region", 0) == int((~inside).sum())
    deep = inside & (d.depth > 70)
    assert rep.reasons.get("too_deep", 0) == int(deep.sum())
    rest = inside & ~deep
    unusable = rest & (d.magType == "m")
    assert rep.reasons.get("no_usable_magnitude", 0) == int(unusable.sum())
    assert rep.n_kept == len(ev) == int((rest & ~unusable).sum())
    assert ev["latitude"].between(35, 46).all() and (ev["depth"] <= 70).all()
    # mw follows the paper's mb relation for mb, identity for the Mw family
    mb = ev["mag_type"] == "mb"
    np.testing.assert_allclose(ev.loc[mb, "mw"], 0.85 * ev.loc[mb, "mag"] + 1.02)
    mw = ev["mag_type"].astype(str).str.lower().str.startswith("mw")
    np.testing.assert_allclose(ev.loc[mw, "mw"], ev.loc[mw, "mag"])


def test_ingest_provenance(real_comcat: Path) -> None:
    ev, rep, meta = ingest(real_comcat, "comcat")
    assert meta["source"] == {
        "path": str(real_comcat),
        "format": "comcat",
        "sha256": _sha(real_comcat),
        "reader_options": {},
    }
    assert meta["drop_report"] == rep.to_dict()
    assert meta["ingest_config"]["filters"]["max_depth_km"] == 70.0
    assert meta["ingest_config"]["on_bad_rows"] == "error"
    ev2, _, meta2 = ingest(real_comcat, "auto")
    assert meta2["source"]["format"] == "comcat"
    pd.testing.assert_frame_equal(ev, ev2)


# --- sniffing ------------------------------------------------------------------------------


def test_sniff_formats(
    real_comcat: Path, seismostats_dir: Path, csep_dir: Path, tmp_path: Path
) -> None:
    assert FORMATS == ("isc", "comcat", "quakeml", "csv")
    isc = tmp_path / "a.csv"
    isc.write_text(ISC_SAMPLE)
    assert sniff_format(isc) == "isc"
    bare = tmp_path / "bare.txt"
    bare.write_text("EVENTID,AUTHOR,DATE,TIME,LAT,LON,DEPTH,DEPFIX,AUTHOR,TYPE,MAG\n")
    assert sniff_format(bare) == "isc"
    assert sniff_format(real_comcat) == "comcat"
    data = seismostats_dir / "catalogs" / "tests" / "data"
    assert sniff_format(data / "quakeml_data.xml") == "quakeml"
    assert sniff_format(data / "fdsnws2020.csv") == "csv"
    assert (
        sniff_format(csep_dir / "artifacts" / "ObservedCatalogs" / "sample_comcat_catalog.csv")
        == "csv"
    )
    other = tmp_path / "other.xml"
    other.write_text('<?xml version="1.0"?><root><a/></root>')
    assert sniff_format(other) is None
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    assert sniff_format(empty) is None


# --- ISC -------------------------------------------------------------------------------------


def test_isc_sample(tmp_path: Path) -> None:
    p = tmp_path / "isc.csv"
    p.write_text(ISC_SAMPLE)
    raw = read_raw(p, "isc")
    ev = raw.events
    assert len(raw.bad) == 0
    assert ev["event_id"].tolist() == ["16958065", "16958070", "16958099", "16958100"]
    assert ev["event_type"].tolist() == ["ke", "se", "km", "ke"]
    assert ev["line"].tolist() == [7, 8, 9, 10]
    assert ev["time"].tolist() == [
        pd.Timestamp("2000-01-01 00:08:14.95", tz="UTC"),
        pd.Timestamp("2000-01-01 00:31:02.17", tz="UTC"),
        pd.Timestamp("2000-01-01 01:02:03.456", tz="UTC"),
        pd.Timestamp("2000-01-02 23:59:59.99", tz="UTC"),
    ]
    np.testing.assert_array_equal(ev["latitude"], [35.953, 36.112, -5.1, 44.0])
    np.testing.assert_array_equal(ev["longitude"], [139.756, 140.021, -170.5, 145.0])
    np.testing.assert_array_equal(ev["depth"], [54.4, np.nan, 10.0, 700.0])
    m = raw.mags
    assert m["row"].tolist() == [0, 0, 1, 2, 2, 2]
    assert m["mag_type"].tolist() == ["MJMA", "mb", "MJMA", "mb", "Mw", "Ms"]
    assert m["author"].tolist() == ["JMA", "ISC", "JMA", "NEIC", "GCMT", "ISC"]
    np.testing.assert_array_equal(m["mag"], [3.2, 4.1, 2.9, 4.6, 4.8, 4.2])
    out, rep = build_events(raw, IngestConfig(filters=FilterConfig(region=None, max_depth_km=None)))
    # km (known mining event) is not natural; the last event has no magnitude
    assert rep.reasons == {"not_natural": 1, "no_magnitude": 1}
    first = out.set_index("event_id").loc["16958065"]
    assert first["mag_type"] == "mb" and first["mag_author"] == "ISC"  # mb ranks above MJMA
    assert first["mw"] == pytest.approx(0.85 * 4.1 + 1.02)


def test_isc_without_event_type_column(tmp_path: Path) -> None:
    p = tmp_path / "isc.txt"
    p.write_text(
        "DATA_TYPE EVENT_CATALOGUE\nISC-GEM\n"
        "EVENTID,AUTHOR,DATE,TIME,LAT,LON,DEPTH,DEPFIX,AUTHOR,TYPE,MAG\n"
        "  101,ISC,2001-02-03,04:05:06.78,10.0000,20.0000,30.0,FALSE,GCMT,Mw,5.5\n"
        "  102,ISC,2001-02-04,04:05:06.7,11.0000,21.0000,,FALSE\n"
        "STOP\n"
    )
    raw = read_isc(p)
    assert raw.events["event_id"].tolist() == ["101", "102"]
    assert (raw.events["event_type"] == "").all()
    assert raw.events["time"].iloc[1] == pd.Timestamp("2001-02-04 04:05:06.7", tz="UTC")
    assert raw.mags["mag_type"].tolist() == ["Mw"]


def test_isc_crlf_and_blank_lines(tmp_path: Path) -> None:
    lines = ISC_SAMPLE.replace("  16958070", "\n  16958070").splitlines()
    p = tmp_path / "crlf.csv"
    p.write_bytes("\r\n".join(lines).encode() + b"\r\n")
    raw = read_raw(p, "isc")
    assert len(raw.bad) == 0
    assert raw.events["line"].tolist() == [7, 9, 10, 11]
    assert raw.events["event_type"].tolist() == ["ke", "se", "km", "ke"]
    np.testing.assert_array_equal(raw.mags["mag"], [3.2, 4.1, 2.9, 4.6, 4.8, 4.2])


# --- generic CSV: pycsep and seismostats samples --------------------------------------------


def test_pycsep_sample_generic_csv(csep_dir: Path) -> None:
    path = csep_dir / "artifacts" / "ObservedCatalogs" / "sample_comcat_catalog.csv"
    mapping = {
        "longitude": "lon",
        "latitude": "lat",
        "mag": "M",
        "time": "time_string",
        "depth": "depth",
    }
    raw = read_raw(path, "csv", mapping=mapping, mag_type="Mw")
    d = pd.read_csv(path)
    assert len(raw.events) == len(d) and len(raw.bad) == 0
    np.testing.assert_array_equal(raw.events["latitude"], d["lat"])
    np.testing.assert_array_equal(raw.events["longitude"], d["lon"])
    np.testing.assert_array_equal(raw.events["depth"], d["depth"])
    np.testing.assert_array_equal(raw.mags["mag"], d["M"])
    assert (raw.mags["mag_type"] == "Mw").all()
    want = [datetime.fromisoformat(x).replace(tzinfo=UTC) for x in d["time_string"]]
    assert raw.events["time"].tolist() == [pd.Timestamp(x) for x in want]
    assert raw.events["event_id"].iloc[0] == "line2"  # the file's event_id column is empty
    ev, rep = build_events(raw, IngestConfig(filters=FilterConfig(region=None, max_depth_km=None)))
    assert len(ev) == len(d) - rep.reasons.get("duplicate", 0)
    np.testing.assert_allclose(np.sort(ev["mw"]), np.sort(d["M"]))


@pytest.mark.parametrize(
    "rel", ["analysis/tests/data/catalog_sed.csv", "catalogs/tests/data/fdsnws2020.csv"]
)
def test_seismostats_sed_csv(seismostats_dir: Path, rel: str) -> None:
    path = seismostats_dir / rel
    raw = read_generic_csv(path, SED_MAPPING, depth_unit="m")
    d = pd.read_csv(path)
    assert len(raw.events) == len(d) and len(raw.bad) == 0
    np.testing.assert_allclose(raw.events["depth"], d["depth"] / 1000.0)
    np.testing.assert_array_equal(raw.events["latitude"], d["latitude"])
    np.testing.assert_array_equal(raw.mags["mag"], d["magnitude"])
    got = raw.mags["mag_type"].astype(str).value_counts().sort_index()
    pd.testing.assert_series_equal(
        got,
        d["magnitude_type"].value_counts().sort_index(),
        check_names=False,
        check_index_type=False,
    )
    fam = families(raw.mags["mag_type"].to_numpy())
    assert set(fam) == {"ML"}  # MLhc, MLh, MLv are all local magnitudes
    want = [datetime.fromisoformat(x).replace(tzinfo=UTC) for x in d["time"]]
    assert raw.events["time"].tolist() == [pd.Timestamp(x) for x in want]
    ev, rep = build_events(raw, IngestConfig(filters=FilterConfig(region=None, max_depth_km=None)))
    rep.check()
    assert rep.reasons.get("not_natural", 0) == int((d["event_type"] != "earthquake").sum())
    assert len(ev) == int((d["event_type"] == "earthquake").sum()) - rep.reasons.get(
        "duplicate", 0
    ) - rep.reasons.get("bad_row", 0)


def test_generic_csv_date_time_columns_and_format(tmp_path: Path) -> None:
    p = tmp_path / "cat.txt"
    p.write_text(
        "id;day;clock;lat;lon;z_m;ml;who\n"
        "a;03/11/2011;05:46:24.12;38.1;142.8;24000;9.0;JMA\n"
        "b;04/11/2011;06:00:00.00;36.0;140.0;;5.0;\n"
    )
    mapping = {
        "event_id": "id",
        "date": "day",
        "time": "clock",
        "latitude": "lat",
        "longitude": "lon",
        "depth": "z_m",
        "mag": "ml",
        "author": "who",
    }
    raw = read_raw(
        p,
        "csv",
        mapping=mapping,
        mag_type="MJMA",
        time_format="%d/%m/%Y %H:%M:%S.%f",
        depth_unit="m",
        delimiter=";",
    )
    assert raw.events["time"].tolist() == [
        pd.Timestamp("2011-11-03 05:46:24.12", tz="UTC"),
        pd.Timestamp("2011-11-04 06:00:00", tz="UTC"),
    ]
    np.testing.assert_array_equal(raw.events["depth"], [24.0, np.nan])
    assert raw.mags["author"].tolist() == ["JMA", ""]
    assert raw.events["line"].tolist() == [2, 3]


# --- QuakeML vs ObsPy ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["quakeml_data.xml", "query.xml", "query_full.xml"])
def test_quakeml_matches_obspy(seismostats_dir: Path, name: str) -> None:
    obspy = pytest.importorskip("obspy")
    path = seismostats_dir / "catalogs" / "tests" / "data" / name
    raw = read_raw(path, "quakeml")
    cat = obspy.read_events(str(path))
    assert len(raw.events) == len(cat) and len(raw.bad) == 0
    mags = raw.mags
    for i, e in enumerate(cat):
        row = raw.events.iloc[i]
        o = e.preferred_origin() or e.origins[0]
        assert row["event_id"] == str(e.resource_id)
        assert row["time"] == pd.Timestamp(str(o.time)).tz_convert("UTC")
        assert row["latitude"] == pytest.approx(o.latitude, abs=1e-12)
        assert row["longitude"] == pytest.approx(o.longitude, abs=1e-12)
        assert row["depth"] == pytest.approx(o.depth / 1000.0, abs=1e-9)
        assert row["event_type"] == (e.event_type or "")
        mine = mags[mags["row"] == i]
        want = [
            (
                m.mag,
                m.magnitude_type or "",
                (m.creation_info.agency_id if m.creation_info else "") or "",
            )
            for m in e.magnitudes
        ]
        got = list(zip(mine["mag"], mine["mag_type"], mine["author"], strict=True))
        assert len(got) == len(want)
        for (gm, gt, ga), (wm, wt, wa) in zip(got, want, strict=True):
            assert gm == pytest.approx(wm, abs=1e-12) and gt == wt and ga == wa


def test_quakeml_event_lines(seismostats_dir: Path) -> None:
    path = seismostats_dir / "catalogs" / "tests" / "data" / "query.xml"
    raw = read_raw(path, "quakeml")
    want = [i + 1 for i, line in enumerate(path.read_text().splitlines()) if "<event " in line]
    assert raw.events["line"].tolist() == want


def test_quakeml_preferred_origin_and_missing_depth(tmp_path: Path) -> None:
    p = tmp_path / "q.xml"
    p.write_text(
        """<?xml version="1.0" encoding="UTF-8"?>
<q:quakeml xmlns="http://quakeml.org/xmlns/bed/1.2" xmlns:q="http://quakeml.org/xmlns/quakeml/1.2">
  <eventParameters publicID="smi:x/ep">
    <event publicID="smi:x/e1">
      <description><text>somewhere</text><type>region name</type></description>
      <origin publicID="smi:x/o1">
        <time><value>2020-01-01T00:00:00Z</value></time>
        <latitude><value>1</value></latitude><longitude><value>2</value></longitude>
        <depth><value>5000</value></depth>
      </origin>
      <origin publicID="smi:x/o2">
        <time><value>2020-01-01T00:00:01.5Z</value></time>
        <latitude><value>3</value></latitude><longitude><value>4</value></longitude>
      </origin>
      <magnitude publicID="smi:x/m1"><mag><value>4.5</value></mag><type>mb</type>
        <creationInfo><agencyID>NEIC</agencyID></creationInfo></magnitude>
      <magnitude publicID="smi:x/m2"><mag><value>4.7</value></mag><type>Mw</type></magnitude>
      <preferredOriginID>smi:x/o2</preferredOriginID>
    </event>
  </eventParameters>
</q:quakeml>
"""
    )
    raw = read_raw(p, "quakeml")
    row = raw.events.iloc[0]
    assert row["time"] == pd.Timestamp("2020-01-01T00:00:01.5Z")
    assert (row["latitude"], row["longitude"]) == (3.0, 4.0)
    assert np.isnan(row["depth"])
    assert row["event_type"] == ""  # description/type is not the event type
    assert row["line"] == 4
    assert raw.mags["mag_type"].tolist() == ["mb", "Mw"]
    assert raw.mags["author"].tolist() == ["NEIC", ""]
