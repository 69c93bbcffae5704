"""Scores of probability forecasts over cell-days (issue 14): likelihood and information gain,
Brier and skill, ROC AUC, Molchan diagram and area skill score, reliability, block-bootstrap
intervals, paired T-tests, the pyCSEP bridge and the figures. Plain arrays in, data out; the
formulas and their sources are in ``docs/forecasts.md`` ("Scores")."""

from espb.evaluation.forecast.alarms import (
    Molchan,
    alarm_table,
    area_skill_score,
    hit_rate_at,
    molchan,
    random_band,
    roc_auc,
)
from espb.evaluation.forecast.bootstrap import Interval, bootstrap_scores
from espb.evaluation.forecast.paired import (
    BootstrapTest,
    TTest,
    bootstrap_ig_test,
    paired_t_test,
)
from espb.evaluation.forecast.scores import (
    BrierSkill,
    InformationGain,
    bernoulli_log_likelihood,
    brier_score,
    brier_skill_score,
    ig_over_time,
    information_gain,
    reliability,
)
from espb.evaluation.forecast.table import score_table, wide_table

__all__ = [
    "BootstrapTest",
    "BrierSkill",
    "InformationGain",
    "Interval",
    "Molchan",
    "TTest",
    "alarm_table",
    "area_skill_score",
    "bernoulli_log_likelihood",
    "bootstrap_ig_test",
    "bootstrap_scores",
    "brier_score",
    "brier_skill_score",
    "hit_rate_at",
    "ig_over_time",
    "information_gain",
    "molchan",
    "paired_t_test",
    "random_band",
    "reliability",
    "roc_auc",
    "score_table",
    "wide_table",
]
