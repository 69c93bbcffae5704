"""``espb region``: the region presets, the check of a run's settings on its catalog, and a
region derived from a catalog (thin wiring over espb.training.regions; docs/regions.md).

espb region ls
espb region check [--catalog TABLE.parquet] [--no-cube] [OVERRIDES ...]
espb region auto --catalog TABLE.parquet (--name NAME | -o FILE.yaml) [OVERRIDES ...]
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from espb.cli.console import say
from espb.errors import ConfigError

region_app = typer.Typer(
    help="Regions: list the presets, check a run's settings on a catalog, derive a region.",
    no_args_is_help=True,
)

Overrides = Annotated[
    list[str] | None,
    typer.Argument(help="espb-train overrides, e.g. experiment=smoke region=switzerland"),
]
CatalogOpt = Annotated[
    Path | None,
    typer.Option("--catalog", help="event table (espb catalog ingest); sets catalog.path"),
]


def _overrides(catalog: Path | None, overrides: list[str] | None) -> list[str]:
    out = list(overrides or [])
    if catalog is not None:
        if not catalog.is_file():
            raise ConfigError(
                f"--catalog {catalog}: no such file; give an event table written by "
                "`espb catalog ingest FILE -o TABLE.parquet`"
            )
        out.insert(0, f"catalog.path={catalog.resolve()}")
    return out


@region_app.command("ls")
def ls_cmd() -> None:
    """The region presets of conf/region/: box, days, development end, target, patch."""
    from espb.catalog.region import load_region, preset_names

    for name in preset_names():
        r = load_region(name)
        if r.box is None:
            say(f"{name:<14s} (derived from the catalog when the run starts)")
            continue
        b = r.box
        say(
            f"{name:<14s} {b[0]:g} to {b[1]:g} N, {b[2]:g} to {b[3]:g} E  {r.start}..{r.end}  "
            f"dev_end {r.dev_end}  Mw >= {r.target_mag:g}  patch {r.patch}  {r.description}"
        )


@region_app.command("check")
def check_cmd(
    overrides: Overrides = None,
    catalog: CatalogOpt = None,
    cube: Annotated[
        bool, typer.Option(help="build (or read the cached) cube for the nEQ and schedule counts")
    ] = True,
) -> None:
    """How many events, EQ samples, nEQ candidates and meta-epochs the settings give, which
    rule removed the rest, and what to change; exit code 2 if the run could not train."""
    from espb.training.regions import check_config, compose_run_config

    cfg = compose_run_config(["run.progress=false", *_overrides(catalog, overrides)])
    chk = check_config(cfg, say, cube=cube)
    for line in chk.lines():
        say(line)
    chk.raise_if_problems()


@region_app.command("auto")
def auto_cmd(
    overrides: Overrides = None,
    catalog: CatalogOpt = None,
    name: Annotated[
        str | None, typer.Option(help="write conf/region/NAME.yaml (then region=NAME)")
    ] = None,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="or write here")] = None,
    force: Annotated[bool, typer.Option(help="replace an existing file")] = False,
) -> None:
    """Derive a region from a catalog (box, days, development end, patch, target magnitude,
    suggested Mc), print it and write it as a region preset."""
    from omegaconf import OmegaConf

    from espb.catalog.region import region_presets_dir
    from espb.training.regions import (
        compose_run_config,
        derive_region,
        describe,
        region_yaml,
        run_catalog,
        write_region_file,
    )

    if (name is None) == (output is None):
        raise ConfigError("region auto: give --name NAME (conf/region/NAME.yaml) or -o FILE.yaml")
    label = name or (output.stem if output is not None else "auto")
    if not label.replace("_", "").replace("-", "").isalnum():
        raise ConfigError(f"--name {label!r}: use letters, digits, - and _ only")
    cfg = compose_run_config(_overrides(catalog, overrides))
    path, events = run_catalog(cfg, say)
    spec, extra = derive_region(events, OmegaConf.to_container(cfg, resolve=True), label)
    for line in describe(spec, extra):
        say(line)
    target = output if output is not None else region_presets_dir() / f"{label}.yaml"
    write_region_file(target, region_yaml(spec, extra, str(path)), force=force)
    say(f"wrote {target}" + (f"; use it with region={label}" if name else ""))


__all__ = ["region_app"]
