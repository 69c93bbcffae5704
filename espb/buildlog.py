"""The build log of the caches: one JSON line per cube or autoencoder built, appended to
``<cache>/builds.jsonl``. It shows what a sweep computed and proves shared work was done once
(``make sweep-prepare`` and the sweep tests count its lines)."""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

LOG_NAME = "builds.jsonl"


def record_build(root: str | Path, kind: str, key: str, seconds: float, **extra) -> None:
    """Append one line ``{"kind", "key", "seconds", "pid", "host", "time", ...}``. A single
    ``write`` on a file opened with O_APPEND: lines of concurrent builders never interleave."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    line = (
        json.dumps(
            {
                "kind": kind,
                "key": key,
                "seconds": round(float(seconds), 3),
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                **extra,
            },
            default=str,
        )
        + "\n"
    )
    fd = os.open(root / LOG_NAME, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def read_builds(root: str | Path) -> list[dict]:
    """Every build recorded under ``root`` (empty if none)."""
    path = Path(root) / LOG_NAME
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
