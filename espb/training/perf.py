"""CPU performance settings for training."""

from __future__ import annotations

import ctypes
import sys

_done = False


def tune_allocator() -> bool:
    """Keep freed large blocks in glibc's heap instead of returning them to the OS.

    Every training step allocates and frees tens of MB (the gathered batch, activations,
    gradients). With glibc's defaults each such block is mmap'ed and unmapped again, and the
    page faults of touching fresh pages cost more than the convolutions: measured on the 2-core
    sandbox, 128-day blocks train at 133 samples/s with the defaults and 323/s with this
    (docs/performance.md). Linux/glibc only; a no-op elsewhere. Returns whether it applied."""
    global _done
    if _done:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    ok = bool(libc.mallopt(m_mmap_threshold, 1 << 30)) and bool(
        libc.mallopt(m_trim_threshold, 1 << 30)
    )
    _done = ok
    return ok
