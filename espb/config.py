"""Loading typed settings: a dataclass schema, a YAML preset from ``conf/``, dotted overrides.

One mechanism for every layer: OmegaConf merges the YAML and the ``key=value`` overrides onto
the dataclass, so a misspelled key or a wrong type fails with a :class:`ConfigError` naming it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from espb.errors import ConfigError
from espb.paths import conf_dir

T = TypeVar("T")


def resolve_preset(name: str | Path, group: str, base: Path | None = None) -> Path:
    """``name`` as a YAML path, or the file ``<base>/<group>/<name>.yaml`` (``base``: the
    ``conf/`` directory of the Hydra groups by default; ``presets/`` for the presets that are
    not groups); ConfigError if absent."""
    p = Path(name)
    base = base if base is not None else conf_dir()
    path = p if p.suffix in (".yaml", ".yml") else base / group / f"{name}.yaml"
    if not path.exists():
        known = sorted(f.stem for f in (base / group).glob("*.yaml"))

        raise ConfigError(
            f"{group}: preset {str(name)!r} not found ({path}); use one of {known} or a YAML file"
        )
    return path


def load_config(
    schema: type[T], preset: Path | None = None, overrides: list[str] | None = None, **fields: Any
) -> T:
    """``schema``'s defaults, then the YAML ``preset``, then ``overrides``, then ``fields``;
    validated with the schema's ``validate()`` when it has one."""
    where = str(preset) if preset is not None else schema.__name__
    try:
        merged = OmegaConf.structured(schema)
        if preset is not None:
            merged = OmegaConf.merge(merged, OmegaConf.load(preset))
        if overrides:
            merged = OmegaConf.merge(merged, OmegaConf.from_dotlist(list(overrides)))
        if fields:
            merged = OmegaConf.merge(merged, fields)
        cfg = OmegaConf.to_object(merged)
    except OmegaConfBaseException as exc:
        raise ConfigError(f"{where}: {exc}") from exc
    if hasattr(cfg, "validate"):
        cfg.validate()
    return cfg  # type: ignore[return-value]


def from_node(schema: type[T], node: Any, where: str) -> T:
    """A config subtree (e.g. Hydra's ``cfg.bvalue``) as ``schema``, validated; unknown keys and
    wrong types are a :class:`ConfigError` naming ``where``."""
    try:
        merged = OmegaConf.merge(OmegaConf.structured(schema), node if node is not None else {})
        cfg = OmegaConf.to_object(merged)
    except OmegaConfBaseException as exc:
        raise ConfigError(f"{where}: {exc}") from exc
    if hasattr(cfg, "validate"):
        try:
            cfg.validate()
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from exc
    return cfg  # type: ignore[return-value]
