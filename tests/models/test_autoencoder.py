"""The map autoencoder of paper Appendix A: shapes and residuals, training with early stopping on
the held-out split, the configuration checks, the cache (build once, reload, rebuild a damaged
file, one build when processes ask together), the cache key, and how training maps are drawn
from the nEQ pool (a candidate, then one day of its block)."""

from __future__ import annotations

import multiprocessing as mp
from dataclasses import replace

import numpy as np
import pytest
import torch
from scipy.ndimage import gaussian_filter

from espb.errors import ConfigError
from espb.models.ae_fit import (
    AEConfig,
    ae_key,
    fit_autoencoder,
    gather_maps,
    get_autoencoder,
    sample_map_index,
)
from espb.models.autoencoder import MapAutoencoder
from espb.samples.config import SampleConfig
from espb.samples.labels import NeqPool, neq_pool

from ._ae_cache_worker import cache_worker

# ------------------------------------------------------------------------------ the network


def _ae(seed: int = 0) -> MapAutoencoder:
    torch.manual_seed(seed)
    return MapAutoencoder()


def test_autoencoder_keeps_the_shape_with_and_without_channel_axis():
    m = _ae().eval()
    x = torch.randn(5, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        y3 = m(x)
        y4 = m(x.unsqueeze(1))
        y_big = m(torch.randn(2, 1, 64, 48))
    assert y3.shape == (5, 32, 32) and y4.shape == (5, 1, 32, 32)
    torch.testing.assert_close(y4.squeeze(1), y3, rtol=0, atol=0)
    assert y_big.shape == (2, 1, 64, 48)
    assert torch.isfinite(y3).all()


def test_autoencoder_layers_follow_appendix_a():
    m = _ae()
    assert [(c.in_channels, c.out_channels, c.stride) for c in m.enc] == [
        (1, 4, (2, 2)),
        (4, 8, (2, 2)),
        (8, 16, (2, 2)),
        (16, 32, (2, 2)),
    ]
    assert [(c.in_channels, c.out_channels, c.stride) for c in m.dec] == [
        (32, 16, (2, 2)),
        (16, 8, (2, 2)),
        (8, 4, (2, 2)),
        (4, 1, (2, 2)),
    ]
    assert m.act.negative_slope == 0.1


def test_autoencoder_samples_are_independent():
    m = _ae().eval()
    x = torch.randn(4, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        full = m(x)
        one = torch.cat([m(x[i : i + 1]) for i in range(4)])
    torch.testing.assert_close(one, full, rtol=0, atol=1e-6)


def test_residual_is_reconstruction_minus_input_in_chunks():
    m = _ae(2).eval()
    x = torch.randn(23, 32, 32, generator=torch.Generator().manual_seed(2)) + 1.0
    with torch.no_grad():
        expect = m(x) - x
    for chunk in (8192, 23, 7, 1):  # chunk boundaries must not matter
        r = m.residual(x, chunk=chunk)
        assert r.shape == x.shape and not r.requires_grad
        torch.testing.assert_close(r, expect, rtol=0, atol=1e-6)
    # the input is untouched
    assert torch.equal(x, torch.randn(23, 32, 32, generator=torch.Generator().manual_seed(2)) + 1.0)


# ------------------------------------------------------------------------------ training


def _smooth_maps(n: int = 300, seed: int = 0) -> np.ndarray:
    """b-value-like maps: 1.0 plus smooth spatial variations (std ~0.14)."""
    rng = np.random.default_rng(seed)
    raw = rng.normal(size=(n, 32, 32))
    sm = np.stack([gaussian_filter(m, 3, mode="wrap") for m in raw])
    return (1.0 + 1.5 * sm).astype(np.float32)


def _val_split(n: int, cfg: AEConfig) -> torch.Tensor:
    """The held-out indices fit_autoencoder uses (its first seeded permutation)."""
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(cfg.seed))
    return perm[: max(1, int(round(cfg.val_fraction * n)))]


def _mse(model: MapAutoencoder, x: torch.Tensor) -> float:
    with torch.no_grad():
        return float(torch.nn.functional.mse_loss(model(x), x))


SMALL = AEConfig(n_maps=300, patience=3, max_epochs=15, batch_size=32)


@pytest.fixture(scope="module")
def maps() -> np.ndarray:
    return _smooth_maps()


@pytest.fixture(scope="module")
def fitted(maps):
    seen = []
    model, info = fit_autoencoder(maps, SMALL, progress=lambda e, tl, vl: seen.append((e, tl, vl)))
    return model, info, seen


def test_fit_lowers_the_held_out_error(maps, fitted):
    model, info, seen = fitted
    hist = info["history"]
    val = torch.as_tensor(maps)[_val_split(len(maps), SMALL)]
    zero_mse = float((val**2).mean())
    assert info["n_val"] == 60 and info["n_train"] == 240
    assert info["epochs"] == len(hist) <= SMALL.max_epochs
    first = hist[0][1]
    assert info["best_val_mse"] == min(v for _, v in hist)
    assert info["best_val_mse"] < 0.5 * first
    assert info["best_val_mse"] < 0.1 * zero_mse
    # training loss falls too
    assert hist[-1][0] < hist[0][0]
    # the returned model is the best one, in eval mode on the CPU, and scores as reported
    assert not model.training
    assert next(model.parameters()).device.type == "cpu"
    assert _mse(model, val) == pytest.approx(info["best_val_mse"], rel=1e-4)
    # the progress callback saw every epoch
    assert [(e, tl, vl) for e, tl, vl in seen] == [(i, t, v) for i, (t, v) in enumerate(hist)]


def test_fit_stops_when_patience_is_exhausted(maps):
    # lr 0: the held-out loss never improves after the first epoch -> patience + 1 epochs
    for patience in (1, 2, 4):
        cfg = replace(SMALL, lr=0.0, patience=patience, max_epochs=50)
        _, info = fit_autoencoder(maps[:60], cfg)
        assert info["epochs"] == patience + 1 == len(info["history"])
        vals = {v for _, v in info["history"]}
        assert len(vals) == 1 and info["best_val_mse"] == vals.pop()
    # without early stopping it runs exactly max_epochs
    _, info = fit_autoencoder(maps[:60], replace(SMALL, lr=0.0, patience=10, max_epochs=3))
    assert info["epochs"] == 3


def test_fit_keeps_the_best_weights_not_the_last(maps):
    # a very large step makes the held-out loss jump up; patience 1 stops right after the jump
    cfg = replace(SMALL, lr=0.3, patience=1, max_epochs=40)
    model, info = fit_autoencoder(maps, cfg)
    hist = [v for _, v in info["history"]]
    assert info["epochs"] < cfg.max_epochs
    assert hist[-1] > info["best_val_mse"] == min(hist)
    assert hist.index(min(hist)) == len(hist) - 2
    val = torch.as_tensor(maps)[_val_split(len(maps), cfg)]
    assert _mse(model, val) == pytest.approx(info["best_val_mse"], rel=1e-4)
    assert _mse(model, val) < 0.5 * hist[-1]


def test_fit_is_deterministic_for_a_seed(maps):
    cfg = replace(SMALL, max_epochs=3)
    m1, i1 = fit_autoencoder(maps[:120], cfg)
    m2, i2 = fit_autoencoder(maps[:120], cfg)
    m3, i3 = fit_autoencoder(maps[:120], replace(cfg, seed=1))
    assert i1["history"] == i2["history"]
    sd1, sd2, sd3 = m1.state_dict(), m2.state_dict(), m3.state_dict()
    assert all(torch.equal(sd1[k], sd2[k]) for k in sd1)
    assert i3["history"] != i1["history"]
    assert not all(torch.equal(sd1[k], sd3[k]) for k in sd1)


@pytest.mark.parametrize(
    "kw",
    [
        {"period": "dev"},
        {"period": "Development"},
        {"period": ""},
        {"val_fraction": 0.0},
        {"val_fraction": 1.0},
        {"val_fraction": -0.1},
        {"val_fraction": 1.5},
        {"n_maps": 9},
        {"patience": 0},
        {"max_epochs": 0},
        {"batch_size": 1},
    ],
)
def test_ae_config_rejects_bad_values(kw):
    with pytest.raises(ConfigError) as exc:
        AEConfig(**kw).validate()
    key = next(iter(kw))
    assert key in str(exc.value)


def test_ae_config_accepts_good_values():
    AEConfig().validate()
    AEConfig(
        period="time_forward", val_fraction=0.5, n_maps=10, patience=1, max_epochs=1, batch_size=2
    ).validate()


# ------------------------------------------------------------------------------ the cache key


def test_ae_key_changes_with_every_ingredient_and_only_then():
    s = SampleConfig().key_fields()
    a = AEConfig(enabled=True)
    k = ae_key("cube-abc", s, a, 4000)
    assert k == ae_key("cube-abc", dict(reversed(list(s.items()))), AEConfig(enabled=True), 4000)
    assert k == ae_key("cube-abc", s, a, np.int64(4000))
    assert k == ae_key("cube-abc", s, replace(a, enabled=False), 4000)  # the switch is no setting
    assert len(k) == 24 and all(ch in "0123456789abcdef" for ch in k)
    others = [
        ae_key("cube-abd", s, a, 4000),
        ae_key("cube-abc", SampleConfig(m_lim=4.5).key_fields(), a, 4000),
        ae_key("cube-abc", SampleConfig(min_mean_events=5.0).key_fields(), a, 4000),
        ae_key("cube-abc", SampleConfig(lookback=256).key_fields(), a, 4000),
        ae_key("cube-abc", s, a, 4001),
    ]
    for field, value in [
        ("n_maps", 1000),
        ("val_fraction", 0.25),
        ("patience", 49),
        ("max_epochs", 100),
        ("batch_size", 128),
        ("lr", 3e-4),
        ("period", "time_forward"),
        ("seed", 1),
    ]:
        others.append(ae_key("cube-abc", s, replace(a, **{field: value}), 4000))
    assert k not in others
    assert len(set(others)) == len(others)


# ------------------------------------------------------------------------------ the cache


class _Builder:
    """A build function that counts its calls and returns a freshly initialised model."""

    def __init__(self, seed: int = 0) -> None:
        self.calls = 0
        self.seed = seed

    def __call__(self):
        self.calls += 1
        torch.manual_seed(self.seed + 100 * self.calls)
        return MapAutoencoder(), {"epochs": 7, "best_val_mse": 0.25, "call": self.calls}


def _same_weights(a: MapAutoencoder, b: MapAutoencoder) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_get_autoencoder_builds_once_then_loads(tmp_path):
    build = _Builder()
    m1, info1, built1 = get_autoencoder("k1", tmp_path, build)
    assert built1 and build.calls == 1
    assert info1 == {"epochs": 7, "best_val_mse": 0.25, "call": 1}
    assert (tmp_path / "autoencoders" / "ae-k1.pt").is_file()
    m2, info2, built2 = get_autoencoder("k1", tmp_path, build)
    assert not built2 and build.calls == 1
    assert info2 == info1
    assert _same_weights(m1, m2)
    assert not m2.training
    # no temporary files are left behind
    assert not [p for p in (tmp_path / "autoencoders").iterdir() if p.name.startswith(".ae-")]


def test_get_autoencoder_rebuilds_a_corrupted_file(tmp_path):
    build = _Builder()
    m1, _, _ = get_autoencoder("k1", tmp_path, build)
    path = tmp_path / "autoencoders" / "ae-k1.pt"
    path.write_bytes(b"\x00garbage\xff" * 100)
    said = []
    m2, info2, built = get_autoencoder("k1", tmp_path, build, on_wait=said.append)
    assert built and build.calls == 2 and info2["call"] == 2
    assert said and "unreadable" in said[0]
    assert not _same_weights(m1, m2)  # really the new build
    m3, _, built3 = get_autoencoder("k1", tmp_path, build)
    assert not built3 and build.calls == 2 and _same_weights(m2, m3)
    # a truncated file (a killed writer without the atomic rename) is rebuilt as well
    path.write_bytes(path.read_bytes()[:200])
    _, _, built4 = get_autoencoder("k1", tmp_path, build)
    assert built4 and build.calls == 3


def test_get_autoencoder_rebuilds_a_file_of_another_key(tmp_path):
    build = _Builder()
    get_autoencoder("k1", tmp_path, build)
    d = tmp_path / "autoencoders"
    (d / "ae-k2.pt").write_bytes((d / "ae-k1.pt").read_bytes())
    _, info, built = get_autoencoder("k2", tmp_path, build)
    assert built and info["call"] == 2


def test_get_autoencoder_keys_are_separate(tmp_path):
    build = _Builder()
    m1, _, b1 = get_autoencoder("k1", tmp_path, build)
    m2, _, b2 = get_autoencoder("k2", tmp_path, build)
    assert b1 and b2 and build.calls == 2
    assert not _same_weights(m1, m2)
    assert _same_weights(get_autoencoder("k1", tmp_path, build)[0], m1)
    assert _same_weights(get_autoencoder("k2", tmp_path, build)[0], m2)
    assert build.calls == 2


def test_get_autoencoder_builds_once_for_concurrent_processes(tmp_path):
    ctx = mp.get_context("spawn")
    record = tmp_path / "builds"
    record.mkdir()
    barrier = ctx.Barrier(3)
    outs = [tmp_path / f"out-{i}.pt" for i in range(3)]
    procs = [
        ctx.Process(
            target=cache_worker, args=("kc", str(tmp_path / "cache"), str(record), str(o), barrier)
        )
        for o in outs
    ]
    for p in procs:
        p.start()
    try:
        for p in procs:
            p.join(timeout=120)
        assert [p.exitcode for p in procs] == [0, 0, 0]
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
                p.join()
    assert len(list(record.iterdir())) == 1
    res = [torch.load(o, weights_only=True) for o in outs]
    assert sorted(r["built"] for r in res) == [False, False, True]
    assert len({r["info"]["pid"] for r in res}) == 1
    sd0 = res[0]["state_dict"]
    assert all(all(torch.equal(sd0[k], r["state_dict"][k]) for k in sd0) for r in res[1:])


# ------------------------------------------------------------------------------ training maps

S_CFG = SampleConfig(patch=8, lookback=4, min_mean_events=1.0)
T, H, W = 30, 16, 18
HALF = S_CFG.half


def _mean_counts(rng: np.random.Generator) -> np.ndarray:
    """Block means on the valid region (centres HALF..n-HALF, days >= lookback), NaN elsewhere."""
    mc = np.full((T, H, W), np.nan, dtype=np.float32)
    mc[S_CFG.lookback :, HALF : H - HALF + 1, HALF : W - HALF + 1] = rng.uniform(
        0, 2, size=(T - S_CFG.lookback, H - 2 * HALF + 1, W - 2 * HALF + 1)
    )
    return mc


@pytest.fixture(scope="module")
def pool() -> NeqPool:
    rng = np.random.default_rng(7)
    excluded = rng.random((T, H, W)) < 0.3
    return neq_pool(excluded, _mean_counts(rng), S_CFG)


def _only(cands: list[tuple[int, int, int]]) -> NeqPool:
    ok = np.zeros((T, H, W), bool)
    for t, r, c in cands:
        ok[t, r, c] = True
    mc = np.where(ok, 5.0, 0.0).astype(np.float32)
    return neq_pool(np.zeros((T, H, W), bool), mc, S_CFG)


def test_maps_come_from_blocks_of_candidates_before_day_hi(pool):
    L = S_CFG.lookback
    cand = np.zeros((T, H, W), bool)
    t_all, r_all, c_all = pool.unravel(pool.flat)
    cand[t_all, r_all, c_all] = True
    for day_hi in (12, 20, T, T + 50):
        rng = np.random.default_rng(day_hi)
        day, r, c = sample_map_index(pool, L, 600, day_hi, rng)
        assert len(day) == len(r) == len(c) == 600
        ok_t = cand[: min(day_hi, T)]
        for d, i, j in zip(day, r, c, strict=True):
            # some candidate (t, i, j) with t < day_hi whose block t-L .. t-1 contains d
            assert ok_t[d + 1 : d + L + 1, i, j].any(), (day_hi, d, i, j)
        assert day.min() >= 0 and day.max() <= min(day_hi, T) - 2
        assert (
            (r >= HALF).all()
            and (r <= H - HALF).all()
            and (c >= HALF).all()
            and (c <= W - HALF).all()
        )


def test_candidates_on_or_after_day_hi_are_never_used():
    # cell (5, 5) only at day 20, cell (9, 9) only at day 10: day_hi 20 allows only the second
    p = _only([(20, 5, 5), (10, 9, 9)])
    day, r, c = sample_map_index(p, 4, 200, 20, np.random.default_rng(0))
    assert set(zip(r.tolist(), c.tolist(), strict=True)) == {(9, 9)}
    assert set(day.tolist()) == {6, 7, 8, 9}
    day, r, c = sample_map_index(p, 4, 400, 21, np.random.default_rng(0))
    assert set(zip(r.tolist(), c.tolist(), strict=True)) == {(9, 9), (5, 5)}
    assert set(day[r == 5].tolist()) == {16, 17, 18, 19}


def test_block_days_are_drawn_uniformly_and_exclude_the_forecast_day():
    p = _only([(25, 8, 8)])
    day, r, c = sample_map_index(p, 4, 4000, T, np.random.default_rng(1))
    assert (r == 8).all() and (c == 8).all()
    off, counts = np.unique(25 - day, return_counts=True)
    assert off.tolist() == [1, 2, 3, 4]  # t-1 .. t-L, never t itself
    assert (np.abs(counts - 1000) < 150).all()


def test_candidates_are_drawn_without_replacement_when_enough():
    cells = [(5 + k, 4 + k % 9, 4 + (2 * k) % 11) for k in range(20)]
    assert len({(r, c) for _, r, c in cells}) == 20
    p = _only(cells)
    _, r, c = sample_map_index(p, 4, 20, T, np.random.default_rng(2))
    assert sorted(zip(r.tolist(), c.tolist(), strict=True)) == sorted((r, c) for _, r, c in cells)
    # fewer candidates than maps: with replacement, all n maps
    _, r, c = sample_map_index(p, 4, 100, T, np.random.default_rng(2))
    assert len(r) == 100 and set(zip(r.tolist(), c.tolist(), strict=True)) <= {
        (r, c) for _, r, c in cells
    }


def test_sample_map_index_is_reproducible_and_rejects_an_empty_pool(pool):
    a = sample_map_index(pool, 4, 50, 25, np.random.default_rng(3))
    b = sample_map_index(pool, 4, 50, 25, np.random.default_rng(3))
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    with pytest.raises(ConfigError, match="empty"):
        sample_map_index(
            pool, 4, 10, S_CFG.lookback, np.random.default_rng(0)
        )  # no candidate before
    with pytest.raises(ConfigError):
        sample_map_index(_only([]), 4, 10, T, np.random.default_rng(0))


def test_gather_maps_equals_slicing(pool):
    rng = np.random.default_rng(4)
    b = rng.normal(size=(T, H, W)).astype(np.float32)
    day, r, c = sample_map_index(pool, S_CFG.lookback, 300, T, rng)
    # the extreme centres (the block touches the grid's borders) as well
    day = np.concatenate([day, [0, T - 1, 3, 5]])
    r = np.concatenate([r, [HALF, H - HALF, HALF, H - HALF]])
    c = np.concatenate([c, [HALF, W - HALF, W - HALF, HALF]])
    maps = gather_maps(b, day, r, c, S_CFG.patch)
    assert maps.shape == (len(day), 8, 8) and maps.dtype == b.dtype
    for k in range(len(day)):
        np.testing.assert_array_equal(
            maps[k], b[day[k], r[k] - HALF : r[k] + HALF, c[k] - HALF : c[k] + HALF]
        )
