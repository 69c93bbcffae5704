"""The comparison of rate-forecast runs (one per model and data setting, e.g. a Hydra multirun):
the table of docs/rates.md (Poisson GLM / NB GLM / EarthquakeNet / + b-value features) with the
walk-forward metrics, the relative change against the NB GLM of the same data setting (the seed
paper's baseline: -8.6 % mean Poisson deviance, -12.5 % tail CRPS), the LRT and the pyCSEP
rejection rates, and the deviance per model and year.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from espb.errors import EspbError
from espb.rates import figures as fg

#: table columns: (summary metric, header)
COLUMNS = (
    ("test/deviance", "mean Poisson deviance"),
    ("test/nll", "NLL"),
    ("test/crps", "CRPS"),
    ("test/tail5/deviance", "tail deviance (>= 5)"),
    ("test/tail5/crps", "tail CRPS (>= 5)"),
    ("pit/max_deviation", "PIT max dev"),
    ("moran/i_mean_weekly", "Moran's I (weekly)"),
    ("csep/n_test_reject", "N-test reject"),
    ("csep/nb_n_test_reject", "NB N-test reject"),
    ("csep/s_test_reject", "S-test reject"),
    ("alpha/mean", "mean alpha"),
    ("time/walkforward_s", "walk-forward s"),
    ("time/walkforward_cpu_s", "walk-forward CPU s"),
)
ORDER = ("poisson_glm", "nb_glm", "earthquakenet")


def collect(root: str | Path) -> list[dict]:
    """Every run summary (``summary.json``) under ``root``."""
    root = Path(root)
    paths = sorted(root.rglob("summary.json"))
    if not paths:
        raise EspbError(f"{root}: no rate-forecast runs (summary.json) found; run espb-rates first")
    out = []
    for p in paths:
        d = json.loads(p.read_text())
        d["run_dir"] = str(p.parent)
        out.append(d)
    return out


def _setting(d: dict) -> str:
    s = d["settings"]["data"]
    return f"{d.get('name', '?')} {s['cell_deg']:g}deg {s['period_days']}d M>={s['m_min']:g}"


def comparison(runs: list[dict], baseline: str = "nb_glm") -> pd.DataFrame:
    """One row per run: setting, model, the :data:`COLUMNS` metrics (pooled over all test rows),
    the median over folds of the deviance and tail CRPS (robust to one extreme year), the change
    (%) against ``baseline`` of the same setting, and the LRT."""
    rows = []
    for d in runs:
        m = d["metrics"]
        row = {"setting": _setting(d), "model": d["label"]}
        row.update({h: m.get(k, np.nan) for k, h in COLUMNS})
        folds = pd.DataFrame(d["folds"])
        row["median fold deviance"] = float(folds["deviance"].median())
        row["median fold tail CRPS"] = (
            float(folds["tail5/crps"].median()) if "tail5/crps" in folds else np.nan
        )
        row["LRT log10 p"] = m.get("lrt/log10_p", np.nan)
        row["LRT alpha"] = m.get("lrt/alpha", np.nan)
        rows.append(row)
    tab = pd.DataFrame(rows)
    for col, rel in (
        ("mean Poisson deviance", "deviance vs NB GLM %"),
        ("tail CRPS (>= 5)", "tail CRPS vs NB GLM %"),
    ):
        base = tab[tab["model"] == baseline].groupby("setting")[col].first()
        tab[rel] = 100.0 * (tab[col] / tab["setting"].map(base) - 1.0)
    key = tab["model"].map(
        lambda s: (
            ORDER.index(s.split("[")[0].split("+")[0])
            if s.split("[")[0].split("+")[0] in ORDER
            else 9,
            s,
        )
    )
    return (
        tab.assign(_k=key).sort_values(["setting", "_k"]).drop(columns="_k").reset_index(drop=True)
    )


def by_year(runs: list[dict], metric: str = "deviance") -> pd.DataFrame:
    """Per-fold ``metric`` of every run: columns setting, model, year, metric."""
    rows = []
    for d in runs:
        for f in d["folds"]:
            rows.append(
                {"setting": _setting(d), "model": d["label"], "year": f["label"], metric: f[metric]}
            )
    return pd.DataFrame(rows)


def to_markdown(tab: pd.DataFrame) -> str:
    """The table as GitHub Markdown (3 significant digits)."""
    cols = list(tab.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, r in tab.iterrows():
        cells = []
        for c in cols:
            v = r[c]
            if isinstance(v, float | np.floating):
                cells.append("n/a" if not np.isfinite(v) else f"{v:.4g}")
            else:
                cells.append(str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_report(root: str | Path, out: str | Path | None = None) -> dict[str, Path]:
    """comparison.md / .csv and deviance_by_year.png (one per setting) into ``out`` (default
    ``root``)."""
    runs = collect(root)
    out = Path(out or root)
    out.mkdir(parents=True, exist_ok=True)
    tab = comparison(runs)
    paths = {"csv": out / "comparison.csv", "md": out / "comparison.md"}
    tab.to_csv(paths["csv"], index=False)
    paths["md"].write_text(to_markdown(tab))
    years = by_year(runs)
    for i, (setting, g) in enumerate(years.groupby("setting")):
        p = out / f"deviance_by_year_{i}.png"
        fg.save(fg.plot_deviance_by_year(g, f"{setting}: mean Poisson deviance per test year"), p)
        paths[f"figure_{i}"] = p
    return paths
