"""``espb``: data and report tools. Thin wiring only; the work happens in the layers.

espb catalog ingest FILE --format auto|isc|comcat|quakeml|csv -o OUT.parquet
espb catalog info OUT.parquet [--plot figure1.png] [--overview overview.png]
espb catalog synth --preset demo|paper --seed N -o OUT.parquet [--isc F.csv] [--comcat F.csv]
espb catalog export OUT.parquet --format isc|comcat -o F.csv
espb cube build --catalog OUT.parquet --dr 0.25 --dt 365 [--preset paper|demo|smoke]
espb cube show [STORE.zarr | --catalog OUT.parquet --dr .. --dt ..] --day 2011-03-10 -o b.png
espb cube ls
espb forecast RUN [--period test|dev|all] [--snapshot time-forward|latest|K] [--calibration prior|..]
espb report forecast RUN [RUN ...] | --experiment NAME
espb region ls | check [--catalog T] [OVERRIDES] | auto --catalog T --name NAME
"""

from __future__ import annotations

import sys

import typer
from rich.markup import escape

from espb import __version__
from espb.cli.catalog import catalog_app
from espb.cli.console import err, out
from espb.cli.cube import cube_app
from espb.cli.forecast import forecast_cmd
from espb.cli.links import links_cmd
from espb.cli.optuna import optuna_app
from espb.cli.region import region_app
from espb.cli.report import report_app
from espb.cli.sweep import sweep_app
from espb.errors import EspbError

app = typer.Typer(
    help="espb: earthquake spatiotemporal progressive b-values (Koehler et al.).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(catalog_app, name="catalog")
app.add_typer(cube_app, name="cube")
app.add_typer(report_app, name="report")
app.add_typer(sweep_app, name="sweep")
app.add_typer(optuna_app, name="optuna")
app.command("links")(links_cmd)
app.command("forecast")(forecast_cmd)
app.add_typer(region_app, name="region")


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
