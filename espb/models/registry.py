"""Classifier architectures by name: a new architecture is one module in ``espb/models/`` with
``@register("name")`` on its class (or factory), plus one YAML (``conf/model/<name>.yaml``) whose
keys are the constructor's keyword arguments (docs/models.md, "Adding an architecture").

Built in: ``cnn_tcn`` (:class:`espb.models.classifier.CnnTcn`, the Conv3d reference of paper
Section 3.2) and ``cnn_tcn_fast`` (:class:`espb.models.cnn_tcn_fast.FastCnnTcn`, the same
function, parameters and state_dict, faster).

Every public module of ``espb.models`` is imported on the first look-up, so a ``@register`` in
a new file takes effect without being listed anywhere.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable
from typing import Any

from torch import nn

from espb.errors import ConfigError
from espb.models.classifier import CnnTcn

_REGISTRY: dict[str, Callable[..., nn.Module]] = {}
_discovered = False


def register(name: str) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Class/factory decorator: ``build_classifier(name, **kwargs)`` then calls it."""

    def deco(obj: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        have = _REGISTRY.get(name)
        if have is not None and have is not obj:
            raise ValueError(f"model {name!r} is registered twice: {have!r} and {obj!r}")
        _REGISTRY[name] = obj
        return obj

    return deco


register("cnn_tcn")(CnnTcn)  # the reference (its module stays free of registry imports)


def _discover() -> None:
    global _discovered
    if _discovered:
        return
    import espb.models as pkg

    for info in pkgutil.iter_modules(pkg.__path__):
        if not info.name.startswith("_") and info.name != "registry":
            importlib.import_module(f"espb.models.{info.name}")
    _discovered = True


def available() -> list[str]:
    """The registered architecture names."""
    _discover()
    return sorted(_REGISTRY)


def get(name: str) -> Callable[..., nn.Module]:
    _discover()
    if name not in _REGISTRY:
        raise ConfigError(
            f"model.name={name!r} is not a registered architecture; use one of {available()} "
            "(or add a module in espb/models/ with @register)"
        )
    return _REGISTRY[name]


def build_classifier(name: str, **kwargs: Any) -> nn.Module:
    """The architecture ``name`` built with ``kwargs`` (its constructor's keyword arguments);
    an unknown name or keyword is a :class:`ConfigError` naming the valid ones."""
    factory = get(name)
    params = inspect.signature(factory).parameters
    if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        unknown = sorted(set(kwargs) - set(params))
        if unknown:
            raise ConfigError(
                f"model {name!r}: unknown setting(s) {unknown}; it takes {sorted(params)}"
            )
    return factory(**kwargs)
