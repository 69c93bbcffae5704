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

MV and ML have no relation in the paper. MV is JMA's velocity magnitude, calibrated to the MJMA
scale, so it goes through the MJMA relation everywhere. ML is a local amplitude magnitude whose
relation to Mw is regional; espb's default takes **ML as Mw** (``identity``): Mw was defined to
agree with the Californian ML over about M 3-7 (Hanks & Kanamori 1979, JGR 84(B5):2348-2350), and
keeping a catalog's own ML keeps its b-value on the scale regional studies report. Below about
M 2-3 the two scales diverge (Mw ~ 2/3 ML + c; Deichmann 2017, BSSA 107(2):505-520), which a
regional relation file must handle. The MJMA relation is Japan's: the paper's preset
(``presets/catalog/ingest/paper.yaml``, :data:`PAPER_FAMILY_RELATION`) converts ML with it, as the
paper did; applied to a Californian or Swiss ML catalog it would inflate b by 1/0.58 ~ 1.7.
``family_relation`` (``--ml-relation``) chooses per family: ``identity``, ``drop``, or a relation
of the set. The ingest report says which relation converted how many events of each type.

Validity ranges: a value between two branches (e.g. Ms 6.15, in the gap between 6.1 and 6.2)
takes the branch whose range is nearer (the split is the gap's midpoint). A value outside all
branches is extrapolated with the nearest branch by default (the catalog's many small events
must survive), or dropped with ``out_of_range="drop"``; ``max_extrapolation`` drops only those
more than that many magnitude units outside. Extrapolated values are counted per type in the
ingest report either way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from espb.catalog.magtypes import FAMILIES, families, family_of  # noqa: F401 (re-exported)
from espb.errors import ConfigError


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


#: The paper's conversion per family (Section 2): ML and MV through the MJMA relation (Japan).
PAPER_FAMILY_RELATION: dict[str, str] = {
    "Mw": "identity",
    "Ms": "ms",
    "mb": "mb",
    "MV": "mjma",
    "ML": "mjma",
    "MJMA": "mjma",
}

#: espb's default: as the paper, except ML taken as Mw (no regional ML relation assumed).
DEFAULT_FAMILY_RELATION: dict[str, str] = {**PAPER_FAMILY_RELATION, "ML": "identity"}


@dataclass
class MagnitudeConfig:
    """How magnitudes become Mw. Defaults are the paper's choices (Section 2), except ML,
    which is taken as Mw unless a relation is chosen (the paper's preset uses MJMA's)."""

    #: relation set: ``paper``, ``scordilis2006`` or a path to a YAML file (see docs/catalogs.md)
    relations: str = "paper"
    #: most preferred first; types not listed are not used
    priority: list[str] = field(default_factory=lambda: ["Mw", "Ms", "mb", "MV", "ML", "MJMA"])
    #: which relation converts each family (``identity`` = use as Mw, ``drop`` = never use)
    family_relation: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_FAMILY_RELATION))
    #: what to do with a magnitude outside its relation's validity range
    out_of_range: str = "extrapolate"  # or "drop"
    #: with ``extrapolate``: drop values more than this many units outside the range (None:
    #: extrapolate any distance; either way extrapolations are counted in the ingest report)
    max_extrapolation: float | None = None
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
        if self.mw_round is not None and not (
            isinstance(self.mw_round, int | float) and 1e-4 <= self.mw_round <= 1
        ):
            raise ConfigError(
                f"magnitudes.mw_round must be a step between 0.0001 and 1 (e.g. 0.1) or null, "
                f"not {self.mw_round!r}"
            )
        if self.max_extrapolation is not None and not (
            isinstance(self.max_extrapolation, int | float) and 0 <= self.max_extrapolation < 20
        ):
            raise ConfigError(
                "magnitudes.max_extrapolation must be a number of magnitude units >= 0 or null, "
                f"not {self.max_extrapolation!r}"
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


@dataclass
class Conversion:
    """Result of :func:`convert`: Mw per event and which events could not be converted."""

    mw: np.ndarray
    out_of_range: np.ndarray  # bool: outside the relation's validity range
    dropped: np.ndarray  # bool: no relation, or removed by out_of_range / max_extrapolation
    #: signed distance outside the range (negative: below it; 0 inside)
    outside_by: np.ndarray | None = None


def convert(mag: np.ndarray, family: np.ndarray, cfg: MagnitudeConfig) -> Conversion:
    """Convert magnitudes of the given families to Mw (paper Eqs. 2-4).

    ``family`` holds one family name per magnitude (see :func:`families`). Families without a
    relation give NaN and count as dropped.
    """
    mag = np.asarray(mag, dtype=float)
    family = np.asarray(family, dtype=object)
    mw = np.full(mag.shape, np.nan)
    oor = np.zeros(mag.shape, dtype=bool)
    by = np.zeros(mag.shape)
    for fam in np.unique(family.astype(str)):
        sel = family == fam
        rel = cfg.relation_for(fam) if fam else None
        if rel is None:
            continue
        m = mag[sel]
        mw[sel] = rel.to_mw(m)
        oor[sel] = ~rel.in_range(m)
        lo, hi = rel.branches[0].lo, rel.branches[-1].hi
        by[sel] = np.where(m < lo, m - lo, np.where(m > hi, m - hi, 0.0))
    if cfg.mw_round:
        mw = np.round(mw / cfg.mw_round) * cfg.mw_round
        mw = np.round(mw, 10)
    if cfg.out_of_range == "drop":
        too_far = oor
    elif cfg.max_extrapolation is not None:
        too_far = np.abs(by) > cfg.max_extrapolation + 1e-9
    else:
        too_far = np.zeros_like(oor)
    dropped = np.isnan(mw) | too_far
    mw = np.where(dropped, np.nan, mw)
    return Conversion(mw=mw, out_of_range=oor, dropped=dropped, outside_by=by)


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
