"""The CNN-TCN of paper Section 3.2 in eval mode, rewritten as a chain of linear maps for dense
scoring.

In eval mode every BatchNorm is a fixed affine map per channel, ``y = a * z + c`` with
``a = gamma / sqrt(running_var + eps)`` and ``c = beta - running_mean * a``. The stage that follows
it is a convolution without padding (every tap reads a real value, never a zero pad) or the final
``Linear``, so the affine map folds exactly into that stage's weights and bias:
``W'_tap = diag(a) W_tap`` and ``b' = b + sum_tap c W_tap``. What remains is a chain of

- spatial stages: four taps ``(a, b)`` of the 2 x 2 kernel, each a ``(C_in, C_out)`` matrix;
- temporal stages: two taps, ``x(tau - d)`` and ``x(tau)``, each ``(C_in, C_out)``, followed by
  LeakyReLU;
- the head: a ``(C,)`` vector and a scalar bias; the score is ``sigmoid`` of it.

Features are labelled by the *last day* their receptive field covers: a temporal stage of
dilation ``d`` computes label ``tau`` from labels ``tau - d`` and ``tau``. A score for forecast
day ``t`` is the feature labelled ``t - 1`` (the block covers days ``t - lookback .. t - 1``,
:mod:`espb.samples.labels`). :func:`time_plan` lists, stage by stage, the labels needed for a set
of output labels, so stages high in the network compute only what the output needs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from espb.models.classifier import CnnTcn

#: spatial tap order: (row offset, column offset) in units of the stage's cell step
SPATIAL_TAPS = ((0, 0), (0, 1), (1, 0), (1, 1))


@dataclass(frozen=True)
class Stage:
    """One folded stage. ``taps``: (n_taps, C_in, C_out) float32; ``bias``: (C_out,);
    ``step``: temporal dilation in days (``T``) or the stage's index ``k`` among the spatial
    stages (``S``: the k-th halving; its cell step on the full grid is ``2**k``)."""

    kind: str
    taps: torch.Tensor
    bias: torch.Tensor
    step: int
    act: bool


@dataclass(frozen=True)
class FoldedNet:
    stages: tuple[Stage, ...]
    head_w: torch.Tensor  # (C,)
    head_b: float
    slope: float
    lookback: int
    patch: int

    @property
    def layout(self) -> str:
        return "".join(s.kind for s in self.stages)


def _affine(bn: nn.BatchNorm3d) -> tuple[torch.Tensor, torch.Tensor]:
    a = bn.weight.detach().double() / torch.sqrt(bn.running_var.double() + bn.eps)
    return a, bn.bias.detach().double() - bn.running_mean.double() * a


@torch.no_grad()
def fold(model: CnnTcn) -> FoldedNet:
    """Fold ``model`` (its eval-mode behaviour: BatchNorm running statistics) into a
    :class:`FoldedNet`. Exact algebra; only float rounding differs (weights folded in float64,
    stored as float32)."""
    stages: list[Stage] = []
    scale: torch.Tensor | None = None  # pending affine map (from a BatchNorm) on the features
    shift: torch.Tensor | None = None
    n_spatial = 0
    slope = None
    for m in model.features:
        if isinstance(m, nn.Conv3d):
            w = m.weight.detach().double()  # (C_out, C_in, kt, kh, kw)
            if m.stride[1] == 2:
                taps = torch.stack([w[:, :, 0, a, b].T for a, b in SPATIAL_TAPS])
                kind, step = "S", n_spatial
                n_spatial += 1
            else:
                taps = torch.stack([w[:, :, 0, 0, 0].T, w[:, :, 1, 0, 0].T])
                kind, step = "T", int(m.dilation[0])
            bias = (
                m.bias.detach().double()
                if m.bias is not None
                else torch.zeros(w.shape[0], dtype=torch.float64)
            )
            if scale is not None:
                bias = bias + sum(shift @ t for t in taps)
                taps = taps * scale[None, :, None]
                scale = shift = None
            stages.append(Stage(kind, taps.float().contiguous(), bias.float(), step, False))
        elif isinstance(m, nn.LeakyReLU):
            if scale is not None or not stages or stages[-1].act:
                raise NotImplementedError("fold: a LeakyReLU must follow a convolution directly")
            st = stages[-1]
            stages[-1] = Stage(st.kind, st.taps, st.bias, st.step, True)
            slope = float(m.negative_slope)
        elif isinstance(m, nn.BatchNorm3d):
            a, c = _affine(m)
            if scale is None:
                scale, shift = a, c
            else:  # BatchNorm after BatchNorm: compose
                scale, shift = scale * a, shift * a + c
        else:
            raise NotImplementedError(f"fold: unexpected layer {type(m).__name__}")
    hw = model.head.weight.detach().double()[0]
    hb = float(model.head.bias.detach().double()[0]) if model.head.bias is not None else 0.0
    if scale is not None:
        hb += float(shift @ hw)
        hw = hw * scale
    return FoldedNet(
        tuple(stages),
        hw.float(),
        hb,
        slope if slope is not None else 0.0,
        int(model.lookback),
        int(model.patch),
    )


def time_plan(net: FoldedNet, out_labels: np.ndarray) -> list[np.ndarray]:
    """Sorted labels needed at the input of each stage, and at the output (last entry).

    Backwards from ``out_labels``: a temporal stage of dilation ``d`` needs ``N`` and ``N - d``
    for outputs ``N``; a spatial stage needs the labels it outputs. The first entry lies within
    ``[min(out) - lookback + 1, max(out)]``."""
    need = [np.unique(np.asarray(out_labels, dtype=np.int64))]
    for st in reversed(net.stages):
        n = need[-1]
        need.append(np.union1d(n, n - st.step) if st.kind == "T" else n)
    return need[::-1]


def leading_spatial(net: FoldedNet) -> int:
    """How many spatial stages come before the first temporal one."""
    k = 0
    while k < len(net.stages) and net.stages[k].kind == "S":
        k += 1
    return k


def compose_prefix(net: FoldedNet) -> tuple[int, torch.Tensor, torch.Tensor]:
    """The leading spatial stages (linear, no activation between them) as one map.

    Returns ``(k, W, bias)``: with ``B = 2**k``, ``W`` is ``(B * B, C)`` and maps the pixels of a
    ``B x B`` square, flattened row-major (``y * B + x``), to the ``C`` channels after the ``k``
    stages. Stage ``i``'s tap ``(a, b)`` reads pixel offset ``(a * 2**i, b * 2**i)``."""
    k = leading_spatial(net)
    bsz = 2**k
    w = torch.ones(1, 1, 1, dtype=torch.float64)  # (B, B, C) for the square built so far
    bias = torch.zeros(1, dtype=torch.float64)
    for i in range(k):
        st = net.stages[i]
        taps, b = st.taps.double(), st.bias.double()
        s = 2**i
        new = torch.zeros(2 * s, 2 * s, taps.shape[2], dtype=torch.float64)
        for t, (a, bb) in enumerate(SPATIAL_TAPS):
            new[a * s : (a + 1) * s, bb * s : (bb + 1) * s] += w @ taps[t]
        bias = b + sum(bias @ taps[t] for t in range(4))
        w = new
    return k, w.reshape(bsz * bsz, -1).float().contiguous(), bias.float()
