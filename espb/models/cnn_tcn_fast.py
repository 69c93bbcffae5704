"""A faster, exact implementation of the CNN-TCN of paper Section 3.2 (:class:`CnnTcn` stays the
reference; docs/performance.md, "The fast CNN-TCN").

The same parameters under the same names, the same function up to float rounding; only the
order of the work differs:

- **one input reorder, then views.** The block's P x P cells are put in Z (quadtree) order once
  (one ``index_select``); then the 2 x 2 cells that a spatial stage merges are always four
  consecutive positions, so a spatial stage is a *view* (positions x channels -> groups of four
  positions x 4C) and a matrix product: no strided convolution, no copy;
- **channels last**, activations ``(B, T, S, C)`` contiguous: a temporal stage of dilation d is
  two batched products on time-shifted views, ``y[t] = x[t] @ W0 + x[t + d] @ W1``, fused with
  LeakyReLU and the BatchNorm statistics in one autograd Function (:mod:`espb.models._tapconv`);
- **everything between two nonlinearities is one linear map**, composed from the weights at
  forward time (autograd differentiates the composition): consecutive spatial stages, and the
  BatchNorm affine ``(a - mean) / sqrt(var + eps) * gamma + beta`` of the previous block, which
  folds into the next product's weight and bias, so a BatchNorm output is never materialised;
- **packed products**: ``p`` positions at a time by ``kron(I_p, W)`` (see ``_tapconv``).

The core (:func:`stacked_forward`) runs K replicates at once (:mod:`espb.models.replicates`):
their channels side by side, the products block-diagonal over replicates, the shared input read
once. A single model is K = 1.

BatchNorm in training mode uses the batch mean and biased variance and updates the running
statistics as ``nn.BatchNorm3d`` does (momentum or cumulative average, unbiased variance,
``num_batches_tracked``); in eval mode it uses the running statistics.

Precision: folding the BatchNorm shift into the next product computes ``a * s - mean * s``
instead of ``(a - mean) * s``; in float32 this costs about ``|mean| / std`` ulps, so the results
agree with the reference to ~1e-6 relative (tests/models/test_cnn_tcn_fast.py), not bit for bit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from espb.models._tapconv import PackedProduct, TapLeakyNorm, pack_for
from espb.models.classifier import CnnTcn
from espb.models.registry import register

#: products are packed to about this width on CPU (docs/performance.md, "what was tried")
CPU_PACK_WIDTH = 32


def zorder_permutation(patch: int) -> torch.Tensor:
    """Row-major cell index (``r * patch + c``) at each Z-order position: the bits of row and
    column interleaved, row bit first, the finest level least significant, so that the 2 x 2
    cells a spatial stage merges are consecutive at every level."""
    n = int(patch).bit_length() - 1
    if patch < 1 or 2**n != patch:
        raise ValueError(f"patch ({patch}) must be a power of two")
    if n == 0:
        return torch.zeros(1, dtype=torch.long)
    grid = torch.arange(patch * patch).view(*([2] * (2 * n)))  # row bits, then column bits
    order = [d for k in range(n) for d in (k, n + k)]  # r_{n-1} c_{n-1} ... r_0 c_0
    return grid.permute(*order).reshape(-1)


@dataclass(frozen=True)
class Block:
    """Indices into ``features`` of the spatial stages before a temporal stage, and of that
    temporal conv and its BatchNorm (None for spatial stages at the very end: those fold into
    the head)."""

    spatial: tuple[int, ...]
    temporal: tuple[int, int] | None
    dilation: int


def plan(model: CnnTcn) -> list[Block]:
    """The linear blocks of ``model``'s layout (each ends in a LeakyReLU + BatchNorm)."""
    blocks: list[Block] = []
    spatial: list[int] = []
    dilation = 1
    for i, m in enumerate(model.features):
        if isinstance(m, nn.Conv3d) and m.stride[1] == 2:
            spatial.append(i)
        elif isinstance(m, nn.Conv3d):
            blocks.append(Block(tuple(spatial), (i, i + 2), dilation))
            spatial, dilation = [], dilation * 2
    if spatial:
        blocks.append(Block(tuple(spatial), None, 0))
    return blocks


# ----------------------------------------------------------------------------- weights (K stacked)
def _stacked(reps: Sequence[nn.Module], i: int, name: str) -> torch.Tensor | None:
    ts = [getattr(r.features[i], name) for r in reps]
    if ts[0] is None:
        return None
    return ts[0].unsqueeze(0) if len(ts) == 1 else torch.stack(ts)


def _compose_spatial(reps, idx: tuple[int, ...], m, b):
    """Compose the spatial stages ``idx`` after the map ``m`` (K, g, Cin, C), bias ``b`` (K, C)."""
    for i in idx:
        w = _stacked(reps, i, "weight")[:, :, :, 0].permute(0, 3, 4, 2, 1)  # (K, di, dj, c, o)
        k_, _, _, c, o = w.shape
        w = w.reshape(k_, 4, c, o)  # child q = 2 di + dj, as in the Z order
        bias = _stacked(reps, i, "bias")
        if m is None:
            m, b2 = w, None
        else:
            m2 = torch.einsum("kgic,kqco->kqgio", m, w)
            b2 = None if b is None else torch.einsum("kc,kqco->ko", b, w)
            m = m2.reshape(k_, -1, m.shape[2], o)
        b = b2 if bias is None else (bias if b2 is None else b2 + bias)
    return m, b


def _affine_in(m, b, scale, shift):
    """Fold an input affine ``x * scale + shift`` (K, Cin) into ``m`` (K, g, Cin, C), ``b``."""
    if scale is None:
        return m, b
    if m is None:
        return torch.diag_embed(scale).unsqueeze(1), shift
    bs = torch.einsum("kc,kgco->ko", shift, m)
    return m * scale[:, None, :, None], bs if b is None else b + bs


def _full(m: torch.Tensor, shared: bool) -> torch.Tensor:
    """The (K, g, Cin, C) maps as one matrix over channels-last rows: rows (q, i) of a shared
    input (K maps side by side), or (q, k, i) of K stacked inputs (block-diagonal over k);
    columns (k, o)."""
    k_, g, cin, c = m.shape
    if shared or k_ == 1:
        return m.permute(1, 2, 0, 3).reshape(g * cin, k_ * c)
    eye = torch.eye(k_, dtype=m.dtype, device=m.device)
    return torch.einsum("kqio,kl->qkilo", m, eye).reshape(g * k_ * cin, k_ * c)


def _bn_affine(reps, bi: int, mean, var, n: int, training: bool):
    """(scale, shift) (K, C) of the BatchNorms ``features[bi]`` on normalised activations (their
    affine: gamma, beta); in training mode also the running statistics' update from the batch
    ``mean``/``var`` (K, C) of ``n`` values per channel, as nn.BatchNorm3d does it (momentum or
    cumulative average, the unbiased variance)."""
    bns = [r.features[bi] for r in reps]
    bn0 = bns[0]
    if training and bn0.track_running_stats:
        with torch.no_grad():
            for k, bn in enumerate(bns):
                bn.num_batches_tracked.add_(1)
                f = bn.momentum
                if f is None:
                    f = 1.0 / float(bn.num_batches_tracked)
                bn.running_mean.mul_(1 - f).add_(mean[k].to(bn.running_mean), alpha=f)
                uv = var[k].to(bn.running_var) * (n / max(n - 1, 1))
                bn.running_var.mul_(1 - f).add_(uv, alpha=f)
    if not bn0.affine:
        return None, None
    return _stacked(reps, bi, "weight"), _stacked(reps, bi, "bias")


def reorder(x: torch.Tensor, patch: int, perm: torch.Tensor) -> torch.Tensor:
    """(B, L, P, P) or (B, Cin, L, P, P) row-major blocks -> (B, L, P*P, Cin) in Z order."""
    if x.dim() == 4:
        x = x.unsqueeze(1)
    B, c, L, P, _ = x.shape
    if c == 1:
        h = torch.index_select(x.reshape(B * L, P * P), 1, perm)
    else:
        h = torch.index_select(x.permute(0, 2, 3, 4, 1).reshape(B * L, P * P, c), 1, perm)
    return h.reshape(B, L, P * P, c)


# ----------------------------------------------------------------------------- the core
def _no_autocast(x: torch.Tensor):
    """Weights are composed in their own precision (float32), also under autocast."""
    return torch.autocast(x.device.type, enabled=False)


def _block_weights(reps, shared: bool, m, b, blk: Block):
    """The block's matrices: the spatial map (or None: composed into the taps), the two taps
    and the bias, over channels-last rows (see :func:`_full`)."""
    K = len(reps)
    ci = blk.temporal[0]
    w = _stacked(reps, ci, "weight")[:, :, :, :, 0, 0]  # (K, o, c, tap)
    w0, w1 = w[..., 0].transpose(1, 2), w[..., 1].transpose(1, 2)  # (K, c, o)
    bias = None if (m is None or b is None) else torch.einsum("kc,kco->ko", b, w0 + w1)
    cb = _stacked(reps, ci, "bias")
    if cb is not None:
        bias = cb if bias is None else bias + cb
    bias = None if bias is None else bias.reshape(K * w0.shape[2])
    if m is None:
        return None, _full(w0.unsqueeze(1), shared), _full(w1.unsqueeze(1), shared), bias
    return (
        _full(m, shared),
        _full(torch.einsum("kgic,kco->kgio", m, w0), shared),
        _full(torch.einsum("kgic,kco->kgio", m, w1), shared),
        bias,
    )


def _block(reps, h, shared: bool, m, b, blk: Block, opts: dict, running):
    """One linear block: (a spatial product of its own), the fused taps + LeakyReLU + stats."""
    K = len(reps)
    B, T, S, ctot = h.shape
    g = 1 if m is None else m.shape[1]
    x = h.reshape(B, T, S // g, g * ctot)
    separate = g > 1 and not opts["fuse_spatial"]
    with _no_autocast(h):
        if separate:  # the spatial product on its own, then the taps
            ms, f0, f1, bias = _block_weights(reps, shared, m, b, blk)
            _, f0, f1, _ = _block_weights(reps, False, None, None, blk)
        else:
            ms, f0, f1, bias = _block_weights(reps, shared, m, b, blk)
            ms = None
    if ms is not None:
        u = PackedProduct.apply(
            x.reshape(B, -1, ms.shape[0]), ms, pack_for(*ms.shape, opts["pack"])
        )
        x = u.view(B, T, S // g, ms.shape[1])
    pack = pack_for(*f0.shape, opts["pack"])
    slope = reps[0].features[blk.temporal[0] + 1].negative_slope
    assert f0.shape[0] == x.shape[-1], (f0.shape, x.shape, K)
    eps = reps[0].features[blk.temporal[1]].eps
    return TapLeakyNorm.apply(x.contiguous(), f0, f1, bias, running, eps, blk.dilation, slope, pack)


def stacked_forward(reps: Sequence[CnnTcn], x: torch.Tensor, opts: dict) -> torch.Tensor:
    """Logits (B, K) of K models of one architecture (``CnnTcn`` or a subclass) on the same
    blocks ``x``; train/eval mode from ``reps[0].training``."""
    r0 = reps[0]
    K = len(reps)
    cin = r0.features[0].in_channels
    want = (r0.lookback, r0.patch, r0.patch) if cin == 1 else (cin, r0.lookback, r0.patch, r0.patch)
    got = tuple(x.shape[1:]) if x.dim() == 4 else tuple(x.shape[2:]) if x.dim() == 5 else ()
    if x.dim() == 5 and x.shape[1] != cin or got[-3:] != want[-3:]:
        raise RuntimeError(
            f"{type(r0).__name__}: input {tuple(x.shape)} does not match the model's blocks "
            f"(B, {cin}, {r0.lookback}, {r0.patch}, {r0.patch})"
        )
    h = reorder(x, r0.patch, opts["perm"])
    training = r0.training
    shared = True
    scale = shift = None
    m = b = None
    for blk in opts["blocks"]:
        with _no_autocast(h):
            m, b = _compose_spatial(reps, blk.spatial, None, None) if blk.spatial else (None, None)
            m, b = _affine_in(m, b, scale, shift)
        if blk.temporal is None:  # trailing spatial stages: fold into the head
            break
        bi = blk.temporal[1]
        running = None  # batch statistics
        if not (training or r0.features[bi].running_mean is None):
            bns = [r.features[bi] for r in reps]
            running = (
                torch.cat([bn.running_mean for bn in bns]),
                torch.cat([bn.running_var for bn in bns]),
            )
        h, mean, var = _block(reps, h, shared, m, b, blk, opts, running)
        shared = False
        c = h.shape[-1] // K
        n = h.numel() // h.shape[-1]
        with _no_autocast(h):
            scale, shift = _bn_affine(reps, bi, mean.view(K, c), var.view(K, c), n, training)
    else:
        m, b = _affine_in(None, None, scale, shift)
    with _no_autocast(h):
        hw = torch.stack([r.head.weight.t() for r in reps])  # (K, C, 1)
        hb = torch.stack([r.head.bias for r in reps]).view(K)
        wh = _full(torch.einsum("kgio,kop->kgip", m, hw), shared)
        bh = hb if b is None else torch.einsum("kc,kcp->k", b, hw) + hb
        return torch.addmm(bh, h.reshape(h.shape[0], -1).to(wh.dtype), wh)


@register("cnn_tcn_fast")
class FastCnnTcn(CnnTcn):
    """Block (B, L, P, P) -> score logit (B,): the same function as :class:`CnnTcn`, with the
    same ``features``/``head`` parameters and buffers, so a ``state_dict`` loads in both
    directions. ``pack`` (product width, 0 = unpacked) and ``fuse_spatial`` (compose spatial
    stages into the temporal product instead of a product of their own) tune the speed only."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """The arguments of :class:`CnnTcn` (its signature is this one's: ``__wrapped__``)."""
        super().__init__(*args, **kwargs)
        self.pack = CPU_PACK_WIDTH
        self.fuse_spatial = False
        self.blocks = plan(self)
        self.register_buffer("zorder", zorder_permutation(self.patch), persistent=False)

    # inspect.signature (the registry's check of model keys) reads CnnTcn's arguments
    __init__.__wrapped__ = CnnTcn.__init__  # type: ignore[attr-defined]

    def options(self) -> dict:
        return {
            "pack": self.pack,
            "fuse_spatial": self.fuse_spatial,
            "blocks": self.blocks,
            "perm": self.zorder,
        }

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return stacked_forward([self], x, self.options())[:, 0]
