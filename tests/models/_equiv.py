"""Helpers of the fast-model tests: inputs, gradients, and the relative errors they assert on."""

from __future__ import annotations

import torch
from torch import nn


def blocks(kind: str, b: int, lookback: int, patch: int, seed: int = 0, dtype=torch.float32):
    """Test blocks: ``randn``; ``bvalue`` (b-value-like: mean 1, spread 0.2); ``residual`` (what
    the autoencoder path gives: zero mean per map, small values)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(b, lookback, patch, patch, generator=g, dtype=torch.float64)
    if kind == "bvalue":
        x = 1.0 + 0.2 * x
    elif kind == "residual":
        x = 0.03 * (x - x.mean(dim=(2, 3), keepdim=True))
    elif kind != "randn":
        raise ValueError(kind)
    return x.to(dtype)


def labels(b: int) -> torch.Tensor:
    return (torch.arange(b) % 2).float()


def mae_grads(model: nn.Module, x: torch.Tensor, y: torch.Tensor):
    """Logits and the gradient of the MAE loss (paper Section 3.3) w.r.t. every parameter."""
    out = model(x)
    loss = (torch.sigmoid(out) - y.to(out.dtype)).abs().mean()
    return out, torch.autograd.grad(loss, list(model.parameters()))


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    """||a - b|| / ||b|| in float64."""
    a, b = a.detach().double(), b.detach().double()
    return float((a - b).norm() / b.norm().clamp_min(1e-300))


def grad_errors(g, g_ref) -> tuple[float, float]:
    """(relative error of the whole gradient vector, largest per-tensor max |difference| over
    the largest |gradient| anywhere)."""
    flat = torch.cat([t.double().flatten() for t in g])
    flat_ref = torch.cat([t.double().flatten() for t in g_ref])
    scale = flat_ref.abs().max()
    per = max(
        float((a.double() - b.double()).abs().max() / scale) for a, b in zip(g, g_ref, strict=True)
    )
    return rel(flat, flat_ref), per


def calibrate_running_stats(*models: nn.Module, x: torch.Tensor) -> None:
    """Set every BatchNorm's running statistics to those of ``x`` (one training-mode pass with
    momentum 1), as a trained model has: eval mode then normalises like training mode."""
    for m in models:
        bns = [b for b in m.modules() if isinstance(b, nn.BatchNorm3d)]
        for b in bns:
            b.momentum = 1.0
        m.train()
        with torch.no_grad():
            m(x.to(next(m.parameters()).dtype))
        for b in bns:
            b.momentum = 0.1
            b.num_batches_tracked.zero_()
