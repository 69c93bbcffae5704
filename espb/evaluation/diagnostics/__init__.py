"""Diagnostics of one run: the figures of the paper's Section 4 and Appendices B, D and E
(docs/diagnostics.md maps each to its command and file).

Compute -> result -> figure, as pycsep does: every data function returns a DataFrame, an
xarray object or a dataclass; every figure function takes that data and returns a
``matplotlib.figure.Figure``; :mod:`.report` writes them (PNG + CSV/parquet, one Markdown and
HTML page per run) for ``espb report run`` and the run finisher.
"""

from espb.evaluation.diagnostics.report import (
    ReportOptions,
    RunReport,
    log_report,
    make_report_finisher,
    report_finisher,
    write_run_report,
)

__all__ = [
    "ReportOptions",
    "RunReport",
    "log_report",
    "make_report_finisher",
    "report_finisher",
    "write_run_report",
]
