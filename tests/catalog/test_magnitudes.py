"""Magnitude homogenisation (paper Eqs. 2-4) and the type priority."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from espb.catalog.magnitudes import (
    RELATION_SETS,
    MagnitudeConfig,
    choose_by_priority,
    convert,
    families,
    family_of,
    load_relation_set,
)
from espb.errors import ConfigError

# (relation set, family, source magnitude, expected Mw): branch edges of both sets, computed by
# hand from the printed equations.
VECTORS = [
    # paper Eq. 2 (Ms)
    ("paper", "Ms", 3.0, 0.65 * 3.0 + 2.20),
    ("paper", "Ms", 6.1, 0.65 * 6.1 + 2.20),
    ("paper", "Ms", 6.2, 1.00 * 6.2 - 0.02),
    ("paper", "Ms", 8.0, 1.00 * 8.0 - 0.02),
    ("paper", "Ms", 6.14, 0.65 * 6.14 + 2.20),  # gap: below the midpoint -> lower branch
    ("paper", "Ms", 6.16, 1.00 * 6.16 - 0.02),  # gap: above the midpoint -> upper branch
    ("paper", "Ms", 2.5, 0.65 * 2.5 + 2.20),  # below range: extrapolate the nearest branch
    ("paper", "Ms", 8.5, 8.5 - 0.02),  # above range: extrapolate the nearest branch
    # paper Eq. 3 (mb, no range printed)
    ("paper", "mb", 3.5, 0.85 * 3.5 + 1.02),
    ("paper", "mb", 6.2, 0.85 * 6.2 + 1.02),
    ("paper", "mb", 2.0, 0.85 * 2.0 + 1.02),
    # paper Eq. 4 (MJMA)
    ("paper", "MJMA", 3.0, 0.58 * 3.0 + 2.25),
    ("paper", "MJMA", 5.5, 0.58 * 5.5 + 2.25),
    ("paper", "MJMA", 5.6, 0.97 * 5.6 + 0.04),
    ("paper", "MJMA", 8.2, 0.97 * 8.2 + 0.04),
    ("paper", "MJMA", 1.0, 0.58 * 1.0 + 2.25),
    # MV uses the MJMA relation; ML is taken as Mw by default (the paper preset: MJMA, below)
    ("paper", "ML", 3.0, 3.0),
    ("paper", "MV", 5.6, 0.97 * 5.6 + 0.04),
    # native Mw is used as is
    ("paper", "Mw", 6.7, 6.7),
    # Scordilis (2006) as published
    ("scordilis2006", "Ms", 3.0, 0.67 * 3.0 + 2.07),
    ("scordilis2006", "Ms", 6.1, 0.67 * 6.1 + 2.07),
    ("scordilis2006", "Ms", 6.2, 0.99 * 6.2 + 0.08),
    ("scordilis2006", "Ms", 8.2, 0.99 * 8.2 + 0.08),
    ("scordilis2006", "mb", 3.5, 0.85 * 3.5 + 1.03),
    ("scordilis2006", "mb", 6.2, 0.85 * 6.2 + 1.03),
    ("scordilis2006", "mb", 3.0, 0.85 * 3.0 + 1.03),
]


@pytest.mark.parametrize(("rset", "fam", "m", "expected"), VECTORS)
def test_conversion_vectors(rset: str, fam: str, m: float, expected: float) -> None:
    res = convert(np.array([m]), np.array([fam], dtype=object), MagnitudeConfig(relations=rset))
    assert res.mw[0] == pytest.approx(expected, abs=1e-12)


def test_paper_family_relation_converts_ml_with_mjma() -> None:
    from espb.catalog.magnitudes import PAPER_FAMILY_RELATION

    cfg = MagnitudeConfig(family_relation=dict(PAPER_FAMILY_RELATION))
    res = convert(np.array([3.0, 5.6]), np.array(["ML", "MV"], dtype=object), cfg)
    assert res.mw == pytest.approx([0.58 * 3.0 + 2.25, 0.97 * 5.6 + 0.04], abs=1e-12)


def test_out_of_range_policy() -> None:
    mags = np.array([2.5, 3.0, 8.1, 3.0, 6.3])
    fam = np.array(["Ms", "Ms", "Ms", "mb", "mb"], dtype=object)
    ext = convert(mags, fam, MagnitudeConfig(relations="scordilis2006"))
    assert ext.out_of_range.tolist() == [True, False, False, True, True]
    assert not ext.dropped.any()
    drop = convert(mags, fam, MagnitudeConfig(relations="scordilis2006", out_of_range="drop"))
    assert drop.dropped.tolist() == [True, False, False, True, True]
    assert np.isnan(drop.mw[drop.dropped]).all()
    assert drop.mw[1] == pytest.approx(0.67 * 3.0 + 2.07)


def test_mw_round() -> None:
    res = convert(np.array([3.2]), np.array(["MJMA"], dtype=object), MagnitudeConfig(mw_round=0.1))
    assert res.mw[0] == 4.1  # 0.58 * 3.2 + 2.25 = 4.106


def test_unusable_family_gives_nan() -> None:
    res = convert(np.array([3.0]), np.array([""], dtype=object), MagnitudeConfig())
    assert res.dropped[0] and math.isnan(res.mw[0])


@pytest.mark.parametrize(
    ("raw", "fam"),
    [
        ("Mw", "Mw"),
        ("MW", "Mw"),
        ("mww", "Mw"),
        ("mwc", "Mw"),
        ("mwr", "Mw"),
        ("mwb", "Mw"),
        ("MS", "Ms"),
        ("Ms", "Ms"),
        ("ms_20", "Ms"),
        ("mb", "mb"),
        ("MB", "mb"),
        ("mB", ""),
        ("mb_Lg", ""),
        ("MJMA", "MJMA"),
        ("Mj", "MJMA"),
        ("MV", "MV"),
        ("ML", "ML"),
        ("MLhc", "ML"),
        ("MLv", "ML"),
        ("MLh", "ML"),
        ("md", ""),
        ("Mc", ""),
        ("", ""),
        ("unknown", ""),
    ],
)
def test_family_spellings(raw: str, fam: str) -> None:
    assert family_of(raw) == fam


def test_aliases_override() -> None:
    out = families(np.array(["md", "Mx"], dtype=object), {"md": "ML", "Mx": ""})
    assert out.tolist() == ["ML", ""]


def test_priority_order_on_multi_type_events() -> None:
    # event 0: MJMA, mb, Ms -> Ms wins (paper order Ms, mb, MV, ML, MJMA)
    # event 1: MJMA, ML, MV -> MV wins; event 2: MJMA, Mw, Ms -> native Mw wins
    # event 3: only md -> no usable type; event 4: mb from two agencies -> author priority
    row = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 4, 4])
    fam = np.array(
        ["MJMA", "mb", "Ms", "MJMA", "ML", "MV", "MJMA", "Mw", "Ms", "", "mb", "mb"], dtype=object
    )
    auth = np.array(
        ["JMA", "ISC", "ISC", "JMA", "X", "JMA", "JMA", "GCMT", "ISC", "Y", "NEIC", "ISC"],
        dtype=object,
    )
    chosen = choose_by_priority(row, fam, auth, 5, MagnitudeConfig())
    assert chosen.tolist() == [2, 5, 7, -1, 11]


def test_priority_respects_config_and_drop() -> None:
    row = np.array([0, 0])
    fam = np.array(["MJMA", "mb"], dtype=object)
    auth = np.array(["", ""], dtype=object)
    cfg = MagnitudeConfig(priority=["MJMA", "mb"])
    assert choose_by_priority(row, fam, auth, 1, cfg).tolist() == [0]
    cfg = MagnitudeConfig(
        family_relation={**MagnitudeConfig().family_relation, "MJMA": "drop", "mb": "drop"}
    )
    assert choose_by_priority(row, fam, auth, 1, cfg).tolist() == [-1]


@settings(max_examples=300, deadline=None)
@given(
    rset=st.sampled_from(sorted(RELATION_SETS)),
    name=st.sampled_from(["ms", "mb", "mjma"]),
    mw=st.floats(1.5, 9.0).map(lambda x: round(x, 1)),
)
def test_inverse_then_forward_returns_mw(rset: str, name: str, mw: float) -> None:
    rel = RELATION_SETS[rset][name]
    x = rel.from_mw(np.array([mw]), decimals=3)
    back = rel.to_mw(x)[0]
    assert abs(back - mw) <= 0.5e-3 * max(b.slope for b in rel.branches) + 1e-12


def test_config_errors_name_the_key() -> None:
    with pytest.raises(ConfigError, match="priority"):
        MagnitudeConfig(priority=["Mw", "Mx"]).validate()
    with pytest.raises(ConfigError, match="family_relation.ML"):
        MagnitudeConfig(
            family_relation={**MagnitudeConfig().family_relation, "ML": "nope"}
        ).validate()
    with pytest.raises(ConfigError, match="out_of_range"):
        MagnitudeConfig(out_of_range="clip").validate()
    with pytest.raises(ConfigError, match="relations"):
        MagnitudeConfig(relations="no-such-set").validate()


def test_relation_file(tmp_path) -> None:
    f = tmp_path / "rel.yaml"
    f.write_text(
        "relations:\n  ms:\n    branches:\n      - {slope: 1.0, intercept: 0.5, min: 3, max: 9}\n"
        "  mb:\n    branches:\n      - {slope: 1.0, intercept: 0.0}\n  mjma:\n    branches:\n"
        "      - {slope: 1.0, intercept: 0.1}\n"
    )
    res = convert(
        np.array([4.0]), np.array(["Ms"], dtype=object), MagnitudeConfig(relations=str(f))
    )
    assert res.mw[0] == pytest.approx(4.5)
    bad = tmp_path / "bad.yaml"
    bad.write_text("relations:\n  ms: {}\n")
    with pytest.raises(ConfigError, match="not a valid relation file"):
        load_relation_set(str(bad))
