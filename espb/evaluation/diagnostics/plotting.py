"""The run report's drawing helpers: they live in :mod:`espb.training.plotting` (the run's own
``accuracy.png`` draws with them too, and training sits below evaluation); re-exported here for
the report's figure modules."""

from __future__ import annotations

from espb.training.plotting import Annotations, date_axis, mark_dates, new_figure, no_data

__all__ = ["Annotations", "date_axis", "mark_dates", "new_figure", "no_data"]
