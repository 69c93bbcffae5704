"""The region config group (conf/region/): hash-neutral for the presets, one place for the
grid, the dates, the target and the patch; annotations from the region, not from code;
region=auto derived from a catalog (espb.training.regions)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf

from espb.catalog.region import load_region, preset_names
from espb.training.identity import ALGORITHM_VERSION, config_hash
from tests.conftest import compose_train

#: each preset's config hash as computed on main before the region group existed
#: (b8cee16, ALGORITHM_VERSION 2): moving keys into conf/region/ must not change them. These are
#: the reference's hashes (``model.impl=reference``, the default until issue 17 made ``fast`` the
#: default): every run trained before the switch is found under them
PINNED = {
    "demo": "7b5b82e8e9070504",
    "smoke": "15234ef29ffb0fc1",
    "paper_model14_0": "06bff6be689de384",
    "paper_model14_9": "d7b0133a727b9d17",
    "sweep_demo": "dc0ff19e2f66dba9",
}


#: each preset's config hash with the fast default (issue 17; ALGORITHM_VERSION 2)
PINNED_FAST = {
    "demo": "18e290679b3bf9dc",
    "smoke": "079443cd5a8f6771",
    "paper_model14_0": "cb7424580575e473",
    "paper_model14_9": "067502f97b769c9b",
    "sweep_demo": "8f35d92b42d5fdd4",
}


def _resolved(*overrides: str) -> dict:
    r = OmegaConf.to_container(compose_train(*overrides), resolve=True)
    r.pop("hydra", None)
    return r


@pytest.mark.parametrize("experiment", sorted(PINNED))
def test_preset_hashes_are_unchanged_by_the_region_group(experiment):
    assert ALGORITHM_VERSION == 2  # a bump re-pins these on purpose (docs/architecture.md)
    ref = _resolved(f"experiment={experiment}", "model.impl=reference")
    assert config_hash(ref) == PINNED[experiment]
    assert config_hash(_resolved(f"experiment={experiment}")) == PINNED_FAST[experiment]


def test_the_paper_presets_use_the_paper_region():
    for exp in ("paper_model14_0", "paper_model14_9"):
        r = _resolved(f"experiment={exp}")
        assert r["region"]["name"] == "japan_paper"
        assert r["bvalue"]["region"] == [35.0, 46.0, 135.0, 146.0]  # paper Section 2
        assert r["training"]["dev_end"] == "2019-12-31"
        assert (r["samples"]["eq_min_mag"], r["samples"]["patch"]) == (5.0, 32)


def test_one_region_choice_moves_grid_dates_target_and_patch_together():
    r = _resolved("experiment=smoke", "region=switzerland")
    spec = load_region("switzerland")
    assert r["bvalue"]["region"] == spec.box
    assert (r["bvalue"]["start"], r["bvalue"]["end"]) == (spec.start, spec.end)
    assert r["training"]["dev_end"] == spec.dev_end
    assert r["samples"]["eq_min_mag"] == spec.target_mag
    assert r["samples"]["patch"] == spec.patch
    # and the hash follows the values, not the group: a region key changes it
    assert config_hash(r) != PINNED_FAST["smoke"]
    assert config_hash(_resolved("experiment=smoke", "region.patch=8")) != PINNED_FAST["smoke"]


def test_a_command_line_key_beats_the_region():
    r = _resolved("experiment=smoke", "region=switzerland", "samples.patch=4")
    assert r["samples"]["patch"] == 4


def test_every_region_preset_is_valid_and_composes():
    names = preset_names()
    assert {"japan_paper", "auto", "switzerland", "italy", "california"} <= set(names)
    for name in names:
        spec = load_region(name)
        spec.validate()
        if name == "auto":
            continue
        r = _resolved("experiment=quick", f"region={name}")
        assert r["bvalue"]["region"] == spec.box, name
        assert r["samples"]["patch"] == spec.patch, name


def _acc_records() -> list[dict]:
    days = pd.date_range("2010-01-01", "2012-12-31", freq="30D")
    keys = ("accuracy", "acc_running5", "acc_running20", "acc_cumulative")
    return [
        {
            "meta_epoch": i,
            "date": d,
            "phase": "dev",
            "val/n_eq": 2,
            "val/n_neq": 2,
            **{f"val/{k}": 0.5 for k in keys},
        }
        for i, d in enumerate(days)
    ]


def _drawn_labels(annotations) -> list[str]:
    """The texts of the run's accuracy figure for ``annotations``
    (:class:`espb.bvalue.plot.Annotation`, as the run passes them)."""
    from espb.training.figures import accuracy_data, accuracy_figure, date_marks

    data = accuracy_data(pd.DataFrame(_acc_records()))
    fig = accuracy_figure(data, date_marks(annotations))
    return [t.get_text() for ax in fig.axes for t in ax.texts]


def test_annotations_come_from_the_region():
    from espb.training.regions import annotations_of

    japan = annotations_of(_resolved("experiment=paper_model14_9"))
    assert [a.label for a in japan] == ["Tohoku M9.0"]
    assert [pd.Timestamp(a.time) for a in japan] == [pd.Timestamp("2011-03-11")]
    assert "Tohoku M9.0" in _drawn_labels(japan)
    swiss = annotations_of(_resolved("experiment=smoke", "region=switzerland"))
    assert swiss == []
    assert _drawn_labels(swiss) == []  # nothing region-specific in code
    # an annotation outside the records' dates is not drawn
    late = annotations_of(_resolved("experiment=quick", "region=ridgecrest"))
    assert late and _drawn_labels(late) == []


def test_accuracy_figure_draws_the_region_marks(tmp_path, monkeypatch):
    from espb.bvalue.plot import Annotation
    from espb.training import figures

    captured = []
    draw = figures.accuracy_figure

    def keep(*a, **k):
        captured.append(draw(*a, **k))
        return captured[-1]

    monkeypatch.setattr(figures, "accuracy_figure", keep)
    ann = [Annotation("X M7", pd.Timestamp("2011-06-01"))]
    figures.write_accuracy_figure(_acc_records(), tmp_path / "a.png", annotations=ann)
    assert (tmp_path / "a.png").stat().st_size > 0
    texts = [t.get_text() for f in captured for ax in f.axes for t in ax.texts]
    assert texts == ["X M7"]


def _events(n: int = 600, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = pd.Timestamp("2020-01-01", tz="UTC") + pd.to_timedelta(rng.uniform(0, 700, n), unit="D")
    mw = 2.0 + rng.exponential(1 / np.log(10), n)
    df = pd.DataFrame(
        {
            "time": t,
            "latitude": rng.uniform(46.0, 47.0, n),
            "longitude": rng.uniform(7.0, 9.0, n),
            "mw": mw,
        }
    )
    df.loc[0, ["latitude", "longitude"]] = [10.0, 100.0]  # one mislocated event
    return df.sort_values("time").reset_index(drop=True)


def test_derive_region_trims_outliers_and_fits_the_grid():
    from espb.training.check import valid_patches
    from espb.training.regions import MIN_CELLS, derive_region

    cfg = _resolved("experiment=quick")
    spec, extra = derive_region(_events(), cfg, "mine")
    la0, la1, lo0, lo1 = spec.box
    assert 45.9 <= la0 <= 46.0 and 47.0 <= la1 <= 47.1  # the outlier at 10 N is trimmed
    assert 6.9 <= lo0 <= 7.0 and 9.0 <= lo1 <= 9.1
    n = min(round((la1 - la0) / 0.1), round((lo1 - lo0) / 0.1))
    assert n >= MIN_CELLS
    assert spec.patch in valid_patches(n, cfg["samples"]["lookback"]) and spec.patch <= n
    assert spec.start == "2020-01-01" and spec.end <= "2021-12-01"
    assert spec.start < spec.dev_end < spec.end
    # few events reach the preset's Mw 4.5: the target drops to one 20 events reach
    mw = _events()["mw"].to_numpy()
    assert np.count_nonzero(mw >= spec.target_mag) >= 20
    assert extra.get("samples.m_lim", cfg["samples"]["m_lim"]) <= spec.target_mag


def test_region_yaml_round_trips(tmp_path):
    from espb.training.regions import derive_region, region_yaml, write_region_file

    spec, extra = derive_region(_events(), _resolved("experiment=quick"), "mine")
    path = write_region_file(tmp_path / "mine.yaml", region_yaml(spec, extra, "x.csv"))
    back = load_region(path)
    assert back.box == spec.box and back.patch == spec.patch and back.dev_end == spec.dev_end
    node = OmegaConf.load(path)
    assert OmegaConf.to_container(node)["samples"]["patch"] == "${region.patch}"  # mapped
    assert node.samples.patch == spec.patch
    from espb.errors import ConfigError

    with pytest.raises(ConfigError, match="exists"):
        write_region_file(path, "x")  # no silent overwrite
