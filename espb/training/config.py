"""Settings of the progressive training (paper Section 3.3; the ``training`` config group)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from espb.errors import ConfigError
from espb.training.schedule import WEIGHTINGS

LOSSES = ("mae", "bce")


@dataclass
class TrainConfig:
    """- ``loss``: ``mae`` (L1 between sigmoid score and label, the paper's best) or ``bce``.
    - ``l_me``: meta-epoch (segment) length in days; ``warmup``: segments before training starts.
    - ``epochs``: ordinary epochs per meta-epoch (paper: 20); Adam ``lr``/``weight_decay``
      constant (paper: 1e-4 / 1e-5); ``batch_size`` 32.
    - ``dev_end``: last day of the development period; later validation segments are the test
      period (paper: 2019-12-31, then 2020-2022), logged under ``test/``.
    - ``accelerator``: auto | cpu | gpu; ``precision``: 32-true, or bf16-mixed on a GPU.
    - ``shuffle_labels``: permute the training labels (a control: nothing left to learn).
    - ``seed``: the run's seed: the nEQ draws, the label shuffle, the batch order and (unless
      ``init_seed`` is set) the network's initial weights.
    - ``init_seed``: the seed of the initial weights only (None: ``seed``); the data and the
      batches stay those of ``seed``. What a seed *replicate* varies (docs/training.md).
    - ``seeds``: seed replicates in one run: one configuration per ``init_seed`` in the list,
      each its own run folder and MLflow run, trained together on the same batches as one
      fused model (``replicate_method``); replicate ``s`` gives what a separate run with
      ``init_seed=s`` gives. None: one run.
    - ``replicate_method``: how the replicates' networks run on a shared batch: ``auto`` =
      ``loop`` (one after the other on the shared gather: bit for bit a separate run),
      ``grouped`` (one block-diagonal pass of the fast core, ~10 % faster per step on CPU, equal
      to float rounding only, which training amplifies: docs/training.md) or ``vmap``.

    - ``max_meta_epochs``: stop after this many (tests); None runs them all.
    """

    loss: str = "mae"
    l_me: int = 14
    warmup: int = 6
    epochs: int = 20
    batch_size: int = 32
    lr: float = 1e-4
    weight_decay: float = 1e-5
    weighting: str = "reset"
    dev_end: str = "2019-12-31"
    seed: int = 0
    accelerator: str = "auto"
    precision: str = "32-true"
    deterministic: bool = True
    shuffle_labels: bool = False
    init_seed: int | None = None
    seeds: list[int] | None = None
    replicate_method: str = "auto"
    max_meta_epochs: int | None = None
    eval_batch_size: int = 128

    def validate(self) -> None:
        import math

        import pandas as pd

        for key in ("lr", "weight_decay"):
            v = getattr(self, key)
            if not math.isfinite(v) or v < 0 or (key == "lr" and not 0 < v < 10):
                raise ConfigError(
                    f"training.{key}={v} must be a finite number"
                    + (" in (0, 10) (paper 1e-4)" if key == "lr" else " >= 0 (paper 1e-5)")
                )
        try:
            pd.Timestamp(self.dev_end, tz="UTC")
        except (ValueError, OverflowError, pd.errors.OutOfBoundsDatetime) as exc:
            raise ConfigError(
                f"training.dev_end={self.dev_end!r} is not a date (YYYY-MM-DD, e.g. 2019-12-31): {exc}"
            ) from None
        if self.eval_batch_size < 1 or (
            self.max_meta_epochs is not None and self.max_meta_epochs < 0
        ):
            raise ConfigError(
                "training: eval_batch_size >= 1 and max_meta_epochs >= 0 (or null) needed"
            )
        if self.epochs > 100_000 or self.batch_size > 1_000_000:
            raise ConfigError(
                f"training.epochs={self.epochs} / batch_size={self.batch_size} are absurd (paper 20 / 32)"
            )
        if self.seeds is not None:
            if not self.seeds or len(set(self.seeds)) != len(self.seeds):
                raise ConfigError(
                    f"training.seeds={list(self.seeds)} must list distinct seeds, e.g. "
                    "training.seeds=[0,1,2] (or null for one run)"
                )
            if self.init_seed is not None:
                raise ConfigError(
                    "training.seeds and training.init_seed are both set: the replicates set "
                    "init_seed themselves; drop training.init_seed"
                )
        if self.replicate_method not in ("auto", "grouped", "vmap", "loop"):
            raise ConfigError(
                f"training.replicate_method={self.replicate_method!r}; use auto, grouped, vmap "
                "or loop"
            )
        if self.loss not in LOSSES:
            raise ConfigError(f"training.loss={self.loss!r}; use one of {list(LOSSES)}")
        if self.weighting not in WEIGHTINGS:
            raise ConfigError(
                f"training.weighting={self.weighting!r}; use one of {list(WEIGHTINGS)}"
            )
        if self.l_me < 1 or self.epochs < 0 or self.batch_size < 2 or self.warmup < 1:
            raise ConfigError(
                "training: l_me >= 1, epochs >= 0, batch_size >= 2 and warmup >= 1 needed"
            )
        if self.precision not in ("32-true", "32", "bf16-mixed", "16-mixed", "bf16-true"):
            raise ConfigError(
                f"training.precision={self.precision!r}; use 32-true or bf16-mixed (GPU)"
            )

    @property
    def weight_seed(self) -> int:
        """The seed of the network's initial weights (``init_seed``, else ``seed``)."""
        return self.seed if self.init_seed is None else int(self.init_seed)

    def key_fields(self) -> dict:

        return asdict(self)
