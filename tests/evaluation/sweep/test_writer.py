"""The sweep report's files (espb.evaluation.sweep.writer) on a constructed small sweep."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd

from espb.evaluation.sweep.analysis import best_configs, period_accuracy
from espb.evaluation.sweep.factors import FACTORS, describe_config
from espb.evaluation.sweep.writer import write_report

#: the files of a sweep report without seed replicates or forecast ranking
REPORT_FILES = frozenset(
    {
        "sweep_report.md",
        "accuracy_by_period.csv",
        "parameter_effects.csv",
        "fig_c7_parameter_effects.png",
        "fig_c8_histograms.png",
        "fig_c9_grid.png",
        "fig_8_trajectories.png",
    }
)
PNG = b"\x89PNG\r\n\x1a\n"


# ------------------------------------------------------------------------------------ report


def _small_sweep() -> tuple[pd.DataFrame, pd.DataFrame]:
    levels = {
        "dr": (0.15, 0.35),
        "dt": (150,),
        "M_lim": (4.0, 4.9),
        "loss": ("mae", "bce"),
        "l_ME": (14,),
        "AE": (True, False),
    }
    configs = pd.DataFrame(
        [
            {"run_id": f"run{i:02d}", **dict(zip(FACTORS, c, strict=True))}
            for i, c in enumerate(itertools.product(*levels.values()))
        ]
    )
    rng = np.random.default_rng(0)
    days = pd.date_range("2005-06-01", "2015-06-01", freq="30D")
    frames = []
    for k, r in enumerate(configs.itertuples()):
        if k == 3:  # an unfinished run: no predictions
            continue
        p = 0.55 + (0.15 if r.M_lim == 4.0 else 0) + 0.01 * k
        for me, d in enumerate(days):
            n = 6
            label = np.arange(n) % 2
            right = rng.random(n) < p
            score = np.where(right == (label == 1), 0.8, 0.3)
            frames.append(
                pd.DataFrame(
                    {
                        "run_id": r.run_id,
                        "meta_epoch": me,
                        "phase": "dev",
                        "date": d,
                        "label": label,
                        "score": score,
                    }
                )
            )
    return configs, pd.concat(frames, ignore_index=True)


def test_write_report_writes_all_files(tmp_path: Path) -> None:
    configs, preds = _small_sweep()
    acc = period_accuracy(preds, configs)
    paths = write_report(
        acc,
        preds,
        configs,
        tmp_path / "rep",
        "Test sweep",
        meta={"experiment": "espb-test", "runs finished / expected": "15 / 16"},
    )
    names = REPORT_FILES
    assert set(paths) == names
    for n in names:
        assert paths[n] == tmp_path / "rep" / n and paths[n].exists()
    for n in names:
        if n.endswith(".png"):
            data = paths[n].read_bytes()
            assert data[:8] == PNG and len(data) > 15_000, n
    table = pd.read_csv(paths["accuracy_by_period.csv"])
    assert len(table) == 16 and {"acc_all", "acc_T4", "n_T3"} <= set(table.columns)
    assert table["n_all"].eq(0).sum() == 1
    effects = pd.read_csv(paths["parameter_effects.csv"])
    assert set(effects["factor"]) == {"dr", "M_lim", "loss", "AE"}
    md = paths["sweep_report.md"].read_text()
    best = best_configs(acc)
    assert md.startswith("# Test sweep")
    assert "espb-test" in md and "15 / 16" in md
    assert describe_config(best["overall"]) in md and best["overall"]["run_id"] in md
    assert describe_config(best["m_lim"]) in md and best["m_lim"]["M_lim"] == 4.9
    assert "T4 (2016-01-01 – end): **empty**" in md
    assert "pooled dev+test" not in md  # no selection table given: acc is the development period
    for n in names:
        if n.endswith(".png"):
            assert f"]({n})" in md


def test_write_report_with_no_predictions(tmp_path: Path) -> None:
    configs, preds = _small_sweep()
    empty = preds.iloc[:0]
    acc = period_accuracy(empty, configs)
    paths = write_report(acc, empty, configs, tmp_path, "Nothing finished")
    assert all(p.exists() for p in paths.values())
    assert "none (no run with an accuracy)" in paths["sweep_report.md"].read_text()
