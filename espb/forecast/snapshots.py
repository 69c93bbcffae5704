"""Which snapshot scores which day: the progressive scheme of paper Section 3.3, read back from a
run folder.

Meta-epoch ``m`` trains on everything known before its validation segment ``s_m`` and validates
on it; ``weights/me_{m:04d}.pt`` is the model after it. The time-forward choice for day ``d`` in
segment ``s`` is the last meta-epoch with ``s_m <= s``:

- days of ``s_m`` get ``m`` (what the scheme used to validate on them);
- days of a segment the schedule skipped (no EQ sample there, ``s_m < s < s_{m+1}``) get ``m``, the
  latest snapshot trained before them (``m + 1`` was trained on data of ``s`` itself);
- days before the first validation segment get none (``-1``: no score, NaN in the maps);
- in a run that stopped early (``state.json``: fewer meta-epochs done than planned), days after
  the last trained segment get none: the next meta-epoch was due but never trained.

``latest`` (the last snapshot) and a fixed index ``K`` score every day with one model; a day
before that model's validation segment is then *in sample* (the model was trained on data from
after it) and flagged so.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from espb.errors import ConfigError, EspbError
from espb.forecast.run_inputs import read_metrics
from espb.models.classifier import CnnTcn
from espb.samples.table import segment_bounds

MODES = ("time_forward", "latest")


@dataclass(frozen=True)
class Schedule:
    """``bounds``: ``(n_segments, 2)`` ``[lo, hi)`` forecast days; ``me_segment``: the validation
    segment of each trained meta-epoch (increasing); ``complete``: every planned meta-epoch ran."""

    bounds: np.ndarray
    me_segment: np.ndarray
    complete: bool = True

    def segment_of(self, days: np.ndarray) -> np.ndarray:
        """Segment index of each day (-1 before the first segment)."""
        d = np.asarray(days, np.int64)
        s = np.searchsorted(self.bounds[:, 0], d, side="right") - 1
        return np.where(d < self.bounds[-1, 1], s, len(self.bounds)) if len(self.bounds) else s


def _dates(start: pd.Timestamp, bounds: np.ndarray, seg: np.ndarray) -> list[str]:
    return [(start + pd.Timedelta(days=int(bounds[s][0]))).strftime("%Y-%m-%d") for s in seg]


def _matches(start, bounds: np.ndarray, seg: np.ndarray, got: list[str]) -> bool:
    return (not len(seg) or seg.max() < len(bounds)) and _dates(start, bounds, seg) == got


def read_schedule(run_dir: Path, cfg: dict, n_days: int) -> Schedule:
    """The schedule of the run in ``run_dir`` on a cube of ``n_days`` days; checks that the
    meta-epochs' dates in ``metrics.csv`` are the segments' first days."""
    lookback, l_me = int(cfg["samples"]["lookback"]), int(cfg["training"]["l_me"])
    start = pd.Timestamp(cfg["bvalue"]["start"])
    cut = int((pd.Timestamp(cfg["training"]["dev_end"]) - start) // pd.Timedelta(days=1)) + 1
    m = read_metrics(run_dir).sort_values("meta_epoch")
    got = [str(d)[:10] for d in m["date"]]
    seg0 = m["segment"].to_numpy(np.int64)
    # segments end at dev_end since algorithm version 2; runs of version 1 did not cut there
    bounds = segment_bounds(lookback, n_days, l_me, cut)
    if not _matches(start, bounds, seg0, got):
        legacy = segment_bounds(lookback, n_days, l_me)
        if _matches(start, legacy, seg0, got):
            bounds = legacy
    seg = m["segment"].to_numpy(np.int64)
    if not np.array_equal(m["meta_epoch"].to_numpy(), np.arange(len(m))):
        raise EspbError(f"{run_dir}/metrics.csv: meta-epochs are not 0..{len(m) - 1} in order")
    if len(seg) and (np.any(np.diff(seg) <= 0) or seg[-1] >= len(bounds) or seg[0] < 0):
        raise EspbError(
            f"{run_dir}/metrics.csv: segments {seg.tolist()} are not increasing within the "
            f"{len(bounds)} segments of {l_me} days of this cube"
        )
    want = _dates(start, bounds, seg)
    if want != got:
        raise EspbError(
            f"{run_dir}/metrics.csv: meta-epoch dates {got[:3]}... do not start the segments "
            f"{want[:3]}... of this cube; the run was made on another cube or schedule"
        )
    state_p = Path(run_dir) / "state.json"
    complete = True
    if state_p.is_file():
        st = json.loads(state_p.read_text())
        complete = int(st.get("meta_epochs_done", len(m))) >= int(st.get("n_meta_epochs", len(m)))
    return Schedule(bounds, seg, complete)


def assign_snapshots(days: np.ndarray, sched: Schedule, mode: str | int = "time_forward"):
    """Snapshot index per day (``-1``: none) and whether it is in sample (trained on data from
    the day's segment or later). ``mode``: ``time_forward``, ``latest`` or an index ``K``."""
    n = len(sched.me_segment)
    seg = sched.segment_of(days)
    if n == 0:
        return np.full(len(seg), -1, np.int64), np.zeros(len(seg), bool)
    if mode == "time_forward":
        a = np.searchsorted(sched.me_segment, seg, side="right") - 1
        if not sched.complete:
            a[seg > sched.me_segment[-1]] = -1
    elif mode == "latest":
        a = np.full(len(seg), n - 1, np.int64)
    else:
        k = _index(mode, n)
        a = np.full(len(seg), k, np.int64)
    a[(seg < 0) | (seg >= len(sched.bounds))] = -1
    in_sample = (a >= 0) & (sched.me_segment[np.maximum(a, 0)] > seg)
    return a.astype(np.int64), in_sample


def _index(mode, n: int) -> int:
    try:
        k = int(mode)
    except (TypeError, ValueError):
        raise ConfigError(
            f"forecast snapshot={mode!r}; use time_forward, latest or a meta-epoch index"
        ) from None
    if not 0 <= k < n:
        raise ConfigError(f"forecast snapshot={k}: the run has meta-epochs 0..{n - 1}")
    return k


def model_kwargs(cfg: dict) -> dict:
    m = cfg.get("model") or {}
    return dict(
        lookback=int(cfg["samples"]["lookback"]),
        patch=int(cfg["samples"]["patch"]),
        layout=m.get("layout"),
        conv_bias=bool(m.get("conv_bias", False)),
        negative_slope=float(m.get("negative_slope", 0.1)),
    )


def weights_path(run_dir: Path, k: int) -> Path:
    return Path(run_dir) / "weights" / f"me_{k:04d}.pt"


def load_snapshot(run_dir: Path, k: int, cfg: dict) -> CnnTcn:
    """The classifier after meta-epoch ``k`` in eval mode."""
    p = weights_path(run_dir, k)
    if not p.is_file():
        raise EspbError(f"{p}: missing; the run folder lost its weights of meta-epoch {k}")
    sd = torch.load(p, map_location="cpu", weights_only=True)
    sd = {(k_[6:] if k_.startswith("model.") else k_): v for k_, v in sd.items()}
    model = CnnTcn(**model_kwargs(cfg))
    try:
        model.load_state_dict(sd)
    except RuntimeError as exc:
        raise EspbError(f"{p}: does not fit the run's model config ({exc})") from exc
    return model.eval()
