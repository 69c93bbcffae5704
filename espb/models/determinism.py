"""Deterministic training settings for CPU and CUDA (docs/performance.md, "Determinism on CUDA").

On CPU, espb's training is bit-reproducible with ``torch.use_deterministic_algorithms(True)``
(every random choice is seeded; BLAS on a fixed thread count sums in a fixed order). On CUDA
three more things are needed, all set here:

- ``CUBLAS_WORKSPACE_CONFIG=:4096:8``: cuBLAS picks reduction splits by workspace size, so
  without a fixed workspace the same product can sum in different orders (CUDA >= 10.2; must be
  in the environment before the first cuBLAS call, i.e. before the first product on the GPU);
- cuDNN: ``deterministic = True`` and ``benchmark = False`` (autotuning may pick a different
  algorithm each run);
- no TF32 (``allow_tf32 = False`` for matmul and cuDNN): TF32 rounds products to 10-bit
  mantissas on Ampere and later, which changes results against CPU and against other GPUs.

With ``deterministic=False`` the fast paths are allowed instead (cuDNN autotuning, TF32).
"""

from __future__ import annotations

import os
import warnings

import torch

CUBLAS_WORKSPACE = ":4096:8"


def configure_determinism(device: torch.device | str, deterministic: bool) -> dict[str, object]:
    """Apply the settings for ``device`` and return them (for the run's log/MLflow params).

    Call it once per process, before the model is moved to a CUDA device."""
    dev = torch.device(device)
    torch.use_deterministic_algorithms(deterministic)
    applied: dict[str, object] = {"use_deterministic_algorithms": deterministic}
    if dev.type == "cuda":
        if deterministic:
            have = os.environ.get("CUBLAS_WORKSPACE_CONFIG")
            if have not in (CUBLAS_WORKSPACE, ":16:8"):
                if torch.cuda.is_available() and torch.cuda.is_initialized():
                    warnings.warn(
                        "CUDA is already initialised: CUBLAS_WORKSPACE_CONFIG set now may not "
                        "take effect; set it in the environment before starting the process",
                        stacklevel=2,
                    )
                os.environ["CUBLAS_WORKSPACE_CONFIG"] = CUBLAS_WORKSPACE
            applied["CUBLAS_WORKSPACE_CONFIG"] = os.environ["CUBLAS_WORKSPACE_CONFIG"]
        torch.backends.cudnn.deterministic = deterministic
        torch.backends.cudnn.benchmark = not deterministic
        torch.backends.cuda.matmul.allow_tf32 = not deterministic
        torch.backends.cudnn.allow_tf32 = not deterministic
        applied.update(
            {
                "cudnn.deterministic": deterministic,
                "cudnn.benchmark": not deterministic,
                "allow_tf32": not deterministic,
            }
        )
    return applied
