"""The shared ingest pipeline: filters, drop report, duplicates, bad rows, schema and Parquet."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from espb.catalog.build import FilterConfig, IngestConfig, RawCatalog, build_events
from espb.catalog.schema import COLUMNS, catalog_hash, load_events, load_metadata, save_events
from espb.errors import CatalogError, ConfigError


def make_raw(rows: list[dict], mags: list[tuple]) -> RawCatalog:
    ev = pd.DataFrame(rows)
    ev["time"] = pd.to_datetime(ev["time"], utc=True, format="ISO8601")
    ev["line"] = np.arange(len(ev)) + 2
    ev["event_id"] = ev.get("event_id", pd.Series([str(i) for i in range(len(ev))]))
    m = pd.DataFrame(mags, columns=["row", "mag", "mag_type", "author"])
    return RawCatalog("test", None, ev, m)


def base_row(i: int, **kw) -> dict:
    r = {
        "event_id": f"e{i}",
        "time": f"2005-01-{1 + i % 28:02d}T00:00:{i % 60:02d}Z",
        "latitude": 38.0,
        "longitude": 142.0,
        "depth": 10.0,
        "event_type": "ke",
    }
    r.update(kw)
    return r


def test_each_filter_counts_its_drops() -> None:
    rows = [
        base_row(0),
        base_row(1, event_type="km"),  # mine explosion
        base_row(2, time="1998-06-01T00:00:00Z"),  # before start
        base_row(3, time="2020-01-01T00:00:00Z"),  # after end
        base_row(4, latitude=34.9),  # outside region (south)
        base_row(5, longitude=146.01),  # outside region (east)
        base_row(6, depth=np.nan),  # no depth
        base_row(7, depth=70.1),  # too deep
        base_row(8, depth=70.0),  # exactly at the limit: kept
        base_row(9),  # no magnitude at all
        base_row(10),  # only an unusable type
        base_row(11, event_type=""),  # untyped: kept
        base_row(12, time="2019-12-31T23:59:59Z"),  # last second of a date-only end: kept
    ]
    mags = [(i, 3.0, "MJMA", "JMA") for i in range(13) if i not in (9, 10)] + [(10, 3.0, "md", "X")]
    cfg = IngestConfig(filters=FilterConfig(start="1999-01-01", end="2019-12-31"))
    df, rep = build_events(make_raw(rows, mags), cfg)
    assert sorted(df["event_id"]) == ["e0", "e11", "e12", "e8"]
    assert rep.reasons == {
        "not_natural": 1,
        "before_start": 1,
        "after_end": 1,
        "outside_region": 2,
        "depth_missing": 1,
        "too_deep": 1,
        "no_magnitude": 1,
        "no_usable_magnitude": 1,
    }
    assert rep.details["not_natural"] == {"km": 1}
    assert rep.n_input == 13 and rep.n_kept == 4
    rep.check()


def test_no_filters_keeps_everything_with_a_magnitude() -> None:
    rows = [base_row(0, latitude=-30.0, longitude=-70.0, depth=600.0), base_row(1, longitude=200.0)]
    mags = [(0, 5.0, "mb", "ISC"), (1, 5.0, "mb", "ISC")]
    cfg = IngestConfig(filters=FilterConfig(region=None, max_depth_km=None))
    df, rep = build_events(make_raw(rows, mags), cfg)
    assert len(df) == 2 and rep.n_dropped == 0
    assert sorted(df["longitude"]) == pytest.approx([-160.0, -70.0])  # 200 E normalised to -160


def test_region_across_the_dateline_in_0_360() -> None:
    rows = [
        base_row(0, longitude=179.5),
        base_row(1, longitude=-179.5),
        base_row(2, longitude=170.0),
    ]
    mags = [(i, 4.0, "mb", "") for i in range(3)]
    cfg = IngestConfig(filters=FilterConfig(region=[30, 40, 175, 185], max_depth_km=None))
    df, _ = build_events(make_raw(rows, mags), cfg)
    assert sorted(df["event_id"]) == ["e0", "e1"]


def test_exact_duplicates_are_removed_and_counted() -> None:
    rows = [base_row(0), base_row(0, event_id="copy"), base_row(1)]
    mags = [(0, 3.1, "MJMA", "JMA"), (1, 3.1, "MJMA", "JMA"), (2, 3.1, "MJMA", "JMA")]
    df, rep = build_events(make_raw(rows, mags))
    assert len(df) == 2 and rep.reasons == {"duplicate": 1}
    df, rep = build_events(
        make_raw(rows, mags), IngestConfig(filters=FilterConfig(drop_duplicates=False))
    )
    assert len(df) == 3 and rep.n_dropped == 0


def test_bad_rows_error_names_line_and_column_or_are_skipped() -> None:
    rows = [base_row(0), base_row(1, latitude=95.0), base_row(2, longitude=np.nan), base_row(3)]
    mags = [(0, 3.0, "MJMA", ""), (1, 3.0, "MJMA", ""), (2, 3.0, "MJMA", ""), (3, 99.0, "MJMA", "")]
    raw = make_raw(rows, mags)
    with pytest.raises(CatalogError) as ei:
        build_events(raw)
    msg = str(ei.value)
    assert "3 of 4 rows have bad values" in msg
    assert "line 3, column 'latitude'" in msg and "outside [-90, 90]" in msg
    assert "line 4, column 'longitude'" in msg
    assert "line 5, column 'magnitude (MJMA)'" in msg and "'99.0'" in msg
    assert "--on-bad-rows skip" in msg
    df, rep = build_events(raw, IngestConfig(on_bad_rows="skip"))
    assert list(df["event_id"]) == ["e0"]
    assert rep.reasons == {"bad_row": 3}
    assert rep.details["bad_row"] == {"latitude": 1, "longitude": 1, "magnitude (MJMA)": 1}


def test_schema_columns_dtypes_and_sort() -> None:
    rows = [base_row(1, time="2005-02-01T00:00:00Z"), base_row(0, time="2005-01-01T00:00:00.123Z")]
    mags = [(0, 3.0, "MJMA", "JMA"), (1, 6.0, "Mw", "GCMT")]
    df, _ = build_events(make_raw(rows, mags))
    assert tuple(df.columns) == COLUMNS
    assert str(df["time"].dtype) == "datetime64[ns, UTC]"
    assert df["time"].is_monotonic_increasing
    assert df.loc[0, "mw"] == 6.0 and df.loc[0, "mag_type"] == "Mw"
    assert df.loc[1, "mw"] == pytest.approx(0.58 * 3 + 2.25)
    assert df.loc[0, "time"] == pd.Timestamp("2005-01-01T00:00:00.123Z")


def test_parquet_round_trip_keeps_table_and_metadata(tmp_path) -> None:
    rows = [base_row(i) for i in range(5)]
    mags = [(i, 3.0 + 0.1 * i, "MJMA", "JMA") for i in range(5)]
    df, rep = build_events(make_raw(rows, mags))
    p = save_events(df, tmp_path / "t.parquet", {"drop_report": rep.to_dict()})
    back = load_events(p)
    pd.testing.assert_frame_equal(back, df)
    meta = load_metadata(p)
    assert meta["catalog_hash"] == catalog_hash(df) == back.attrs["espb"]["catalog_hash"]
    assert meta["n_events"] == 5 and meta["drop_report"]["n_kept"] == 5


def test_catalog_hash_changes_with_content() -> None:
    rows = [base_row(i) for i in range(3)]
    mags = [(i, 3.0, "MJMA", "JMA") for i in range(3)]
    df, _ = build_events(make_raw(rows, mags))
    h = catalog_hash(df)
    df2 = df.copy()
    df2.loc[1, "mw"] += 0.1
    assert catalog_hash(df2) != h
    assert catalog_hash(df.copy()) == h


def test_loading_something_else_is_a_clear_error(tmp_path) -> None:
    p = tmp_path / "x.parquet"
    p.write_text("not parquet")
    with pytest.raises(CatalogError, match="is not a Parquet file"):
        load_events(p)
    pd.DataFrame({"a": [1]}).to_parquet(tmp_path / "y.parquet")
    with pytest.raises(CatalogError, match="columns .* are missing"):
        load_events(tmp_path / "y.parquet")
    with pytest.raises(CatalogError, match="does not exist"):
        load_events(tmp_path / "nope.parquet")


def test_filter_config_errors_name_the_key() -> None:
    with pytest.raises(ConfigError, match="filters.region"):
        FilterConfig(region=[46, 35, 135, 146]).validate()
    with pytest.raises(ConfigError, match="filters.start"):
        FilterConfig(start="yesterday-ish").validate()
    with pytest.raises(ConfigError, match="on_bad_rows"):
        IngestConfig(on_bad_rows="ignore").validate()


def test_paper_ingest_yaml_equals_the_code_defaults() -> None:
    """The paper preset spells out the defaults; the one difference is ML (paper: the MJMA
    relation, Japan; espb's default: ML taken as Mw)."""
    from dataclasses import asdict

    from espb.catalog.build import load_ingest_config

    paper, default = asdict(load_ingest_config("paper")), asdict(IngestConfig())
    assert paper["magnitudes"]["family_relation"]["ML"] == "mjma"
    assert default["magnitudes"]["family_relation"]["ML"] == "identity"
    paper["magnitudes"]["family_relation"]["ML"] = "identity"
    assert paper == default
    assert load_ingest_config("scordilis2006").magnitudes.relations == "scordilis2006"
    cfg = load_ingest_config(
        None, ["magnitudes.family_relation.ML=identity", "filters.region=null"]
    )
    assert cfg.magnitudes.family_relation["ML"] == "identity" and cfg.filters.region is None
    with pytest.raises(ConfigError, match="filters.max_depht_km"):
        load_ingest_config(None, ["filters.max_depht_km=10"])
    with pytest.raises(ConfigError, match="not found"):
        load_ingest_config("no-such-settings")
