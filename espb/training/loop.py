"""Progressive meta-epoch training (paper Section 3.3), driven by Lightning Fabric.

The schedule (:mod:`espb.training.schedule`) says which samples train and validate each
meta-epoch; this loop runs it: ``epochs`` ordinary epochs of Adam over the weighted training set
in seeded random order, then scores the validation segment. After every meta-epoch it writes a
checkpoint (model, optimizer, everything logged so far) atomically, so a killed run resumes from
the last completed meta-epoch and ends exactly as an uninterrupted run with the same seed would:
every random choice is a function of (seed, meta-epoch, epoch), never of a global RNG state.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from lightning.fabric import Fabric

from espb.training.blocks import BlockSource
from espb.training.config import TrainConfig
from espb.training.metrics import cumulative_accuracy, running_accuracy
from espb.training.module import BlockClassifier
from espb.training.perf import tune_allocator
from espb.training.schedule import MetaEpoch, sample_weights, training_mask, validation_mask

CHECKPOINT = "checkpoint.pt"


@dataclass
class Timing:
    """Where a run's training time went (seconds; steps and samples of this invocation)."""

    fwd_bwd_s: float = 0.0
    gather_s: float = 0.0
    validate_s: float = 0.0
    train_steps: int = 0
    train_samples: int = 0
    loop_s: float = 0.0

    @property
    def samples_per_s(self) -> float:
        return self.train_samples / max(self.fwd_bwd_s + self.gather_s, 1e-9)


@dataclass
class LoopResult:
    records: list[dict]
    predictions: pd.DataFrame
    timing: Timing
    completed: bool
    resumed_from: int = -1
    module: BlockClassifier | None = field(default=None, repr=False)


def _batches(perm: np.ndarray, bs: int) -> list[np.ndarray]:
    """Consecutive batches of ``bs``; a final batch of one sample joins the previous batch
    (BatchNorm needs two samples per channel in training mode). A training set of a single
    sample gives no batch."""
    if len(perm) < 2:
        return []
    out = [perm[i : i + bs] for i in range(0, len(perm), bs)]
    if len(out[-1]) == 1:
        last = out.pop()
        out[-1] = np.concatenate([out[-1], last])
    return out


def _atomic_save(obj, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:6]}")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def make_fabric(cfg: TrainConfig) -> Fabric:
    acc = cfg.accelerator
    if acc == "gpu":
        acc = "cuda"
    fabric = Fabric(accelerator=acc, devices=1, precision=cfg.precision)
    if fabric.device.type == "cpu":
        tune_allocator()
        if cfg.deterministic:
            torch.use_deterministic_algorithms(True)
    return fabric


class ProgressiveTrainer:
    """Runs the meta-epochs of one configuration."""

    def __init__(
        self,
        table: pd.DataFrame,
        meta_epochs: list[MetaEpoch],
        source: BlockSource,
        cfg: TrainConfig,
        module_kwargs: dict,
        fabric: Fabric,
        run_dir: Path,
        dates: Callable[[np.ndarray], pd.DatetimeIndex],
        on_meta_epoch: Callable[[MetaEpoch, dict, pd.DataFrame, dict], None] | None = None,
        progress: Callable[[int, int, dict], None] | None = None,
    ) -> None:
        self.table, self.mes, self.source, self.cfg = table, meta_epochs, source, cfg
        self.fabric, self.run_dir, self.dates = fabric, Path(run_dir), dates
        self.on_meta_epoch, self.progress = on_meta_epoch, progress
        torch.manual_seed(cfg.seed)  # model initialisation only
        self.module = BlockClassifier(
            loss=cfg.loss, lr=cfg.lr, weight_decay=cfg.weight_decay, **module_kwargs
        )
        opt = self.module.configure_optimizers()
        self.model, self.opt = fabric.setup(self.module, opt)
        self.labels = table["label"].to_numpy().astype(np.float32)
        self.train_labels = self.labels.copy()
        if cfg.shuffle_labels:  # one fixed permutation: each sample keeps its (wrong) label
            self.train_labels = np.random.default_rng([cfg.seed, 0x5B0FF1E]).permutation(
                self.labels
            )
        self.device = source.device
        self.timing = Timing()

    # ----------------------------------------------------------------------------- checkpoint
    def _state(self, m: int, records, preds, prev_sids, prev_w) -> dict:
        return {
            "meta_epoch": m,
            "model": self.module.state_dict(),
            "optimizer": self.opt.state_dict(),
            "records": records,
            "predictions": preds,
            "prev_sids": prev_sids,
            "prev_w": prev_w,
            "n_meta_epochs": len(self.mes),
        }

    def _load(self, path: Path):
        st = torch.load(path, map_location=self.device, weights_only=False)
        self.module.load_state_dict(st["model"])
        self.opt.load_state_dict(st["optimizer"])
        return st

    # ----------------------------------------------------------------------------- one meta-epoch
    def _train(self, me: MetaEpoch, sids: np.ndarray, w: np.ndarray) -> float:
        cfg = self.cfg
        self.model.train()
        y_all = torch.as_tensor(self.train_labels[sids], device=self.device)
        w_all = torch.as_tensor(w, dtype=torch.float32, device=self.device)
        sid_t = torch.as_tensor(sids, device=self.device)
        loss_sum, n_seen = 0.0, 0
        for epoch in range(cfg.epochs):
            rng = np.random.default_rng([cfg.seed, me.index, epoch])
            perm = rng.permutation(len(sids))
            loss_sum, n_seen = 0.0, 0
            for b in _batches(perm, cfg.batch_size):
                bi = torch.as_tensor(b, device=self.device)
                t0 = time.perf_counter()
                x = self.source.blocks(sid_t[bi])
                t1 = time.perf_counter()
                with self.fabric.autocast():
                    loss = self.module.training_step((x, y_all[bi], w_all[bi]))
                self.opt.zero_grad(set_to_none=True)
                self.fabric.backward(loss)
                self.opt.step()
                lv = float(loss.detach())
                t2 = time.perf_counter()
                self.timing.gather_s += t1 - t0
                self.timing.fwd_bwd_s += t2 - t1
                self.timing.train_steps += 1
                self.timing.train_samples += len(b)
                loss_sum += lv * len(b)
                n_seen += len(b)
        return loss_sum / n_seen if n_seen else float("nan")

    def _validate(self, sids: np.ndarray) -> np.ndarray:
        self.model.eval()
        out = []
        t0 = time.perf_counter()
        with torch.no_grad():
            for i in range(0, len(sids), self.cfg.eval_batch_size):
                bi = torch.tensor(sids[i : i + self.cfg.eval_batch_size], device=self.device)
                with self.fabric.autocast():
                    out.append(self.module.score(self.source.blocks(bi)).cpu().numpy())
        self.timing.validate_s += time.perf_counter() - t0
        return np.concatenate(out) if out else np.zeros(0, np.float32)

    # ----------------------------------------------------------------------------- the run
    def run(self, resume: bool = True) -> LoopResult:
        cfg = self.cfg
        self.run_dir.mkdir(parents=True, exist_ok=True)
        ck = self.run_dir / CHECKPOINT
        records: list[dict] = []
        preds: list[dict] = []
        prev_sids = np.zeros(0, np.int64)
        prev_w = np.zeros(0)
        start = 0
        resumed_from = -1
        if resume and ck.exists():
            st = self._load(ck)
            records, preds = st["records"], st["predictions"]
            prev_sids, prev_w = st["prev_sids"], st["prev_w"]
            start = resumed_from = st["meta_epoch"] + 1
        stop = (
            len(self.mes)
            if cfg.max_meta_epochs is None
            else min(len(self.mes), cfg.max_meta_epochs)
        )
        t_run = time.perf_counter()
        for me in self.mes[start:stop]:
            t_me = time.perf_counter()
            tr = training_mask(self.table, me)
            sids = self.table["sid"].to_numpy()[tr]
            in_prev = np.isin(sids, prev_sids)
            pw = None
            if cfg.weighting == "compound" and len(prev_sids):
                pw = prev_w[np.searchsorted(prev_sids, sids[in_prev])]
            w = sample_weights(pw, in_prev, cfg.weighting)
            train_loss = self._train(me, sids, w)
            va = self.table[validation_mask(self.table, me)]
            scores = self._validate(va["sid"].to_numpy())
            rec = self._record(
                me, va, scores, records, train_loss, len(sids), int((~in_prev).sum())
            )
            rec["time/meta_epoch_s"] = time.perf_counter() - t_me
            records.append(rec)
            pred = {
                "meta_epoch": np.full(len(va), me.index),
                "phase": np.full(len(va), me.phase),
                "sid": va["sid"].to_numpy(),
                "target": va["target"].to_numpy(),
                "row": va["row"].to_numpy(),
                "col": va["col"].to_numpy(),
                "label": va["label"].to_numpy(),
                "score": scores,
                "mw": va["mw"].to_numpy(),
                "mean_count": va["mean_count"].to_numpy(),
            }
            preds.append(pred)
            prev_sids, prev_w = np.sort(sids), w[np.argsort(sids)]
            _atomic_save(self._state(me.index, records, preds, prev_sids, prev_w), ck)
            if self.on_meta_epoch is not None:
                self.on_meta_epoch(me, rec, pd.DataFrame(pred), self.module.state_dict())
            if self.progress is not None:
                self.progress(me.index + 1, len(self.mes), rec)
        self.timing.loop_s = time.perf_counter() - t_run
        completed = len(records) == len(self.mes)
        pdf = (
            pd.DataFrame({k: np.concatenate([p[k] for p in preds]) for k in preds[0]})
            if preds
            else pd.DataFrame()
        )
        if len(pdf):
            pdf.insert(2, "date", self.dates(pdf["target"].to_numpy()))
        return LoopResult(records, pdf, self.timing, completed, resumed_from, self.module)

    def _record(
        self,
        me: MetaEpoch,
        va: pd.DataFrame,
        scores: np.ndarray,
        records: list[dict],
        train_loss: float,
        n_train: int,
        n_new: int,
    ) -> dict:
        labels = va["label"].to_numpy()
        m = BlockClassifier.validation_metrics(labels, scores)
        p = me.phase if me.phase == "test" else "val"
        same = [r for r in records if r["phase"] == me.phase]
        correct = np.array([r[f"{p}/n_correct"] for r in same] + [m["n_correct"]])
        total = np.array(
            [r[f"{p}/n_eq"] + r[f"{p}/n_neq"] for r in same] + [m["n_eq"] + m["n_neq"]]
        )
        d = pd.Timestamp(self.dates(np.array([me.lo]))[0])
        rec = {
            "phase": me.phase,
            "meta_epoch": me.index,
            "segment": me.segment,
            "date": d.strftime("%Y-%m-%d"),
        }
        rec.update({f"{p}/{k}": v for k, v in m.items()})
        rec[f"{p}/acc_running5"] = float(running_accuracy(correct, total, 5)[-1])
        rec[f"{p}/acc_running20"] = float(running_accuracy(correct, total, 20)[-1])
        rec[f"{p}/acc_cumulative"] = float(cumulative_accuracy(correct, total)[-1])
        rec[f"{p}/segment_start"] = float(d.year * 10000 + d.month * 100 + d.day)
        rec["train/loss"] = train_loss
        rec["train/n_samples"] = float(n_train)
        rec["train/n_new"] = float(n_new)
        return rec
