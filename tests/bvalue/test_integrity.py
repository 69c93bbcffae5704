"""Content checksums of cached cubes (espb.bvalue.integrity, issue 12 "stale results"): a
same-size corruption is caught on open, a cache hit re-hashes only files changed since they were
verified, stores of the size-only manifest version 1 are rebuilt once (same key, same numbers),
and ``full=True`` re-hashes everything."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

import espb.bvalue.integrity as integrity
from espb.bvalue.cache import get_cube, list_cubes, open_cube
from espb.bvalue.config import load_cube_config
from espb.bvalue.integrity import MANIFEST, VERIFIED, check_store
from espb.catalog.synthetic.config import load_synth_config
from espb.catalog.synthetic.generate import synthesize
from espb.errors import EspbError

TINY = {"end": "2010-07-15", "chunks": [16, 8, 64]}


@pytest.fixture(scope="module")
def events():
    return synthesize(load_synth_config("smoke")).events


@pytest.fixture
def counted(monkeypatch):
    """Count the files hashed (integrity.file_digest calls)."""
    calls: list[str] = []
    real = integrity.file_digest

    def digest(path):
        calls.append(Path(path).name)
        return real(path)

    monkeypatch.setattr(integrity, "file_digest", digest)
    return calls


def _flip(p: Path) -> None:
    data = bytearray(p.read_bytes())
    data[len(data) // 2] ^= 0x01
    p.write_bytes(bytes(data))


def test_manifest_records_a_checksum_of_every_file(events, tmp_path):
    r = get_cube(events, load_cube_config("smoke", **TINY), tmp_path)
    m = json.loads((r.path / MANIFEST).read_text())
    assert m["manifest_version"] == 2 and m["checksum"] == "sha256"
    on_disk = {
        p.relative_to(r.path).as_posix()
        for p in r.path.rglob("*")
        if p.is_file() and p.name not in (MANIFEST, VERIFIED)
    }
    assert set(m["files"]) == on_disk
    for rel, entry in m["files"].items():
        assert entry["size"] == (r.path / rel).stat().st_size
        assert entry["sha256"] == integrity.file_digest(r.path / rel)


def test_a_hit_rehashes_only_files_changed_since_verified(events, tmp_path, monkeypatch, counted):
    monkeypatch.setattr(integrity, "RACY_NS", 0)  # trust files as soon as they are verified
    r = get_cube(events, load_cube_config("smoke", **TINY), tmp_path)
    n_files = len(json.loads((r.path / MANIFEST).read_text())["files"])
    time.sleep(0.05)  # past the file system's timestamp tick
    counted.clear()
    assert check_store(r.path, r.key) is None  # first open: every file hashed, then recorded
    assert len(counted) == n_files and (r.path / VERIFIED).is_file()
    integrity._MEMO.clear()  # as a new process: only the on-disk record helps
    counted.clear()
    assert check_store(r.path, r.key) is None
    assert counted == []  # a hit costs one stat per file
    time.sleep(0.05)
    _flip(r.path / "n_events/c/2/1/0")  # same size, after the record was written
    counted.clear()
    why = check_store(r.path, r.key)
    assert counted == ["0"]  # only the changed file is re-hashed
    assert why is not None and "n_events/c/2/1/0" in why and "changed after the build" in why
    assert "same size" in why and "the manifest says" in why
    with pytest.raises(EspbError, match="n_events/c/2/1/0"):
        open_cube(r.path)
    # full=True re-hashes everything (espb cube ls --verify)
    counted.clear()
    assert check_store(r.path, r.key, full=True) == why and len(counted) == n_files
    assert list_cubes(tmp_path, full=True)[0]["problem"] == why


def test_a_file_changed_right_after_its_verification_is_not_trusted(
    events, tmp_path, counted, monkeypatch
):
    """Within RACY_NS of a write the timestamps may not move (coarse file-system clock): such
    files are not recorded as verified, so they are re-hashed on every open."""
    monkeypatch.setattr(integrity, "RACY_NS", 3600 * 10**9)  # every file counts as fresh
    r = get_cube(events, load_cube_config("smoke", **TINY), tmp_path)
    assert check_store(r.path, r.key) is None  # the files are seconds old at most: racy
    assert not (r.path / VERIFIED).exists()  # nothing could be trusted by its stat yet
    _flip(r.path / "b/c/0/0/0")  # possibly within the same timestamp tick as its write
    counted.clear()
    why = check_store(r.path, r.key)
    assert "0" in counted
    assert why is not None and "b/c/0/0/0" in why and "changed after the build" in why


def test_a_replaced_file_of_same_content_passes(events, tmp_path, monkeypatch):
    """A copy (new inode, new times) is re-hashed, found intact and accepted."""
    monkeypatch.setattr(integrity, "RACY_NS", 0)
    r = get_cube(events, load_cube_config("smoke", **TINY), tmp_path)
    assert check_store(r.path, r.key) is None
    p = r.path / "b/c/0/0/0"
    data = p.read_bytes()
    p.unlink()
    p.write_bytes(data)
    assert check_store(r.path, r.key) is None


def test_a_version_1_store_is_rebuilt_once_with_the_same_numbers(events, tmp_path):
    cfg = load_cube_config("smoke", **TINY)
    r = get_cube(events, cfg, tmp_path)
    before = {v: np.asarray(r.open()[v].values) for v in ("b", "n_events", "n_used")}
    mpath = r.path / MANIFEST
    m = json.loads(mpath.read_text())
    m.pop("manifest_version")
    m.pop("checksum")
    m["files"] = {k: v["size"] for k, v in m["files"].items()}  # what espb wrote before
    mpath.write_text(json.dumps(m))
    why = check_store(r.path, r.key)
    assert why is not None and "version 1" in why and "sizes only" in why
    rows = list_cubes(tmp_path)
    assert rows[0]["ok"] is False and rows[0]["size_mb"] > 0  # listed with its settings
    said: list[str] = []
    again = get_cube(events, cfg, tmp_path, on_wait=said.append)
    assert again.built and again.key == r.key and again.path == r.path
    assert again.rebuilt_because == why and any("version 1" in s for s in said)
    for v, arr in before.items():
        np.testing.assert_array_equal(np.asarray(again.open()[v].values), arr)
    assert json.loads(mpath.read_text())["manifest_version"] == 2
    assert not get_cube(events, cfg, tmp_path).built
