"""Figure 5 is drawn once (espb.training.figures): the run's accuracy.png (written at the end of
a run by espb.training.outputs) and the run report's fig05_accuracy.png
(espb.evaluation.diagnostics.steps) are the same figure of the same rows."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
from matplotlib.image import imread

from espb.bvalue.plot import Annotation
from espb.evaluation.diagnostics import steps
from espb.training import figures, outputs


def _metrics() -> pd.DataFrame:
    """A metrics.csv table: six development and four test meta-epochs with training accuracy."""
    rng = np.random.default_rng(5)
    rows = []
    for i, d in enumerate(pd.date_range("2010-01-01", periods=10, freq="60D")):
        p = "val" if i < 6 else "test"
        acc = rng.uniform(0.3, 0.9, 4)
        rows.append(
            {
                "phase": "dev" if i < 6 else "test",
                "meta_epoch": i,
                "date": d.strftime("%Y-%m-%d"),
                f"{p}/n_eq": 3.0,
                f"{p}/n_neq": float(i + 1),
                **{f"{p}/{c}": v for c, v in zip(figures.COLUMNS[:4], acc, strict=True)},
                "train/accuracy": 0.8 + 0.01 * i,
                "train/n_samples": 100.0 + 10 * i,
            }
        )
    return pd.DataFrame(rows)


def _capture(monkeypatch) -> list:
    """Wrap the one Figure 5 drawing function: each call appends ``(data, figure)``."""
    calls = []
    draw = figures.accuracy_figure

    def spy(data, annotations=(), title=""):
        calls.append((data, draw(data, annotations, title=title)))
        return calls[-1][1]

    monkeypatch.setattr(figures, "accuracy_figure", spy)
    return calls


def test_run_png_and_report_fig05_are_one_drawing(tmp_path, monkeypatch):
    calls = _capture(monkeypatch)
    m = _metrics()
    ann = [Annotation("big one", pd.Timestamp("2010-09-01"))]
    title = "r: accuracy per meta-epoch (Figure 5)"
    # the run's writer as finish_run calls it, on the run's records (the rows of metrics.csv)
    assert outputs.write_accuracy_figure is figures.write_accuracy_figure
    png = outputs.write_accuracy_figure(m.to_dict("records"), tmp_path / "a.png", title, ann)
    ctx = SimpleNamespace(
        run=SimpleNamespace(metrics=m, name="r"), annotations=figures.date_marks(ann)
    )
    step = steps.fig05(ctx)
    assert len(calls) == 2  # both paths went through the one drawing function
    pd.testing.assert_frame_equal(calls[0][0], calls[1][0])
    assert np.isfinite(calls[0][0]["train_accuracy"]).all()  # the run's figure has it too
    step.figure.savefig(tmp_path / "b.png", dpi=figures.RUN_DPI)
    assert np.array_equal(imread(png), imread(tmp_path / "b.png"))


def test_run_png_draws_the_training_accuracy_and_its_level(tmp_path, monkeypatch):
    calls = _capture(monkeypatch)
    figures.write_accuracy_figure(_metrics().to_dict("records"), tmp_path / "a.png")
    labels = calls[0][1].axes[0].get_legend_handles_labels()[1]
    assert "training-set accuracy" in labels
    level = figures.train_level(figures.accuracy_data(_metrics()))
    w = 100.0 + 10 * np.arange(6)
    assert level == np.average(0.8 + 0.01 * np.arange(6), weights=w)
    assert f"training level {level:.3f}" in labels
