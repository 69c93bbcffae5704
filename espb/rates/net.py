"""EarthquakeNet: neural NB2 regression with per-cell dispersion (arXiv 2605.21437, Section 3.3).

An 8-dimensional cell embedding joined with the lag features -> Linear 64 -> Linear 32 (each
followed by ReLU and dropout 0.2) -> Linear 2 -> softplus, giving the NB2 mean mu and dispersion
alpha of every (period, cell). Trained on the NB2 negative log-likelihood
(:func:`espb.rates.nb.nb2_logpmf`) with Adam (lr 1e-3, batch 64) and early stopping on a
time-forward validation split (the last periods of the training data), driven by Lightning
Fabric (CPU by default), seeded and deterministic.

Not in the paper, documented in docs/rates.md: how the output layer starts (``init_bias``: mu's
bias at softplus^-1 of the mean training count, alpha's at softplus^-1(1)), and that the best
epoch's weights are kept; ``mu_link: exp`` swaps the softplus of mu for a log link.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.nn import functional as F

from espb.rates.config import ModelConfig
from espb.rates.glm import ETA_MAX, Standardiser
from espb.rates.nb import nb2_logpmf

#: floors of the softplus outputs (mu > 0 keeps log mu finite; alpha > 0 is NB2)
MU_EPS = 1e-6
ALPHA_EPS = 1e-6


def _softplus_inv(v: float) -> float:
    return float(v + math.log(-math.expm1(-v)))


class EarthquakeNet(nn.Module):
    """Embedding(n_cells, e) ++ features -> [Linear h, ReLU, Dropout]* -> Linear 2 -> softplus."""

    def __init__(
        self,
        n_cells: int,
        n_features: int,
        embedding_dim: int = 8,
        hidden: tuple[int, ...] | list[int] = (64, 32),
        dropout: float = 0.2,
        mu_link: str = "softplus",
    ) -> None:
        super().__init__()
        self.mu_link = mu_link
        self.embedding = nn.Embedding(n_cells, embedding_dim)
        layers: list[nn.Module] = []
        d = embedding_dim + n_features
        for h in hidden:
            layers += [nn.Linear(d, h), nn.ReLU(), nn.Dropout(dropout)]
            d = h
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(d, 2)

    def init_output(self, mean_count: float) -> None:
        with torch.no_grad():
            m = max(mean_count, 1e-3)
            self.head.bias[0] = _softplus_inv(m) if self.mu_link == "softplus" else math.log(m)
            self.head.bias[1] = _softplus_inv(1.0)

    def forward(self, cell: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.head(self.body(torch.cat([self.embedding(cell), x], dim=1)))
        if self.mu_link == "exp":
            mu = torch.exp(torch.clamp(z[:, 0], max=ETA_MAX))
        else:
            mu = F.softplus(z[:, 0])
        return mu + MU_EPS, F.softplus(z[:, 1]) + ALPHA_EPS


@dataclass
class NetFit:
    """A trained network, its standardiser and its training record."""

    model: EarthquakeNet
    std: Standardiser
    best_epoch: int
    best_val_nll: float
    history: list[dict] = field(default_factory=list)
    device: str = "cpu"


def time_forward_split(periods: np.ndarray, val_fraction: float) -> np.ndarray:
    """Boolean mask of the validation rows: the last ``val_fraction`` of the distinct periods."""
    uniq = np.unique(periods)
    n_val = max(1, int(math.ceil(val_fraction * len(uniq))))
    if n_val >= len(uniq):
        n_val = len(uniq) - 1
    return periods >= uniq[len(uniq) - n_val] if n_val > 0 else np.zeros(len(periods), bool)


def _tensors(rows: pd.DataFrame, features: list[str], std: Standardiser, device):
    x = torch.tensor(std(rows[features].to_numpy("float64")), dtype=torch.float32, device=device)
    c = torch.tensor(rows["cell"].to_numpy(), dtype=torch.long, device=device)
    y = torch.tensor(rows["y"].to_numpy("float64"), dtype=torch.float64, device=device)
    return c, x, y


def _fabric(cfg: ModelConfig):
    from lightning.fabric import Fabric

    acc = "cuda" if cfg.accelerator == "gpu" else cfg.accelerator
    return Fabric(accelerator=acc, devices=1, precision="32-true")


@torch.no_grad()
def _nll(model: EarthquakeNet, c, x, y) -> float:
    model.eval()
    mu, alpha = model(c, x)
    return float(-nb2_logpmf(y, mu, alpha).mean())


def fit_net(
    rows: pd.DataFrame, features: list[str], n_cells: int, cfg: ModelConfig, seed: int
) -> NetFit:
    """Train EarthquakeNet on ``rows``; validate on its last periods; keep the best epoch."""
    if cfg.threads:
        torch.set_num_threads(int(cfg.threads))
    torch.use_deterministic_algorithms(True)
    fabric = _fabric(cfg)
    val = time_forward_split(rows["period"].to_numpy(), cfg.val_fraction)
    fit_rows, val_rows = rows[~val], rows[val]
    std = Standardiser.fit(fit_rows[features].to_numpy("float64"))
    torch.manual_seed(seed)
    model = EarthquakeNet(
        n_cells, len(features), cfg.embedding_dim, cfg.hidden, cfg.dropout, cfg.mu_link
    )
    if cfg.init_bias:
        model.init_output(float(fit_rows["y"].mean()))
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, fused=True)
    model, opt = fabric.setup(model, opt)
    dev = fabric.device
    c, x, y = _tensors(fit_rows, features, std, dev)
    vc, vx, vy = _tensors(val_rows, features, std, dev)
    best, best_epoch, best_state, history, waited = math.inf, -1, None, [], 0
    n = len(fit_rows)
    for epoch in range(cfg.max_epochs):
        model.train()
        perm = torch.as_tensor(np.random.default_rng([seed, epoch]).permutation(n), device=dev)
        pc, px, py = c[perm], x[perm], y[perm]  # one gather per epoch; batches are slices
        total = 0.0
        for s in range(0, n, cfg.batch_size):
            b = slice(s, s + cfg.batch_size)
            mu, alpha = model(pc[b], px[b])
            loss = -nb2_logpmf(py[b], mu, alpha).mean()
            opt.zero_grad(set_to_none=True)
            fabric.backward(loss)
            opt.step()
            total += float(loss.detach()) * len(py[b])
        v = _nll(model, vc, vx, vy)
        history.append({"epoch": epoch, "train_nll": total / n, "val_nll": v})
        if v < best - 1e-9:
            best, best_epoch, waited = v, epoch, 0
            best_state = copy.deepcopy(model.state_dict())
        else:
            waited += 1
            if waited >= cfg.patience:
                break
    if best_state is not None:
        model.load_state_dict(best_state)
    module = model.module if hasattr(model, "module") else model
    return NetFit(module, std, best_epoch, best, history, str(dev))


@torch.no_grad()
def net_predict(
    fit: NetFit, rows: pd.DataFrame, features: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """(mu, alpha) of every row (evaluation mode: no dropout)."""
    dev = next(fit.model.parameters()).device
    c, x, _ = _tensors(rows.assign(y=0), features, fit.std, dev)
    fit.model.eval()
    mu, alpha = fit.model(c, x)
    return mu.double().cpu().numpy(), alpha.double().cpu().numpy()
