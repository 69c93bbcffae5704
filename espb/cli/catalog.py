"""``espb catalog``: ingest, inspect, generate, export event tables (thin wiring over espb.catalog).

Every output goes through :mod:`espb.safeio`: a command never writes over one of its inputs or
a non-regular file, and writes atomically. Bad input is an :class:`~espb.errors.EspbError`
(one line on stderr, exit code 2), and so is an ingest that keeps no event.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from espb.cli.console import _status, out, parse_region, say
from espb.errors import EspbError

catalog_app = typer.Typer(
    help="Catalogs in: ingest, inspect, generate, export.", no_args_is_help=True
)


def _parse_map(specs: list[str] | None) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for part in (p for spec in specs or [] for p in spec.split(",") if p.strip()):
        if "=" not in part:
            raise EspbError(
                f"--map: {part!r} is not NAME=COLUMN (e.g. --map time=origin_time,mag=ML)"
            )
        k, v = part.split("=", 1)
        mapping[k.strip()] = v.strip()
    return mapping


def _sidecar(out_path: Path, kind: str) -> Path:
    return out_path.with_name(f"{out_path.stem}.{kind}.parquet")


def _number_or_none(flag: str, text: str | None, unit: str) -> float | None | str:
    """``none`` -> None, a number -> float, not given -> the sentinel ``"unset"``."""
    if text is None:
        return "unset"
    if text.strip().lower() == "none":
        return None
    try:
        return float(text)
    except ValueError as exc:
        raise EspbError(f"{flag}: {text!r} is not a number of {unit} or 'none'") from exc


def _ingest_config(config: str | None, sets: list[str] | None, o: dict):
    """The ingest settings: preset, --set overrides, then the explicit flags in ``o``."""
    from espb.catalog.build import load_ingest_config

    region_sets: list[str] = []
    if o.get("region_preset") is not None:  # the region's box and conventions, before --set
        from espb.catalog.region import ingest_overrides, load_region

        region_sets = ingest_overrides(load_region(o["region_preset"]))
    cfg = load_ingest_config(config, [*region_sets, *(sets or [])])
    m, f = cfg.magnitudes, cfg.filters
    for key, attr in (("relations", "relations"), ("out_of_range", "out_of_range")):
        if o[key] is not None:
            setattr(m, attr, o[key])
    if o["mw_round"] is not None:
        m.mw_round = o["mw_round"]
    if o["ml_relation"] is not None:
        m.family_relation = {**m.family_relation, "ML": o["ml_relation"]}
    for flag, key, obj, attr, unit in (
        ("--max-extrapolation", "max_extrapolation", m, "max_extrapolation", "magnitude units"),
        ("--max-depth", "max_depth", f, "max_depth_km", "km"),
        ("--min-mw", "min_mw", f, "min_mw", "magnitude units"),
    ):
        v = _number_or_none(flag, o[key], unit)
        if v != "unset":
            setattr(obj, attr, v)
    if o["region"] is not None:
        f.region = parse_region(o["region"], allow_none=True)
    for key in ("start", "end", "duplicate_ids"):
        if o[key] is not None:
            setattr(f, key, o[key])
    if o["drop_mag"]:
        f.drop_mags = [*f.drop_mags, *o["drop_mag"]]
    if o["drop_placeholders"] is not None:
        f.drop_placeholders = o["drop_placeholders"]
    for key in ("on_bad_rows", "timezone", "depth_positive"):
        if o[key] is not None:
            setattr(cfg, key, o[key])
    cfg.validate()
    return cfg


Opt = typer.Option


@catalog_app.command("ingest")
def ingest_cmd(
    file: Annotated[Path, typer.Argument(help="catalog file to read (may be gzip/bzip2/xz)")],
    output: Annotated[Path, Opt("-o", "--output", help="event table to write (.parquet)")],
    fmt: Annotated[str, Opt("--format", "-f", help="auto | isc | comcat | quakeml | csv")] = "auto",
    mapping: Annotated[
        list[str] | None,
        Opt(
            "--map",
            help="csv only: NAME=COLUMN (repeatable, or comma-separated) for event_id, "
            "time, date, latitude, longitude, depth, mag, mag_type, author, event_type, mc, "
            "updated",
        ),
    ] = None,
    mag_type: Annotated[str | None, Opt(help="csv only: one magnitude type for every row")] = None,
    time_format: Annotated[
        str | None, Opt(help="csv only: strftime format of the time column")
    ] = None,
    depth_unit: Annotated[str, Opt(help="csv only: km or m")] = "km",
    delimiter: Annotated[str, Opt(help="csv only: field delimiter")] = ",",
    encoding: Annotated[
        str, Opt(help="auto (BOM or UTF-8) | latin-1 | cp1252 | shift_jis | utf-16 | ...")
    ] = "auto",
    config: Annotated[
        str | None, Opt(help="ingest settings: paper | scordilis2006 | FILE.yaml [code defaults]")
    ] = None,
    relations: Annotated[
        str | None, Opt(help="Mw relation set: paper | scordilis2006 | FILE.yaml")
    ] = None,
    ml_relation: Annotated[
        str | None,
        Opt(
            help="ML -> Mw: identity (default) | mjma (paper, Japan) | drop | a relation of the set"
        ),
    ] = None,
    out_of_range: Annotated[
        str | None, Opt(help="outside a relation's range: extrapolate | drop")
    ] = None,
    max_extrapolation: Annotated[
        str | None, Opt(help="drop magnitudes more than this many units outside | none")
    ] = None,
    mw_round: Annotated[
        float | None, Opt(help="round converted Mw to this step (e.g. 0.1)")
    ] = None,
    region_preset: Annotated[
        str | None,
        Opt(
            help="a region preset (conf/region/NAME.yaml, or a YAML file): its box, depth "
            "limit, ML relation, minimum Mw, time zone and depth sign (flags below win)"
        ),
    ] = None,
    region: Annotated[
        str | None, Opt(help="LAT_MIN,LAT_MAX,LON_MIN,LON_MAX or 'none' [default: 35,46,135,146]")
    ] = None,
    max_depth: Annotated[str | None, Opt(help="depth limit in km, or 'none' [default: 70]")] = None,
    depth_positive: Annotated[
        str | None, Opt(help="the file's depth sign: down (usual) | up (negative = below)")
    ] = None,
    timezone: Annotated[
        str | None, Opt(help="zone of times without a UTC offset: UTC | Asia/Tokyo | +09:00")
    ] = None,
    start: Annotated[str | None, Opt(help="first date kept (inclusive)")] = None,
    end: Annotated[str | None, Opt(help="last date kept (inclusive)")] = None,
    min_mw: Annotated[str | None, Opt(help="completeness: keep Mw >= this | none")] = None,
    drop_mag: Annotated[
        list[float] | None, Opt(help="drop this exact source magnitude (placeholder; repeatable)")
    ] = None,
    drop_placeholders: Annotated[
        bool | None,
        Opt("--drop-placeholders/--keep-placeholders", help="drop suspected placeholder spikes"),
    ] = None,
    duplicate_ids: Annotated[
        str | None, Opt(help="one id, different values: newest | first | last | error | keep")
    ] = None,
    on_bad_rows: Annotated[str | None, Opt(help="error | skip (skipped rows are counted)")] = None,
    set_: Annotated[
        list[str] | None,
        Opt("--set", help="any ingest setting, e.g. --set magnitudes.family_relation.MV=identity"),
    ] = None,
) -> None:
    """Read a catalog, convert magnitudes to Mw, filter, write the event table."""
    from espb.catalog.readers import ingest
    from espb.catalog.readers.textio import check_encoding
    from espb.catalog.schema import save_events
    from espb.safeio import check_output

    check_output(output, [file])
    check_encoding(encoding)
    o = {
        "relations": relations,
        "out_of_range": out_of_range,
        "mw_round": mw_round,
        "ml_relation": ml_relation,
        "max_extrapolation": max_extrapolation,
        "max_depth": max_depth,
        "min_mw": min_mw,
        "region": region,
        "region_preset": region_preset,
        "start": start,
        "end": end,
        "duplicate_ids": duplicate_ids,
        "drop_mag": drop_mag,
        "drop_placeholders": drop_placeholders,
        "on_bad_rows": on_bad_rows,
        "timezone": timezone,
        "depth_positive": depth_positive,
    }
    cfg = _ingest_config(config, set_, o)
    options: dict = {}
    if fmt == "csv" or mapping or mag_type or time_format or depth_unit != "km" or delimiter != ",":
        options = {
            "mapping": _parse_map(mapping),
            "mag_type": mag_type,
            "time_format": time_format,
            "depth_unit": depth_unit,
            "delimiter": delimiter,
        }
    with _status(f"reading {file}") as progress:
        progress(f"format {fmt}")
        df, report, meta = ingest(file, fmt, cfg, encoding=encoding, **options)
        if region_preset is not None:
            meta["region_preset"] = region_preset
        save_events(df, output, meta, inputs=(file,))
    for line in report.lines():
        say(line)
    say(f"wrote {output} ({len(df):,} events)")


@catalog_app.command("info")
def info_cmd(
    file: Annotated[Path, typer.Argument(help="event table (.parquet)")],
    plot: Annotated[
        Path | None, Opt(help="draw the paper's Figure 1 (events by depth and magnitude) to PNG")
    ] = None,
    overview: Annotated[
        Path | None, Opt(help="draw map, frequency-magnitude distribution and rate to PNG")
    ] = None,
    as_json: Annotated[bool, Opt("--json", help="print the summary as JSON")] = False,
) -> None:
    """Counts, time range, magnitude types, Mw histogram, Mc, placeholders, drop report."""
    from espb.catalog.figures import draw_figure1, figure1_data, plot_overview
    from espb.catalog.info import summarize, text_lines
    from espb.catalog.schema import load_events
    from espb.safeio import check_output

    for p in (plot, overview):
        if p is not None:
            check_output(p, [file, *(q for q in (plot, overview) if q is not None and q is not p)])
    if plot is not None and overview is not None and plot.resolve() == overview.resolve():
        raise EspbError(f"{plot}: --plot and --overview name the same file; give two paths")
    df = load_events(file)
    s = summarize(df)
    if as_json:
        out.print_json(json.dumps(s, default=str))
    else:
        for line in text_lines(s):
            say(line)
    if plot is not None:
        draw_figure1(figure1_data(df), plot)
        say(f"wrote {plot}")
    if overview is not None:
        plot_overview(df, overview, title=f"{file.name}: {len(df):,} events")
        say(f"wrote {overview}")


def _distinct(paths: list[Path]) -> None:
    from espb.safeio import check_output

    for i, p in enumerate(paths):
        check_output(p, paths[:i] + paths[i + 1 :])


@catalog_app.command("synth")
def synth_cmd(
    output: Annotated[Path, Opt("-o", "--output", help="event table to write (.parquet)")],
    preset: Annotated[str, Opt(help="demo | paper | smoke | FILE.yaml")] = "demo",
    seed: Annotated[int, Opt(help="random seed (the catalog is a function of it)")] = 0,
    precursors: Annotated[
        str, Opt(help="planted | null (same seismicity, nothing planted)")
    ] = "planted",
    set_: Annotated[
        list[str] | None,
        Opt("--set", help="override a setting, e.g. --set etas.p=1.2 (repeatable)"),
    ] = None,
    isc: Annotated[Path | None, Opt(help="also write the catalog as ISC CSV")] = None,
    comcat: Annotated[Path | None, Opt(help="also write the catalog as ComCat CSV")] = None,
) -> None:
    """Generate the synthetic ETAS catalog (with planted precursors) as an event table."""
    from espb.catalog.schema import save_events
    from espb.catalog.synthetic.config import load_synth_config
    from espb.catalog.synthetic.generate import synthesize
    from espb.safeio import atomic_write

    truth, plants = _sidecar(output, "truth"), _sidecar(output, "plants")
    _distinct([output, truth, plants, *(p for p in (isc, comcat) if p is not None)])
    overrides = [*(set_ or []), f"seed={seed}", f"precursors.mode={precursors}"]
    cfg = load_synth_config(preset, overrides)
    with _status(f"synthetic catalog '{cfg.name}' (seed {seed})") as progress:
        res = synthesize(cfg, progress)
        save_events(res.events, output, res.meta)
        for table, path in ((res.truth, truth), (res.plants, plants)):
            with atomic_write(path) as tmp:
                table.to_parquet(tmp, index=False)
        if isc is not None or comcat is not None:
            from espb.catalog.writers import write_comcat, write_isc

            if isc is not None:
                progress(f"writing ISC CSV {isc}")
                write_isc(res.raw, isc)
            if comcat is not None:
                progress(f"writing ComCat CSV {comcat}")
                write_comcat(res.raw, comcat)
    s = res.meta["synthetic"]
    say(
        f"simulated {s['n_simulated']:,} events in {s['seconds']:.1f} s; recorded {s['n_recorded']:,}; "
        f"{s['n_targets']} precursor windows ({cfg.precursors.mode}, {s['n_in_windows']:,} events inside)"
    )
    for line in res.report.lines():
        say(line)
    say(
        f"wrote {output} ({len(res.events):,} events), {plants}, {truth}"
        + "".join(f", {p}" for p in (isc, comcat) if p is not None)
    )


@catalog_app.command("export")
def export_cmd(
    file: Annotated[Path, typer.Argument(help="event table (.parquet)")],
    output: Annotated[Path, Opt("-o", "--output", help="CSV to write")],
    fmt: Annotated[str, Opt("--format", "-f", help="isc | comcat")] = "isc",
) -> None:
    """Write an event table as ISC or ComCat CSV (one magnitude per event: the one Mw came from)."""
    from espb.catalog.schema import load_events
    from espb.catalog.writers import raw_from_events, write_comcat, write_isc
    from espb.safeio import check_output

    writers = {"isc": write_isc, "comcat": write_comcat}
    if fmt not in writers:
        raise EspbError(f"--format must be one of {sorted(writers)}, not {fmt!r}")
    check_output(output, [file])
    df = load_events(file)
    writers[fmt](raw_from_events(df), output, inputs=(file,))
    say(f"wrote {output} ({len(df):,} events, {fmt})")


__all__ = ["catalog_app"]
