"""Magnitude-type spellings: which family (Mw, Ms, mb, MV, ML, MJMA) each raw type belongs to.

Catalogs spell types many ways (``mww``, ``MS_20``, ``MLhc``, ``Mj`` ...); the conversion to Mw
(:mod:`espb.catalog.magnitudes`) works on families.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pandas as pd

#: The magnitude families espb knows; everything else is "unusable" and counted when dropped.
FAMILIES: tuple[str, ...] = ("Mw", "Ms", "mb", "MV", "ML", "MJMA")

_MW = {"mw", "mww", "mwc", "mwr", "mwb", "mwd", "mwp", "mw(gcmt)", "mwg"}
_MS = {"ms", "ms_20", "msz", "ms1", "ms1mx", "ms7", "ms_bb", "msbb", "ms_vx"}
_MB = {"mb", "mb1", "mb1mx", "mbtmp", "mb_z", "mbz"}
_MV = {"mv"}
_MJMA = {"mjma", "mj", "mjm", "jma", "mj(jma)"}
_ML_EXCLUDE = {"mlg", "ml_lg", "mlr"}


def family_of(raw: str) -> str:
    """The magnitude family of one type spelling ("" when espb has no use for it).

    Case matters only where the community uses it: ``mB`` (broadband body wave) is not ``mb``.
    """
    s = str(raw).strip()
    if not s or s == "mB" or s.lower() in ("mb_bb", "mbbb"):
        return ""
    low = s.lower()
    if low in _MW:
        return "Mw"
    if low in _MS:
        return "Ms"
    if low in _MB:
        return "mb"
    if low in _MV:
        return "MV"
    if low in _MJMA:
        return "MJMA"
    if low not in _ML_EXCLUDE and re.fullmatch(r"ml[a-z0-9_]*", low):
        return "ML"
    return ""


def families(
    raw_types: Sequence[str] | np.ndarray, aliases: dict[str, str] | None = None
) -> np.ndarray:
    """Vectorised :func:`family_of` (maps the few distinct spellings once)."""
    arr = np.asarray(raw_types, dtype=object)
    if arr.size == 0:
        return np.array([], dtype=object)
    codes, uniq = pd.factorize(arr.astype(str))  # hashing, not sorting: cheap for millions
    aliases = aliases or {}
    mapped = np.array([aliases[u] if u in aliases else family_of(u) for u in uniq], dtype=object)
    return mapped[codes]


__all__ = ["FAMILIES", "families", "family_of"]
