"""Entry points as written in `[tool.pexbin]`, and what they are in the built wheel.

An item is a console script of the wheel, a dotted `pkg.mod[:func]`, or a project file `path/app.py[:func]`.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Set

from .errors import ConfigError
from .wheel import WheelContents

EXTENSION_SUFFIXES = (".so", ".pyd")


def is_path(written: str) -> bool:
    target = written.split(":", 1)[0]
    return "/" in target or "\\" in target or target.endswith(".py")


def binary_name(written: str) -> str:
    """The Pants rule on the last path part: `:` becomes `-`, `.` becomes `_` (`app.py:main` -> `app_py-main`)."""
    last = written.replace("\\", "/").rsplit("/", 1)[-1]
    return last.replace(":", "-").replace(".", "_")


@dataclass(frozen=True)
class EntryPoint:
    """What a PEX runs: a console script (`pex -c`) or a module with an optional function (`pex -e`)."""

    written: str
    script: Optional[str] = None
    module: Optional[str] = None

    @property
    def pex_args(self) -> tuple:
        return ("--console-script", self.script) if self.script else ("--entry-point", self.module)

    def __str__(self) -> str:
        return self.script if self.script else str(self.module)


def module_file(wheel: WheelContents, module: str) -> Optional[str]:
    """The wheel member that defines `module`, if any."""
    base = module.replace(".", "/")
    for candidate in (f"{base}.py", f"{base}/__init__.py"):
        if candidate in wheel.members:
            return candidate
    for member in wheel.members:
        rest = member[len(base) + 1 :]
        if member.startswith(f"{base}.") and "/" not in rest and member.endswith(EXTENSION_SUFFIXES):
            return member
    return None


def top_level_names(source: str) -> Optional[Set[str]]:
    """Names a module binds at import time, or None when a star import makes that unknowable."""
    names: Set[str] = set()
    pending = list(ast.parse(source).body)
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name == "*":
                    return None
                names.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, (ast.If, ast.Try, ast.With, ast.For, ast.While)):
            for part in ("body", "orelse", "finalbody", "handlers"):
                pending.extend(getattr(node, part, []))
        elif isinstance(node, ast.ExceptHandler):
            pending.extend(node.body)
    return names


def check_function(wheel: WheelContents, key: str, written: str, module: str, member: str, function: str) -> None:
    if not member.endswith(".py"):
        return
    try:
        names = top_level_names(wheel.read_text(member))
    except SyntaxError:
        return
    if names is not None and function.split(".")[0] not in names:
        raise ConfigError(key, f"{written!r}: module {module!r} in the wheel defines no {function.split('.')[0]!r}")


def module_of_path(wheel: WheelContents, project_root: Path, key: str, path: str) -> str:
    if not (project_root / path).is_file():
        raise ConfigError(key, f"{path!r}: no such file in the project root")
    parts = Path(path).with_suffix("").parts
    for start in range(len(parts)):
        module = ".".join(parts[start:])
        if module.endswith(".__init__"):
            module = module[: -len(".__init__")]
        if module and module_file(wheel, module):
            return module
    raise ConfigError(key, f"{path!r} is not part of the built wheel; is it inside a package setuptools includes?")


def resolve(written: str, key: str, wheel: WheelContents, project_root: Path) -> EntryPoint:
    """What `written` names in the wheel; a ConfigError naming `key` when it names nothing there."""
    target, _, function = written.partition(":")
    if not function and not is_path(written) and written in wheel.console_scripts:
        return EntryPoint(written, script=written)
    module = module_of_path(wheel, project_root, key, target) if is_path(written) else target
    member = module_file(wheel, module)
    if member is None:
        scripts = ", ".join(sorted(wheel.console_scripts)) or "none"
        raise ConfigError(
            key,
            f"{written!r} is neither a console script of the wheel (it has: {scripts}) nor a module in it",
        )
    if function:
        check_function(wheel, key, written, module, member, function)
    return EntryPoint(written, module=f"{module}:{function}" if function else module)
