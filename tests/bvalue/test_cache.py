"""The content-addressed cube cache (espb.bvalue.cache): keys, hits, concurrent and killed builds,
damaged stores, listing and the zarr v3 layout.

Everything runs on the smoke synthetic catalog (~7.7k events) and a cache under ``tmp_path``.
Builds in subprocesses load the catalog from a saved event table, so their catalog hash (and
key) is the one the test process computes.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
import zarr

from espb.bvalue.cache import (
    MANIFEST,
    check_store,
    cube_key,
    get_cube,
    list_cubes,
    open_cube,
    store_path,
)
from espb.bvalue.config import load_cube_config
from espb.bvalue.cube import build_cube
from espb.catalog.schema import catalog_hash, load_events, save_events
from espb.catalog.synthetic.config import load_synth_config
from espb.catalog.synthetic.generate import synthesize
from espb.errors import EspbError

REPO = Path(__file__).resolve().parents[2]
VARS = ("b", "n_events", "n_used")
#: a tiny cube (45 days x 30 x 30 cells) with chunks that are clipped on one axis only
TINY = {"end": "2010-07-15", "chunks": [16, 8, 64]}
#: the concurrent-build cube: the smoke preset over its whole period with a wide radius
WIDE = {"dr": 0.65}


# ---------------------------------------------------------------- fixtures and helpers
@pytest.fixture(scope="module")
def catalog(tmp_path_factory) -> tuple:
    """(events as loaded back from disk, path of the saved event table)."""
    path = tmp_path_factory.mktemp("catalog") / "smoke.parquet"
    save_events(synthesize(load_synth_config("smoke")).events, path)
    return load_events(path), path


@pytest.fixture(scope="module")
def events(catalog):
    return catalog[0]


@pytest.fixture(scope="module")
def warm_numba(events):
    """Compile (or load from numba's on-disk cache) the cube kernels once in this process, so
    that subprocesses find them cached instead of all compiling at the same moment."""
    build_cube(events, load_cube_config("smoke", **TINY))


def tiny_cfg(**kw):
    return load_cube_config("smoke", **{**TINY, **kw})


def arrays(ds: xr.Dataset) -> dict[str, np.ndarray]:
    return {v: np.asarray(ds[v].values) for v in VARS}


def assert_same_arrays(a: dict, b: dict) -> None:
    for v in VARS:
        assert a[v].dtype == b[v].dtype, v
        np.testing.assert_array_equal(a[v], b[v], err_msg=v)


def digest(ds: xr.Dataset) -> str:
    h = hashlib.sha256()
    for v in VARS:
        h.update(np.ascontiguousarray(ds[v].values).tobytes())
    return h.hexdigest()


def leftovers(cubes: Path) -> list[str]:
    """Temporary or trash directories a build left in ``<cache>/cubes``."""
    return sorted(
        p.name for p in cubes.iterdir() if ".tmp-" in p.name or p.name.startswith(".trash-")
    )


def run_py(script: str, *, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO,
        env=_child_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _child_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env["NUMBA_NUM_THREADS"] = "1"  # four builders on a small machine: no oversubscription
    return env


CHILD_PRELUDE = """
import hashlib, json, os, signal, sys, time
from pathlib import Path
import numpy as np
import espb.bvalue.cache as cache
from espb.bvalue.config import load_cube_config
from espb.catalog.schema import load_events
events = load_events({catalog!r})
cfg = load_cube_config("smoke", **{cfg!r})
cache_dir = {cache_dir!r}
"""


def child_script(body: str, *, catalog: Path, cfg: dict, cache_dir: Path, **fmt) -> str:
    prelude = CHILD_PRELUDE.format(catalog=str(catalog), cfg=cfg, cache_dir=str(cache_dir))
    return prelude + textwrap.dedent(body).format(**fmt)


# ---------------------------------------------------------------- 1. keys, hits and misses
def test_hit_and_miss(events, tmp_path):
    cfg = tiny_cfg()
    r1 = get_cube(events, cfg, tmp_path)
    assert r1.built and r1.path.is_dir()
    assert r1.key == cube_key(catalog_hash(events), cfg)
    assert r1.path == store_path(tmp_path, cfg, r1.key)
    first = arrays(r1.open())
    assert first["n_events"].max() > 0 and (first["b"] > 0).any()  # not an empty cube

    r2 = get_cube(events, tiny_cfg(), tmp_path)
    assert not r2.built
    assert (r2.path, r2.key, r2.catalog_hash) == (r1.path, r1.key, r1.catalog_hash)
    assert_same_arrays(arrays(r2.open()), first)

    # the name is a label only: same key, served from the cache
    r3 = get_cube(events, tiny_cfg(name="another-name"), tmp_path)
    assert not r3.built and r3.key == r1.key and r3.path == r1.path

    # rebuild=True builds again under the same name, with the same numbers
    r4 = get_cube(events, cfg, tmp_path, rebuild=True)
    assert r4.built and r4.path == r1.path
    assert_same_arrays(arrays(r4.open()), first)

    # every setting that changes the numbers changes the key
    h = r1.catalog_hash
    variants = {
        "dr": tiny_cfg(dr=0.3),
        "dt": tiny_cfg(dt=149),
        "mode": tiny_cfg(mode="classic", threshold=2.0),
        "end": tiny_cfg(end="2010-07-16"),
        "b_max": tiny_cfg(b_max=2.5),
    }
    keys = {what: cube_key(h, c) for what, c in variants.items()}
    assert r1.key not in keys.values(), keys
    assert len(set(keys.values())) == len(keys), keys

    # a different setting is a different store, built afresh
    r5 = get_cube(events, variants["dr"], tmp_path)
    assert r5.built and r5.key == keys["dr"] and r5.path != r1.path
    assert not np.array_equal(arrays(r5.open())["n_events"], first["n_events"])

    # one event's magnitude edited: new catalog hash, new key, new store
    edited = events.copy()
    t0, t1 = pd.Timestamp("2010-06-01", tz="UTC"), pd.Timestamp("2010-07-10", tz="UTC")
    inside = (
        (edited["time"] >= t0)
        & (edited["time"] < t1)
        & edited["latitude"].between(38.0, 40.0)
        & edited["longitude"].between(141.0, 143.0)
    ).to_numpy()
    assert inside.sum() > 10
    i = edited.index[inside][inside.sum() // 2]
    edited.loc[i, "mw"] = edited.loc[i, "mw"] + 0.37
    r6 = get_cube(edited, cfg, tmp_path)
    assert r6.catalog_hash != r1.catalog_hash
    assert r6.key != r1.key and r6.built and r6.path != r1.path
    assert r6.key == cube_key(catalog_hash(edited), cfg)
    assert not np.array_equal(arrays(r6.open())["b"], first["b"])

    # the original is still a cache hit
    assert not get_cube(events, cfg, tmp_path).built
    assert leftovers(tmp_path / "cubes") == []


def test_key_ignores_name_only():
    h = "0123456789abcdef"
    base = cube_key(h, tiny_cfg())
    assert cube_key(h, tiny_cfg(name="x")) == base
    assert cube_key(h, tiny_cfg()) == base  # deterministic across config objects
    assert cube_key("0123456789abcdee", tiny_cfg()) != base
    assert cube_key(h, tiny_cfg(mode="binned")) != base
    assert cube_key(h, tiny_cfg(chunks=[8, 8, 8])) != base  # chunks are in key_fields


# ---------------------------------------------------------------- 2. concurrent builders
CONCURRENT_BODY = """
ready = Path({ready!r})
go = Path({go!r})
(ready / str(os.getpid())).touch()
deadline = time.monotonic() + 120
while not go.exists():
    if time.monotonic() > deadline:
        sys.exit("no go signal")
    time.sleep(0.002)
waited = []

def slow_write(done, total, what):
    # hold the lock a while after computing, so the other builders overlap with this build
    if what == "writing zarr store":
        time.sleep({hold!r})

r = cache.get_cube(events, cfg, cache_dir, progress=slow_write, on_wait=waited.append, lock_timeout=120)
ds = r.open()
h = hashlib.sha256()
for v in ("b", "n_events", "n_used"):
    h.update(np.ascontiguousarray(ds[v].values).tobytes())
print(json.dumps({{"built": r.built, "path": str(r.path), "key": r.key, "sha": h.hexdigest(),
                   "waited": bool(waited)}}))
"""


def test_concurrent_builders_build_once(catalog, warm_numba, tmp_path):
    events, cat_path = catalog
    n = 4
    ready, go, cache_dir = tmp_path / "ready", tmp_path / "go", tmp_path / "cache"
    ready.mkdir()
    script = child_script(
        CONCURRENT_BODY,
        catalog=cat_path,
        cfg=WIDE,
        cache_dir=cache_dir,
        ready=str(ready),
        go=str(go),
        hold=1.0,
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script],
            cwd=REPO,
            env=_child_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(n)
    ]
    try:
        deadline = time.monotonic() + 90
        while len(list(ready.iterdir())) < n:
            assert all(p.poll() is None for p in procs), [
                p.communicate() for p in procs if p.poll() is not None
            ]
            assert time.monotonic() < deadline, "the builders did not start"
            time.sleep(0.01)
        go.touch()  # all four are past their imports: release them together
        outs = [p.communicate(timeout=120) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    for p, (_out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
    res = [json.loads(out.strip().splitlines()[-1]) for out, _ in outs]

    assert sum(r["built"] for r in res) == 1, res
    assert len({r["path"] for r in res}) == 1, res
    assert len({r["key"] for r in res}) == 1, res
    assert len({r["sha"] for r in res}) == 1, res
    # the builds overlapped: someone found the lock held and waited for the builder
    assert any(r["waited"] for r in res if not r["built"]), res

    cfg = load_cube_config("smoke", **WIDE)
    key = cube_key(catalog_hash(events), cfg)
    assert res[0]["key"] == key and Path(res[0]["path"]) == store_path(cache_dir, cfg, key)
    cubes = cache_dir / "cubes"
    stores = list(cubes.glob("*.zarr"))
    assert stores == [Path(res[0]["path"])]
    assert check_store(stores[0], key) is None
    assert leftovers(cubes) == []
    # and the numbers are those of an in-memory build
    mem, _ = build_cube(events, cfg)
    assert res[0]["sha"] == digest(mem)


# ---------------------------------------------------------------- 3./4. killed builds
KILL_AT_MANIFEST = """
def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

cache._write_manifest = die  # the zarr data is written, the store never finalised
cache.get_cube(events, cfg, cache_dir)
print("survived")
"""

KILL_MID_WRITE = """
import zarr.storage
real_set = zarr.storage.LocalStore.set
chunks_written = [0]

async def set_then_maybe_die(self, key, value):
    await real_set(self, key, value)
    if "/c/" in key:  # a chunk (not metadata)
        chunks_written[0] += 1
        if chunks_written[0] >= {after!r}:
            os.kill(os.getpid(), signal.SIGKILL)

zarr.storage.LocalStore.set = set_then_maybe_die  # dies inside zarr, part way through the arrays
cache.get_cube(events, cfg, cache_dir)
print("survived")
"""


def _killed_build(body: str, catalog, cache_dir: Path, **fmt) -> Path:
    """Run a build that SIGKILLs itself; return the temporary directory it left."""
    events, cat_path = catalog
    proc = run_py(child_script(body, catalog=cat_path, cfg=TINY, cache_dir=cache_dir, **fmt))
    assert proc.returncode == -signal.SIGKILL, (proc.returncode, proc.stdout, proc.stderr)
    assert "survived" not in proc.stdout
    cfg = tiny_cfg()
    key = cube_key(catalog_hash(events), cfg)
    final = store_path(cache_dir, cfg, key)
    temps = sorted(final.parent.glob(f".{final.name}.tmp-*"))
    assert len(temps) == 1, list(final.parent.iterdir())
    tmp = temps[0]
    assert tmp.is_dir() and (tmp / "zarr.json").is_file()  # zarr wrote something
    assert not (tmp / MANIFEST).exists()
    why = check_store(tmp, key)
    assert why is not None and MANIFEST in why
    with pytest.raises(EspbError, match="not a complete espb cube"):
        open_cube(tmp)
    assert not final.exists()  # nothing under the final name
    return tmp


def _rebuild_after_kill(events, cache_dir: Path, tmp: Path) -> None:
    cfg = tiny_cfg()
    waited = []
    # the dead builder's lock was released by the OS: no waiting
    r = get_cube(events, cfg, cache_dir, on_wait=waited.append, lock_timeout=10)
    assert r.built and waited == []
    assert not tmp.exists(), "the killed build's temporary directory was not removed"
    assert check_store(r.path, r.key) is None
    assert leftovers(cache_dir / "cubes") == []
    assert [p.name for p in (cache_dir / "cubes").glob("*.zarr")] == [r.path.name]
    mem, _ = build_cube(events, cfg, catalog_hash=r.catalog_hash, key=r.key)
    xr.testing.assert_identical(r.open().load(), mem)


def test_killed_before_manifest(catalog, warm_numba, tmp_path):
    tmp = _killed_build(KILL_AT_MANIFEST, catalog, tmp_path)
    # all the arrays are there, yet without the manifest it is not a cube
    for v in VARS:
        assert (tmp / v / "zarr.json").is_file()
    _rebuild_after_kill(catalog[0], tmp_path, tmp)


def test_killed_while_writing_chunks(catalog, warm_numba, tmp_path):
    tmp = _killed_build(KILL_MID_WRITE, catalog, tmp_path, after=5)
    # a genuinely partial store: zarr itself would open it and serve fill values for the chunks
    # that were never written; only the missing manifest keeps it from being used
    n_chunks = sum(
        1 for p in tmp.rglob("*") if p.is_file() and "/c/" in p.relative_to(tmp).as_posix()
    )
    assert 1 <= n_chunks < 3 * 12 + 3, n_chunks
    _rebuild_after_kill(catalog[0], tmp_path, tmp)


def test_two_killed_builds_then_one_rebuild(catalog, warm_numba, tmp_path):
    """Leftovers of several dead builders of the same key are all cleared by the next build."""
    first = _killed_build(KILL_AT_MANIFEST, catalog, tmp_path)
    aside = tmp_path / "aside"
    first.rename(aside)  # out of the way of _killed_build's count of leftovers
    second = _killed_build(KILL_MID_WRITE, catalog, tmp_path, after=3)
    assert second != first
    aside.rename(first)
    _rebuild_after_kill(catalog[0], tmp_path, second)
    assert not first.exists()


KILL_IN_DISCARD = """
def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

cache.shutil.rmtree = die  # _discard has moved the broken store aside, and dies deleting it
cache.get_cube(events, cfg, cache_dir)
print("survived")
"""


def test_killed_between_discard_and_rename(catalog, tmp_path):
    """A builder replacing a broken store dies after moving it aside: the next build clears
    both the trash and its finished temporary store, and listing never shows them."""
    events, cat_path = catalog
    cfg = tiny_cfg()
    r = get_cube(events, cfg, tmp_path)
    (r.path / MANIFEST).unlink()
    proc = run_py(child_script(KILL_IN_DISCARD, catalog=cat_path, cfg=TINY, cache_dir=tmp_path))
    assert proc.returncode == -signal.SIGKILL, (proc.returncode, proc.stdout, proc.stderr)
    cubes = tmp_path / "cubes"
    left = leftovers(cubes)
    assert len(left) == 2 and any(x.startswith(".trash-") for x in left), left
    assert not r.path.exists()  # moved aside, the finished build never renamed into place
    assert list_cubes(tmp_path) == []  # leftovers are not cubes

    again = get_cube(events, cfg, tmp_path)
    assert again.built and again.path == r.path and check_store(again.path, again.key) is None
    assert leftovers(cubes) == []
    assert [x["path"] for x in list_cubes(tmp_path)] == [str(r.path)]


# ---------------------------------------------------------------- 5. damaged final stores
def _delete_chunk(store: Path) -> str:
    (store / "b/c/0/0/0").unlink()
    return "b/c/0/0/0"


def _truncate_chunk(store: Path) -> str:
    p = store / "n_events/c/1/2/0"
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    return "n_events/c/1/2/0"


def _delete_manifest(store: Path) -> str:
    (store / MANIFEST).unlink()
    return MANIFEST


def _garble_manifest(store: Path) -> str:
    p = store / MANIFEST
    p.write_text(p.read_text()[:40])
    return "unreadable"


def _manifest_not_an_object(store: Path) -> str:
    (store / MANIFEST).write_text("null")
    return MANIFEST


def _mark_incomplete(store: Path) -> str:
    p = store / MANIFEST
    m = json.loads(p.read_text())
    m["complete"] = False
    p.write_text(json.dumps(m))
    return "incomplete"


def _flip_byte(store: Path) -> str:
    """Same-size corruption: one byte of a chunk changed, the size as the manifest says."""
    p = store / "b/c/1/0/0"
    data = bytearray(p.read_bytes())
    data[len(data) // 2] ^= 0xFF
    p.write_bytes(bytes(data))
    return "b/c/1/0/0"


def _add_chunk(store: Path) -> str:
    """A file the build never wrote, planted among the chunks."""
    (store / "n_used/c/0/0/9").write_bytes((store / "n_used/c/0/0/0").read_bytes())
    return "n_used/c/0/0/9"


DAMAGE = {
    "flip_byte": (_flip_byte, "changed after the build"),
    "add_chunk": (_add_chunk, "not in the manifest"),
    "delete_chunk": (_delete_chunk, "missing"),
    "truncate_chunk": (_truncate_chunk, "bytes"),
    "delete_manifest": (_delete_manifest, "has no"),
    "garble_manifest": (_garble_manifest, "unreadable"),
    "manifest_not_an_object": (_manifest_not_an_object, ""),
    "incomplete": (_mark_incomplete, "incomplete"),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damaged_store_is_detected_and_rebuilt(events, tmp_path, damage):
    cfg = tiny_cfg()
    r = get_cube(events, cfg, tmp_path)
    assert r.built and check_store(r.path, r.key) is None
    original = arrays(r.open())

    harm, word = DAMAGE[damage]
    named = harm(r.path)
    why = check_store(r.path, r.key)
    assert why is not None
    assert named in why and word in why, why
    assert check_store(r.path) is not None  # also without the key
    with pytest.raises(EspbError, match="not a complete espb cube"):
        open_cube(r.path)
    row = [x for x in list_cubes(tmp_path) if x["path"] == str(r.path)]
    assert len(row) == 1 and row[0]["ok"] is False and row[0]["problem"] == why

    said = []
    again = get_cube(events, cfg, tmp_path, on_wait=said.append)
    assert again.built and again.path == r.path and again.key == r.key
    assert again.rebuilt_because == why  # the rebuild says why, naming the file
    assert any(why in m and m.startswith("rebuilding") for m in said), said
    assert check_store(again.path, again.key) is None
    assert_same_arrays(arrays(again.open()), original)
    assert leftovers(tmp_path / "cubes") == []
    assert not get_cube(events, cfg, tmp_path).built


def test_store_of_another_key_is_not_accepted(events, tmp_path):
    cfg = tiny_cfg()
    r = get_cube(events, cfg, tmp_path)
    p = r.path / MANIFEST
    m = json.loads(p.read_text())
    m["key"] = "0" * 20
    p.write_text(json.dumps(m))
    why = check_store(r.path, r.key)
    assert why is not None and r.key in why and "0" * 20 in why
    again = get_cube(events, cfg, tmp_path)
    assert again.built
    assert json.loads(p.read_text())["key"] == r.key


# ---------------------------------------------------------------- 6. listing
def test_list_cubes(events, tmp_path):
    assert list_cubes(tmp_path) == []
    a = get_cube(events, tiny_cfg(), tmp_path)
    b = get_cube(events, tiny_cfg(dr=0.4, dt=30), tmp_path)
    rows = {r["path"]: r for r in list_cubes(tmp_path)}
    assert set(rows) == {str(a.path), str(b.path)}
    ra, rb = rows[str(a.path)], rows[str(b.path)]
    assert ra["ok"] is True and ra["problem"] is None
    assert (ra["key"], ra["catalog_hash"], ra["mode"], ra["dr"], ra["dt"]) == (
        a.key,
        a.catalog_hash,
        "paper",
        0.25,
        150,
    )
    assert (ra["start"], ra["end"]) == ("2010-06-01", "2010-07-15")
    assert ra["size_mb"] > 0 and ra["created"]
    assert rb["ok"] is True and (rb["key"], rb["dr"], rb["dt"]) == (b.key, 0.4, 30)

    (b.path / MANIFEST).unlink()
    rows = {r["path"]: r for r in list_cubes(tmp_path)}
    assert rows[str(a.path)]["ok"] is True
    assert rows[str(b.path)]["ok"] is False and MANIFEST in rows[str(b.path)]["problem"]


# ---------------------------------------------------------------- 7. what the store holds
def test_dataset_and_zarr_layout(events, tmp_path):
    cfg = tiny_cfg()
    r = get_cube(events, cfg, tmp_path)
    ds = r.open()
    assert ds["b"].dims == ("time", "lat", "lon")
    for v in VARS:
        assert ds[v].dims == ("time", "lat", "lon")
    assert dict(ds.sizes) == {"time": cfg.n_days, "lat": 30, "lon": 30}
    assert (
        ds["b"].dtype == np.float32
        and ds["n_events"].dtype == np.int32
        and ds["n_used"].dtype == np.int32
    )
    assert (
        str(ds["time"].values[0])[:10] == "2010-06-01"
        and str(ds["time"].values[-1])[:10] == "2010-07-15"
    )
    np.testing.assert_allclose(ds["lat"].values[[0, -1]], [37.55, 40.45])
    np.testing.assert_allclose(ds["lon"].values[[0, -1]], [140.55, 143.45])

    # CF-style attributes
    assert ds["lat"].attrs["units"] == "degrees_north"
    assert ds["lon"].attrs["units"] == "degrees_east"
    assert ds["b"].attrs["long_name"].startswith("Gutenberg-Richter b-value")
    a = ds.attrs
    assert a["catalog_hash"] == r.catalog_hash == catalog_hash(events)
    assert a["espb_cube_key"] == r.key
    assert (a["mode"], a["dr"], a["dt"]) == ("paper", 0.25, 150)
    from espb import __version__

    assert a["espb_version"] == __version__
    # the manifest records the key and the settings
    m = json.loads((r.path / MANIFEST).read_text())
    assert m["key"] == r.key and m["complete"] is True and m["catalog_hash"] == r.catalog_hash
    assert m["config"] == json.loads(json.dumps(cfg.key_fields()))
    assert set(m["files"]) == {
        p.relative_to(r.path).as_posix()
        for p in r.path.rglob("*")
        if p.is_file() and p.name != MANIFEST
    }

    # zarr format 3, chunks = cfg.chunks clipped to the shape
    assert (r.path / "zarr.json").is_file()
    assert json.loads((r.path / "zarr.json").read_text())["zarr_format"] == 3
    g = zarr.open_group(str(r.path), mode="r", zarr_format=3)
    expected = (16, 8, 30)  # [16, 8, 64] on a (45, 30, 30) cube
    for v in VARS:
        arr = g[v]
        assert arr.metadata.zarr_format == 3
        assert arr.shape == (45, 30, 30)
        assert arr.chunks == expected, (v, arr.chunks)
        assert ds[v].encoding["chunks"] == expected
    np.testing.assert_array_equal(g["b"][:], ds["b"].values)

    # the numbers are those of an in-memory build
    mem, _ = build_cube(events, cfg, catalog_hash=r.catalog_hash, key=r.key)
    xr.testing.assert_identical(ds.load(), mem)


def test_check_store_on_nothing(tmp_path):
    assert check_store(tmp_path / "nope.zarr") == "does not exist"
    with pytest.raises(EspbError):
        open_cube(tmp_path / "nope.zarr")
    # a plain zarr store that is not ours
    xr.Dataset({"x": ("t", np.arange(3))}).to_zarr(
        tmp_path / "foreign.zarr", zarr_format=3, consolidated=False
    )
    assert MANIFEST in check_store(tmp_path / "foreign.zarr")
    with pytest.raises(EspbError):
        open_cube(tmp_path / "foreign.zarr")
