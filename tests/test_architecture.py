"""The layer rule of docs/architecture.md, enforced: a module of espb imports only its own layer
and the layers below it (lazy imports inside functions count too), and each command module of
``espb/cli`` imports only the layer it wires."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "espb"

#: the layers, lowest first; packages of one rank may not import each other ("beside")
LAYERS: tuple[tuple[str, ...], ...] = (
    ("__base__",),
    ("catalog",),
    ("bvalue",),
    ("samples",),
    ("models",),
    ("training", "rates"),
    ("forecast",),
    ("evaluation",),
    ("sweep",),
    ("cli",),
)
RANK = {pkg: i for i, layer in enumerate(LAYERS) for pkg in layer}

#: what each command module of espb/cli may import besides the base modules and espb.cli itself
CLI_WIRES: dict[str, set[str]] = {
    "main": set(),
    "catalog": {"catalog"},
    "console": set(),
    "progress": set(),
    "cube": {"bvalue", "catalog"},
    # espb-train wires the training and the finishers it passes to run_one (the forecast)
    "train": {"training", "evaluation"},
    "forecast": {"evaluation"},
    "sweep": {"sweep"},
    "optuna": {"sweep"},
    "report": {"evaluation"},
    "region": {"training", "catalog"},
    "rates": {"rates"},
    "links": set(),  # espb.tracking only (a base module)
}


def package_of(module: str, root: Path = ROOT) -> str | None:
    """``espb.bvalue.cache`` -> ``bvalue``; a base module (``espb.errors``) -> ``__base__``;
    not espb -> None."""
    parts = module.split(".")
    if parts[0] != "espb":
        return None
    if len(parts) == 1:
        return "__base__"
    return parts[1] if (root / parts[1]).is_dir() or parts[1] in RANK else "__base__"


def imports_of(path: Path, root: Path) -> list[tuple[int, str]]:
    """Every espb module ``path`` imports (absolute and relative), with its line."""
    tree = ast.parse(path.read_text(), filename=str(path))
    here = list(path.relative_to(root.parent).with_suffix("").parts[:-1])
    out: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            out.append((node.lineno, mod))
    return [(n, m) for n, m in out if m == "espb" or m.startswith("espb.")]


def _check(rel: Path, pkg: str, line: int, mod: str, root: Path) -> str | None:
    target = package_of(mod, root)
    if target is None or target == pkg:
        return None
    if target not in RANK:
        return f"{rel}:{line}: imports {mod}, a package not in the layer table"
    if RANK[target] > RANK[pkg] or (RANK[target] == RANK[pkg] and target != pkg):
        return f"{rel}:{line}: layer {pkg} imports {mod} (layer {target})"
    wires = CLI_WIRES.get(rel.stem) if pkg == "cli" else None
    if wires is not None and target != "__base__" and target not in wires:
        return f"{rel}:{line}: cli/{rel.stem} wires {sorted(wires)}, imports {mod}"
    return None


def violations(root: Path = ROOT) -> list[str]:
    """The imports that break the layer rule, as ``file:line: what``."""
    bad = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        pkg = rel.parts[0] if len(rel.parts) > 1 else "__base__"
        if pkg not in RANK:
            bad.append(f"{rel}: package espb/{pkg} is not in the layer table")
            continue
        for line, mod in imports_of(path, root):
            v = _check(rel, pkg, line, mod, root)
            if v:
                bad.append(v)
    return bad


def test_no_import_runs_up_the_layers():
    assert violations() == []


def test_every_package_is_in_the_layer_table():
    pkgs = {p.name for p in ROOT.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert pkgs <= set(RANK), pkgs - set(RANK)


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "espb"
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    for d in [root, *[p for p in root.rglob("*") if p.is_dir()]]:
        (d / "__init__.py").touch()
    return root


@pytest.mark.parametrize(
    "files, culprit",
    [
        # a lower layer importing a higher one, at the top of the module
        ({"bvalue/cube.py": "from espb.training.run import run_one\n"}, "bvalue/cube.py:1"),
        # ... or lazily inside a function
        ({"catalog/io.py": "def f():\n    import espb.sweep.plan\n"}, "catalog/io.py:2"),
        # a relative import that climbs into another package
        ({"samples/t.py": "from ..evaluation import x\n"}, "samples/t.py:1"),
        # beside: training and rates may not import each other
        ({"rates/m.py": "from espb.training.loop import make_fabric\n"}, "rates/m.py:1"),
        # a command module importing a layer it does not wire
        ({"cli/train.py": "from espb.bvalue.cache import get_cube\n"}, "cli/train.py:1"),
    ],
)
def test_the_rule_catches_a_deliberate_violation(tmp_path, files, culprit):
    root = _tree(tmp_path, files)
    found = violations(root)
    assert any(v.startswith(culprit) for v in found), found


def test_a_downward_import_is_allowed(tmp_path):
    root = _tree(
        tmp_path, {"training/x.py": "from espb.bvalue.cache import get_cube\nimport espb.errors\n"}
    )
    assert violations(root) == []
