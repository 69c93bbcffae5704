"""The scientific check (slow, ~10 minutes on 2 cores): planted precursors are found, shuffled
labels are not (benchmarks/signal_check.py; figures in docs/training.md)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_signal_check_on_the_demo_catalog(tmp_path):
    r = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "signal_check.py"), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=3600,
        env=dict(os.environ),
    )
    res = json.loads((tmp_path / "signal_check.json").read_text())
    assert res["planted"]["auc_second_half"] >= 0.7, r.stdout
    assert 0.4 <= res["shuffled"]["auc_second_half"] <= 0.6, r.stdout
    assert r.returncode == 0
