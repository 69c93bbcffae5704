"""Child-process code for the autoencoder cache concurrency test (kept apart from the test module
so that spawned processes import only torch and espb.models.ae_fit)."""

from __future__ import annotations

import functools
import os
import time
import uuid
from pathlib import Path

import torch

from espb.models.ae_fit import get_autoencoder
from espb.models.autoencoder import MapAutoencoder


def recording_build(record_dir: str):
    """Leaves one file per build, takes 0.5 s, and gives a model whose weights depend on the
    process (two builds would give different weights)."""
    Path(record_dir, f"build-{os.getpid()}-{uuid.uuid4().hex}").touch()
    time.sleep(0.5)
    torch.manual_seed(os.getpid())
    return MapAutoencoder(), {"pid": os.getpid()}


def cache_worker(key: str, root: str, record_dir: str, out: str, barrier) -> None:
    torch.set_num_threads(1)
    barrier.wait(timeout=120)
    model, info, built = get_autoencoder(
        key, Path(root), functools.partial(recording_build, record_dir)
    )
    torch.save({"state_dict": model.state_dict(), "info": info, "built": built}, out)
