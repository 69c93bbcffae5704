"""Magnitude homogenisation to Mw (paper Section 2, Eqs. 2-4).

The paper converts Ms, mb, MV, ML and MJMA to Mw "using the relations given in (Scordilis,
2005)" and prints them as Eqs. 2-4; when an event carries several types they are prioritised
in the order Ms, mb, MV, ML, MJMA (native Mw, where present, is used as is and comes first).

Two relation sets ship with espb:

``paper`` (default)
    Exactly Eqs. 2-4 as printed:
    Ms: 0.65 Ms + 2.20 (3.0-6.1), 1.00 Ms - 0.02 (6.2-8.0);
    mb: 0.85 mb + 1.02 (the paper prints no range; none is applied);
    MJMA: 0.58 MJMA + 2.25 (3.0-5.5), 0.97 MJMA + 0.04 (5.6-8.2).
``scordilis2006``
    Scordilis (2006, J. Seismol. 10:225-236) as published:
    Ms: 0.67 Ms + 2.07 (3.0-6.1), 0.99 Ms + 0.08 (6.2-8.2); mb: 0.85 mb + 1.03 (3.5-6.2).
    That paper has no MJMA relation, so this set keeps the paper's Eq. 4 for MJMA.

ML and MV have no relation in the paper. espb's default converts both with the MJMA relation:
MV is JMA's velocity magnitude, calibrated to the same scale as MJMA, and ML in this region is
the local amplitude magnitude closest to MJMA. ``family_relation`` changes this per type
(``identity`` to take them as Mw, or ``drop``).

Validity ranges: a value between two branches (e.g. Ms 6.15, in the gap between 6.1 and 6.2)
takes the branch whose range is nearer (the split is the gap's midpoint). A value outside all
branches is extrapolated with the nearest branch by default (the catalog's many small events
must survive), or dropped with ``out_of_range="drop"``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from espb.errors import ConfigError

#: The magnitude families espb knows; everything else is "unusable" and counted when dropped.
FAMILIES: tuple[str, ...] = ("Mw", "Ms", "mb", "MV", "ML", "MJMA")


@dataclass(frozen=True)
class Branch:
    """One linear piece ``Mw = slope * M + intercept`` valid for ``lo <= M <= hi``."""

    slope: float
    intercept: float
    lo: float = -math.inf
    hi: float = math.inf


@dataclass(frozen=True)
class Relation:
    """A piecewise-linear conversion from one magnitude type to Mw."""

    name: str
    branches: tuple[Branch, ...]
    reference: str = ""

    def __post_init__(self) -> None:
        if not self.branches:
            raise ConfigError(f"relation {self.name!r} has no branches")
        for a, b in zip(self.branches, self.branches[1:], strict=False):
            if not a.hi <= b.lo:
                raise ConfigError(
                    f"relation {self.name!r}: branches overlap or are unsorted "
                    f"({a.lo}-{a.hi} then {b.lo}-{b.hi}); list them by increasing magnitude"
                )

    @property
    def splits(self) -> np.ndarray:
        """Boundaries between branches: the midpoints of the gaps between validity ranges."""
        return np.array(
            [(a.hi + b.lo) / 2 for a, b in zip(self.branches, self.branches[1:], strict=False)]
        )

    def branch_index(self, m: np.ndarray) -> np.ndarray:
        """Index of the branch that converts each source magnitude."""
        return np.searchsorted(self.splits, np.asarray(m, dtype=float), side="right")

    def in_range(self, m: np.ndarray) -> np.ndarray:
        """True where ``m`` lies within the relation's validity range (gaps included)."""
        m = np.asarray(m, dtype=float)
        return (m >= self.branches[0].lo) & (m <= self.branches[-1].hi)

    def to_mw(self, m: np.ndarray) -> np.ndarray:
        """Convert source magnitudes to Mw (out-of-range values use the nearest branch)."""
        m = np.asarray(m, dtype=float)
        idx = self.branch_index(m)
        slope = np.array([b.slope for b in self.branches])[idx]
        icpt = np.array([b.intercept for b in self.branches])[idx]
        return slope * m + icpt

    def from_mw(self, mw: np.ndarray, decimals: int | None = None) -> np.ndarray:
        """Invert :meth:`to_mw`: the source magnitude that converts back to ``mw``.

        Used by the synthetic catalog to report realistic magnitude types. With
        ``decimals`` the result is rounded as a catalog would print it, and kept on the
        branch it was computed for, so that ``to_mw(from_mw(x, d))`` differs from ``x`` by at
        most ``0.5 * 10**-d`` times the branch slope.
        """
        mw = np.asarray(mw, dtype=float)
        out = np.full(mw.shape, np.nan)
        chosen = np.full(mw.shape, -1)
        for i, b in enumerate(self.branches):
            x = (mw - b.intercept) / b.slope
            ok = (self.branch_index(x) == i) & (chosen < 0)
            out[ok] = x[ok]
            chosen[ok] = i
        if (chosen < 0).any():  # mw in an unattainable jump: take the nearest branch edge
            miss = chosen < 0
            cands = np.stack([(mw[miss] - b.intercept) / b.slope for b in self.branches])
            fwd = np.stack([b.slope * cands[i] + b.intercept for i, b in enumerate(self.branches)])
            j = np.argmin(np.abs(fwd - mw[miss]), axis=0)
            out[miss] = cands[j, np.arange(len(j))]
            chosen[miss] = j
        if decimals is not None:
            step = 10.0**-decimals
            r = np.round(out, decimals)
            moved = self.branch_index(r) != chosen
            # push values that rounding moved across a split back onto their branch
            r[moved] = np.where(
                self.branch_index(r[moved]) > chosen[moved], r[moved] - step, r[moved] + step
            )
            out = np.round(r, decimals)
        return out


IDENTITY = Relation("identity", (Branch(1.0, 0.0),), "native Mw, used as is")

_INF = math.inf
RELATION_SETS: dict[str, dict[str, Relation]] = {
    "paper": {
        "ms": Relation(
            "ms",
            (Branch(0.65, 2.20, 3.0, 6.1), Branch(1.00, -0.02, 6.2, 8.0)),
            "Koehler et al. Eq. 2",
        ),
        "mb": Relation(
            "mb", (Branch(0.85, 1.02, -_INF, _INF),), "Koehler et al. Eq. 3 (no range printed)"
        ),
        "mjma": Relation(
            "mjma",
            (Branch(0.58, 2.25, 3.0, 5.5), Branch(0.97, 0.04, 5.6, 8.2)),
            "Koehler et al. Eq. 4",
        ),
    },
    "scordilis2006": {
        "ms": Relation(
            "ms",
            (Branch(0.67, 2.07, 3.0, 6.1), Branch(0.99, 0.08, 6.2, 8.2)),
            "Scordilis (2006) Eqs. 7-8",
        ),
        "mb": Relation("mb", (Branch(0.85, 1.03, 3.5, 6.2),), "Scordilis (2006) Eq. 9"),
        "mjma": Relation(
            "mjma",
            (Branch(0.58, 2.25, 3.0, 5.5), Branch(0.97, 0.04, 5.6, 8.2)),
            "Koehler et al. Eq. 4 (Scordilis 2006 has no MJMA relation)",
        ),
    },
}


@dataclass
class MagnitudeConfig:
    """How magnitudes become Mw. Defaults are the paper's choices (Section 2)."""

    #: relation set: ``paper``, ``scordilis2006`` or a path to a YAML file (see docs/catalogs.md)
    relations: str = "paper"
    #: most preferred first; types not listed are not used
    priority: list[str] = field(default_factory=lambda: ["Mw", "Ms", "mb", "MV", "ML", "MJMA"])
    #: which relation converts each family (``identity`` = use as Mw, ``drop`` = never use)
    family_relation: dict[str, str] = field(
        default_factory=lambda: {
            "Mw": "identity",
            "Ms": "ms",
            "mb": "mb",
            "MV": "mjma",
            "ML": "mjma",
            "MJMA": "mjma",
        }
    )
    #: what to do with a magnitude outside its relation's validity range
    out_of_range: str = "extrapolate"  # or "drop"
    #: round the converted Mw to this step (e.g. 0.1); ``None`` keeps it continuous (paper)
    mw_round: float | None = None
    #: preferred reporting agencies when one type is reported by several (ISC, QuakeML);
    #: agencies not listed rank after listed ones, in file order
    author_priority: list[str] = field(default_factory=lambda: ["ISC", "GCMT", "NEIC", "JMA"])
    #: extra spellings: raw type string (exact) -> family name, or "" to ignore that spelling
    aliases: dict[str, str] = field(default_factory=dict)

    def validate(self) -> None:
        for fam in self.priority:
            if fam not in FAMILIES:
                raise ConfigError(
                    f"magnitudes.priority: unknown magnitude family {fam!r}; use some of {list(FAMILIES)}"
                )
        rels = self.relation_set()
        for fam, rel in self.family_relation.items():
            if fam not in FAMILIES:
                raise ConfigError(
                    f"magnitudes.family_relation: unknown family {fam!r}; use {list(FAMILIES)}"
                )
            if rel not in ("identity", "drop") and rel not in rels:
                raise ConfigError(
                    f"magnitudes.family_relation.{fam}: relation {rel!r} is not in set "
                    f"{self.relations!r} (it has {sorted(rels)}, plus identity and drop)"
                )
        for fam in self.priority:
            if fam not in self.family_relation:
                raise ConfigError(
                    f"magnitudes.family_relation has no entry for {fam!r}, which priority lists"
                )
        if self.out_of_range not in ("extrapolate", "drop"):
            raise ConfigError(
                f"magnitudes.out_of_range must be 'extrapolate' or 'drop', not {self.out_of_range!r}"
            )
        if self.mw_round is not None and not self.mw_round > 0:
            raise ConfigError(
                f"magnitudes.mw_round must be positive or null, not {self.mw_round!r}"
            )
        for raw, fam in self.aliases.items():
            if fam not in (*FAMILIES, ""):
                raise ConfigError(
                    f"magnitudes.aliases.{raw}: {fam!r} is not a family of {list(FAMILIES)}"
                )

    def relation_set(self) -> dict[str, Relation]:
        return load_relation_set(self.relations)

    def relation_for(self, family: str) -> Relation | None:
        """The relation converting ``family``; None when the family is not used."""
        name = self.family_relation.get(family, "drop")
        if name == "drop" or family not in self.priority:
            return None
        if name == "identity":
            return IDENTITY
        return self.relation_set()[name]


def load_relation_set(spec: str) -> dict[str, Relation]:
    """A named relation set or one read from a YAML file.

    YAML layout::

        relations:
          ms:
            reference: "my source"
            branches:
              - {slope: 0.67, intercept: 2.07, min: 3.0, max: 6.1}
              - {slope: 0.99, intercept: 0.08, min: 6.2, max: 8.2}
    """
    if spec in RELATION_SETS:
        return RELATION_SETS[spec]
    p = Path(spec)
    if not p.exists():
        raise ConfigError(
            f"magnitudes.relations: {spec!r} is neither a known relation set {sorted(RELATION_SETS)} "
            "nor an existing YAML file"
        )
    try:
        doc = yaml.safe_load(p.read_text())
        out = {}
        for name, body in doc["relations"].items():
            branches = tuple(
                Branch(
                    float(b["slope"]),
                    float(b["intercept"]),
                    float(b.get("min", -math.inf)),
                    float(b.get("max", math.inf)),
                )
                for b in body["branches"]
            )
            out[str(name)] = Relation(str(name), branches, str(body.get("reference", p.name)))
        return out
    except (KeyError, TypeError, ValueError, yaml.YAMLError) as exc:
        raise ConfigError(
            f"{p}: not a valid relation file ({exc!r}); expected 'relations: {{name: {{branches: "
            "[{slope, intercept, min, max}, ...]}}}}'"
        ) from exc


# --- magnitude-type spellings -------------------------------------------------------------

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


@dataclass
class Conversion:
    """Result of :func:`convert`: Mw per event and which events could not be converted."""

    mw: np.ndarray
    out_of_range: np.ndarray  # bool: outside the relation's validity range
    dropped: np.ndarray  # bool: removed because of out_of_range == "drop"


def convert(mag: np.ndarray, family: np.ndarray, cfg: MagnitudeConfig) -> Conversion:
    """Convert magnitudes of the given families to Mw (paper Eqs. 2-4).

    ``family`` holds one family name per magnitude (see :func:`families`). Families without a
    relation give NaN and count as dropped.
    """
    mag = np.asarray(mag, dtype=float)
    family = np.asarray(family, dtype=object)
    mw = np.full(mag.shape, np.nan)
    oor = np.zeros(mag.shape, dtype=bool)
    for fam in np.unique(family.astype(str)):
        sel = family == fam
        rel = cfg.relation_for(fam) if fam else None
        if rel is None:
            continue
        mw[sel] = rel.to_mw(mag[sel])
        oor[sel] = ~rel.in_range(mag[sel])
    if cfg.mw_round:
        mw = np.round(mw / cfg.mw_round) * cfg.mw_round
        mw = np.round(mw, 10)
    dropped = np.isnan(mw) | (oor if cfg.out_of_range == "drop" else np.zeros_like(oor))
    mw = np.where(dropped, np.nan, mw)
    return Conversion(mw=mw, out_of_range=oor, dropped=dropped)


def choose_by_priority(
    row: np.ndarray,
    family: np.ndarray,
    author: np.ndarray,
    n_rows: int,
    cfg: MagnitudeConfig,
) -> np.ndarray:
    """Pick one magnitude per event from a long list of (event row, family, author) entries.

    The paper's priority (Mw, then Ms, mb, MV, ML, MJMA) decides between types; between
    reports of the same type, ``author_priority`` then file order. Returns, per event row,
    the index into the long list of the chosen entry, or -1 when the event has no usable type.
    """
    row = np.asarray(row, dtype=np.int64)
    fam = np.asarray(family, dtype=object).astype(str)
    auth = np.asarray(author, dtype=object).astype(str)
    fam_rank = {f: i for i, f in enumerate(cfg.priority) if cfg.relation_for(f) is not None}
    big = len(FAMILIES) + 1
    fcodes, uf = pd.factorize(fam)
    frank = np.array([fam_rank.get(f, big) for f in uf], dtype=np.int64)[fcodes]
    au_rank = {a.upper(): i for i, a in enumerate(cfg.author_priority)}
    acodes, ua = pd.factorize(auth)
    arank = np.array([au_rank.get(a.strip().upper(), len(au_rank)) for a in ua], dtype=np.int64)[
        acodes
    ]
    usable = frank < big
    order = np.lexsort((np.arange(len(row)), arank, frank, row))
    order = order[usable[order]]
    chosen = np.full(n_rows, -1, dtype=np.int64)
    if order.size:
        r = row[order]
        first = np.ones(len(r), dtype=bool)
        first[1:] = r[1:] != r[:-1]
        chosen[r[first]] = order[first]
    return chosen
