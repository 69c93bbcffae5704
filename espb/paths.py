"""Where espb finds its configuration and puts generated data."""

from __future__ import annotations

import os
from pathlib import Path

from espb.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parents[1]


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
