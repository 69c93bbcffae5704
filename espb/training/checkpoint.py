"""The checkpoint of a run (``checkpoint.pt``): written atomically after every meta-epoch, read
back without running code from the file.

A checkpoint holds only tensors and plain Python values (numbers, strings, lists, dicts), so it
loads with ``torch.load(weights_only=True)``: a file planted in a run folder cannot execute
anything when a run resumes (docs/reliability.md). Checkpoints of espb before this format held
NumPy arrays; those load through an allow-list of NumPy's array reconstruction only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from espb.errors import EspbError
from espb.safeio import atomic_write

CHECKPOINT = "checkpoint.pt"
#: version of the checkpoint layout; 1 (implicit) held NumPy arrays
FORMAT = 2


def _plain(v: Any) -> Any:
    """``v`` with NumPy arrays as tensors (strings as lists) and NumPy scalars as Python ones."""
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_plain(x) for x in v]
    if isinstance(v, np.ndarray):
        if v.dtype.kind in "USO":
            return [str(x) for x in v.tolist()]
        return torch.from_numpy(np.array(v, order="C"))  # a writable copy (v may be read-only)

    if isinstance(v, np.generic):
        return v.item()
    return v


def _numpy(v: Any) -> Any:
    """The inverse of :func:`_plain` for the loop's arrays: tensors back to NumPy arrays."""
    if isinstance(v, dict):
        return {k: _numpy(x) for k, x in v.items()}
    if isinstance(v, torch.Tensor):
        return v.numpy()
    return v


def save_checkpoint(state: dict[str, Any], path: Path) -> None:
    """Write ``state`` to ``path`` atomically (a unique temporary name, then a rename)."""
    payload = {
        "format": FORMAT,
        **{k: _plain(v) if k not in ("model", "optimizer") else v for k, v in state.items()},
    }
    with atomic_write(path) as tmp:
        torch.save(payload, tmp)


def _legacy_globals() -> list:
    core = getattr(np, "_core", None) or np.core
    dtypes = [getattr(np.dtypes, n) for n in dir(np.dtypes) if n.endswith("DType")]
    return [core.multiarray._reconstruct, core.multiarray.scalar, np.ndarray, np.dtype, *dtypes]


def load_checkpoint(path: Path, device: torch.device | str = "cpu") -> dict[str, Any]:
    """The checkpoint at ``path`` (loaded with ``weights_only=True``); an unreadable file is an
    :class:`EspbError` that says how to start over."""
    try:
        with torch.serialization.safe_globals(_legacy_globals()):
            st = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:  # truncated, corrupted, or a pickle that is not weights only
        raise EspbError(
            f"{path}: the checkpoint cannot be read ({type(exc).__name__}: {str(exc)[:200]}); "
            "it is truncated, damaged or not an espb checkpoint. Start this configuration over "
            "with run.force=true (or delete the file)"
        ) from None
    if not isinstance(st, dict) or "model" not in st or "meta_epoch" not in st:
        raise EspbError(f"{path}: not an espb checkpoint; start over with run.force=true")
    return {k: (v if k in ("model", "optimizer") else _numpy(v)) for k, v in st.items()}
