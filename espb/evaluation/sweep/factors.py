"""The six factors of paper Table 1 in a sweep's tables: typed values, levels and their order,
and the paper's notation. The factors themselves (short name, Table 1 levels, how a value is
written) come from :data:`espb.paper.FACTORS`.

Levels and baselines. Each factor's levels are ordered as in paper Table 1 (:data:`PAPER_LEVELS`);
the first level is the baseline of Figure C.7 ("the first entry of the table on the right is taken
as the baseline"): dr 0.15 deg, dt 150 d, M_lim 4.0, loss MAE, l_ME 14 d and AE *on* (Table 1
lists "Yes, No", and Figure C.9 puts the runs with the autoencoder in the upper row blocks). The
same order lays out the grid of Figure C.9. A sweep may cover a subset or other values: levels are
then derived from the data (:func:`infer_levels`), paper values in paper order first, others
sorted after them; every function also takes ``levels`` explicitly.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from espb.paper import BY_SHORT, FACTOR_NAMES, PAPER_NOTATION

#: the six factors of paper Table 1 by short name, in the order of the paper's figures
FACTORS: tuple[str, ...] = FACTOR_NAMES
#: paper Table 1 values in the paper's order; the first of each is the baseline of Figure C.7
PAPER_LEVELS: dict[str, tuple[Any, ...]] = {f: BY_SHORT[f].levels for f in FACTORS}

_TRUE = {"true", "yes", "on", "1", "1.0"}
_FALSE = {"false", "no", "off", "0", "0.0"}

Levels = Mapping[str, Sequence[Any]]


def _as_bool(v: Any) -> Any:
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
        return pd.NA
    if isinstance(v, bool | np.bool_):
        return bool(v)
    s = str(v).strip().lower()
    return True if s in _TRUE else False if s in _FALSE else pd.NA


def _as_int(s: pd.Series) -> pd.Series:
    n = pd.to_numeric(s, errors="coerce").round()
    return n.astype("int64") if n.notna().all() else n.astype("Int64")


def coerce_factors(df: pd.DataFrame) -> pd.DataFrame:
    """A copy with the factor columns present in ``df`` as typed values (Table 1): ``dr`` and
    ``M_lim`` floats (rounded to 6 decimals), ``dt`` and ``l_ME`` ints, ``loss`` lower-case str,
    ``AE`` bool. MLflow params arrive as strings ("0.15", "True"); unreadable values become NA."""
    out = df.copy()
    for f in ("dr", "M_lim"):
        if f in out:
            out[f] = pd.to_numeric(out[f], errors="coerce").astype(float).round(6)
    for f in ("dt", "l_ME"):
        if f in out:
            out[f] = _as_int(out[f])
    if "loss" in out:
        out["loss"] = [v.strip().lower() if isinstance(v, str) else pd.NA for v in out["loss"]]
        out["loss"] = out["loss"].astype(object)
    if "AE" in out:
        vals = [_as_bool(v) for v in out["AE"]]
        has_na = any(v is pd.NA for v in vals)
        out["AE"] = pd.Series(vals, index=out.index, dtype=object if has_na else bool)
    return out


def py(v: Any) -> Any:
    """A plain Python value (numpy scalars unwrapped)."""
    return v.item() if isinstance(v, np.generic) else v


def missing(v: Any) -> bool:
    """None, NA or NaN."""
    return v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v))


def _same(a: Any, b: Any) -> bool:
    """Level equality: numbers within 1e-6 (0.15 == 0.1500000001), else ==."""
    num = (int, float, np.integer, np.floating)
    if (
        isinstance(a, num)
        and isinstance(b, num)
        and not isinstance(a, bool | np.bool_)
        and not isinstance(b, bool | np.bool_)
    ):
        return math.isclose(float(a), float(b), rel_tol=0.0, abs_tol=1e-6)
    if isinstance(a, bool | np.bool_) != isinstance(b, bool | np.bool_):
        return False
    return bool(a == b)


def level_index(levels: Sequence[Any], value: Any) -> int | None:
    """Position of ``value`` in ``levels`` (numbers compared within 1e-6), None if absent."""
    if missing(value):
        return None
    for i, lv in enumerate(levels):
        if _same(lv, value):
            return i
    return None


def order_levels(factor: str, values: Sequence[Any]) -> tuple[Any, ...]:
    """``values`` without duplicates, in paper Table 1 order where they match a paper level,
    the others sorted after them (:data:`PAPER_LEVELS`)."""
    uniq: list[Any] = []
    for v in values:
        v = py(v)
        if not missing(v) and level_index(uniq, v) is None:
            uniq.append(v)
    paper = PAPER_LEVELS.get(factor, ())

    def key(v: Any) -> tuple[int, float, str]:
        i = level_index(paper, v)
        if i is not None:
            return (0, float(i), "")
        if isinstance(v, int | float) and not isinstance(v, bool):
            return (1, float(v), "")
        return (2, 0.0, str(v))

    return tuple(sorted(uniq, key=key))


def infer_levels(df: pd.DataFrame, factors: Sequence[str] = FACTORS) -> dict[str, tuple[Any, ...]]:
    """The levels of each factor present in ``df`` (paper order, see :func:`order_levels`)."""
    typed = coerce_factors(df)
    return {f: order_levels(f, list(typed[f])) for f in factors if f in typed}


def resolve_levels(df: pd.DataFrame, levels: Levels | None = None) -> dict[str, tuple[Any, ...]]:
    """``levels`` where given (per factor), else the levels found in ``df``."""
    found = infer_levels(df)
    given = {f: tuple(py(v) for v in vs) for f, vs in (levels or {}).items()}
    return {f: given.get(f, found.get(f, ())) for f in FACTORS}


def level_label(factor: str, v: Any) -> str:
    """A factor value as the paper writes it (``0.15°``, ``730d``, ``MAE``, ``OFF``); ``?``
    when missing."""
    return BY_SHORT[factor].label(v) if not missing(v) else "?"


def describe_config(row: Mapping[str, Any]) -> str:
    """A configuration in the paper's notation, e.g. ``[730d, 0.15°, 4.0, MAE, 14d, OFF]``
    (Appendix C.1: lookback, radius, magnitude limit, loss, meta-epoch length, autoencoder)."""
    return "[" + ", ".join(level_label(f, row.get(f)) for f in PAPER_NOTATION) + "]"
