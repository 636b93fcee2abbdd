"""Entry points as written in `[tool.pexbin]`, and what they are in the built wheel.

An item is a console script of the wheel, a dotted `pkg.mod[:func]`, or a project file `path/app.py[:func]`.
"""

from __future__ import annotations

import ast
import re
import symtable
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Set

from pex_backend.backend.config.kinds import OUTPUT_NAME
from pex_backend.errors import ConfigError

from .wheel import WheelContents

EXTENSION_SUFFIXES = (".so", ".pyd")


def is_path(written: str) -> bool:
    target = written.split(":", 1)[0]
    return "/" in target or "\\" in target or target.endswith(".py")


def binary_name(entry_point: EntryPoint) -> str:
    """A console script's own name (`py.test`); else the Pants rule on the last path part: `:` becomes `-`, `.`
    becomes `_` (`app.py:main` -> `app_py-main`)."""
    if entry_point.script and re.fullmatch(OUTPUT_NAME.pattern, entry_point.script):
        return entry_point.script
    last = entry_point.written.replace("\\", "/").rsplit("/", 1)[-1]
    return last.replace(":", "-").replace(".", "_")


@dataclass(frozen=True)
class EntryPoint:
    """What a PEX runs: a console script (`pex -c`), a module with an optional function (`pex -e`) or a project
    file run as a script (`pex --exe`, its absolute path)."""

    written: str
    script: Optional[str] = None
    module: Optional[str] = None
    executable: Optional[str] = None

    @property
    def pex_args(self) -> tuple:
        if self.executable:
            return ("--exe", self.executable)
        return ("--console-script", self.script) if self.script else ("--entry-point", self.module)

    def __str__(self) -> str:
        return self.script or self.module or self.written


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
    """Names a module binds at top level, however it binds them (the compiler's own symbol table), or None when a
    star import makes that unknowable."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and any(alias.name == "*" for alias in node.names):
            return None
    module = symtable.symtable(source, "<module>", "exec")
    top = module.get_symbols()
    names = {s.get_name() for s in top if s.is_assigned() or s.is_imported() or s.is_namespace()}
    # `global name` in a function (or class, or before 3.12 a comprehension's walrus) binds the module's name when
    # the scope assigns it.
    declared_below: Set[str] = set()
    pending = module.get_children()
    while pending:
        table = pending.pop()
        for symbol in table.get_symbols():
            if symbol.is_declared_global():
                declared_below.add(symbol.get_name())
                if symbol.is_assigned():
                    names.add(symbol.get_name())
        pending.extend(table.get_children())
    # Since 3.12 a comprehension is inlined: its walrus target is only declared global at the top.
    names.update(s.get_name() for s in top if s.is_declared_global() and s.get_name() not in declared_below)
    return names


def check_function(wheel: WheelContents, key: str, written: str, module: str, member: str, function: str) -> None:
    if not member.endswith(".py"):
        return
    try:
        names = top_level_names(wheel.read_text(member))
    except (SyntaxError, ValueError):  # a module Python cannot compile (a NUL byte is a ValueError before 3.12)
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
