"""Where espb finds its configuration and puts generated data."""

from __future__ import annotations

import os
from pathlib import Path

from espb.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parents[1]


def presets_dir() -> Path:
    """The presets that are not Hydra config groups (``presets/``: synthetic catalogs, ingest
    settings), kept out of Hydra's search path so that none is mistaken for a group of
    espb-train: ``$ESPB_PRESETS_DIR`` if set, else the source checkout's ``presets/``."""
    env = os.environ.get("ESPB_PRESETS_DIR")
    path = Path(env) if env else REPO_ROOT / "presets"
    if not path.is_dir():
        raise ConfigError(
            f"espb's presets directory {path} does not exist; run espb from a source checkout "
            "(pip install -e .) or set ESPB_PRESETS_DIR to a copy of the repository's presets/"
        )
    return path


def conf_dir() -> Path:
    """The ``conf/`` directory: ``$ESPB_CONF_DIR`` if set, else the source checkout's ``conf/``."""
    env = os.environ.get("ESPB_CONF_DIR")
    path = Path(env) if env else REPO_ROOT / "conf"
    if not path.is_dir():
        raise ConfigError(
            f"espb's configuration directory {path} does not exist; run espb from a source "
            "checkout (pip install -e .) or set ESPB_CONF_DIR to a copy of the repository's conf/"
        )
    return path
