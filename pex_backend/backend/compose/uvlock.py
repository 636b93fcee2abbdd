"""uv.lock as a resolve: uv exports it as a PEP 751 lock (`uv export`, with uv's own `--locked` check), which uv
installs into a venv where it can resolve for the build interpreter, and pex's pip resolves from for the targets
uv cannot express (other platforms). Nothing here reads uv.lock itself."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Sequence

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from pex_backend.backend.config.project import read_toml
from pex_backend.backend.config.table import TABLE
from pex_backend.backend.plan import ResolveGroup
from pex_backend.errors import BuildError, ConfigError
from pex_backend.timings import step

# uv.lock as a pylock of everything it pins (pex takes from it only what each PEX needs), failing when the lock does
# not satisfy the project.
UV_EXPORT = ("--locked", "--format", "pylock.toml", "--no-emit-project", "--all-extras", "--all-groups")
STALE = "uv.lock does not satisfy the project (uv's `--locked` check): run `uv lock`"


def is_uv_lock(lock: Sequence[str]) -> bool:
    """Whether a group's lock options (`lock_args`) name a uv.lock."""
    return bool(lock) and Path(lock[-1]).name == "uv.lock"


def run_uv(uv: str, project_root: Path, args: Sequence[str], what: str) -> subprocess.CompletedProcess:
    """Run uv in the project root, where it finds the project and its configuration (`uv.toml`, `[tool.uv]`)."""
    with step(f"uv {args[0]} {args[1] if args[0] == 'pip' else ''}".strip()):
        result = subprocess.run([uv, *args], cwd=project_root, capture_output=True, text=True)
    if result.returncode != 0 and not (args[0] == "export" and "--locked" in result.stderr):
        lines = (result.stderr.strip() or result.stdout.strip()).splitlines()[-40:]
        raise BuildError(f"uv failed while {what}:\n" + "\n".join(lines))
    return result


def export(uv: str, project_root: Path, group: ResolveGroup, pylock: Path) -> None:
    """Write the group's uv.lock as the PEP 751 lock `pylock` (named `pylock.toml`, as uv asks); a lock that does
    not satisfy the project, or lacks one of the table's `dependencies`, is a ConfigError."""
    exporting = ["export", "--quiet", *UV_EXPORT, "-o", str(pylock)]
    if run_uv(uv, project_root, exporting, f"exporting {group.resolve!r}'s uv.lock").returncode != 0:
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
