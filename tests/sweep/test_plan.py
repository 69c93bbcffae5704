"""The paper's sweep file: exactly the 432 configurations of Table 1, as Hydra launches them."""

from __future__ import annotations

import itertools

import pytest
from omegaconf import OmegaConf

from espb.errors import ConfigError
from espb.paper import FACTOR_KEYS as FACTORS
from espb.sweep.plan import (
    effective_grid,
    job_config,
    n_configs,
    shared_work,
    split_overrides,
    sweep_file,
    sweep_jobs,
)
from espb.training.identity import config_hash

TABLE1 = {
    "dr": [0.15, 0.25, 0.35, 0.65],
    "dt": [150, 365, 730],
    "M_lim": [4.0, 4.5, 4.9],
    "loss": ["mae", "bce"],
    "l_ME": [14, 30, 50],
    "AE": [True, False],
}


@pytest.fixture(scope="module")
def paper_jobs():
    return sweep_jobs("paper_432")


@pytest.fixture(scope="module")
def paper_configs(paper_jobs):
    return [job_config("paper_432", j) for j in paper_jobs]


def _factors(cfg) -> tuple:
    return tuple(OmegaConf.select(cfg, FACTORS[k]) for k in TABLE1)


@pytest.mark.slow  # composes all 432 configurations (~60-120 s)
def test_the_paper_sweep_has_432_distinct_configurations(paper_jobs, paper_configs):
    assert len(paper_jobs) == 432
    assert len({tuple(j) for j in paper_jobs}) == 432
    # the composed configs differ, and so do the run folders / MLflow matching keys
    hashes = set()
    for c in paper_configs:
        r = OmegaConf.to_container(c, resolve=True)
        hashes.add(config_hash(r))
    assert len(hashes) == 432
    # and they are exactly the product of Table 1
    got = {_factors(c) for c in paper_configs}
    assert got == set(itertools.product(*TABLE1.values()))


@pytest.mark.slow  # composes all 432 configurations (~60-120 s)
def test_table1_radius_065_not_060(paper_configs):
    drs = {c.bvalue.dr for c in paper_configs}
    assert drs == {0.15, 0.25, 0.35, 0.65}
    assert 0.60 not in drs


@pytest.mark.slow  # composes all 432 configurations (~60-120 s)
def test_paper_sweep_is_paper_scale_and_a_child_of_one_parent(paper_configs):
    for c in paper_configs[:3]:
        assert c.samples.lookback == 512 and c.samples.patch == 32
        assert c.training.epochs == 20 and c.training.lr == pytest.approx(1e-4)
        assert c.catalog.synthetic == "paper"
        assert c.sweep.name == "paper_432" and c.name == "paper_432"
        assert c.run.threads == 1 and c.run.progress is False


@pytest.mark.slow  # composes all 432 configurations (~60-120 s)
def test_only_the_six_factors_vary(paper_configs):
    flat = [OmegaConf.to_container(c, resolve=True) for c in paper_configs]
    base = flat[0]

    def diff(a, b, prefix=""):
        out = set()
        for k in set(a) | set(b):
            va, vb = a.get(k), b.get(k)
            if isinstance(va, dict) and isinstance(vb, dict):
                out |= diff(va, vb, f"{prefix}{k}.")
            elif va != vb:
                out.add(f"{prefix}{k}")
        return out

    varying = set()
    for f in flat[1:]:
        varying |= diff(base, f)
    assert varying == set(FACTORS.values())


def test_demo_scale_override_and_last_factor_varies_fastest():
    jobs = sweep_jobs("paper_432", ["experiment=sweep_demo", "name=demo_432"])
    assert len(jobs) == 432
    assert jobs[0][:6] == [
        "bvalue.dr=0.15",
        "bvalue.dt=150",
        "samples.m_lim=4.0",
        "autoencoder.enabled=True",
        "training.loss=mae",
        "training.l_me=14",
    ]
    assert jobs[1][5] == "training.l_me=30"  # consecutive jobs share cube and autoencoder
    c = job_config("paper_432", jobs[0], ["experiment=sweep_demo", "name=demo_432"])
    assert c.samples.lookback == 16 and c.training.epochs == 1 and c.sweep.name == "demo_432"


def test_command_line_replaces_a_factor_in_place():
    jobs = sweep_jobs("paper_432", ["bvalue.dr=0.15,0.35", "samples.m_lim=4.9", "experiment=smoke"])
    assert len(jobs) == 2 * 3 * 1 * 2 * 2 * 3
    assert jobs[0][0] == "bvalue.dr=0.15" and jobs[0][2] == "samples.m_lim=4.9"
    sweeps, plain = split_overrides(["bvalue.dr=0.15,0.35", "samples.m_lim=4.9"])
    assert sweeps == ["bvalue.dr=0.15,0.35"] and plain == ["samples.m_lim=4.9"]


@pytest.mark.slow  # composes all 432 configurations (~60-120 s)
def test_shared_work_is_12_cubes_and_36_autoencoders(paper_configs):
    cubes, aes = shared_work(paper_configs)
    assert len(cubes) == 12
    assert len(aes) == 36
    assert all(c.autoencoder.enabled for c in aes)


def test_effective_grid_counts():
    grid = effective_grid(
        {"bvalue.dr": "0.15,0.25,0.35,0.65", "training.loss": "mae,bce"},
        ["bvalue.dr=0.15,0.35", "name=x"],
    )
    assert grid == {"bvalue.dr": "0.15,0.35", "training.loss": "mae,bce"}
    assert n_configs(grid) == 4


def test_unknown_sweep_names_the_known_ones():
    with pytest.raises(ConfigError, match="paper_432"):
        sweep_file("paper_433")


def test_the_single_source_of_the_factors_is_table_1():
    """espb.paper.FACTORS, which every layer reads, holds exactly paper Table 1 (this file's
    TABLE1 is typed from the paper, not from the code)."""
    from espb.paper import FACTORS as PAPER

    assert {f.short: list(f.levels) for f in PAPER} == TABLE1


def test_the_paper_sweep_has_432_distinct_jobs(paper_jobs):
    """Fast part of the 432 check (the composed configs are checked in make test-slow)."""
    assert len(paper_jobs) == 432
    assert len({tuple(j) for j in paper_jobs}) == 432
    assert {len(j) for j in paper_jobs} == {6}
