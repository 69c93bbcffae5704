"""Progressive meta-epoch training (paper Section 3.3), driven by Lightning Fabric.

The schedule (:mod:`espb.training.schedule`) says which samples train and validate each
meta-epoch; this loop runs it: ``epochs`` ordinary epochs of Adam over the weighted training set
in seeded random order, then scores the validation segment. After every meta-epoch it writes a
checkpoint (model, optimizer, everything logged so far) atomically, so a killed run resumes from
the last completed meta-epoch and ends exactly as an uninterrupted run with the same seed would:
every random choice is a function of (seed, meta-epoch, epoch), never of a global RNG state.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from lightning.fabric import Fabric

from espb.faults import failpoint
from espb.models.determinism import configure_determinism
from espb.training.blocks import BlockSource
from espb.training.checkpoint import CHECKPOINT, load_checkpoint, save_checkpoint
from espb.training.config import TrainConfig
from espb.training.identity import check_same_inputs
from espb.training.metrics import cumulative_accuracy, running_accuracy
from espb.training.module import BlockClassifier
from espb.training.perf import tune_allocator
from espb.training.schedule import MetaEpoch, sample_weights, training_mask, validation_mask

__all__ = ["CHECKPOINT", "LoopResult", "ProgressiveTrainer", "Replica", "Timing", "make_fabric"]


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

    def as_dict(self) -> dict[str, float]:
        return dict(vars(self))


@dataclass
class LoopState:
    """Everything a run has produced so far: what a checkpoint holds besides the weights."""

    records: list[dict] = field(default_factory=list)
    preds: list[dict] = field(default_factory=list)
    prev_sids: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    prev_w: np.ndarray = field(default_factory=lambda: np.zeros(0))
    #: index of the next meta-epoch to train
    start: int = 0


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


def make_fabric(cfg: TrainConfig) -> Fabric:
    acc = cfg.accelerator
    if acc == "gpu":
        acc = "cuda"
    fabric = Fabric(accelerator=acc, devices=1, precision=cfg.precision)
    cpu = fabric.device.type == "cpu"
    if cpu:
        tune_allocator()
    # before anything runs on the device (CUBLAS_WORKSPACE_CONFIG: before the first cuBLAS
    # call); on CPU, as always, deterministic algorithms are switched on, never off
    if cfg.deterministic or not cpu:
        configure_determinism(fabric.device, cfg.deterministic)
    return fabric


@dataclass
class Replica:
    """One seed replicate of a fused run (``training.seeds``): its initial-weight seed, its run
    folder (checkpoint) and its callbacks."""

    init_seed: int
    run_dir: Path
    on_meta_epoch: Callable[[MetaEpoch, dict, pd.DataFrame, dict], None] | None = None
    progress: Callable[[int, int, dict], None] | None = None


@dataclass
class _Member:
    replica: Replica
    module: BlockClassifier
    model: object
    opt: object
    state: LoopState = field(default_factory=LoopState)
    resumed_from: int = -1


class ProgressiveTrainer:
    """Runs the meta-epochs of one configuration, or of K seed replicates of one configuration
    on the same batches (``replicas``; docs/training.md "Seed replicates"): the data, the
    sample weights and the batch order are shared (they depend on ``cfg.seed`` only), each
    replicate has its own initial weights, optimizer, checkpoint and records, and the K networks
    are scored on each batch in one fused pass (:class:`espb.models.replicates.StackedClassifier`).
    Replicate k computes what a single run with ``init_seed = replicas[k].init_seed`` computes
    (bit for bit with ``replicate_method=loop``; to float rounding when fused)."""

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
        identity: dict[str, str] | None = None,
        replicas: list[Replica] | None = None,
    ) -> None:
        self.table, self.mes, self.source, self.cfg = table, meta_epochs, source, cfg
        #: what the run is computed from (catalog hash, cube key): a checkpoint of other inputs
        #: is refused on resume
        self.identity = dict(identity or {})
        self.fabric, self.run_dir, self.dates = fabric, Path(run_dir), dates
        if replicas is None:
            replicas = [Replica(cfg.weight_seed, Path(run_dir), on_meta_epoch, progress)]
        self.members = [self._member(r, cfg, module_kwargs) for r in replicas]
        m0 = self.members[0]
        self.module, self.model, self.opt = m0.module, m0.model, m0.opt
        self.impl = str(module_kwargs.get("impl", "reference"))
        self.labels = table["label"].to_numpy().astype(np.float32)
        self.train_labels = self.labels.copy()
        if cfg.shuffle_labels:  # one fixed permutation: each sample keeps its (wrong) label
            self.train_labels = np.random.default_rng([cfg.seed, 0x5B0FF1E]).permutation(
                self.labels
            )
        self.device = source.device
        self.timing = Timing()
        self._stacks: dict[tuple[int, ...], torch.nn.Module] = {}

    def _member(self, r: Replica, cfg: TrainConfig, module_kwargs: dict) -> _Member:
        torch.manual_seed(r.init_seed)  # model initialisation only
        module = BlockClassifier(
            loss=cfg.loss, lr=cfg.lr, weight_decay=cfg.weight_decay, **module_kwargs
        )
        opt = module.configure_optimizers()
        model, opt = self.fabric.setup(module, opt)
        return _Member(r, module, model, opt)

    # ----------------------------------------------------------------------------- checkpoint
    def _save(self, mb: _Member, m: int) -> None:
        st = mb.state
        save_checkpoint(
            {
                "meta_epoch": m,
                "model": mb.module.state_dict(),
                "optimizer": mb.opt.state_dict(),
                "records": st.records,
                "predictions": st.preds,
                "prev_sids": st.prev_sids,
                "prev_w": st.prev_w,
                "n_meta_epochs": len(self.mes),
                "identity": self.identity,
                "timing": self.timing.as_dict(),
            },
            mb.replica.run_dir / CHECKPOINT,
        )

    def _load(self, mb: _Member, path: Path) -> LoopState:
        ck = load_checkpoint(path, self.device)
        check_same_inputs(path, ck.get("identity") or {}, self.identity)
        mb.module.load_state_dict(ck["model"])
        mb.opt.load_state_dict(ck["optimizer"])
        self.timing = Timing(**ck.get("timing", {}))
        return LoopState(
            list(ck["records"]),
            list(ck["predictions"]),
            np.asarray(ck["prev_sids"]),
            np.asarray(ck["prev_w"]),
            int(ck["meta_epoch"]) + 1,
        )

    # ----------------------------------------------------------------------------- one meta-epoch
    def _forward_losses(self, act: list[_Member], x, y, w) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits (B, K) and per-replicate losses (K,) of the active members on one batch."""
        if len(act) == 1:  # a single run: exactly the module's own forward and loss
            z = act[0].module(x)
            return z[:, None], act[0].module.loss(z, y, w)[None]
        from espb.models.replicates import StackedClassifier, replicate_losses

        method = self.cfg.replicate_method
        if method in ("auto", "loop"):  # each network on its own output: a single run's bits
            zs = [mb.module(x) for mb in act]
            losses = torch.stack([mb.module.loss(z, y, w) for mb, z in zip(act, zs, strict=True)])
            return torch.stack([z.detach() for z in zs], 1), losses
        key = tuple(id(mb) for mb in act)
        if key not in self._stacks:  # one per set of active members (usually one per run)
            models = [mb.module.model for mb in act]

            self._stacks[key] = StackedClassifier(models, method).to(self.device)
        z = self._stacks[key](x)
        return z, replicate_losses(z, y, w, [mb.module.loss_name for mb in act])

    def _train(
        self, act: list[_Member], me: MetaEpoch, sids: np.ndarray, w: np.ndarray
    ) -> list[tuple[float, float]]:
        """``epochs`` epochs of Adam over the training set; per member, the last epoch's mean
        loss and its training-set accuracy (the share of samples whose score, in training mode
        as each batch was trained, falls on the side of 0.5 of their label: the training line
        of Figure 5)."""
        cfg = self.cfg
        for mb in act:
            mb.model.train()
        y_all = torch.as_tensor(self.train_labels[sids], device=self.device)
        w_all = torch.as_tensor(w, dtype=torch.float32, device=self.device)
        sid_t = torch.as_tensor(sids, device=self.device)
        K = len(act)
        loss_sum, n_seen, n_right = np.zeros(K), 0, np.zeros(K, np.int64)
        for epoch in range(cfg.epochs):
            rng = np.random.default_rng([cfg.seed, me.index, epoch])
            perm = rng.permutation(len(sids))
            loss_sum, n_seen, n_right = np.zeros(K), 0, np.zeros(K, np.int64)
            for b in _batches(perm, cfg.batch_size):
                bi = torch.as_tensor(b, device=self.device)
                t0 = time.perf_counter()
                x = self.source.blocks(sid_t[bi])
                t1 = time.perf_counter()
                y = y_all[bi]
                with self.fabric.autocast():
                    logits, losses = self._forward_losses(act, x, y, w_all[bi])
                for mb in act:
                    mb.opt.zero_grad(set_to_none=True)
                self.fabric.backward(losses.sum() if K > 1 else losses[0])
                for mb in act:
                    mb.opt.step()
                lv = losses.detach().cpu().numpy().astype(float)
                t2 = time.perf_counter()
                self.timing.gather_s += t1 - t0
                self.timing.fwd_bwd_s += t2 - t1
                self.timing.train_steps += 1
                self.timing.train_samples += len(b)
                loss_sum += lv * len(b)
                n_seen += len(b)
                n_right += ((logits.detach() >= 0) == (y >= 0.5)[:, None]).sum(0).cpu().numpy()
        if not n_seen:
            return [(float("nan"), float("nan"))] * K
        return [(float(loss_sum[k] / n_seen), float(n_right[k] / n_seen)) for k in range(K)]

    def _validate(self, act: list[_Member], sids: np.ndarray) -> list[np.ndarray]:
        for mb in act:
            mb.model.eval()
        out: list[list[np.ndarray]] = [[] for _ in act]
        t0 = time.perf_counter()
        with torch.no_grad():
            for i in range(0, len(sids), self.cfg.eval_batch_size):
                bi = torch.tensor(sids[i : i + self.cfg.eval_batch_size], device=self.device)
                x = self.source.blocks(bi)
                with self.fabric.autocast():
                    for k, mb in enumerate(act):
                        out[k].append(mb.module.score(x).cpu().numpy())
        self.timing.validate_s += time.perf_counter() - t0
        return [np.concatenate(o) if o else np.zeros(0, np.float32) for o in out]

    # ----------------------------------------------------------------------------- the run
    def _meta_epoch(self, me: MetaEpoch, act: list[_Member]) -> list[dict]:
        """Train meta-epoch ``me`` on everything known before its validation segment, then score
        the segment (paper Section 3.3); appends each member's record and predictions to its
        state. The training set and its weights are the same for every member."""
        cfg = self.cfg
        t_me = time.perf_counter()
        st0 = act[0].state
        sids = self.table["sid"].to_numpy()[training_mask(self.table, me)]
        in_prev = np.isin(sids, st0.prev_sids)
        pw = None
        if cfg.weighting == "compound" and len(st0.prev_sids):
            pw = st0.prev_w[np.searchsorted(st0.prev_sids, sids[in_prev])]
        w = sample_weights(pw, in_prev, cfg.weighting)
        trained = self._train(act, me, sids, w)
        va = self.table[validation_mask(self.table, me)]
        all_scores = self._validate(act, va["sid"].to_numpy())
        recs = []
        for mb, (train_loss, train_acc), scores in zip(act, trained, all_scores, strict=True):
            st = mb.state
            n_new = int((~in_prev).sum())
            rec = self._record(me, va, scores, st.records, train_loss, len(sids), n_new)
            rec["train/accuracy"] = train_acc
            rec["time/meta_epoch_s"] = time.perf_counter() - t_me
            st.records.append(rec)
            pred = {"meta_epoch": np.full(len(va), me.index), "phase": np.full(len(va), me.phase)}
            for k in ("sid", "target", "row", "col", "label"):
                pred[k] = va[k].to_numpy()
            pred["score"] = scores
            pred["mw"], pred["mean_count"] = va["mw"].to_numpy(), va["mean_count"].to_numpy()
            st.preds.append(pred)
            st.prev_sids, st.prev_w = np.sort(sids), w[np.argsort(sids)]
            recs.append(rec)
        return recs

    def run(self, resume: bool = True) -> LoopResult:
        """Every meta-epoch not done yet (from the checkpoint when ``resume``), a checkpoint
        after each, then the records and predictions of the whole run (of the first member;
        :meth:`run_all` returns every member's)."""
        return self.run_all(resume)[0]

    def run_all(self, resume: bool = True) -> list[LoopResult]:
        """:meth:`run` for every member. A member whose checkpoint is further on than another's
        (a fused run killed between two members' checkpoints) sits out the meta-epochs it has
        done: every meta-epoch is trained by exactly the members that have not done it."""
        for mb in self.members:
            mb.replica.run_dir.mkdir(parents=True, exist_ok=True)
            ck = mb.replica.run_dir / CHECKPOINT
            if resume and ck.exists():
                mb.state = self._load(mb, ck)
                mb.resumed_from = mb.state.start
        n = len(self.mes)
        stop = n if self.cfg.max_meta_epochs is None else min(n, self.cfg.max_meta_epochs)
        t_run = time.perf_counter()
        first = min(mb.state.start for mb in self.members)
        for me in self.mes[first:stop]:
            act = [mb for mb in self.members if mb.state.start <= me.index]
            recs = self._meta_epoch(me, act)
            for mb, rec in zip(act, recs, strict=True):
                mb.state.start = me.index + 1
                self._save(mb, me.index)
                failpoint("after_checkpoint", me.index)
                r = mb.replica
                if r.on_meta_epoch is not None:
                    preds = pd.DataFrame(mb.state.preds[-1])
                    r.on_meta_epoch(me, rec, preds, mb.module.state_dict())
                if r.progress is not None:
                    r.progress(me.index + 1, n, rec)
        self.timing.loop_s += time.perf_counter() - t_run
        return [self._result(mb, n) for mb in self.members]

    def _result(self, mb: _Member, n: int) -> LoopResult:
        preds = mb.state.preds
        pdf = (
            pd.DataFrame({k: np.concatenate([np.asarray(p[k]) for p in preds]) for k in preds[0]})
            if preds
            else pd.DataFrame()
        )
        if len(pdf):
            pdf.insert(2, "date", self.dates(pdf["target"].to_numpy()))
        st = mb.state
        return LoopResult(
            st.records, pdf, self.timing, len(st.records) == n, mb.resumed_from, mb.module
        )

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
