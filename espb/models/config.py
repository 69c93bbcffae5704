"""Settings of the models (the ``model`` and ``autoencoder`` config groups)."""

from __future__ import annotations

from dataclasses import dataclass

from espb.models.ae_fit import AEConfig

__all__ = ["AEConfig", "IMPLS", "ModelConfig", "build_cnn_tcn"]

#: ``model.impl`` -> the registered architecture (espb.models.registry)
IMPLS = {"reference": "cnn_tcn", "fast": "cnn_tcn_fast"}


def build_cnn_tcn(impl: str = "reference", **kwargs):
    """The CNN-TCN of paper Section 3.2 in implementation ``impl`` (``model.impl``)."""
    from espb.errors import ConfigError
    from espb.models.registry import build_classifier

    if impl not in IMPLS:
        raise ConfigError(f"model.impl={impl!r}; use one of {sorted(IMPLS)}")
    return build_classifier(IMPLS[impl], **kwargs)


@dataclass
class ModelConfig:
    """The CNN-TCN (espb.models.classifier, paper Section 3.2): ``layout`` None means the paper
    layout for 512 x 32 x 32 (8081 parameters) or an evenly interleaved one for other block
    sizes."""

    layout: str | None = None
    conv_bias: bool = False
    negative_slope: float = 0.1
    #: ``reference`` (Conv3d, :class:`espb.models.classifier.CnnTcn`) or ``fast`` (the same
    #: function, parameters and state_dict as channels-last products,
    #: :class:`espb.models.cnn_tcn_fast.FastCnnTcn`; equal within 1e-5 relative). The composed
    #: default is ``fast`` (conf/model/cnn_tcn.yaml); this default is what a config *without*
    #: the key means - one saved before the key existed, which trained the reference (the
    #: neutral value of espb.training.identity.NEUTRAL)
    impl: str = "reference"

    def validate(self) -> None:
        import math

        from espb.errors import ConfigError

        if self.impl not in IMPLS:
            raise ConfigError(f"model.impl={self.impl!r}; use one of {sorted(IMPLS)}")

        if not math.isfinite(self.negative_slope) or not 0 <= self.negative_slope < 1:
            raise ConfigError(
                f"model.negative_slope={self.negative_slope} must be in [0, 1) (paper 0.1)"
            )
