"""``espb links``: the MLflow training-view address of every espb experiment in a store (what
``make ui`` prints before it serves the store). Thin wiring over :mod:`espb.tracking`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from espb.cli.console import say
from espb.errors import EspbError


def links_cmd(
    store: Annotated[
        Path, typer.Option("--store", help="the SQLite store (make ui: $(OUT)/mlruns.db)")
    ] = Path("outputs/mlruns.db"),
    base: Annotated[str, typer.Option("--base", help="where the UI is served")] = "",
) -> None:
    """Print the training-view URL of each espb experiment in STORE and mark the experiments as
    model training (so MLflow 3 opens them in its "Model training" view, not the GenAI one)."""
    from espb.tracking import LOCAL_UI, experiment_links

    if not store.is_file():
        raise EspbError(
            f"{store}: no MLflow store there; run `make run` (or pass --store OUT/mlruns.db)"
        )
    found = experiment_links(f"sqlite:///{store.resolve()}", base or LOCAL_UI)
    if not found:
        say(f"{store}: no espb experiment yet; after `make run`: {LOCAL_UI}")
    for name, url in found:
        say(f"  {name:<28} {url}")
