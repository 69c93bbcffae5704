"""The report of a parameter search (paper Section 3.4, Appendix C.1, Figures C.7-C.9 and 8),
pycsep style: compute -> result -> figure -> writer.

- :mod:`~espb.evaluation.sweep.factors`: the six factors of Table 1 (from :mod:`espb.paper`)
  as typed table columns, their levels and order, the paper's notation
- :mod:`~espb.evaluation.sweep.periods`: the periods T1-T4 of Appendix C.1
- :mod:`~espb.evaluation.sweep.analysis`: accuracy per period, best configurations, parameter
  effects, trajectories, histogram data (tables and dataclasses)
- :mod:`~espb.evaluation.sweep.grid`: the layout of Figure C.9
- :mod:`~espb.evaluation.sweep.seeds`: seed replicates: seed means, the seed noise and each
  factor's F test against it
- :mod:`~espb.evaluation.sweep.figures`: draw functions taking the computed data
- :mod:`~espb.evaluation.sweep.writer`: the Markdown page with its tables and figures
- :mod:`~espb.evaluation.sweep.data`: reading a sweep from MLflow, logging the report to it
- :mod:`~espb.evaluation.sweep.report`: ``espb report sweep`` (read, select, write, log)

Model selection uses the development period only (``phase == "dev"`` predictions).
"""

from espb.evaluation.sweep.analysis import best_configs, period_accuracy
from espb.evaluation.sweep.report import SweepReport, report_sweep
from espb.evaluation.sweep.writer import write_report

__all__ = ["SweepReport", "best_configs", "period_accuracy", "report_sweep", "write_report"]
