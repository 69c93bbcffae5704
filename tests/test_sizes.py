"""Issue 11's size rule (docs/architecture.md): no module over 400 lines in espb/sweep and
espb/evaluation, no function over 80 lines there or in espb/training. Catalog readers may be
longer where a format needs it (with a reason in a comment); they are not checked here."""

from __future__ import annotations

import ast
from pathlib import Path

import espb

ROOT = Path(espb.__file__).parent
MODULE_LINES = 400
FUNCTION_LINES = 80


def _modules(*packages: str) -> list[Path]:
    return sorted(p for pkg in packages for p in (ROOT / pkg).rglob("*.py"))


def long_modules(limit: int = MODULE_LINES) -> list[str]:
    return [
        f"{p.relative_to(ROOT)}: {n} lines"
        for p in _modules("sweep", "evaluation")
        if (n := p.read_text().count("\n")) > limit
    ]


def long_functions(limit: int = FUNCTION_LINES) -> list[str]:
    out = []
    for p in _modules("sweep", "evaluation", "training"):
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                n = node.end_lineno - node.lineno + 1
                if n > limit:
                    out.append(f"{p.relative_to(ROOT)}:{node.lineno} {node.name}: {n} lines")
    return out


def test_no_module_over_400_lines_in_sweep_and_evaluation() -> None:
    assert long_modules() == []


def test_no_function_over_80_lines_in_sweep_evaluation_and_training() -> None:
    assert long_functions() == []


def test_the_checks_can_fail() -> None:
    assert long_modules(limit=100) and long_functions(limit=20)
