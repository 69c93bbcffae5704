"""``espb cube``: build, inspect and list daily b-value cubes (thin wiring over espb.bvalue)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from espb.cli.console import err, out, parse_region, say
from espb.cli.options import option_group
from espb.errors import EspbError

cube_app = typer.Typer(
    help="Daily b-value cubes: build (cached), show, list.", no_args_is_help=True
)

Catalog = Annotated[Path, typer.Option("--catalog", "-c", help="event table (.parquet)")]
Preset = Annotated[
    str, typer.Option(help="cube settings: paper | paper_test | demo | smoke | FILE.yaml")
]
Dr = Annotated[
    float | None, typer.Option(help="cylinder radius in degrees (paper: 0.15 0.25 0.35 0.65)")
]
Dt = Annotated[int | None, typer.Option(help="lookback in days (paper: 150 365 730)")]
Start = Annotated[str | None, typer.Option(help="first day of the cube (YYYY-MM-DD)")]
End = Annotated[str | None, typer.Option(help="last day of the cube (YYYY-MM-DD)")]
Region = Annotated[str | None, typer.Option(help="LAT_MIN,LAT_MAX,LON_MIN,LON_MAX of the grid")]
Mode = Annotated[str | None, typer.Option(help="paper | binned | classic")]
Threshold = Annotated[
    float | None, typer.Option(help="b-positive: smallest difference; classic: Mc")
]
Metric = Annotated[str | None, typer.Option(help="planar (degrees) | greatcircle (km)")]
Sets = Annotated[
    list[str] | None, typer.Option("--set", help="any cube setting, e.g. --set dr_km=30")
]
CacheDir = Annotated[
    Path | None, typer.Option(help="cache directory [$ESPB_CACHE_DIR or ~/.cache/espb]")
]


def _cube_options(
    preset: Preset = "paper",
    dr: Dr = None,
    dt: Dt = None,
    start: Start = None,
    end: End = None,
    region: Region = None,
    mode: Mode = None,
    threshold: Threshold = None,
    metric: Metric = None,
    set_: Sets = None,
    cache_dir: CacheDir = None,
) -> None:
    """The cube's settings and cache: options of ``build`` and ``show`` (:func:`cube_options`)."""


#: ``cube: CubeOptions = None`` in a command stands for the options of :func:`_cube_options`
cube_options = option_group("cube", _cube_options)
CubeOptions = dict[str, Any]

#: the options that are fields of the cube's settings (None: the preset's)
_FIELDS = ("dr", "dt", "start", "end", "region", "mode", "threshold", "metric")


def _config(cube: CubeOptions):
    from espb.bvalue.config import load_cube_config

    fields = {k: cube[k] for k in _FIELDS}
    if fields["region"] is not None:
        fields["region"] = parse_region(fields["region"])
    return load_cube_config(cube["preset"], cube["set_"], **fields)


@cube_app.command("build")
@cube_options
def build_cmd(
    catalog: Catalog,
    cube: CubeOptions = None,
    rebuild: Annotated[bool, typer.Option(help="build again even if cached")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
) -> None:
    """Build the cube for a catalog and settings (or find it in the cache); print its path."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from espb.bvalue.cache import get_cube
    from espb.catalog.schema import load_events

    cfg = _config(cube)
    events = load_events(catalog)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[note]}"),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    ) as bar:
        task = bar.add_task(
            f"cube dr={cfg.dr:g} dt={cfg.dt} ({cfg.mode})", total=None, note="hashing catalog"
        )

        def progress(done: int, total: int, note: str) -> None:
            bar.update(task, completed=done, total=total, note=note)

        def notice(message: str) -> None:  # waits, rebuild reasons, coverage warnings: kept
            style = "bold yellow" if message.startswith(("WARNING", "rebuilding")) else "dim"
            bar.console.print(f"[{style}]{escape(message)}[/{style}]", highlight=False)

        res = get_cube(
            events, cfg, cube["cache_dir"], progress=progress, rebuild=rebuild, on_wait=notice
        )
        bar.update(task, note="done" if res.built else "found in cache")
    ds = res.open()  # lazy: only metadata is read here
    summary = {
        "path": str(res.path),
        "key": res.key,
        "built": res.built,
        "catalog_hash": res.catalog_hash,
        "shape": {k: int(v) for k, v in ds.sizes.items()},
        "mode": cfg.mode,
        "dr": cfg.dr,
        "dt": cfg.dt,
        # stored at build time; computed from the data for stores written before they were
        "fraction_b_nonzero": ds.attrs.get("fraction_b_nonzero")
        if "fraction_b_nonzero" in ds.attrs
        else float((ds["b"].values > 0).mean()),
        "fraction_cells_ge10_events": ds.attrs.get("fraction_ge10_events")
        if "fraction_ge10_events" in ds.attrs
        else float((ds["n_events"].values >= 10).mean()),
        "n_events_used": int(ds.attrs["n_events_used"]),
        "rebuilt_because": res.rebuilt_because,
        "warnings": res.warnings,
        **res.stats,
    }
    if as_json:
        out.print_json(json.dumps(summary, default=str))
        return
    status = "rebuilt" if res.rebuilt_because else "built" if res.built else "cached"
    say(f"{status}: {res.path}")
    say(
        f"  key {res.key}, catalog {res.catalog_hash}, {ds.sizes['time']} days x {ds.sizes['lat']} x "
        f"{ds.sizes['lon']} cells, {summary['n_events_used']:,} events used"
    )
    say(
        f"  b > 0 in {summary['fraction_b_nonzero']:.1%} of cell-days; >= 10 events in "
        f"{summary['fraction_cells_ge10_events']:.1%}"
    )
    if res.built:
        say(
            f"  compute {res.stats['compute_s']:.1f} s, write {res.stats['write_s']:.1f} s, "
            f"{res.stats['pairs']:,} (event, cell) pairs"
        )


def _resolve_store(store: Path | None, catalog: Path | None, cube: CubeOptions) -> Path:
    if store is not None:
        return store
    if catalog is None:
        raise EspbError("give a cube store (PATH.zarr) or --catalog with the cube's settings")
    from espb.bvalue.cache import cache_root, check_store, cube_key, store_path
    from espb.catalog.schema import catalog_hash, load_events

    cfg = _config(cube)
    key = cube_key(catalog_hash(load_events(catalog)), cfg)
    path = store_path(cache_root(cube["cache_dir"]), cfg, key)
    why = check_store(path, key)
    if why == "does not exist":
        raise EspbError(
            f"no cube for {catalog} with these settings in the cache ({path}); "
            "build it first with `espb cube build` and the same options"
        )
    if why is not None:
        raise EspbError(
            f"the cached cube {path} {why}; rebuild it with `espb cube build` and the same options"
        )
    return path


@cube_app.command("show")
@cube_options
def show_cmd(
    store: Annotated[
        Path | None, typer.Argument(help="cube store (.zarr); or use --catalog + settings")
    ] = None,
    output: Annotated[Path, typer.Option("-o", "--output", help="PNG to write")] = Path("cube.png"),
    day: Annotated[str | None, typer.Option(help="day of the map (YYYY-MM-DD) [last day]")] = None,
    cell: Annotated[
        str | None, typer.Option(help="LAT,LON of the time-series cell [busiest cell]")
    ] = None,
    min_events: Annotated[int, typer.Option(help="grey out cells with fewer events (>= 1)")] = 10,
    catalog: Annotated[
        Path | None,
        typer.Option(
            "--catalog",
            "-c",
            help="event table: find the cube in the cache, and circle the events of Mw >= "
            "--mark-mw on the day after the map's day (the day it forecasts)",
        ),
    ] = None,
    mark_mw: Annotated[
        float, typer.Option(help="magnitude of the circled next-day events (paper: 5)")
    ] = 5.0,
    mark: Annotated[
        list[str] | None,
        typer.Option(
            help="annotate an event: 'YYYY-MM-DD[,LAT,LON],LABEL' (repeatable; e.g. a region's "
            "large earthquake)"
        ),
    ] = None,
    cube: CubeOptions = None,
) -> None:
    """Draw a day's b-value map and one cell's b and event-count time series to PNG."""
    from espb.bvalue.cache import open_cube
    from espb.bvalue.plot import plot_cube

    notes = [_parse_mark(m) for m in mark or []]

    path = _resolve_store(store, catalog, cube)
    _refuse_overwrite(output, [p for p in (catalog, path) if p is not None])
    ds = open_cube(path)
    events = None
    if catalog is not None:
        from espb.catalog.schema import load_events

        events = load_events(catalog)
    where = None
    if cell is not None:
        try:
            lat, lon = (float(x) for x in cell.split(","))
        except ValueError as exc:
            raise EspbError(
                f"--cell: {cell!r} is not LAT,LON (two numbers, e.g. --cell "
                f"{float(ds['lat'].values.mean()):.2f},{float(ds['lon'].values.mean()):.2f})"
            ) from exc
        where = (lat, lon)
    info = plot_cube(
        ds,
        output,
        day=day,
        cell=where,
        min_events=min_events,
        events=events,
        mag_min=mark_mw,
        annotations=notes,
    )
    marked = (
        f"; {info['n_marked']} events of Mw >= {mark_mw:g} on {info['marked_day']} circled"
        if events is not None
        else ""
    )
    say(
        f"wrote {output}: map of {info['day']}, cell {info['lat']:.2f} N {info['lon']:.2f} E "
        f"(b {info['b']:.3f}, {info['n_events']} events){marked}"
    )


def _parse_mark(spec: str):
    """``YYYY-MM-DD[,LAT,LON],LABEL`` as an Annotation."""
    import math

    import pandas as pd

    from espb.bvalue.plot import Annotation

    parts = [p.strip() for p in spec.split(",")]
    bad = EspbError(
        f"--mark {spec!r}: use 'YYYY-MM-DD,LABEL' or 'YYYY-MM-DD,LAT,LON,LABEL' "
        "(e.g. --mark '2019-07-06,35.77,-117.60,Ridgecrest M7.1')"
    )
    if len(parts) < 2 or not parts[-1]:
        raise bad
    try:
        t = pd.Timestamp(parts[0])
        if len(parts) >= 4:
            lat, lon = float(parts[1]), float(parts[2])
            if not (math.isfinite(lat) and math.isfinite(lon)):
                raise ValueError("not finite")
            return Annotation(",".join(parts[3:]), t, lat, lon)
    except (ValueError, TypeError, OverflowError) as exc:
        raise bad from exc
    return Annotation(",".join(parts[1:]), t)


def _refuse_overwrite(output: Path, inputs: list[Path]) -> None:
    """The picture must not replace the catalog or land inside the cube store it shows, and
    must be a regular file (or new)."""
    o = output.resolve()
    for src in inputs:
        s = Path(src).resolve()
        if o == s or s in o.parents:
            raise EspbError(
                f"-o {output}: would overwrite or write into the input {src}; choose another "
                "output path (e.g. -o cube.png)"
            )
    if o.exists() and not o.is_file():
        raise EspbError(f"-o {output}: exists and is not a regular file; choose a file path")


@cube_app.command("ls")
def ls_cmd(
    cache_dir: CacheDir = None,
    verify: Annotated[
        bool, typer.Option(help="re-hash every file against its checksum (slower)")
    ] = False,
) -> None:
    """List the cubes in the cache: region, dates, resolution, settings, and whether each is
    complete and intact (content checksums)."""
    from espb.bvalue.cache import cache_root, list_cubes

    root = cache_root(cache_dir) / "cubes"
    for d in (root.parent, root):
        if d.exists() and not d.is_dir():
            raise EspbError(f"{d} is not a directory; point --cache-dir at an espb cache")
    rows = list_cubes(cache_dir, full=verify)
    say(f"cache: {root} ({len(rows)} stores{'' if root.is_dir() else ', does not exist yet'})")
    for r in rows:
        name = Path(r["path"]).name
        if r["ok"]:
            say(f"  {name}  {_describe(r)}  catalog {r['catalog_hash']}  {r['size_mb']:.0f} MB")
        else:
            say(f"  {name}  BROKEN: {r['problem']} (rebuilt on next use)")


def _describe(r: dict) -> str:
    box = r.get("region")
    where = (
        f"{box[0]:g}-{box[1]:g}N {box[2]:g}-{box[3]:g}E"
        if isinstance(box, list) and len(box) == 4
        else "region ?"
    )
    return (
        f"{where} @ {r.get('resolution')} deg  {r['start']}..{r['end']}  "
        f"mode={r['mode']} dr={r['dr']} dt={r['dt']}"
    )
