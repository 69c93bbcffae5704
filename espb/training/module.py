"""The LightningModule: the CNN-TCN, its loss and its validation metrics (paper Section 3)."""

from __future__ import annotations

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F

from espb.models.config import build_cnn_tcn
from espb.training.metrics import classification_metrics


class BlockClassifier(L.LightningModule):
    """Scores a batch of blocks; ``loss`` is ``mae`` (|sigmoid(logit) - label|) or ``bce``, each
    multiplied by the sample weight (mean 1 over the training set) and averaged over the batch."""

    def __init__(
        self,
        lookback: int = 512,
        patch: int = 32,
        loss: str = "mae",
        lr: float = 1e-4,
        weight_decay: float = 1e-5,
        layout: str | None = None,
        conv_bias: bool = False,
        negative_slope: float = 0.1,
        impl: str = "reference",
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.model = build_cnn_tcn(
            impl,
            lookback=lookback,
            patch=patch,
            layout=layout,
            conv_bias=conv_bias,
            negative_slope=negative_slope,
        )
        self.loss_name = loss

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def loss(self, logits: torch.Tensor, y: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        logits = logits.float()
        if self.loss_name == "mae":
            per = (torch.sigmoid(logits) - y).abs()
        else:
            per = F.binary_cross_entropy_with_logits(logits, y, reduction="none")
        return (per * w).mean()

    def training_step(self, batch, batch_idx: int = 0) -> torch.Tensor:
        x, y, w = batch
        return self.loss(self(x), y, w)

    @torch.no_grad()
    def score(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self(x).float())

    def configure_optimizers(self):
        return torch.optim.Adam(
            self.parameters(), lr=self.hparams.lr, weight_decay=self.hparams.weight_decay
        )

    @staticmethod
    def validation_metrics(labels: np.ndarray, scores: np.ndarray) -> dict[str, float]:
        return classification_metrics(labels, scores)
