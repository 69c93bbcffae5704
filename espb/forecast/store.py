"""Content-addressed cache of forecast cubes, as for the b-value cubes (:mod:`espb.bvalue.cache`).

- The key hashes everything the numbers depend on: the run's config hash, the bytes of every
  snapshot file used, the cube key, the autoencoder key, the catalog hash, the forecast settings
  and :data:`FORECAST_VERSION`. The store lives at
  ``<cache>/forecasts/fc-<run name>-<config hash>-<key>.zarr``.
- Builders of one key serialise on a file lock; the holder re-checks, builds into a temporary
  directory, writes the manifest (every file and its size) last and renames the directory into
  place (atomic within a file system), so a reader never sees a partial store. A store without a
  valid manifest is removed and rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
import warnings
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import xarray as xr
from filelock import FileLock

from espb.bvalue.cache import cache_root, check_store
from espb.bvalue.integrity import MANIFEST, VERIFIED, write_manifest
from espb.errors import EspbError
from espb.safeio import acquire_or_wait

#: bump when the forecast numbers change for the same inputs
FORECAST_VERSION = 1


def file_digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:20]


def forecast_key(payload: dict) -> str:
    body = {**payload, "forecast_version": FORECAST_VERSION}
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()[:20]


def store_path(root: Path, name: str, config_hash: str, key: str) -> Path:
    return Path(root) / "forecasts" / f"fc-{name}-{config_hash[:8]}-{key}.zarr"


def _write_manifest(store: Path, key: str, info: dict) -> None:
    """The cube cache's manifest (every file with its size and SHA-256, written last), so that
    :func:`espb.bvalue.cache.check_store` verifies a forecast store as it does a cube."""
    write_manifest(store, key, info)


def open_forecast(path: Path) -> xr.Dataset:
    why = check_store(Path(path))
    if why is not None:
        raise EspbError(f"{path}: not a complete forecast store: {why}; compute it again")
    with warnings.catch_warnings():
        for own in (MANIFEST, VERIFIED):
            warnings.filterwarnings("ignore", message=f"Object at {own} is not recognized")
        return xr.open_zarr(path, consolidated=False, zarr_format=3, chunks=None)


def write_forecast(ds: xr.Dataset, path: Path) -> None:
    from zarr.codecs import BloscCodec

    comp = BloscCodec(cname="zstd", clevel=3, shuffle="shuffle")
    enc = {}
    for v in ds.data_vars:
        shape = ds[v].shape
        chunks = tuple(min(c, s) for c, s in zip((64, 256, 256), shape, strict=False)) or None
        enc[v] = {"compressors": (comp,), **({"chunks": chunks} if shape else {})}
    ds.to_zarr(path, mode="w-", zarr_format=3, consolidated=False, encoding=enc)


def cached(
    path: Path,
    key: str,
    build: Callable[[], xr.Dataset],
    refresh: bool = False,
    lock_timeout: float = 3600.0,
    on_wait: Callable[[str], None] | None = None,
) -> tuple[xr.Dataset, bool]:
    """The store at ``path`` (key ``key``), built with ``build`` if absent; (dataset, built)."""
    if not refresh and check_store(path, key) is None:
        return open_forecast(path), False
    path.parent.mkdir(parents=True, exist_ok=True)
    lock_path = path.parent / f"{key}.lock"
    lock = FileLock(str(lock_path))
    acquire_or_wait(
        lock,
        lock_path,
        lock_timeout,
        on_wait,
        f"another process is computing forecast {key}",
        "if no other forecast of this run is running, delete the lock file",
    )
    try:
        if not refresh and check_store(path, key) is None:
            return open_forecast(path), False
        for stale in path.parent.glob(f".{path.name}.tmp-*"):
            shutil.rmtree(stale, ignore_errors=True)
        ds = build()
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
        write_forecast(ds, tmp)
        _write_manifest(tmp, key, {"created": pd.Timestamp.now("UTC").isoformat()})
        if path.exists():
            trash = path.with_name(f".trash-{uuid.uuid4().hex[:8]}-{path.name}")
            os.replace(path, trash)
            shutil.rmtree(trash)
        os.replace(tmp, path)
        return open_forecast(path), True
    finally:
        lock.release()


__all__ = ["cache_root", "cached", "forecast_key", "open_forecast", "store_path"]
