"""Settings of the labelled samples (paper Section 2.2)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from espb.errors import ConfigError


@dataclass
class SampleConfig:
    """How EQ and nEQ samples are defined.

    - ``eq_min_mag``: an EQ sample is a block followed, on the next day, by an event with
      Mw >= this at the block's centre cell (paper: 5).
    - ``m_lim``: nEQ candidates have no event with Mw >= ``m_lim`` within ``l1_radius`` degrees
      (taxicab distance to the cell centre) and within ``exclusion_before`` days before and
      ``exclusion_after`` days after the forecast day (paper: 4.9, 0.8 deg, +-7 days).
    - ``min_mean_events``: nEQ candidates need at least this mean number of events per cylinder
      over the block (the cube's ``n_events``; paper: 10).
    - ``lookback`` x ``patch`` x ``patch``: the block (paper: 512 x 32 x 32). The centre cell is
      ``patch // 2`` into the patch, so centres keep ``patch // 2`` cells from every border.
    - ``label_delay``: a nEQ sample enters a training set only once its whole exclusion window
      has passed (its label is then known); ``false`` adds it with its segment, as the paper's
      text reads (see docs/training.md, "labels and the no-future invariant").
    - ``test_m_lim``: ``M_lim`` of the test period's nEQ draws (null: ``m_lim``). Appendix D/E
      tests both models on nEQ drawn with 4.9 although Model14.0 trains with 4.0.
    """

    eq_min_mag: float = 5.0
    m_lim: float = 4.9
    l1_radius: float = 0.8
    exclusion_before: int = 7
    exclusion_after: int = 7
    min_mean_events: float = 10.0
    lookback: int = 512
    patch: int = 32
    label_delay: bool = True
    test_m_lim: float | None = None

    def validate(self) -> None:
        import math

        for key in ("eq_min_mag", "m_lim", "l1_radius", "min_mean_events"):
            v = getattr(self, key)
            if not math.isfinite(v):
                raise ConfigError(f"samples.{key}={v} must be a finite number")
        if not -2.0 <= self.m_lim <= 10.0 or not -2.0 <= self.eq_min_mag <= 10.0:
            raise ConfigError(
                f"samples.m_lim={self.m_lim} / eq_min_mag={self.eq_min_mag}: magnitudes outside "
                "-2..10 (paper 4.9 / 5.0)"
            )
        if self.min_mean_events < 0:
            raise ConfigError(
                f"samples.min_mean_events={self.min_mean_events} must be >= 0 (paper 10)"
            )
        if self.lookback > 100_000 or self.patch > 4096:
            raise ConfigError(
                f"samples.lookback={self.lookback} / patch={self.patch} are absurd (paper 512 / 32)"
            )
        if self.test_m_lim is not None and not (
            math.isfinite(self.test_m_lim) and self.test_m_lim <= self.eq_min_mag
        ):
            raise ConfigError(
                f"samples.test_m_lim={self.test_m_lim} must be finite and not above "
                f"samples.eq_min_mag ({self.eq_min_mag}); null uses samples.m_lim"
            )
        if self.m_lim > self.eq_min_mag:
            raise ConfigError(
                f"samples.m_lim ({self.m_lim}) must not exceed samples.eq_min_mag ({self.eq_min_mag}): "
                "an EQ event must also exclude nEQ around it"
            )
        if self.lookback < 2 or self.patch < 2 or self.patch % 2:
            raise ConfigError(
                f"samples: lookback ({self.lookback}) >= 2 and an even patch ({self.patch}) needed"
            )
        if self.l1_radius < 0 or self.exclusion_before < 0 or self.exclusion_after < 0:
            raise ConfigError(
                "samples: l1_radius, exclusion_before and exclusion_after must be >= 0"
            )

    @property
    def half(self) -> int:
        return self.patch // 2

    def key_fields(self) -> dict:
        """The settings that change the nEQ pool, as they key the autoencoder cache; settings
        added later are left out at their neutral value, so existing cache keys stay valid
        (``test_m_lim`` changes only the test-period draws, never the pool the autoencoder
        learns from)."""
        d = asdict(self)
        d.pop("test_m_lim")
        return d
