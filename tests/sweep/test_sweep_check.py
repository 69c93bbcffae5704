"""``espb sweep`` checks its first job before anything is built or launched
(espb.sweep.run.check_first_job): a sweep that cannot train stops with the cause and the fix."""

from __future__ import annotations

import pytest

from espb.errors import ConfigError
from espb.sweep.run import check_first_job


def _over(tmp_path, *extra: str) -> list[str]:
    return ["experiment=smoke", f"out_dir={tmp_path}", "name=chk", *extra]


def test_a_trainable_sweep_passes_and_says_so(tmp_path):
    lines: list[str] = []
    check_first_job("paper_432", _over(tmp_path), lines.append)
    assert any(line.startswith("check of the first job:") for line in lines), lines


def test_a_sweep_on_another_regions_grid_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="region 'california': no EQ sample.*Fix: choose"):
        check_first_job("paper_432", _over(tmp_path, "region=california"), lambda line: None)


def test_region_auto_is_refused_for_a_sweep(tmp_path):
    with pytest.raises(ConfigError, match="region=auto is derived per run.*espb region auto"):
        check_first_job("paper_432", _over(tmp_path, "region=auto"), lambda line: None)
