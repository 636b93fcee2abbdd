"""uv.lock as a resolve: uv exports it as a PEP 751 lock (`uv export`, with uv's own `--locked` check), which uv
installs into a venv where it can resolve for the build interpreter, and pex's pip resolves from for the targets
uv cannot express (other platforms). Nothing here reads uv.lock itself."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any, Dict, Sequence

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from pex_backend.backend.config.project import read_toml
from pex_backend.backend.config.table import TABLE
from pex_backend.backend.plan import ResolveGroup
from pex_backend.bytecode import TRUE
from pex_backend.errors import BuildError, ConfigError
from pex_backend.timings import step

# uv.lock as a pylock of everything it pins (pex takes from it only what each PEX needs), failing when the lock does
# not satisfy the project.
UV_EXPORT = ("--locked", "--format", "pylock.toml", "--no-emit-project", "--all-extras", "--all-groups")
STALE = "uv.lock does not satisfy the project (uv's `--locked` check): run `uv lock`"


def is_uv_lock(lock: Sequence[str]) -> bool:
    """Whether a group's lock options (`lock_args`) name a uv.lock."""
    return bool(lock) and Path(lock[-1]).name == "uv.lock"


def run_uv(uv: str, project_root: Path, args: Sequence[str], what: str, stale: bool = False) -> bool:
    """Run uv in the project root, where it finds the project and its configuration (`uv.toml`, `[tool.uv]`): True
    when it succeeds; with `stale`, False when uv's `--locked` check fails, a BuildError for any other failure."""
    with step(f"uv {args[0]} {args[1] if args[0] == 'pip' else ''}".strip()):
        result = subprocess.run([uv, *args], cwd=project_root, capture_output=True, text=True)
    if result.returncode != 0 and stale and "--locked" in result.stderr:
        return False
    if result.returncode != 0:
        lines = (result.stderr.strip() or result.stdout.strip()).splitlines()[-40:]
        raise BuildError(f"uv failed while {what}:\n" + "\n".join(lines))
    return True


def export(uv: str, project_root: Path, group: ResolveGroup, pylock: Path) -> None:
    """Write the group's uv.lock as the PEP 751 lock `pylock` (named `pylock.toml`, as uv asks); a lock that does
    not satisfy the project, or lacks one of the table's `dependencies`, is a ConfigError."""
    exporting = ["export", "--quiet", *UV_EXPORT, "-o", str(pylock)]
    if not run_uv(uv, project_root, exporting, f"exporting {group.resolve!r}'s uv.lock", stale=True):
        raise ConfigError(f"{TABLE}.resolves.{group.resolve}", STALE)
    check_locked(group, pylock)


def check_locked(group: ResolveGroup, pylock: Path) -> None:
    """The table's `dependencies` must be in the uv.lock of the group's resolve, at a version they allow."""
    pinned = {canonicalize_name(p["name"]): p.get("version", "") for p in read_toml(pylock).get("packages", [])}
    for text in group.requirements:
        requirement = Requirement(text)
        version = pinned.get(canonicalize_name(requirement.name))
        if version is None or not requirement.specifier.contains(version, prereleases=True):
            found = f"it pins {version}" if version else "it has none"
            raise ConfigError(
                group.binaries[0].key_of("dependencies"),
                f"{text!r} is not in the resolve {group.resolve!r}'s uv.lock ({found}): add it to the project "
                "(`uv add`) and run `uv lock`",
            )


def uv_sources(project_root: Path) -> Dict[str, Any]:
    """The project's `[tool.uv.sources]`, over those of the uv workspace it is in (the nearest `pyproject.toml` above
    it with `[tool.uv.workspace]`), as uv reads them."""
    found: Dict[str, Any] = {}
    for parent in project_root.resolve().parents:
        path = parent / "pyproject.toml"
        if path.is_file():
            try:
                uv = read_toml(path).get("tool", {}).get("uv", {})
            except ConfigError:
                continue  # not one uv would read either
            if "workspace" in uv:
                found.update(uv.get("sources", {}))
                break
    found.update(read_toml(project_root / "pyproject.toml").get("tool", {}).get("uv", {}).get("sources", {}))
    return {canonicalize_name(name): source for name, source in found.items()}


def check_no_sources(requirements: Sequence[str], project_root: Path) -> None:
    """A requirement uv takes from a source of the project's (`[tool.uv.sources]`: a workspace member, a path, a git
    repository, an index of its own) is one the resolve of requirements, uv's or pip's, would take from the indexes
    instead, maybe a distribution of the same name that is not it: a ConfigError naming it, unless `UV_NO_SOURCES`
    says to resolve without sources, as uv's `--no-sources` does. A uv.lock resolve reads them (through uv)."""
    if os.environ.get("UV_NO_SOURCES", "").lower() in TRUE:
        return
    sources = uv_sources(project_root)
    for text in requirements:
        name = canonicalize_name(Requirement(text).name)
        if name in sources:
            source = sources[name]
            if isinstance(source, dict):
                fields = ", ".join(f"{key} = {json.dumps(value)}" for key, value in source.items())
                what = f"{{ {fields} }}"
            else:
                what = "its sources"
            raise ConfigError(
                f"tool.uv.sources.{name}",
                f"uv takes {name} from {what}, which a resolve of the project's requirements does not read: it "
                f"would take a distribution named {name} from the indexes instead. Resolve from a uv.lock of the "
                f'project\'s own (`{TABLE}.resolves = {{ default = "uv.lock" }}`: uv exports it with its sources), '
                f"or set UV_NO_SOURCES=1 to take {name} from the indexes, as `uv --no-sources` would",
            )
