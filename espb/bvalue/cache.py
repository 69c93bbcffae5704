"""Content-addressed cube cache: one zarr v3 store per (catalog, settings), built once.

- The key is a hash of the catalog's content hash, every setting that changes the numbers
  (:meth:`CubeConfig.key_fields`) and :data:`ALGORITHM_VERSION`; the store lives at
  ``<cache>/cubes/<label>-<key>.zarr``.
- Builders of the same key serialise on a file lock (``<key>.lock``). The holder re-checks the
  cache (another process may have finished meanwhile), else builds into a temporary directory,
  writes a manifest (every file, its size and SHA-256) last, and renames the directory into
  place; a rename within one file system is atomic, so a reader never sees a partial store.
- A store is accepted only if its manifest exists, names the key, and lists exactly the files
  present with their sizes and content checksums (:mod:`espb.bvalue.integrity`). Anything else
  (a killed build's leftovers, a damaged or changed copy, a store of the size-only manifest of
  older versions) is removed and rebuilt by the next builder, which says why.
- Before building: the grid and the kernel's lists must fit in memory, and some event must lie
  in the cube's box and period; after: not every b may be 0 (:mod:`espb.bvalue.guards`).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import uuid
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import xarray as xr
from filelock import FileLock

from espb.buildlog import record_build
from espb.bvalue.config import CubeConfig
from espb.bvalue.cube import ALGORITHM_VERSION, Progress, build_cube
from espb.bvalue.guards import assess_coverage, check_not_degenerate, require_events
from espb.bvalue.integrity import (
    MANIFEST,
    check_store,
    read_manifest,
    store_bytes,
    write_manifest,
)
from espb.catalog.schema import catalog_hash as compute_catalog_hash
from espb.errors import EspbError
from espb.safeio import acquire_or_wait

__all__ = ["MANIFEST", "CubeResult", "cache_root", "check_store", "cube_key", "get_cube"]


def cache_root(cache_dir: str | Path | None = None) -> Path:
    """``cache_dir``, else ``$ESPB_CACHE_DIR``, else ``$XDG_CACHE_HOME/espb`` (~/.cache/espb)."""
    if cache_dir is not None:
        return Path(cache_dir)
    env = os.environ.get("ESPB_CACHE_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "espb"


def cube_key(catalog_hash: str, cfg: CubeConfig) -> str:
    """The content address of a cube: same catalog and settings, same key."""
    payload = {"catalog": catalog_hash, "cube": cfg.key_fields(), "algorithm": ALGORITHM_VERSION}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:20]


def store_label(cfg: CubeConfig) -> str:
    """Human-readable part of a store's name (the key alone decides identity)."""
    return f"b-{cfg.mode}-dr{cfg.dr:g}-dt{cfg.dt}"


def store_path(root: Path, cfg: CubeConfig, key: str) -> Path:
    return root / "cubes" / f"{store_label(cfg)}-{key}.zarr"


def _write_manifest(store: Path, key: str, info: dict) -> None:
    """Written last: its presence marks a complete store (see :mod:`espb.bvalue.integrity`)."""
    write_manifest(store, key, info)


def open_cube(store: str | Path) -> xr.Dataset:
    """Open a cube store lazily (NumPy-backed, no dask needed); EspbError if it is incomplete or
    its content does not match the manifest's checksums."""
    store = Path(store)
    why = check_store(store)
    if why is not None:
        raise EspbError(
            f"{store}: not a complete espb cube: {why}; rebuild it with `espb cube build`"
        )
    with warnings.catch_warnings():  # zarr notes the manifest and record files, which are ours
        warnings.filterwarnings("ignore", message=r"Object at \.?espb_\S+ is not recognized")
        return xr.open_zarr(store, consolidated=False, zarr_format=3, chunks=None)


def write_store(ds: xr.Dataset, path: Path, cfg: CubeConfig) -> None:
    """Write ``ds`` as zarr v3 with chunks for cutting (time, lat, lon) blocks, zstd-compressed."""
    from zarr.codecs import BloscCodec

    ct, cy, cx = cfg.chunks
    chunks = (min(ct, ds.sizes["time"]), min(cy, ds.sizes["lat"]), min(cx, ds.sizes["lon"]))
    comp = BloscCodec(cname="zstd", clevel=3, shuffle="shuffle")
    enc = {v: {"chunks": chunks, "compressors": (comp,)} for v in ds.data_vars}
    ds.to_zarr(path, mode="w-", zarr_format=3, consolidated=False, encoding=enc)


@dataclass
class CubeResult:
    """A cube in the cache. ``rebuilt_because``: why a cached store under this key was not
    used (damaged, changed, unverifiable), if it was rebuilt; ``warnings``: coverage notes
    (a cube beyond the catalog's time range), also in the store's attrs."""

    path: Path
    key: str
    built: bool
    catalog_hash: str
    stats: dict = field(default_factory=dict)
    rebuilt_because: str | None = None
    warnings: list[str] = field(default_factory=list)

    def open(self) -> xr.Dataset:
        return open_cube(self.path)


def _discard(path: Path) -> None:
    """Remove a directory without leaving a half-deleted store under its name."""
    if not path.exists():
        return
    trash = path.with_name(f".trash-{uuid.uuid4().hex[:8]}-{path.name}")
    os.replace(path, trash)
    shutil.rmtree(trash, ignore_errors=False)


def _clear_leftovers(final: Path) -> None:
    """Temporary stores and moved-aside broken stores of killed builds of this key (the caller
    holds the lock: nobody else is writing them)."""
    for pattern in (f".{final.name}.tmp-*", f".trash-*-{final.name}"):
        for stale in final.parent.glob(pattern):
            try:
                shutil.rmtree(stale)
            except OSError as exc:  # harmless (never read), but say so
                warnings.warn(f"could not remove the leftover {stale}: {exc}", stacklevel=3)


def _acquire(lock: FileLock, path: Path, key: str, timeout: float, on_wait) -> None:
    busy = f"another process is building cube {key}"
    acquire_or_wait(lock, path, timeout, on_wait, busy, "if no such process is alive, delete it")


def _build_into(events, cfg, final: Path, h: str, key: str, progress) -> dict:
    """Compute, refuse a degenerate cube, write a temporary store with its manifest and rename
    it into place; the temporary store is removed on any failure."""
    t0 = time.perf_counter()
    ds, stats = build_cube(events, cfg, catalog_hash=h, key=key, progress=progress)
    check_not_degenerate(ds["b"].values, ds["n_events"].values, ds["n_used"].values, cfg)
    if progress is not None:
        progress(1, 1, "writing zarr store")
    tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    t1 = time.perf_counter()
    try:
        write_store(ds, tmp, cfg)
        del ds
        info = {
            "catalog_hash": h,
            "config": cfg.key_fields(),
            "created": pd.Timestamp.now("UTC").isoformat(),
        }
        _write_manifest(tmp, key, info)
        stats["write_s"] = time.perf_counter() - t1
        _discard(final)  # a broken store under the final name
        os.replace(tmp, final)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)  # best effort on a failing disk; never read
        raise EspbError(
            f"cannot write the cube store {final} ({exc}); free disk space or choose a writable "
            "cache (--cache-dir or $ESPB_CACHE_DIR)"
        ) from exc
    stats["total_s"] = time.perf_counter() - t0
    return stats


def get_cube(
    events: pd.DataFrame,
    cfg: CubeConfig,
    cache_dir: str | Path | None = None,
    *,
    catalog_hash: str | None = None,
    progress: Progress | None = None,
    rebuild: bool = False,
    lock_timeout: float = 3600.0,
    on_wait=None,
) -> CubeResult:
    """The cube for ``events`` and ``cfg`` from the cache, built (once) if absent or broken.

    ``catalog_hash`` defaults to the table's content hash, computed here (never trusted from
    file metadata, so an edited table gets a new key). A cached store is used only if it passes
    :func:`check_store` (checksums); otherwise it is rebuilt and ``rebuilt_because`` says why.
    ``on_wait`` receives notices (waiting for a lock, why a store is rebuilt, coverage
    warnings); without it coverage warnings go to :func:`warnings.warn`. EspbError if no event
    lies in the cube's box and period, or if every b would be 0.
    """
    h = catalog_hash or compute_catalog_hash(events)
    key = cube_key(h, cfg)
    root = cache_root(cache_dir)
    final = store_path(root, cfg, key)
    cov = assess_coverage(events, cfg, counts=False)  # the time range only: cheap on a hit
    notes = [cov.warning] if cov.warning else []
    for note in notes:
        if on_wait is not None:
            on_wait(f"WARNING: {note}")
        else:
            warnings.warn(note, CoverageWarning, stacklevel=2)
    why = "was asked to be rebuilt (rebuild=True)" if rebuild else check_store(final, key)
    if why is None:
        return CubeResult(final, key, False, h, warnings=notes)
    require_events(assess_coverage(events, cfg), cfg)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(final.parent / f"{key}.lock"))
        _acquire(lock, final.parent / f"{key}.lock", key, lock_timeout, on_wait)
    except OSError as exc:
        raise EspbError(
            f"cannot use the cube cache {final.parent} ({exc}); choose a writable directory with "
            "--cache-dir or $ESPB_CACHE_DIR"
        ) from exc
    try:
        if not rebuild:
            why = check_store(final, key)
            if why is None:
                return CubeResult(final, key, False, h, warnings=notes)
        reason = None if why == "does not exist" else why
        if reason is not None and on_wait is not None:
            on_wait(f"rebuilding cube {final.name}: the cached store {reason}")
        _clear_leftovers(final)
        stats = _build_into(events, cfg, final, h, key, progress)
        extra = {"reason": reason} if reason is not None else {}
        record_build(root, "cube", key, stats["total_s"], dr=cfg.dr, dt=cfg.dt, **extra)
        return CubeResult(final, key, True, h, stats, reason, notes)
    finally:
        lock.release()


class CoverageWarning(UserWarning):
    """A cube reaches far beyond its catalog's time range (see espb.bvalue.guards)."""


def list_cubes(cache_dir: str | Path | None = None, *, full: bool = False) -> list[dict]:
    """Every store in the cache with its settings and status (``full``: re-hash every file)."""
    root = cache_root(cache_dir) / "cubes"
    rows = []
    stores = (
        sorted(p for p in root.glob("*.zarr") if not p.name.startswith("."))
        if root.is_dir()
        else []
    )
    for p in stores:  # not the hidden leftovers of killed builds (.trash-*.zarr)
        why = check_store(p, full=full)
        row = {"path": str(p), "ok": why is None, "problem": why}
        manifest, _why, _raw = read_manifest(p)
        if manifest is not None:
            conf = manifest.get("config", {})
            row.update(
                key=manifest.get("key"),
                catalog_hash=manifest.get("catalog_hash"),
                created=manifest.get("created"),
                size_mb=store_bytes(manifest) / 1e6,
                **{
                    k: conf.get(k)
                    for k in ("mode", "dr", "dt", "start", "end", "region", "resolution")
                },
            )
        rows.append(row)
    return rows
