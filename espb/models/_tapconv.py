"""The fused temporal block of :mod:`espb.models.cnn_tcn_fast` (a custom autograd Function).

One block: ``y[t] = x[t] @ w0 + x[t + d] @ w1 (+ bias)`` (the dilated two-tap convolution of
paper Section 3.2, channels last, with whatever linear maps precede it composed into ``w0``,
``w1``), LeakyReLU, and the centring and statistics of the BatchNorm after it. Written by hand because autograd's version of the same expression
zero-fills and sums shifted slices, and ``torch.var_mean`` is slow over a few channels.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def pow2_divisor(n: int, cap: int) -> int:
    """The largest power of two <= ``cap`` that divides ``n`` (at least 1)."""
    p = 1
    while p * 2 <= cap and n % (p * 2) == 0:
        p *= 2
    return p


def pack_for(k: int, c: int, width: int) -> int:
    """Rows to put side by side so that a (k -> c) product is about ``width`` wide."""
    return 1 if width <= 0 else max(1, width // max(k, c))


def block_diag_repeat(w: torch.Tensor, p: int) -> torch.Tensor:
    """``kron(I_p, w)``: ``p`` rows of ``x`` side by side times this is ``p`` products by ``w``.
    The tiny products of the network (4 to 64 wide) run far below the CPU's speed in BLAS; a
    ``p`` times larger product with p times the flops is several times faster."""
    return w if p == 1 else torch.block_diag(*([w] * p))


def chunked_xtg(x: torch.Tensor, g: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """``sum_b x[b]^T g[b]`` (K, C) for ``x`` (B, N, K), ``g`` (B, N, C), possibly row-strided
    views: a weight gradient. Computed as ``(g^T x)^T`` over B chunks: one product over all
    B N rows, or ``x^T g`` directly, runs 3-20x slower in BLAS for these shapes (measured)."""
    return torch.bmm(g.transpose(1, 2), x).sum(0, dtype=dtype).t()


def colsum(x: torch.Tensor, c: int) -> torch.Tensor:
    """Per-channel sums (float32 or wider) of ``x`` whose last dimension holds ``c`` channels,
    possibly several positions side by side (summing wide rows is several times faster than
    ``x.sum(0)`` over a handful of columns)."""
    w = x.shape[-1]
    dt = torch.promote_types(x.dtype, torch.float32)
    s = x.reshape(-1, w).sum(0, dtype=dt)
    return s if w == c else s.view(w // c, c).sum(0)


def compute_dtype(x: torch.Tensor) -> torch.dtype:
    """The dtype the products run in: autocast's if it is on for ``x``'s device, else x's."""
    dev = x.device.type
    if torch.is_autocast_enabled(dev):
        return torch.get_autocast_dtype(dev)
    return x.dtype


class TapLeakyNorm(torch.autograd.Function):
    """``(xhat, mean, var) = apply(x, w0, w1, bias, running, eps, d, slope, pack)``.

    ``x`` (B, T, S, K) contiguous, ``w0``/``w1`` (K, C), ``bias`` (C,) or None;
    ``a = LeakyReLU(x[:, :T-d] @ w0 + x[:, d:] @ w1 + bias)`` (B, T - d, S, C) and
    ``xhat = (a - mean) / sqrt(var + eps)``, BatchNorm without its affine (which the caller
    folds into the next product). ``running`` None: ``mean``/``var`` are the per-channel batch
    mean and biased variance of ``a`` (training mode; returned for the running statistics, not
    differentiable); else the (running mean, running var) pair to use (eval mode).

    The backward pass is BatchNorm's own, ``(g - mean(g) - xhat mean(g xhat)) / sqrt(var + eps)``
    from the same ``xhat`` and ``g``, as nn.BatchNorm does: no gradient through a folded
    ``a * s - mean * s``, whose cancellation would make it much less accurate when a channel's
    mean is many times its spread (b-value blocks: mean ~1).

    The two products run on time-shifted views of ``x`` (nothing copied), ``pack`` positions at
    a time; LeakyReLU and the normalisation run in place; under autocast the products run in its
    dtype, the statistics and the normalisation in float32."""

    @staticmethod
    def forward(ctx, x, w0, w1, bias, running, eps: float, d: int, slope: float, pack: int):
        B, T, S, K = x.shape
        c = w0.shape[1]
        dt = compute_dtype(x)
        p = pow2_divisor(S * _gcd(T, d), pack)
        st = torch.promote_types(dt, torch.float32)  # statistics dtype
        with torch.autocast(x.device.type, enabled=False):
            xq = x.to(dt)
            xv = xq.view(B, T * S // p, p * K)
            r, o = (T - d) * S // p, d * S // p
            w0b = block_diag_repeat(w0.to(dt), p).expand(B, p * K, p * c)
            w1b = block_diag_repeat(w1.to(dt), p).expand(B, p * K, p * c)
            if bias is None:
                a = torch.bmm(xv[:, :r], w0b)
            else:
                bb = bias.to(dt).repeat(p).expand(B, r, p * c)
                a = torch.baddbmm(bb, xv[:, :r], w0b)
            a.baddbmm_(xv[:, o:], w1b)
            F.leaky_relu(a, slope, inplace=True)
            n = a.numel() // c
            wide = a.dtype in (torch.float32, torch.float64)
            af = a if wide else a.float()
            if running is None:  # two passes: the mean, then the squared deviations
                mean = colsum(af, c) / n
                af = af.sub_(mean.to(af.dtype).repeat(p)) if wide else af - mean.repeat(p)
                var = colsum(af * af, c) / n
            else:
                mean, var = running[0].to(st), running[1].to(st)
                af = af.sub_(mean.to(af.dtype).repeat(p)) if wide else af - mean.repeat(p)
            invstd = torch.rsqrt(var + eps)
            af.mul_(invstd.to(af.dtype).repeat(p))
            if not wide:
                a.copy_(af)
            del af
        xhat = a.view(B, T - d, S, c)
        ctx.save_for_backward(xq, w0, w1, xhat, mean, invstd)
        ctx.d, ctx.slope, ctx.p, ctx.has_bias = d, slope, p, bias is not None
        ctx.batch_stats, ctx.x_dtype = running is None, x.dtype
        ctx.mark_non_differentiable(mean, var)
        ctx.set_materialize_grads(False)
        return xhat, mean, var

    @staticmethod
    def backward(ctx, gxh, _gm, _gv):
        x, w0, w1, xhat, mean, invstd = ctx.saved_tensors
        d, p = ctx.d, ctx.p
        B, T, S, K = x.shape
        c = xhat.shape[-1]
        n = xhat.numel() // c
        dt = xhat.dtype
        with torch.autocast(x.device.type, enabled=False):
            g = torch.zeros_like(xhat) if gxh is None else gxh.to(dt).contiguous()
            q = pow2_divisor(n, max(1, 128 // c))  # rows of q positions: wide broadcasts
            g2, x2 = g.view(-1, q * c), xhat.view(-1, q * c)
            rs = invstd.to(dt).repeat(q)
            if ctx.batch_stats:  # BatchNorm's backward: project out 1 and xhat
                m1 = colsum(g2, c) / n
                m2 = chunked_xtg(x2.view(B, -1, c), g2.view(B, -1, c), invstd.dtype)
                m2 = m2.diagonal() / n
                gy = torch.addcmul((-m1 * invstd).to(dt).repeat(q), g2, rs)
                gy.addcmul_(x2, (-m2 * invstd).to(dt).repeat(q))
            else:
                gy = g2 * rs
            # LeakyReLU's slope where a = xhat * std + mean < 0, i.e. xhat < -mean * invstd
            sign = x2 + (mean * invstd).to(dt).repeat(q)
            gy = torch.ops.aten.leaky_relu_backward(gy, sign, ctx.slope, False)
            del sign
            r, o = (T - d) * S // p, d * S // p
            gyv = gy.view(B, r, p * c)
            gx = gw0 = gw1 = gb = None
            if ctx.needs_input_grad[0]:
                gx = torch.empty_like(x)
                gxv = gx.view(B, T * S // p, p * K)
                w0t = block_diag_repeat(w0.t().to(dt), p).expand(B, p * c, p * K)
                torch.bmm(gyv, w0t, out=gxv[:, :r])
                gx[:, T - d :] = 0
                w1t = block_diag_repeat(w1.t().to(dt), p).expand(B, p * c, p * K)
                gxv[:, o:].baddbmm_(gyv, w1t)
                gx = gx.to(ctx.x_dtype)
            x1 = x.view(B, T * S, K)
            g1 = gy.view(B, (T - d) * S, c)
            if ctx.needs_input_grad[1]:
                gw0 = chunked_xtg(x1[:, : (T - d) * S], g1, w0.dtype)
            if ctx.needs_input_grad[2]:
                gw1 = chunked_xtg(x1[:, d * S :], g1, w1.dtype)
            if ctx.has_bias and ctx.needs_input_grad[3]:
                gb = colsum(gyv, c).to(w0.dtype)
        return gx, gw0, gw1, gb, None, None, None, None, None


class PackedProduct(torch.autograd.Function):
    """``y = x @ w`` for ``x`` (B, N, K) (B chunks of rows), ``w`` (K, C), ``p`` rows at a time
    by ``kron(I_p, w)``. The weight gradient is :func:`chunked_xtg` (autograd's ``x^T g`` over
    all B N rows: 745 ms against 37 ms for 512 x 32 x 32 blocks, batch 32, one thread)."""

    @staticmethod
    def forward(ctx, x, w, pack: int):
        B, N, K = x.shape
        c = w.shape[1]
        p = pow2_divisor(N, pack)
        dt = compute_dtype(x)
        with torch.autocast(x.device.type, enabled=False):
            xq = x.to(dt)
            y = torch.bmm(
                xq.view(B, N // p, p * K), block_diag_repeat(w.to(dt), p).expand(B, p * K, p * c)
            )
        ctx.save_for_backward(xq, w)
        ctx.p, ctx.x_dtype = p, x.dtype
        return y.view(B, N, c)

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        p = ctx.p
        B, N, K = x.shape
        c = w.shape[1]
        gx = gw = None
        with torch.autocast(x.device.type, enabled=False):
            gv = g.to(x.dtype).reshape(B, N // p, p * c)
            if ctx.needs_input_grad[0]:
                wt = block_diag_repeat(w.t().to(x.dtype), p).expand(B, p * c, p * K)
                gx = torch.bmm(gv, wt).view(B, N, K).to(ctx.x_dtype)
            if ctx.needs_input_grad[1]:
                gw = chunked_xtg(x, gv.view(B, N, c), w.dtype)
        return gx, gw, None


def _gcd(a: int, b: int) -> int:
    while b:
        a, b = b, a % b
    return a
