"""Options shared by several commands, declared once: :func:`option_group`."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

F = Callable[..., Any]


def option_group(name: str, template: F) -> Callable[[F], F]:
    """A decorator (under ``@app.command``): the command's parameter ``name`` stands for the
    parameters of ``template`` (typer options with their defaults, written once for several
    commands). Typer sees them in its place, in their order, so the command line and its
    ``--help`` are as if written out; the command receives them as one dict ``name``."""
    group = list(inspect.signature(template, eval_str=True).parameters.values())

    def decorate(command: F) -> F:
        sig = inspect.signature(command, eval_str=True)
        params: list[inspect.Parameter] = []
        for p in sig.parameters.values():
            params.extend(group if p.name == name else [p])

        @functools.wraps(command)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            kwargs[name] = {p.name: kwargs.pop(p.name) for p in group}
            return command(*args, **kwargs)

        wrapper.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in params}
        return wrapper

    return decorate
