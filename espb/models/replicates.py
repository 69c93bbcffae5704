"""Fused replicates: K copies of the CNN-TCN (paper Section 3.2) trained on the same batches in
one forward/backward pass (docs/performance.md, "Fused replicates").

Configurations that share data and schedule - different initial seeds, and the MAE/BCE pair of
paper Table 1 - differ only in their weights and loss. :class:`StackedClassifier` holds the K
models (``replicas``, each a complete ``CnnTcn`` whose ``state_dict`` is the reference's) and
scores a batch with all of them at once:

- ``grouped`` (default): the fast core (:func:`espb.models.cnn_tcn_fast.stacked_forward`) with
  the K models' channels side by side and block-diagonal products; the shared input block is
  reordered and read once;
- ``vmap``: ``torch.func.functional_call`` over ``torch.func.stack_module_state``-style stacked
  parameters with ``torch.vmap`` (works for any module, e.g. the reference ``CnnTcn``);
- ``loop``: one model after the other (the baseline: what K separate runs compute).

Each replicate's outputs, gradients, Adam updates and BatchNorm running statistics are those of
a separately trained copy with the same initial weights (tests/models/test_replicates.py): the
replicates never mix, the total loss is the sum of the per-replicate losses, and Adam is
elementwise, so one optimizer over all replicas' parameters takes each copy's own step.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from espb.models.classifier import CnnTcn
from espb.models.cnn_tcn_fast import plan, stacked_forward, zorder_permutation

METHODS = ("grouped", "vmap", "loop")
LOSSES = ("mae", "bce")


def replicate_losses(
    logits: torch.Tensor, y: torch.Tensor, w: torch.Tensor, kinds: Sequence[str]
) -> torch.Tensor:
    """Per-replicate losses (K,) of ``logits`` (B, K): ``mae`` = mean(|sigmoid(z) - y| w),
    ``bce`` = mean(BCE-with-logits(z, y) w), as :class:`espb.training.module.BlockClassifier`
    computes them (paper Section 3.3: the sample weight times the loss, averaged over the
    batch). Their sum is the loss to differentiate: replicate k's gradient is its own."""
    if logits.shape[1] != len(kinds):
        raise ValueError(f"{logits.shape[1]} replicates but {len(kinds)} losses: {list(kinds)}")
    z = logits.float()
    out = []
    for k, kind in enumerate(kinds):
        if kind == "mae":
            per = (torch.sigmoid(z[:, k]) - y).abs()
        elif kind == "bce":
            per = F.binary_cross_entropy_with_logits(z[:, k], y, reduction="none")
        else:
            raise ValueError(f"loss {kind!r}: use one of {list(LOSSES)}")
        out.append((per * w).mean())
    return torch.stack(out)


class StackedClassifier(nn.Module):
    """Blocks (B, L, P, P) -> logits (B, K) of K models of one architecture.

    ``replicas``: the K models (same lookback, patch, layout and options; their weights differ,
    e.g. ``build(seed)`` for K seeds). ``method``: ``grouped`` | ``vmap`` | ``loop`` (module
    docstring). ``unstack(k)`` is replicate k's ``state_dict`` under the reference names."""

    def __init__(self, replicas: Sequence[CnnTcn], method: str = "grouped") -> None:
        super().__init__()
        if method not in METHODS:
            raise ValueError(f"method={method!r}: use one of {list(METHODS)}")
        if not replicas:
            raise ValueError("StackedClassifier needs at least one replica")
        sig = {(type(r), r.lookback, r.patch, r.layout, _bias(r)) for r in replicas}
        if len(sig) != 1:
            raise ValueError(f"replicas differ in architecture: {sorted(map(str, sig))}")
        self.replicas = nn.ModuleList(replicas)
        self.method = method
        r0 = replicas[0]
        self.pack = getattr(r0, "pack", 32)
        self.fuse_spatial = getattr(r0, "fuse_spatial", False)
        self._blocks = plan(r0)
        self._base: CnnTcn | None = None
        self.register_buffer("zorder", zorder_permutation(r0.patch), persistent=False)

    @classmethod
    def from_seeds(
        cls, build: Callable[[], CnnTcn], seeds: Sequence[int], method: str = "grouped"
    ) -> StackedClassifier:
        """K replicas, replica k initialised under ``torch.manual_seed(seeds[k])`` exactly as a
        separate run with that seed initialises its model."""
        reps = []
        for s in seeds:
            torch.manual_seed(int(s))
            reps.append(build())
        return cls(reps, method)

    def __len__(self) -> int:
        return len(self.replicas)

    def unstack(self, k: int) -> dict[str, torch.Tensor]:
        """Replicate ``k``'s state_dict, in the reference ``CnnTcn`` names (loads into either
        implementation)."""
        return {n: t.detach().clone() for n, t in self.replicas[k].state_dict().items()}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.method == "loop":
            return torch.stack([r(x) for r in self.replicas], 1)
        if self.method == "vmap":
            return self._vmap(x)
        opts = {
            "pack": self.pack,
            "fuse_spatial": self.fuse_spatial,
            "blocks": self._blocks,
            "perm": self.zorder,
        }
        return stacked_forward(list(self.replicas), x, opts)

    def _vmap(self, x: torch.Tensor) -> torch.Tensor:
        """``functional_call`` of replica 0's module under ``vmap`` over the stacked parameters
        and buffers; BatchNorm updates the stacked running statistics in place, which are then
        written back to each replica."""
        reps = list(self.replicas)
        names = [n for n, _ in reps[0].named_parameters()]
        bnames = [n for n, _ in reps[0].named_buffers()]
        params = {n: torch.stack([dict(r.named_parameters())[n] for r in reps]) for n in names}
        bufs = {n: torch.stack([dict(r.named_buffers())[n] for r in reps]) for n in bnames}
        if self._base is None:  # kept out of the module tree (no state_dict entries)
            object.__setattr__(self, "_base", _skeleton(reps[0]))
        base = self._base
        base.train(reps[0].training)

        def one(p, b, xx):
            return torch.func.functional_call(base, (p, b), (xx,))

        out = torch.vmap(one, in_dims=(0, 0, None))(params, bufs, x)
        if reps[0].training:
            with torch.no_grad():
                for k, r in enumerate(reps):
                    own = dict(r.named_buffers())
                    for n in bnames:
                        own[n].copy_(bufs[n][k])
        return out.t()


def _bias(model: CnnTcn) -> bool:
    return model.features[0].bias is not None


def _skeleton(model: CnnTcn) -> CnnTcn:
    """A reference ``CnnTcn`` of ``model``'s architecture on the meta device (for vmap: the
    fast model's own autograd Functions have no vmap rule; the parameter names are the same)."""
    slope = next(m.negative_slope for m in model.features if isinstance(m, nn.LeakyReLU))
    with torch.device("meta"):
        return CnnTcn(
            model.lookback,
            model.patch,
            model.layout,
            model.features[0].in_channels,
            slope,
            _bias(model),
        )
