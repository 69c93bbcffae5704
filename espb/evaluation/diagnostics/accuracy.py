"""Figure 5 of the run report (paper Section 4.1; Figure E.12 for Model14.0): the one drawing
lives in :mod:`espb.training.figures` (the run's own ``accuracy.png`` is the same figure);
re-exported here."""

from __future__ import annotations

from espb.training.figures import COLUMNS, accuracy_data, accuracy_figure, train_level

__all__ = ["COLUMNS", "accuracy_data", "accuracy_figure", "train_level"]
