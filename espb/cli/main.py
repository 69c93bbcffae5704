"""``espb``: data and report tools. Thin wiring only; the work happens in the layers.

espb catalog ingest FILE --format isc|comcat|quakeml|csv -o OUT.parquet
espb catalog info OUT.parquet [--plot overview.png]
espb catalog synth --preset demo|paper --seed N -o OUT.parquet [--isc F.csv] [--comcat F.csv]
espb catalog export OUT.parquet --format isc|comcat -o F.csv
espb cube build --catalog OUT.parquet --dr 0.25 --dt 365 [--preset paper|demo|smoke]
espb cube show [STORE.zarr | --catalog OUT.parquet --dr .. --dt ..] --day 2011-03-10 -o b.png
espb cube ls
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from espb import __version__
from espb.cli.console import _status, err, out, parse_region, say
from espb.cli.cube import cube_app
from espb.cli.optuna import optuna_app
from espb.cli.report import report_app
from espb.cli.sweep import sweep_app
from espb.errors import EspbError

app = typer.Typer(
    help="espb: earthquake spatiotemporal progressive b-values (Koehler et al.).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
catalog_app = typer.Typer(
    help="Catalogs in: ingest, inspect, generate, export.", no_args_is_help=True
)
app.add_typer(catalog_app, name="catalog")
app.add_typer(cube_app, name="cube")
app.add_typer(report_app, name="report")
app.add_typer(sweep_app, name="sweep")
app.add_typer(optuna_app, name="optuna")


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


@catalog_app.command("ingest")
def ingest_cmd(
    file: Annotated[Path, typer.Argument(help="catalog file to read")],
    output: Annotated[Path, typer.Option("-o", "--output", help="event table to write (.parquet)")],
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="isc | comcat | quakeml | csv | auto")
    ] = "auto",
    mapping: Annotated[
        list[str] | None,
        typer.Option(
            "--map",
            help="csv only: NAME=COLUMN (repeatable, or comma-separated) for event_id, "
            "time, date, latitude, longitude, depth, mag, mag_type, author, event_type",
        ),
    ] = None,
    mag_type: Annotated[
        str | None, typer.Option(help="csv only: one magnitude type for every row")
    ] = None,
    time_format: Annotated[
        str | None, typer.Option(help="csv only: strftime format of the time column")
    ] = None,
    depth_unit: Annotated[str, typer.Option(help="csv only: km or m")] = "km",
    delimiter: Annotated[str, typer.Option(help="csv only: field delimiter")] = ",",
    config: Annotated[
        str | None,
        typer.Option(help="ingest settings: paper (default) | scordilis2006 | FILE.yaml"),
    ] = None,
    relations: Annotated[
        str | None, typer.Option(help="Mw relation set: paper | scordilis2006 | FILE.yaml")
    ] = None,
    out_of_range: Annotated[
        str | None, typer.Option(help="outside a relation's range: extrapolate | drop")
    ] = None,
    mw_round: Annotated[
        float | None, typer.Option(help="round converted Mw to this step (e.g. 0.1)")
    ] = None,
    region: Annotated[
        str | None,
        typer.Option(help="LAT_MIN,LAT_MAX,LON_MIN,LON_MAX or 'none' [default: 35,46,135,146]"),
    ] = None,
    max_depth: Annotated[
        str | None, typer.Option(help="depth limit in km, or 'none' [default: 70]")
    ] = None,
    start: Annotated[str | None, typer.Option(help="first date kept (inclusive)")] = None,
    end: Annotated[str | None, typer.Option(help="last date kept (inclusive)")] = None,
    on_bad_rows: Annotated[
        str | None, typer.Option(help="error | skip (skipped rows are counted)")
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set", help="any ingest setting, e.g. --set magnitudes.family_relation.ML=identity"
        ),
    ] = None,
) -> None:
    """Read a catalog, convert magnitudes to Mw, filter, write the event table."""
    from espb.catalog.build import load_ingest_config
    from espb.catalog.readers import ingest
    from espb.catalog.schema import save_events

    cfg = load_ingest_config(config, set_)
    m, f = cfg.magnitudes, cfg.filters
    if relations is not None:
        m.relations = relations
    if out_of_range is not None:
        m.out_of_range = out_of_range
    if mw_round is not None:
        m.mw_round = mw_round
    if region is not None:
        f.region = parse_region(region, allow_none=True)
    if max_depth is not None:
        try:
            f.max_depth_km = None if max_depth.strip().lower() == "none" else float(max_depth)
        except ValueError as exc:
            raise EspbError(f"--max-depth: {max_depth!r} is not a number of km or 'none'") from exc
    f.start = start if start is not None else f.start
    f.end = end if end is not None else f.end
    cfg.on_bad_rows = on_bad_rows if on_bad_rows is not None else cfg.on_bad_rows
    cfg.validate()
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
        df, report, meta = ingest(file, fmt, cfg, **options)
        save_events(df, output, meta)
    for line in report.lines():
        say(line)
    say(f"wrote {output} ({len(df):,} events)")


@catalog_app.command("info")
def info_cmd(
    file: Annotated[Path, typer.Argument(help="event table (.parquet)")],
    plot: Annotated[
        Path | None, typer.Option(help="also draw map, FMD and rate to this PNG")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the summary as JSON")] = False,
) -> None:
    """Counts, time range, magnitude-type mix, Mw histogram, Mc, drop report."""
    from espb.catalog.info import plot_overview, summarize, text_lines
    from espb.catalog.schema import load_events

    df = load_events(file)
    s = summarize(df)
    if as_json:
        out.print_json(json.dumps(s, default=str))
    else:
        for line in text_lines(s):
            say(line)
    if plot is not None:
        plot_overview(df, plot, title=f"{file.name}: {len(df):,} events")
        say(f"wrote {plot}")


@catalog_app.command("synth")
def synth_cmd(
    output: Annotated[Path, typer.Option("-o", "--output", help="event table to write (.parquet)")],
    preset: Annotated[str, typer.Option(help="demo | paper | FILE.yaml")] = "demo",
    seed: Annotated[int, typer.Option(help="random seed (the catalog is a function of it)")] = 0,
    precursors: Annotated[
        str, typer.Option(help="planted | null (same seismicity, nothing planted)")
    ] = "planted",
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="override a setting, e.g. --set etas.p=1.2 (repeatable)"),
    ] = None,
    isc: Annotated[Path | None, typer.Option(help="also write the catalog as ISC CSV")] = None,
    comcat: Annotated[
        Path | None, typer.Option(help="also write the catalog as ComCat CSV")
    ] = None,
) -> None:
    """Generate the synthetic ETAS catalog (with planted precursors) as an event table."""
    from espb.catalog.schema import save_events
    from espb.catalog.synthetic.config import load_synth_config
    from espb.catalog.synthetic.generate import synthesize

    overrides = [*(set_ or []), f"seed={seed}", f"precursors.mode={precursors}"]
    cfg = load_synth_config(preset, overrides)
    with _status(f"synthetic catalog '{cfg.name}' (seed {seed})") as progress:
        res = synthesize(cfg, progress)
        save_events(res.events, output, res.meta)
        res.truth.to_parquet(_sidecar(output, "truth"), index=False)
        res.plants.to_parquet(_sidecar(output, "plants"), index=False)
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
        f"wrote {output} ({len(res.events):,} events), {_sidecar(output, 'plants')}, "
        f"{_sidecar(output, 'truth')}" + "".join(f", {p}" for p in (isc, comcat) if p is not None)
    )


@catalog_app.command("export")
def export_cmd(
    file: Annotated[Path, typer.Argument(help="event table (.parquet)")],
    output: Annotated[Path, typer.Option("-o", "--output", help="CSV to write")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="isc | comcat")] = "isc",
) -> None:
    """Write an event table as ISC or ComCat CSV (one magnitude per event: the one Mw came from)."""
    from espb.catalog.schema import load_events
    from espb.catalog.writers import raw_from_events, write_comcat, write_isc

    writers = {"isc": write_isc, "comcat": write_comcat}
    if fmt not in writers:
        raise EspbError(f"--format must be one of {sorted(writers)}, not {fmt!r}")
    df = load_events(file)
    writers[fmt](raw_from_events(df), output)
    say(f"wrote {output} ({len(df):,} events, {fmt})")


@app.command("version")
def version_cmd() -> None:
    """Print espb's version."""
    out.print(__version__)


def main() -> None:
    """Console entry point: user errors print one clear message and exit with status 2."""
    try:
        app()
    except EspbError as exc:
        err.print("[bold red]error:[/bold red] " + escape(str(exc)), highlight=False)
        sys.exit(2)


if __name__ == "__main__":
    main()
