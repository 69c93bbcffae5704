"""Training and caching the map autoencoder (paper Appendix A).

- Training maps: ``n_maps`` 32 x 32 b-value maps (paper: 150,000) from nEQ-eligible places: a
  candidate (forecast day, cell) is drawn uniformly from the nEQ pool, then one of the block's
  days uniformly; the map is that day's patch around the cell.
- ``period``: ``development`` (paper: candidates over the whole development period, up to
  ``dev_end``; the autoencoder has then seen maps from later validation windows, a documented
  departure from the no-future rule that only concerns unlabelled maps) or ``time_forward``
  (only candidates whose labels are known before the first validation segment).
- MSE loss, ``val_fraction`` held out (paper: 20 %), Adam, stop after ``patience`` epochs without
  improvement of the held-out loss (paper: 50), keep the best weights.
- One autoencoder per (cube, sample rules, these settings): cached under
  ``<cache>/autoencoders/ae-<key>.pt`` (key, weights, info: no objects) with ``ae-<key>.json``
  beside it (key, SHA-256 of the weights file, training info) and a file lock, so a sweep trains each once even
  when parallel jobs ask at the same moment. A cached file is verified against its manifest and
  read with ``torch.load(weights_only=True)`` before use: a file planted in a shared cache runs
  no code (issue 12).
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from filelock import FileLock

from espb.buildlog import record_build
from espb.errors import ConfigError, EspbError
from espb.models.autoencoder import MapAutoencoder

AE_VERSION = 1
PERIODS = ("development", "time_forward")
MAPS = ("neq", "neq_and_eq")


@dataclass
class AEConfig:
    enabled: bool = False
    n_maps: int = 150_000
    val_fraction: float = 0.2
    patience: int = 50
    max_epochs: int = 2000
    batch_size: int = 256
    lr: float = 1e-3
    period: str = "development"
    seed: int = 0
    #: the places whose maps train it: ``neq`` (nEQ candidates) or ``neq_and_eq`` (also the
    #: windows before the EQ samples, as Appendix A's text reads; docs/models.md)
    maps: str = "neq"

    def validate(self) -> None:
        if self.maps not in MAPS:
            raise ConfigError(f"autoencoder.maps={self.maps!r}; use one of {list(MAPS)}")
        if self.period not in PERIODS:
            raise ConfigError(f"autoencoder.period={self.period!r}; use one of {list(PERIODS)}")
        if not 0 < self.val_fraction < 1:
            raise ConfigError(f"autoencoder.val_fraction={self.val_fraction} must be in (0, 1)")
        if not 0 < self.lr < 10:  # also NaN
            raise ConfigError(
                f"autoencoder.lr={self.lr} must be a finite number in (0, 10) (paper 1e-3)"
            )
        if self.n_maps < 10 or self.patience < 1 or self.max_epochs < 1 or self.batch_size < 2:
            raise ConfigError(
                "autoencoder: n_maps >= 10, patience >= 1, max_epochs >= 1, batch_size >= 2 needed"
            )

    def key_fields(self) -> dict:
        """The settings that key the cache; ``maps`` at its first value (``neq``) is left out,
        so the keys of autoencoders trained before it existed stay valid."""
        d = asdict(self)
        d.pop("enabled")
        if d["maps"] == "neq":
            d.pop("maps")
        return d


def sample_map_index(
    pool, lookback: int, n: int, day_hi: int, rng: np.random.Generator, extra=None
) -> tuple[np.ndarray, ...]:
    """(day, row, col) of ``n`` maps: candidates with forecast day < ``day_hi`` drawn uniformly
    (with replacement if there are fewer), then a uniform day of their block. ``extra``: more
    candidate places ``(target, row, col)`` arrays (the EQ samples), drawn among the pool's."""
    if extra is not None:
        keep = extra[0] < day_hi
        extra = tuple(np.asarray(a)[keep] for a in extra)
        if len(extra[0]) == 0:
            extra = None
    if extra is not None:
        return _sample_union(pool, extra, lookback, n, day_hi, rng)
    total = pool.count(0, day_hi)
    if total == 0:
        raise ConfigError(
            "autoencoder: the nEQ pool is empty in the autoencoder's training period; "
            "use period=development, a lower samples.min_mean_events or a larger catalog"
        )
    pick = rng.choice(total, size=n, replace=total < n)
    t, r, c = pool.unravel(pool.flat[int(pool.day_ptr[0]) + pick])
    day = t - rng.integers(1, lookback + 1, size=n)
    return day, r, c


def _sample_union(pool, extra, lookback, n, day_hi, rng) -> tuple[np.ndarray, ...]:
    """:func:`sample_map_index` over the pool's candidates and ``extra`` places together."""
    n_pool = pool.count(0, day_hi)
    total = n_pool + len(extra[0])
    pick = rng.choice(total, size=n, replace=total < n)
    from_pool = pick < n_pool
    t, r, c = (np.empty(n, np.int64) for _ in range(3))
    pt, pr, pc = pool.unravel(pool.flat[int(pool.day_ptr[0]) + pick[from_pool]])
    t[from_pool], r[from_pool], c[from_pool] = pt, pr, pc
    j = pick[~from_pool] - n_pool
    t[~from_pool], r[~from_pool], c[~from_pool] = extra[0][j], extra[1][j], extra[2][j]
    day = t - rng.integers(1, lookback + 1, size=n)
    return day, r, c


def gather_maps(
    b: np.ndarray, day: np.ndarray, row: np.ndarray, col: np.ndarray, patch: int
) -> np.ndarray:
    h = patch // 2
    ar = np.arange(patch)
    return b[
        day[:, None, None],
        (row - h)[:, None, None] + ar[None, :, None],
        (col - h)[:, None, None] + ar[None, None, :],
    ]


def fit_autoencoder(
    maps: np.ndarray,
    cfg: AEConfig,
    device: str | torch.device = "cpu",
    progress: Callable[[int, float, float], None] | None = None,
) -> tuple[MapAutoencoder, dict]:
    """Train on ``maps`` (N, P, P) with early stopping on the held-out split; the best weights."""
    g = torch.Generator().manual_seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    x = torch.as_tensor(maps, dtype=torch.float32)
    perm = torch.randperm(len(x), generator=g)
    n_val = max(1, int(round(cfg.val_fraction * len(x))))
    val, train = x[perm[:n_val]].to(device), x[perm[n_val:]].to(device)
    model = MapAutoencoder().to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    best, best_state, since, history = float("inf"), None, 0, []
    t0 = time.perf_counter()
    for epoch in range(cfg.max_epochs):
        model.train()
        order = torch.randperm(len(train), generator=g).to(device)
        tot = 0.0
        for i in range(0, len(train), cfg.batch_size):
            xb = train[order[i : i + cfg.batch_size]]
            loss = torch.nn.functional.mse_loss(model(xb), xb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            tot += float(loss.detach()) * len(xb)
        model.eval()
        with torch.no_grad():
            vl = (
                sum(
                    float(
                        torch.nn.functional.mse_loss(
                            model(val[i : i + 4096]), val[i : i + 4096], reduction="sum"
                        )
                    )
                    for i in range(0, len(val), 4096)
                )
                / val.numel()
            )
        history.append((tot / max(len(train), 1), vl))
        if vl < best - 1e-12:
            best, since = vl, 0
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            since += 1
        if progress is not None:
            progress(epoch, history[-1][0], vl)
        if since >= cfg.patience:
            break
    if best_state is None:
        raise EspbError(
            f"autoencoder: the held-out loss was never finite in {len(history)} epochs; "
            "check the cube for NaN values or lower autoencoder.lr"
        )
    model.load_state_dict(best_state)
    info = {
        "epochs": len(history),
        "best_val_mse": best,
        "seconds": time.perf_counter() - t0,
        "n_train": len(train),
        "n_val": len(val),
        "history": history,
    }
    return model.cpu().eval(), info


def ae_key(cube_key: str, sample_fields: dict, cfg: AEConfig, day_hi: int) -> str:
    payload = json.dumps(
        {
            "cube": cube_key,
            "samples": sample_fields,
            "ae": cfg.key_fields(),
            "day_hi": int(day_hi),
            "version": AE_VERSION,
        },
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:24]


class _Unusable(Exception):
    """A cached autoencoder that must not be used (the message says why)."""


def _sha256(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def load_cached_autoencoder(path: Path, key: str) -> tuple[MapAutoencoder, dict]:
    """The autoencoder in ``path`` (``ae-<key>.pt``), verified before use: its manifest
    ``ae-<key>.json`` must name ``key`` and the file's SHA-256, and the file is read with
    ``torch.load(weights_only=True)`` (tensors and plain containers only: a planted pickle runs
    no code). :class:`_Unusable` otherwise."""
    mpath = path.with_suffix(".json")
    if not mpath.is_file():
        raise _Unusable(
            f"it has no checksum manifest {mpath.name} (written by an older espb, or not by espb)"
        )
    try:
        manifest = json.loads(mpath.read_text())
    except (OSError, ValueError) as exc:
        raise _Unusable(f"its manifest {mpath.name} is unreadable ({exc})") from exc
    if not isinstance(manifest, dict) or manifest.get("key") != key:
        raise _Unusable(f"its manifest {mpath.name} does not name key {key!r}")
    found, expected = _sha256(path), manifest.get("sha256")
    if found != expected:
        raise _Unusable(
            f"its sha256 {found[:16]}... differs from the manifest's {str(expected)[:16]}... "
            "(changed or replaced after it was written)"
        )
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError) as exc:
        raise _Unusable(f"torch.load(weights_only=True) refused it ({exc})") from exc
    if not isinstance(obj, dict) or obj.get("key") != key or "state_dict" not in obj:
        raise _Unusable("it is not an espb autoencoder file of this key")
    m = MapAutoencoder()
    try:
        m.load_state_dict(obj["state_dict"])
    except (RuntimeError, TypeError, KeyError) as exc:
        raise _Unusable(f"its weights do not fit the autoencoder ({exc})") from exc
    return m.eval(), obj.get("info", manifest.get("info", {}))


def save_cached_autoencoder(path: Path, key: str, model: MapAutoencoder, info: dict) -> None:
    """Key, weights and info (tensors and plain containers only, readable with
    ``weights_only=True``) to ``path``, then the manifest (key, SHA-256, info as JSON for people)
    beside it, each written to a temporary name and renamed; the manifest last."""
    d = path.parent
    tag = f"{os.getpid()}-{uuid.uuid4().hex[:6]}"
    tmp, mtmp = d / f".{path.name}.tmp-{tag}", d / f".{path.stem}.json.tmp-{tag}"
    try:
        torch.save({"key": key, "state_dict": model.state_dict(), "info": info}, tmp)
        manifest = {"key": key, "sha256": _sha256(tmp), "version": AE_VERSION, "info": info}
        mtmp.write_text(json.dumps(manifest, default=str))
        os.replace(tmp, path)
        os.replace(mtmp, path.with_suffix(".json"))
    finally:
        for leftover in (
            tmp,
            mtmp,
        ):
            if leftover.is_file():  # not after a successful rename
                leftover.unlink()


def get_autoencoder(
    key: str,
    root: Path,
    build: Callable[[], tuple[MapAutoencoder, dict]],
    on_wait: Callable[[str], None] | None = None,
) -> tuple[MapAutoencoder, dict, bool]:
    """The cached autoencoder ``key`` under ``root/autoencoders``, trained once with ``build``.

    Returns (model, info, built). A file lock serialises builders; files are written to
    temporary names and renamed, so a killed build never leaves a readable partial file. A cached
    file is used only after :func:`load_cached_autoencoder` verified it; otherwise it is rebuilt
    and ``on_wait`` is told why."""
    d = Path(root) / "autoencoders"
    d.mkdir(parents=True, exist_ok=True)
    path = d / f"ae-{key}.pt"
    if path.exists():
        try:
            m, info = load_cached_autoencoder(path, key)
            return m, info, False
        except _Unusable as exc:
            if on_wait is not None:
                on_wait(f"cached autoencoder {path} is unreadable ({exc}); rebuilding it")
    lock = FileLock(str(d / f"ae-{key}.lock"))
    with lock:
        if path.exists():
            try:
                m, info = load_cached_autoencoder(path, key)
                return m, info, False
            except _Unusable:
                path.unlink()
                path.with_suffix(".json").unlink(missing_ok=True)
        t0 = time.perf_counter()
        model, info = build()
        save_cached_autoencoder(path, key, model, info)
        record_build(root, "autoencoder", key, time.perf_counter() - t0, epochs=info.get("epochs"))
        return model, info, True
