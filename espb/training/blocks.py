"""Blocks cut on the fly from the device-resident cube (paper Section 2.2).

The whole b cube lives in one tensor on the training device. A batch of blocks is one gather by
broadcast index tensors: no per-sample Python, no reads from disk. With the autoencoder on, each
sample's block of residuals (reconstruction - input, Appendix A) is computed once, when the
sample table is known, and kept on the device; batches gather rows of that store.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch


class BlockSource:
    """``blocks(sids)`` -> (B, lookback, patch, patch) float32 on ``device``."""

    def __init__(
        self, b: np.ndarray, table, lookback: int, patch: int, device: torch.device
    ) -> None:
        self.device = device
        self.lookback, self.patch, self.half = lookback, patch, patch // 2
        self.cube = torch.as_tensor(np.ascontiguousarray(b, dtype=np.float32)).to(device)
        self.target = torch.tensor(table["target"].to_numpy(), dtype=torch.long, device=device)
        self.row = torch.tensor(table["row"].to_numpy(), dtype=torch.long, device=device)
        self.col = torch.tensor(table["col"].to_numpy(), dtype=torch.long, device=device)
        T, H, W = self.cube.shape
        s0, s1, s2 = self.cube.stride()
        # every block as a view: windows[t0, r0, c0] is cube[t0:t0+L, r0:r0+P, c0:c0+P]; indexing
        # it with three index tensors copies a batch of blocks in one operation (2.4x faster
        # than broadcasting four index tensors over the cube)
        self.windows = self.cube.as_strided(
            (
                max(T - lookback + 1, 0),
                max(H - patch + 1, 0),
                max(W - patch + 1, 0),
                lookback,
                patch,
                patch,
            ),
            (s0, s1, s2, s0, s1, s2),
        )
        self.residuals: torch.Tensor | None = None

    def raw(self, sids: torch.Tensor) -> torch.Tensor:
        """The b blocks of samples ``sids``: days target-lookback .. target-1 (never the target)."""
        return self.windows[
            self.target[sids] - self.lookback,
            self.row[sids] - self.half,
            self.col[sids] - self.half,
        ]

    def blocks(self, sids: torch.Tensor) -> torch.Tensor:
        if self.residuals is not None:
            return self.residuals[sids]
        return self.raw(sids)

    def attach_autoencoder(
        self,
        ae: torch.nn.Module,
        chunk: int = 64,
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        """Replace every sample's block by the autoencoder's residual block (computed once)."""
        ae = ae.to(self.device).eval()
        n = len(self.target)
        store = torch.empty(
            (n, self.lookback, self.patch, self.patch), dtype=torch.float32, device=self.device
        )
        with torch.no_grad():
            for i in range(0, n, chunk):
                sids = torch.arange(i, min(i + chunk, n), device=self.device)
                x = self.raw(sids)
                maps = x.reshape(-1, self.patch, self.patch)
                store[i : i + len(sids)] = ae.residual(maps).reshape(x.shape)
                if progress is not None:
                    progress(min(i + chunk, n), n)
        self.residuals = store
