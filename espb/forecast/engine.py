"""The dense forecast engine: every eligible centre cell on every requested day, each day by its
own snapshot, in memory-bounded pieces (:mod:`espb.forecast.dense` does the arithmetic).

- Days are grouped into runs that share a snapshot (one per segment in the time-forward scheme);
  each run is one call per memory-sized piece.
- Autoencoder off: a call covers a band of centre rows over the whole width (the patch's rows
  above and below come with it); the band and the number of days per call shrink until the
  call's working set fits ``budget`` bytes.
- Autoencoder on: centres are taken in tiles of consecutive (row-major) centres. For each tile
  the residual maps ``AE(window) - window`` of every window on every day any run needs are
  computed once (paper Appendix A; per-block scoring recomputes each of them ``lookback`` times,
  once per block containing the day), then every snapshot's run reads them.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping

import numpy as np
import torch

from espb.forecast.dense import (
    F32,
    grid_logits,
    peak_bytes,
    stage_sizes,
    window_logits,
    window_store,
)
from espb.forecast.folded import FoldedNet, leading_spatial
from espb.forecast.targets import Eligible

Progress = Callable[[int, int, str], None]


def runs(assign: np.ndarray) -> list[tuple[int, int, int]]:
    """``(start, stop, snapshot)`` of each run of equal non-negative entries of ``assign``."""
    a = np.asarray(assign)
    if not len(a):
        return []
    cut = np.flatnonzero(np.diff(a) != 0) + 1
    starts, stops = np.r_[0, cut], np.r_[cut, len(a)]
    return [(int(s), int(e), int(a[s])) for s, e in zip(starts, stops, strict=True) if a[s] >= 0]


def _day_chunks(n: int, per: int) -> list[tuple[int, int]]:
    k = max(1, math.ceil(n / max(per, 1)))
    step = math.ceil(n / k)
    return [(i, min(i + step, n)) for i in range(0, n, step)]


def _grid_plan(net: FoldedNet, n_days: int, n_rows: int, width: int, budget: int):
    """(days per call, centre rows per call) whose working set fits ``budget``."""
    per, rows = n_days, n_rows
    while True:
        sz = stage_sizes(net, np.arange(per), (rows + net.patch - 1, width), True)
        if peak_bytes(sz) <= budget or (per == 1 and rows == 1):
            return per, rows
        if per > 64 or rows == 1:
            per = max(1, per // 2)
        else:
            rows = max(1, rows // 2)


def dense_logits(
    nets: Mapping[int, FoldedNet],
    assign: np.ndarray,
    day0: int,
    b: np.ndarray,
    elig: Eligible,
    ae: torch.nn.Module | None = None,
    budget: int = 1 << 30,
    progress: Progress | None = None,
) -> tuple[np.ndarray, dict]:
    """Logits ``(len(assign), rows, cols)`` of the eligible box for forecast days
    ``day0 .. day0 + len(assign) - 1``; day ``day0 + k`` is scored by ``nets[assign[k]]``,
    NaN where ``assign[k] < 0``. ``b``: the cube's b values ``(n_days, nlat, nlon)``.

    Returns the logits and a timing dict (seconds, calls, autoencoder maps)."""
    _, n_rows, n_cols = elig.shape
    out = np.full((len(assign), n_rows, n_cols), np.nan, dtype=np.float32)
    work = runs(assign)
    timing = {
        "classifier_s": 0.0,
        "autoencoder_s": 0.0,
        "classifier_cpu_s": 0.0,
        "autoencoder_cpu_s": 0.0,
        "calls": 0,
        "ae_maps": 0,
    }
    if not work or n_rows == 0 or n_cols == 0:
        return out, timing
    days = day0 + np.arange(len(assign))
    lookback = next(iter(nets.values())).lookback
    if days[work[0][0]] < lookback or days[work[-1][1] - 1] >= b.shape[0]:
        raise ValueError("dense_logits: a scored day lacks a full lookback or lies past the cube")
    bt = torch.from_numpy(np.ascontiguousarray(b, dtype=np.float32))
    with torch.inference_mode():
        if ae is None:
            _grid(nets, work, days, bt, elig, out, budget, timing, progress)
        else:
            _windows(nets, work, days, bt, elig, ae.eval(), out, budget, timing, progress)
    return out, timing


def _grid(nets, work, days, bt, elig, out, budget, timing, progress) -> None:
    n_rows, n_cols = out.shape[1:]
    h = next(iter(nets.values())).patch // 2
    c0, c1 = elig.col_lo - h, elig.col_hi + h  # input columns [c0, c1)
    total = sum(e - s for s, e, _ in work) * n_rows
    done = 0
    for s, e, k in work:
        net = nets[k]
        per, rows = _grid_plan(net, e - s, n_rows, c1 - c0, budget)
        for a, z in _day_chunks(e - s, per):
            dd = days[s + a : s + z]
            lo = int(dd[0]) - net.lookback
            for r0 in range(0, n_rows, rows):
                r1 = min(r0 + rows, n_rows)
                top = elig.row_lo + r0 - h
                t0, c0_ = time.perf_counter(), time.process_time()
                x = bt[lo : int(dd[-1]), top : top + (r1 - r0) + net.patch - 1, c0:c1]
                out[s + a : s + z, r0:r1] = grid_logits(net, x, lo, dd).numpy()
                timing["classifier_s"] += time.perf_counter() - t0
                timing["classifier_cpu_s"] += time.process_time() - c0_
                timing["calls"] += 1
                done += (z - a) * (r1 - r0)
                if progress is not None:
                    progress(done, total, f"snapshot {k}")


def _window_tile(nets, work, days, n_windows: int, patch: int, budget: int) -> int:
    """Windows per tile: the residual store of all needed days within half the budget."""
    span = int(days[work[-1][1] - 1]) - (int(days[work[0][0]]) - next(iter(nets.values())).lookback)
    per_window = span * patch * patch * F32 * 3  # the maps, their residuals, the store
    tile = int(max(1, min(n_windows, (budget // 2) // max(per_window, 1))))
    return math.ceil(n_windows / math.ceil(n_windows / tile))  # equal tiles, not 78 + 1


def _windows(nets, work, days, bt, elig, ae, out, budget, timing, progress) -> None:
    n_rows, n_cols = out.shape[1:]
    net0 = next(iter(nets.values()))
    lookback, patch, h = net0.lookback, net0.patch, net0.patch // 2
    k = leading_spatial(net0)
    d_lo = int(days[work[0][0]]) - lookback  # first map day any run reads
    d_hi = int(days[work[-1][1] - 1])  # one past the last
    n_win = n_rows * n_cols
    tile = _window_tile(nets, work, days, n_win, patch, budget)
    wins = bt.unfold(1, patch, 1).unfold(2, patch, 1)  # (T, H-P+1, W-P+1, P, P), a view
    flat = out.reshape(len(days), n_win)
    total, done = n_win * sum(e - s for s, e, _ in work), 0
    for w0 in range(0, n_win, tile):
        w1 = min(w0 + tile, n_win)
        wi = np.arange(w0, w1)
        rr = torch.as_tensor(wi // n_cols + elig.row_lo - h)
        cc = torch.as_tensor(wi % n_cols + elig.col_lo - h)
        t0, c0 = time.perf_counter(), time.process_time()
        maps = wins[d_lo:d_hi][:, rr, cc]  # (T, n, P, P), a copy
        res = ae.residual(maps.reshape(-1, patch, patch), chunk=4096)
        store = window_store(res.view(maps.shape), k)
        del maps, res
        timing["autoencoder_s"] += time.perf_counter() - t0
        timing["autoencoder_cpu_s"] += time.process_time() - c0
        timing["ae_maps"] += int(store.shape[0] * store.shape[1])
        for s, e, snap in work:
            net = nets[snap]
            sz = stage_sizes(net, np.arange(e - s), (w1 - w0, patch, patch), False)
            per = max(1, int((e - s) * (budget // 2) / max(peak_bytes(sz), 1)))
            for a, z in _day_chunks(e - s, per):
                t1, c1 = time.perf_counter(), time.process_time()
                lg = window_logits(net, store, d_lo, days[s + a : s + z])
                flat[s + a : s + z, w0:w1] = lg.numpy()
                timing["classifier_s"] += time.perf_counter() - t1
                timing["classifier_cpu_s"] += time.process_time() - c1
                timing["calls"] += 1
            done += (e - s) * (w1 - w0)
            if progress is not None:
                progress(done, total, f"windows {w0}-{w1}, snapshot {snap}")
