"""Per-block scoring, the way validation scores a sample (the reference the dense engine is
tested and benchmarked against).

Each (forecast day, centre) is cut as a block by the training layer's own cutter
(:class:`espb.training.blocks.BlockSource`, paper Section 2.2: days ``t - lookback .. t - 1``, rows
``row - patch/2 .. row + patch/2 - 1``), replaced by its autoencoder residual block when the
run used the autoencoder (``BlockSource.attach_autoencoder``, paper Appendix A), and scored by the
network in eval mode, ``eval_batch`` blocks at a time (the training loop's validation batches).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import torch

from espb.forecast.run_inputs import block_source
from espb.models.classifier import CnnTcn


def perblock_logits(
    models: CnnTcn | Mapping[int, CnnTcn],
    b: np.ndarray,
    days: np.ndarray,
    rows: np.ndarray,
    cols: np.ndarray,
    ae: torch.nn.Module | None = None,
    snapshot: np.ndarray | None = None,
    eval_batch: int = 128,
) -> np.ndarray:
    """Logits of the blocks ``(days[i], rows[i], cols[i])`` (forecast day, centre row, column),
    block ``i`` scored by ``models[snapshot[i]]`` (or by the one model given)."""
    if isinstance(models, CnnTcn):
        models, snapshot = {0: models}, np.zeros(len(days), np.int64)
    table = pd.DataFrame(
        {
            "target": np.asarray(days, np.int64),
            "row": np.asarray(rows, np.int64),
            "col": np.asarray(cols, np.int64),
        }
    )
    m0 = next(iter(models.values()))
    src = block_source(b, table, m0.lookback, m0.patch)
    if ae is not None:
        src.attach_autoencoder(ae)
    out = np.empty(len(table), np.float32)
    snapshot = np.asarray(snapshot)
    with torch.inference_mode():
        for k in np.unique(snapshot):
            model = models[int(k)].eval()
            sids = np.flatnonzero(snapshot == k)
            for i in range(0, len(sids), eval_batch):
                s = sids[i : i + eval_batch]
                out[s] = model(src.blocks(torch.as_tensor(s))).numpy()
    return out
