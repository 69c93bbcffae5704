"""Where a run's event table comes from (the ``catalog`` node of espb-train): an espb Parquet
table (``path``), or an embedded synthetic catalog (``synthetic`` preset, ``seed``,
``precursors``) generated once into ``<out_dir>/catalogs/`` and reused by every later run."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from espb.errors import ConfigError


@dataclass
class CatalogSource:
    """- ``path``: an event table written by ``espb catalog ingest`` (wins when set);
    - ``synthetic``: a synthetic preset name (demo, paper, smoke) or a YAML file;
    - ``seed``, ``precursors``: the synthetic catalog's seed and ``planted`` | ``shuffled`` |
      ``null`` (the same seismicity with nothing planted)."""

    path: str | None = None
    synthetic: str | None = "demo"
    seed: int = 0
    precursors: str | None = "planted"

    @property
    def mode(self) -> str:
        m = self.precursors
        return "null" if m is None or str(m).lower() in ("none", "null") else str(m)

    def validate(self) -> None:
        if not self.path and not self.synthetic:
            raise ConfigError(
                "catalog: set catalog.path (an event table from `espb catalog ingest`) or "
                "catalog.synthetic"
            )


def synthetic_path(src: CatalogSource, out_dir: str | Path) -> Path:
    """Where the synthetic catalog of ``src`` is kept: one file per (preset, seed, mode)."""
    name = Path(str(src.synthetic)).stem
    return Path(out_dir) / "catalogs" / f"synthetic-{name}-seed{src.seed}-{src.mode}.parquet"


def catalog_path(
    src: CatalogSource, out_dir: str | Path, say: Callable[[str], None] = print
) -> Path:
    """The event table of ``src``: ``path`` as given, or the synthetic catalog, generated (under
    a file lock, written atomically with its ``.plants.parquet`` sidecar) if absent."""
    from filelock import FileLock

    if src.path:
        p = Path(src.path)
        if not p.is_file():
            raise ConfigError(
                f"catalog.path={src.path!r}: no such file; give an event table written by "
                "`espb catalog ingest FILE -o TABLE.parquet`, or unset catalog.path to use "
                "catalog.synthetic"
            )
        return p
    path = synthetic_path(src, out_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path) + ".lock"):
        if not path.exists():
            _generate(src, path, say)
    return path


def _generate(src: CatalogSource, path: Path, say: Callable[[str], None]) -> None:
    from espb.catalog.schema import save_events
    from espb.catalog.synthetic.config import load_synth_config
    from espb.catalog.synthetic.generate import synthesize

    say(
        f"generating the synthetic catalog '{src.synthetic}' (seed {src.seed}, precursors "
        f"{src.mode}) -> {path}"
    )
    scfg = load_synth_config(
        str(src.synthetic), [f"seed={src.seed}", f"precursors.mode={src.mode}"]
    )
    res = synthesize(scfg, lambda msg: say(f"  {msg}"))
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    save_events(res.events, tmp, res.meta)
    res.plants.to_parquet(path.with_name(path.stem + ".plants.parquet"), index=False)
    os.replace(tmp, path)
