"""Per-block scoring, the way validation scores a sample (the reference the dense engine is
tested and benchmarked against).

Each (forecast day, centre) is cut as a block by the training layer's own cutter
(:class:`espb.training.blocks.BlockSource`, paper Section 2.2: days ``t - lookback .. t - 1``, rows
``row - patch/2 .. row + patch/2 - 1``), replaced by its autoencoder residual block when the
run used the autoencoder (``BlockSource.attach_autoencoder``, paper Appendix A), and scored by the
network in eval mode, ``eval_batch`` blocks at a time.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from espb.forecast.run_inputs import block_source
from espb.models.classifier import CnnTcn


def perblock_logits(
    model: CnnTcn,
    b: np.ndarray,
    days: np.ndarray,
    rows: np.ndarray,
    cols: np.ndarray,
    ae: torch.nn.Module | None = None,
    eval_batch: int = 128,
) -> np.ndarray:
    """Logits of the blocks ``(days[i], rows[i], cols[i])`` (forecast day, centre row, column)."""
    table = pd.DataFrame(
        {
            "target": np.asarray(days, np.int64),
            "row": np.asarray(rows, np.int64),
            "col": np.asarray(cols, np.int64),
        }
    )
    src = block_source(b, table, model.lookback, model.patch)
    if ae is not None:
        src.attach_autoencoder(ae)
    model = model.eval()
    out = []
    with torch.inference_mode():
        for i in range(0, len(table), eval_batch):
            sids = torch.arange(i, min(i + eval_batch, len(table)))
            out.append(model(src.blocks(sids)).numpy())
    return np.concatenate(out) if out else np.zeros(0, np.float32)
