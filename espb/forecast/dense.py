"""Dense scoring: the classifier's score for every eligible centre cell on every day at once.

Per-block scoring (what validation does, :mod:`espb.training.blocks`) cuts a
``lookback x patch x patch`` block for each (day, centre) and runs the whole network on it. Two
properties of the CNN-TCN (paper Section 3.2) make that redundant:

- **Time.** The temporal stages are dilated convolutions without padding whose receptive field is
  exactly the lookback, and the spatial stages act on each day alone. Run over a longer series,
  the network yields one output per day, each equal to the block ending that day.
  :func:`espb.forecast.folded.time_plan` goes further: a stage high in the network only computes
  the days the output needs (for 14 output days, the last stage of dilation 256 needs 28 input
  days, not 270), so one snapshot's short segment costs little more than its lookback.
- **Space** (autoencoder off). A 2 x 2 stride-2 stage maps the patch at top-left cell ``q`` to
  features of the 2 x 2 cell groups at ``q + 2 (i, j)``. Over the whole grid, the ``k``-th spatial
  stage becomes a 2 x 2 convolution of *dilation* ``2**k`` and stride 1 (the "a trous" form): its
  output at grid cell ``q`` is the feature of the ``2**(k+1)``-cell square starting at ``q``, for
  every ``q`` at once. Each (day, cell) feature is computed once and shared by all the patches
  that contain it, with no offset classes to stitch and no wasted positions: after the last stage
  the valid positions are exactly the eligible centres. Its arithmetic equals the 4**k offset
  classes of strided evaluation (shift-and-stitch) in another memory order; it is the cheapest
  exact scheme because every output of every stage is needed by some centre and computed once.

Each stage is a few matrix products on views of one channels-last array (a spatial tap is a row
offset of the flattened ``(time, lat, lon)`` index, a temporal tap a time offset), with BatchNorm
folded into the next stage (:mod:`espb.forecast.folded`).

**Autoencoder on.** The classifier sees, per day, ``AE(patch) - patch`` of the centre's own patch,
and the autoencoder's zero padding at the patch border makes almost every residual depend on where
the window sits (docs/forecasts.md works it out). So residuals are computed per (day, window), once
each, and the classifier runs per window, dense in time only (:func:`window_logits`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from espb.forecast.folded import SPATIAL_TAPS, FoldedNet, Stage, compose_prefix, time_plan

#: bytes of float32
F32 = 4


def _take(z: torch.Tensor, pos: np.ndarray) -> torch.Tensor:
    """Rows ``pos`` (sorted, distinct) of ``z`` along time: a view when they are consecutive,
    else one copy of each run of consecutive rows (``index_select`` is several times slower)."""
    if not len(pos):
        return z[:0]
    cut = np.flatnonzero(np.diff(pos) != 1) + 1
    starts, ends = np.r_[pos[0], pos[cut]], np.r_[pos[cut - 1], pos[-1]] + 1
    if len(starts) == 1:
        return z[int(starts[0]) : int(ends[0])]
    return torch.cat([z[int(a) : int(e)] for a, e in zip(starts, ends, strict=True)])


def _temporal(z: torch.Tensor, p0: np.ndarray, p1: np.ndarray, st: Stage, slope: float):
    c_in, c_out = st.taps.shape[1], st.taps.shape[2]
    a0, a1 = _take(z, p0), _take(z, p1)
    out = torch.addmm(st.bias, a0.reshape(-1, c_in), st.taps[0])
    out.addmm_(a1.reshape(-1, c_in), st.taps[1])
    if st.act:
        F.leaky_relu_(out, slope)
    return out.view(len(p0), *z.shape[1:-1], c_out)


def _spatial_atrous(z: torch.Tensor, st: Stage) -> torch.Tensor:
    """(T, H, W, C) -> (T, H - d, W - d, C_out): the 2 x 2 stage at cell step ``d = 2**k``."""
    t, h, w, c = z.shape
    d = 2**st.step
    n = t * h * w
    nv = n - d * w - d  # rows whose four taps stay inside the array
    z2 = z.reshape(n, c)
    out = torch.empty(n, st.taps.shape[2], dtype=z.dtype)
    o = out[:nv]
    for k, (a, b) in enumerate(SPATIAL_TAPS):
        off = a * d * w + b * d
        if k == 0:
            torch.addmm(st.bias, z2[off : off + nv], st.taps[k], out=o)
        else:
            o.addmm_(z2[off : off + nv], st.taps[k])
    # positions whose taps wrapped to the next row / day are the ones cropped here
    return out.view(t, h, w, -1)[:, : h - d, : w - d].contiguous()


def _spatial_stride(z: torch.Tensor, st: Stage) -> torch.Tensor:
    """(T, n, S, S, C) -> (T, n, S/2, S/2, C_out): the stage as in the network (stride 2)."""
    t, n, s, _, c = z.shape
    h = s // 2
    a = z.view(t, n, h, 2, h, 2, c).permute(0, 1, 2, 4, 3, 5, 6).reshape(-1, 4 * c)
    out = torch.addmm(st.bias, a, st.taps.reshape(4 * c, -1))
    return out.view(t, n, h, h, -1)


def _forward(net: FoldedNet, z: torch.Tensor, plan: list[np.ndarray], spatial) -> torch.Tensor:
    """Run the stages on ``z`` (labels ``plan[0]`` along dim 0, channels last); the logits."""
    for i, st in enumerate(net.stages):
        if st.kind == "S":
            z = spatial(z, st)
        else:
            have, out = plan[i], plan[i + 1]
            z = _temporal(
                z, np.searchsorted(have, out - st.step), np.searchsorted(have, out), st, net.slope
            )
    c = z.shape[-1]
    return (z.reshape(-1, c) @ net.head_w + net.head_b).view(z.shape[:-1])


def grid_logits(net: FoldedNet, b: torch.Tensor, day0: int, days: np.ndarray) -> torch.Tensor:
    """Logits of every patch position of ``b`` for the forecast ``days`` (sorted).

    ``b``: (T, H, W) float32, ``b[i]`` is cube day ``day0 + i``; it must hold the days
    ``min(days) - lookback .. max(days) - 1``. Returns (len(days), H - patch + 1, W - patch + 1):
    entry ``[k, i, j]`` is the block of forecast day ``days[k]`` whose patch has top-left cell
    ``(i, j)`` of ``b`` (centre ``(i + patch/2, j + patch/2)``)."""
    plan = time_plan(net, np.asarray(days) - 1)
    pos = plan[0] - day0
    if pos[0] < 0 or pos[-1] >= b.shape[0]:
        raise ValueError(f"grid_logits: b holds days {day0}..{day0 + b.shape[0] - 1}, too few")
    z = _take(b, pos).unsqueeze(-1).contiguous()
    return _forward(net, z, plan, _spatial_atrous)


def window_store(maps: torch.Tensor, k: int) -> torch.Tensor:
    """(T, n, P, P) maps -> (T, n, P / B, P / B, B * B) with ``B = 2**k``: each ``B x B`` square's
    pixels (row-major) next to each other, the layout :func:`window_logits` reads. Made once per
    window tile; every snapshot then reads it without a copy."""
    t, n, p, _ = maps.shape
    b = 2**k
    s = p // b
    return maps.reshape(t, n, s, b, s, b).permute(0, 1, 2, 4, 3, 5).reshape(t, n, s, s, b * b)


def window_logits(net: FoldedNet, store: torch.Tensor, day0: int, days: np.ndarray) -> torch.Tensor:
    """Logits of ``n`` windows for the forecast ``days``: ``store`` is :func:`window_store` of
    (T, n, P, P) per-day maps (the autoencoder residuals each window's blocks are made of),
    ``store[i]`` on cube day ``day0 + i``. Returns (len(days), n).

    The leading spatial stages (before the first temporal one) are linear, so they run as one
    matrix product on the store (:func:`espb.forecast.folded.compose_prefix`)."""
    plan = time_plan(net, np.asarray(days) - 1)
    pos = plan[0] - day0
    if pos[0] < 0 or pos[-1] >= store.shape[0]:
        raise ValueError(
            f"window_logits: the store holds days {day0}..{day0 + store.shape[0] - 1}, too few"
        )
    k, w, bias = compose_prefix(net)
    if store.shape[-1] != w.shape[0]:
        raise ValueError(f"window_logits: the store is not window_store(maps, {k})")
    x = _take(store, pos)
    z = torch.addmm(bias, x.reshape(-1, w.shape[0]), w).view(*x.shape[:-1], -1)
    rest = FoldedNet(net.stages[k:], net.head_w, net.head_b, net.slope, net.lookback, net.patch)
    return _forward(rest, z, plan[k:], _spatial_stride).view(len(days), store.shape[1])


def stage_sizes(
    net: FoldedNet, days: np.ndarray, spatial: tuple[int, ...], atrous: bool
) -> list[tuple[int, int, int]]:
    """Per stage: (input elements, output elements, multiply-adds) of one call, for memory and
    cost planning. ``spatial``: (H, W) of the grid (``atrous``) or (n, P, P) of the windows."""
    plan = time_plan(net, np.asarray(days) - 1)
    sp, c = list(spatial), 1
    rows = []
    for i, st in enumerate(net.stages):
        c_out = st.taps.shape[2]
        n_in = len(plan[i]) * int(np.prod(sp)) * c
        if st.kind == "S":
            if atrous:
                sp = [sp[0] - 2**st.step, sp[1] - 2**st.step]
            else:
                sp = [sp[0], sp[1] // 2, sp[2] // 2]
        n_out = len(plan[i + 1]) * int(np.prod(sp)) * c_out
        rows.append((n_in, n_out, n_out * c * st.taps.shape[0]))
        c = c_out
    return rows


def peak_bytes(sizes: list[tuple[int, int, int]]) -> int:
    """A bound on the memory of one call: a stage's input, its gathered taps and its output."""
    return max(F32 * (3 * i + o) for i, o, _ in sizes) if sizes else 0


Progress = Callable[[int, int, str], None]
