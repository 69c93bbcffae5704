"""What makes a cube store trustworthy: its manifest of content checksums, verified on open.

- **Manifest** (``espb_manifest.json``, written last by the builder): the cube key, the settings
  and, for every file of the store, its size and SHA-256 (:data:`MANIFEST_VERSION` 2). Its presence
  marks a complete store.
- **Verification** (:func:`check_store`): the file list (nothing missing, nothing added), each
  file's size, and each file's content against its checksum. A file whose content was verified is
  recorded in ``espb_verified.json`` with its (size, mtime, ctime, inode, device); a later open
  re-hashes only the files whose record no longer matches, so a cache hit costs one ``stat`` per
  file. Any write to a file (even of the same size) changes its ctime, which no user call can set
  back; replacing it changes its inode. Files changed less than :data:`RACY_NS` before they were
  verified are never recorded (the file system's clock is coarse: a write in the same tick could
  leave the timestamps unchanged), as git does with "racily clean" index entries.
  ``full=True`` re-hashes everything (``espb cube ls --verify``), for damage below the file system.
- A store written by an older espb (manifest version 1: sizes only) cannot be verified and is
  reported as such, so the cache rebuilds it once (same key, same numbers) with checksums.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

MANIFEST = "espb_manifest.json"
VERIFIED = "espb_verified.json"
MANIFEST_VERSION = 2
CHECKSUM = "sha256"
#: files modified less than this before their verification are re-hashed on every open (2 s)
RACY_NS = 2_000_000_000
_OWN = (MANIFEST, VERIFIED)
_OWN_TMP = tuple(f".{own}.tmp" for own in _OWN)
#: in-process record of verified files, for stores whose record cannot be written (read-only)
_MEMO: dict[tuple[str, str], dict[str, list[int]]] = {}


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes (hashlib releases the GIL: callers may hash in threads)."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, CHECKSUM).hexdigest()


def _digests(store: Path, rels: list[str]) -> dict[str, str]:
    paths = [store / r for r in rels]
    if len(paths) < 8:
        return {r: file_digest(p) for r, p in zip(rels, paths, strict=True)}
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        return dict(zip(rels, pool.map(file_digest, paths), strict=True))


def _is_own(rel: str) -> bool:
    """The manifest, the verification record and their temporary files are not cube data."""
    return rel in _OWN or rel.startswith(_OWN_TMP)


def store_files(store: Path) -> dict[str, os.stat_result]:
    """Every data file of a store (relative POSIX path -> stat), the manifest and record aside.
    Plain strings, not pathlib: this runs on every cache hit, once per file."""
    files: dict[str, os.stat_result] = {}
    stack = [(os.fspath(store), "")]
    while stack:
        d, prefix = stack.pop()
        with os.scandir(d) as it:
            for e in it:
                rel = prefix + e.name
                if e.is_dir(follow_symlinks=False):
                    stack.append((e.path, rel + "/"))
                elif not _is_own(rel):
                    files[rel] = e.stat(follow_symlinks=False)
    return files


def _atomic_json(path: Path, obj: dict, *, fsync: bool) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        with open(tmp, "w") as fh:
            json.dump(obj, fh, indent=None if not fsync else 1, default=str)
            if fsync:
                fh.flush()
                os.fsync(fh.fileno())
        tmp.replace(path)
    finally:
        if tmp.is_file():  # not after a successful rename
            tmp.unlink()


def write_manifest(store: Path, key: str, info: dict) -> None:
    """Hash every file of the finished store and write the manifest, last."""
    rels = sorted(store_files(store))
    sums = _digests(store, rels)
    files = {r: {"size": (store / r).stat().st_size, CHECKSUM: sums[r]} for r in rels}
    manifest = {
        "key": key,
        "complete": True,
        "manifest_version": MANIFEST_VERSION,
        "checksum": CHECKSUM,
        "files": files,
        **info,
    }
    _atomic_json(store / MANIFEST, manifest, fsync=True)


def read_manifest(store: Path) -> tuple[dict | None, str | None, bytes]:
    """(manifest, why it is unusable or None, its raw bytes)."""
    mpath = store / MANIFEST
    if not store.is_dir():
        if store.exists():
            return None, "is not a directory (a cube store is a .zarr directory)", b""
        return None, "does not exist", b""
    if not mpath.is_file():
        return None, f"has no {MANIFEST} (an unfinished or foreign store)", b""
    try:
        raw = mpath.read_bytes()
        manifest = json.loads(raw)
    except (OSError, ValueError) as exc:
        return None, f"{MANIFEST} is unreadable ({exc})", b""
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        return None, f"{MANIFEST} is not an espb manifest (no file list)", raw
    if not manifest.get("complete"):
        return None, "is marked incomplete", raw
    return manifest, None, raw


def store_bytes(manifest: dict) -> int:
    """Total size of a store's files as its manifest records them (either version)."""
    return sum(v["size"] if isinstance(v, dict) else int(v) for v in manifest["files"].values())


def _fingerprint(st: os.stat_result) -> list[int]:
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev]


def _read_record(store: Path, manifest_sha: str) -> dict[str, list[int]]:
    """The files verified earlier, if the record belongs to this very manifest."""
    try:
        rec = json.loads((store / VERIFIED).read_text())
    except (OSError, ValueError):  # no record yet, or a damaged one: everything is re-hashed
        return {}
    if not isinstance(rec, dict) or rec.get("manifest_sha256") != manifest_sha:
        return {}
    files = rec.get("files")
    return files if isinstance(files, dict) else {}


def _write_record(store: Path, manifest_sha: str, trusted: dict[str, list[int]]) -> None:
    """Best effort: a read-only cache keeps no record (the in-process memo still helps)."""
    rec = {"manifest_sha256": manifest_sha, "verified_at_ns": time.time_ns(), "files": trusted}
    try:
        _atomic_json(store / VERIFIED, rec, fsync=False)
    except OSError:
        pass  # not an error: verification then re-hashes in the next process


def _check_files(store: Path, manifest: dict) -> tuple[str | None, dict[str, os.stat_result]]:
    """Names, sizes and the version of the checksums; the data files' stats."""
    if manifest.get("manifest_version", 1) < MANIFEST_VERSION or not all(
        isinstance(v, dict) and CHECKSUM in v for v in manifest["files"].values()
    ):
        return (
            f"its {MANIFEST} (version {manifest.get('manifest_version', 1)}, written by an espb "
            "before content checksums) records file sizes only, so its content cannot be verified",
            {},
        )
    stats = store_files(store)
    for rel, entry in manifest["files"].items():
        st = stats.get(rel)
        if st is None:
            return f"file {rel} listed in the manifest is missing", stats
        if st.st_size != entry["size"]:
            return f"file {rel} has {st.st_size} bytes, the manifest says {entry['size']}", stats
    extra = sorted(set(stats) - set(manifest["files"]))
    if extra:
        return f"file {extra[0]} is not in the manifest (added after the build)", stats
    return None, stats


def check_store(store: Path, key: str | None = None, *, full: bool = False) -> str | None:
    """Why ``store`` is not a complete, intact cube (None if it is): manifest, key, file list,
    sizes and content checksums (re-hashing only files changed since their last verification,
    or every file with ``full=True``)."""
    store = Path(store)
    manifest, why, raw = read_manifest(store)
    if manifest is None:
        return why
    if key is not None and manifest.get("key") != key:
        return f"holds key {manifest.get('key')!r}, expected {key!r}"
    why, stats = _check_files(store, manifest)
    if why is not None:
        return why
    msha = hashlib.sha256(raw).hexdigest()
    known = {} if full else {**_read_record(store, msha), **_MEMO.get((str(store), msha), {})}
    todo = sorted(r for r in manifest["files"] if known.get(r) != _fingerprint(stats[r]))
    if not todo:
        return None
    found = _digests(store, todo)
    for rel in todo:
        expected = manifest["files"][rel][CHECKSUM]
        if found[rel] != expected:
            return (
                f"file {rel} was changed after the build: its {CHECKSUM} is {found[rel][:16]}..., "
                f"the manifest says {expected[:16]}... (same size, {stats[rel].st_size} bytes)"
            )
    cutoff = time.time_ns() - RACY_NS
    trusted = {
        r: _fingerprint(st)
        for r, st in stats.items()
        if max(st.st_mtime_ns, st.st_ctime_ns) < cutoff and (r in todo or r in known)
    }
    _MEMO[(str(store), msha)] = trusted
    if len(trusted) > len(known):
        _write_record(store, msha, trusted)
    return None
