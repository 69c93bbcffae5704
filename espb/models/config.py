"""Settings of the models (the ``model`` and ``autoencoder`` config groups)."""

from __future__ import annotations

from dataclasses import dataclass

from espb.models.ae_fit import AEConfig

__all__ = ["AEConfig", "ModelConfig"]


@dataclass
class ModelConfig:
    """The CNN-TCN (espb.models.classifier, paper Section 3.2): ``layout`` None means the paper
    layout for 512 x 32 x 32 (8081 parameters) or an evenly interleaved one for other block
    sizes."""

    layout: str | None = None
    conv_bias: bool = False
    negative_slope: float = 0.1

    def validate(self) -> None:
        import math

        from espb.errors import ConfigError

        if not math.isfinite(self.negative_slope) or not 0 <= self.negative_slope < 1:
            raise ConfigError(
                f"model.negative_slope={self.negative_slope} must be in [0, 1) (paper 0.1)"
            )
