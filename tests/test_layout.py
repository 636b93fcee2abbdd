"""The package's folders are its three parts: imports run one way (commands, then the backend, then pex, then what
every part shares), with no cycles and no large modules; the hooks and entry points are where frontends look."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from importlib.metadata import distribution
from pathlib import Path
from typing import Dict, List, Set

import pytest
from conftest import ROOT

PACKAGE = ROOT / "pex_backend"
# The parts in the order they may import each other: each imports only those before it (and itself).
PARTS = ("shared", "pex", "backend", "commands", "faces")
SHARED = {"pex_backend.bytecode", "pex_backend.errors", "pex_backend.timings", "pex_backend.version"}
FACES = {"pex_backend", "pex_backend.__main__"}
MOST_LINES = 350
HOOKS = (
    "build_wheel",
    "build_sdist",
    "get_requires_for_build_wheel",
    "get_requires_for_build_sdist",
    "prepare_metadata_for_build_wheel",
)


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def part_of(module: str) -> str:
    if module in FACES:
        return "faces"
    if module in SHARED:
        return "shared"
    part = module.split(".")[1]
    assert part in PARTS, f"{module} is in no part: put it in pex_backend/backend, pex or commands"
    return part


def imports_of(module: str) -> Set[str]:
    """Every module of the package `module` imports, at its top or inside a function."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: Set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in MODULES)
    return {name for name in found if name in MODULES and name != module}


GRAPH: Dict[str, Set[str]] = {module: imports_of(module) for module in MODULES}


def test_every_module_sits_in_a_part() -> None:
    parts = {part_of(module) for module in MODULES}
    assert parts == set(PARTS)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_run_one_way(module: str) -> None:
    upward = [name for name in GRAPH[module] if PARTS.index(part_of(name)) > PARTS.index(part_of(module))]
    assert not upward, f"{module} ({part_of(module)}) imports {upward}, of a part above it"


def test_no_import_cycles() -> None:
    cycles: List[List[str]] = []
    state: Dict[str, str] = {}

    def visit(module: str, trail: List[str]) -> None:
        state[module] = "open"
        for name in sorted(GRAPH[module]):
            if state.get(name) == "open":
                cycles.append([*trail[trail.index(name) :], name])
            elif name not in state:
                visit(name, [*trail, name])
        state[module] = "done"

    for module in MODULES:
        if module not in state:
            visit(module, [module])
    assert not cycles, " ; ".join(" -> ".join(cycle) for cycle in cycles)


def test_no_large_modules() -> None:
    sizes = {module: len(path.read_text().splitlines()) for module, path in MODULES.items()}
    large = {module: lines for module, lines in sizes.items() if lines > MOST_LINES}
    assert not large, f"over {MOST_LINES} lines: {large}"


def test_hooks_are_the_package() -> None:
    backend = importlib.import_module("pex_backend")
    for hook in HOOKS:
        assert callable(getattr(backend, hook)), hook


def test_entry_points_load() -> None:
    """`pexbin`, the validate-pyproject plugin and the sdist file finder, as the installed metadata names them."""
    points = {(point.group, point.name): point for point in distribution("pex-backend").entry_points}
    assert points[("console_scripts", "pexbin")].value == "pex_backend.__main__:main"
    for point in points.values():
        assert callable(point.load()), point
    assert set(points) == {
        ("console_scripts", "pexbin"),
        ("validate_pyproject.tool_schema", "pexbin"),
        ("setuptools.file_finders", "pex_backend"),
    }


def test_python_m_pex_backend_is_pexbin() -> None:
    result = subprocess.run([sys.executable, "-m", "pex_backend", "--help"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: pexbin")
