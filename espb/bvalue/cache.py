"""Content-addressed cube cache: one zarr v3 store per (catalog, settings), built once.

- The key is a hash of the catalog's content hash, every setting that changes the numbers
  (:meth:`CubeConfig.key_fields`) and :data:`ALGORITHM_VERSION`; the store lives at
  ``<cache>/cubes/<label>-<key>.zarr``.
- Builders of the same key serialise on a file lock (``<key>.lock``). The holder re-checks the
  cache (another process may have finished meanwhile), else builds into a temporary directory,
  writes a manifest (every file and its size) last, and renames the directory into place; a
  rename within one file system is atomic, so a reader never sees a partial store.
- A store is accepted only if its manifest exists, names the key, and every listed file is
  present with its size. Anything else (a killed build's leftovers, a damaged copy) is removed
  and rebuilt by the next builder.
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
from filelock import FileLock, Timeout

from espb.buildlog import record_build
from espb.bvalue.config import CubeConfig
from espb.bvalue.cube import ALGORITHM_VERSION, Progress, build_cube
from espb.catalog.schema import catalog_hash as compute_catalog_hash
from espb.errors import EspbError

MANIFEST = "espb_manifest.json"


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


def _manifest_files(store: Path) -> dict[str, int]:
    files = {}
    for dirpath, _dirs, names in os.walk(store):
        for n in names:
            p = Path(dirpath) / n
            rel = p.relative_to(store).as_posix()
            if rel != MANIFEST:
                files[rel] = p.stat().st_size
    return files


def _write_manifest(store: Path, key: str, info: dict) -> None:
    """Written last: its presence marks a complete store."""
    manifest = {"key": key, "complete": True, "files": _manifest_files(store), **info}
    tmp = store / f".{MANIFEST}.tmp"
    with open(tmp, "w") as fh:
        json.dump(manifest, fh, indent=1, default=str)
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(store / MANIFEST)


def check_store(store: Path, key: str | None = None) -> str | None:
    """Why ``store`` is not a complete cube (None if it is): manifest, key, files and sizes."""
    mpath = store / MANIFEST
    if not store.is_dir():
        return "does not exist"
    if not mpath.is_file():
        return f"has no {MANIFEST} (an unfinished or foreign store)"
    try:
        manifest = json.loads(mpath.read_text())
    except (OSError, ValueError) as exc:
        return f"{MANIFEST} is unreadable ({exc})"
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        return f"{MANIFEST} is not an espb manifest (no file list)"
    if not manifest.get("complete"):
        return "is marked incomplete"
    if key is not None and manifest.get("key") != key:
        return f"holds key {manifest.get('key')!r}, expected {key!r}"
    for rel, size in manifest.get("files", {}).items():
        p = store / rel
        try:
            if p.stat().st_size != size:
                return f"file {rel} has {p.stat().st_size} bytes, the manifest says {size}"
        except FileNotFoundError:
            return f"file {rel} listed in the manifest is missing"
    return None


def open_cube(store: str | Path) -> xr.Dataset:
    """Open a cube store lazily (NumPy-backed, no dask needed); EspbError if incomplete."""
    store = Path(store)
    why = check_store(store)
    if why is not None:
        raise EspbError(
            f"{store}: not a complete espb cube: {why}; rebuild it with `espb cube build`"
        )
    with warnings.catch_warnings():  # zarr notes the manifest file, which is ours
        warnings.filterwarnings("ignore", message=f"Object at {MANIFEST} is not recognized")
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
    path: Path
    key: str
    built: bool
    catalog_hash: str
    stats: dict = field(default_factory=dict)

    def open(self) -> xr.Dataset:
        return open_cube(self.path)


def _discard(path: Path) -> None:
    """Remove a directory without leaving a half-deleted store under its name."""
    if not path.exists():
        return
    trash = path.with_name(f".trash-{uuid.uuid4().hex[:8]}-{path.name}")
    os.replace(path, trash)
    shutil.rmtree(trash, ignore_errors=False)


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
    file metadata, so an edited table gets a new key).
    """
    h = catalog_hash or compute_catalog_hash(events)
    key = cube_key(h, cfg)
    root = cache_root(cache_dir)
    final = store_path(root, cfg, key)
    if not rebuild and check_store(final, key) is None:
        return CubeResult(final, key, False, h)
    final.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(final.parent / f"{key}.lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        if on_wait is not None:
            on_wait(f"another process is building cube {key}; waiting for it")
        try:
            lock.acquire(timeout=lock_timeout)
        except Timeout as exc:
            raise EspbError(
                f"waited {lock_timeout:.0f}s for the lock {final.parent / (key + '.lock')} held by another "
                "build of this cube; if no such process is alive, delete the lock file"
            ) from exc
    try:
        if not rebuild and check_store(final, key) is None:
            return CubeResult(final, key, False, h)
        # leftovers of killed builds of this key (we hold the lock: nobody else is writing them):
        # temporary stores and broken stores moved aside by _discard but not yet deleted
        for pattern in (f".{final.name}.tmp-*", f".trash-*-{final.name}"):
            for stale in final.parent.glob(pattern):
                try:
                    shutil.rmtree(stale)
                except OSError as exc:  # harmless (never read), but say so
                    warnings.warn(f"could not remove the leftover {stale}: {exc}", stacklevel=2)
        t0 = time.perf_counter()
        ds, stats = build_cube(events, cfg, catalog_hash=h, key=key, progress=progress)
        if progress is not None:
            progress(1, 1, "writing zarr store")
        tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
        t1 = time.perf_counter()
        write_store(ds, tmp, cfg)
        del ds
        _write_manifest(
            tmp,
            key,
            {
                "catalog_hash": h,
                "config": cfg.key_fields(),
                "created": pd.Timestamp.now("UTC").isoformat(),
            },
        )
        stats["write_s"] = time.perf_counter() - t1
        _discard(final)  # a broken store under the final name
        os.replace(tmp, final)
        stats["total_s"] = time.perf_counter() - t0
        record_build(final.parent.parent, "cube", key, stats["total_s"], dr=cfg.dr, dt=cfg.dt)
        return CubeResult(final, key, True, h, stats)
    finally:
        lock.release()


def list_cubes(cache_dir: str | Path | None = None) -> list[dict]:
    """Every store in the cache with its settings and status."""
    root = cache_root(cache_dir) / "cubes"
    rows = []
    stores = (
        sorted(p for p in root.glob("*.zarr") if not p.name.startswith("."))
        if root.is_dir()
        else []
    )
    for p in stores:  # not the hidden leftovers of killed builds (.trash-*.zarr)
        why = check_store(p)
        row = {"path": str(p), "ok": why is None, "problem": why}
        if why is None:
            m = json.loads((p / MANIFEST).read_text())
            conf = m.get("config", {})
            row.update(
                key=m["key"],
                catalog_hash=m.get("catalog_hash"),
                created=m.get("created"),
                size_mb=sum(m["files"].values()) / 1e6,
                **{k: conf.get(k) for k in ("mode", "dr", "dt", "start", "end")},
            )
        rows.append(row)
    return rows
