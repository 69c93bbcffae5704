"""Reading a run folder back: a report never describes samples the run did not train on, and
bad annotations name their key."""

from __future__ import annotations

import pandas as pd
import pytest

from espb.errors import EspbError
from espb.evaluation.diagnostics.run_data import annotations_of, check_same_samples


def _table():
    return pd.DataFrame(
        {"target": [5, 5, 9], "row": [1, 2, 3], "col": [0, 0, 1], "label": [1, 0, 1]}
    )


def test_the_same_samples_pass():
    pred = _table().iloc[[2, 0]].assign(sid=[2, 0])
    check_same_samples(pred, _table(), "run")
    check_same_samples(pd.DataFrame(), _table(), "run")  # a run without predictions


def test_a_changed_sample_is_refused_naming_it():
    pred = _table().assign(sid=[0, 1, 2])
    pred.loc[1, "row"] = 7
    with pytest.raises(EspbError, match=r"RUN: 1 predicted samples differ .*sid 1.*re-run"):
        check_same_samples(pred, _table(), "RUN")


def test_a_sample_beyond_the_table_is_refused():
    pred = _table().assign(sid=[0, 1, 5])
    with pytest.raises(EspbError, match="sample 5 but the rebuilt table has 3"):
        check_same_samples(pred, _table(), "RUN")


def test_annotations_from_the_config():
    cfg = {"region": {"annotations": [{"date": "2011-03-11", "label": "Tohoku"}]}}
    assert annotations_of(cfg) == [(pd.Timestamp("2011-03-11"), "Tohoku")]
    assert annotations_of({}) == []  # no region: none (as on the run's accuracy.png)
    assert annotations_of({"region": {"annotations": []}}) == []
    with pytest.raises(EspbError, match=r"(?s)region.*annotations\[0\]"):
        annotations_of({"region": {"annotations": ["2011-03-11"]}})
