"""Shared test fixtures: where the real and the wheel-bundled sample catalogs live."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
#: data shared between checkouts: ``<repo>/../shared``
SHARED = (REPO / ".." / "shared").resolve()
REAL_COMCAT = SHARED / "data" / "real" / "comcat_japan_m45_2000_2026.csv"


def package_dir(name: str) -> Path | None:
    """Directory of an installed package, or None when it is not installed."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _need(path: Path | None, why: str) -> Path:
    if path is None or not path.exists():
        pytest.skip(f"{why} not available ({path})")
    return path


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """``<repo>/../shared`` (skips when absent)."""
    return _need(SHARED, "shared data directory")


@pytest.fixture(scope="session")
def real_comcat() -> Path:
    """The real ComCat Japan M>=4.5 2000-2026 catalog (skips when absent)."""
    return _need(REAL_COMCAT, "real ComCat catalog")


@pytest.fixture(scope="session")
def seismostats_dir() -> Path:
    """The installed seismostats package (its test data are small real catalogs)."""
    return _need(package_dir("seismostats"), "seismostats package")


@pytest.fixture(scope="session")
def csep_dir() -> Path:
    """The installed pycsep package (``csep``)."""
    return _need(package_dir("csep"), "pycsep package")


@pytest.fixture(autouse=True, scope="session")
def _isolated_cube_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Tests never write to the user's cube cache (~/.cache/espb)."""
    os.environ["ESPB_CACHE_DIR"] = str(tmp_path_factory.mktemp("espb-cache"))


# ---------------------------------------------------------------------------------------------
# composing espb-train configs: one place for every test (lightning-hydra-template style)

EXPERIMENTS = sorted(p.stem for p in (REPO / "conf" / "experiment").glob("*.yaml"))


def compose_train(*overrides: str):
    """espb-train's config as Hydra composes it for ``espb-train OVERRIDES`` (no Hydra node)."""
    from hydra import compose, initialize_config_dir

    from espb.paths import conf_dir

    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        return compose("train", overrides=list(overrides))


@pytest.fixture(scope="session")
def compose_cfg():
    """``compose_cfg(*overrides)``: espb-train's composed config (:func:`compose_train`)."""
    return compose_train


@pytest.fixture(scope="session")
def smoke_cfg():
    """``smoke_cfg(out, *overrides)``: the smoke preset writing to ``out``, no progress bars."""

    def make(out, *overrides: str):
        return compose_train("experiment=smoke", f"out_dir={out}", "run.progress=false", *overrides)

    return make
