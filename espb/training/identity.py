"""The identity of a run: which settings make two runs the same computation.

A run's *config hash* is a hash of its resolved config without the keys that do not change its
numbers (:data:`VOLATILE`: how it runs, where it logs, where it writes). The hash names the run
folder (``<out_dir>/runs/<name>/<hash>``) and is the MLflow tag by which a finished run is
found, so a sweep re-run skips what is done.

Versioning (docs/architecture.md, "What retrains"): the hash is a function of the config tree
only, so adding a setting would change every hash and silently retrain every finished sweep.
Two rules prevent that:

- a setting added after hash version 1 is listed in :data:`NEUTRAL` with the value that
  reproduces the earlier behaviour; at that value it is left out of the hash, so configs that
  do not use it keep their hash (and their finished runs);
- a change of the *computation* behind unchanged settings (a fixed leak, a changed draw) bumps
  :data:`ALGORITHM_VERSION`, which is part of the hash from version 2 on: every run computed
  the old way is then a different identity and is trained again, by design.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from espb.errors import EspbError

#: config keys that do not change a run's numbers (left out of the config hash). ``forecast``:
#: what the run's finisher forecasts and scores after training (conf/forecast/); it changes no
#: training number, so enabling it must not retrain, and configs composed before the node
#: existed keep their hash. ``region``: the region group's own node (name, box, annotations);
#: the values it sets elsewhere (bvalue.region, training.dev_end, ...) are in the hash
VOLATILE = ("run", "tracking", "out_dir", "cache_dir", "hydra", "sweep", "forecast", "region")

#: settings added after hash version 1, with the value at which they are left out of the hash
#: (the behaviour before they existed); dotted keys
NEUTRAL: dict[str, Any] = {
    "samples.test_m_lim": None,  # Appendix D/E's test-period nEQ limit; None = samples.m_lim
    "autoencoder.maps": "neq",  # Appendix A's map places; neq = nEQ candidates only
    "model.impl": "reference",  # the Conv3d CNN-TCN; "fast" = the same function, float-close
    "training.init_seed": None,  # None = training.seed (an init_seed equal to it is dropped too)
    "training.seeds": None,  # replicates in one run: each replicate is its own identity
    "training.replicate_method": "auto",  # how replicates are fused; their numbers are the same
}

#: the version of the training computation behind unchanged settings; 1 = the first release
#: (no term in the hash, so its hashes are those of hash version 1). 2: the nEQ draw of a
#: segment in a settled and a late part, and no segment straddling ``dev_end`` (issue 13's
#: time-forward fixes; docs/architecture.md "What retrains")
ALGORITHM_VERSION = 2


def _drop_neutral(sem: dict[str, Any]) -> dict[str, Any]:
    for dotted, neutral in NEUTRAL.items():
        *parents, leaf = dotted.split(".")
        node: Any = sem
        for p in parents:
            node = node.get(p) if isinstance(node, dict) else None
            if node is None:
                break
        if isinstance(node, dict) and leaf in node and node[leaf] == neutral:
            node.pop(leaf)
    return sem


def semantic_config(cfg: dict[str, Any]) -> dict[str, Any]:
    """The part of a resolved config that the hash covers (a deep copy). An
    ``training.init_seed`` equal to ``training.seed`` is the default (the same initial
    weights), so a seed replicate with the run's own seed is the plain run."""
    sem = json.loads(json.dumps({k: v for k, v in cfg.items() if k not in VOLATILE}, default=str))
    tr = sem.get("training")
    if (
        isinstance(tr, dict)
        and tr.get("init_seed") is not None
        and tr.get("init_seed") == tr.get("seed")
    ):
        tr["init_seed"] = None
    return _drop_neutral(sem)


def config_hash(cfg: dict[str, Any]) -> str:
    """16 hex digits of SHA-256 over :func:`semantic_config` (and the algorithm version when it
    is above 1)."""
    sem = semantic_config(cfg)
    if ALGORITHM_VERSION > 1:
        sem["__algorithm__"] = ALGORITHM_VERSION
    return hashlib.sha256(json.dumps(sem, sort_keys=True, default=str).encode()).hexdigest()[:16]


def check_same_inputs(where: object, found: dict[str, str], now: dict[str, str]) -> None:
    """Raise if ``found`` (the inputs an earlier part of a run was computed from: catalog hash,
    cube key) disagrees with ``now``; keys missing from ``found`` are not compared."""
    diff = {k: (found[k], v) for k, v in now.items() if found.get(k) not in (None, v)}
    if diff:
        what = "; ".join(f"{k} was {a}, is now {b}" for k, (a, b) in diff.items())
        raise EspbError(
            f"{where}: this run folder holds meta-epochs computed from other inputs ({what}): "
            "the catalog or the cube changed since. Resuming would mix two datasets in one run; "
            "start over with run.force=true, or keep both by giving this run another name=..."
        )
