"""`python -m pex_backend lock`: one lockfile per resolve, made by `pex3 lock create`, checked against the project."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, List, Mapping, Optional, Tuple

from pex_backend.backend.compose.args import base_requirements, resolver_args
from pex_backend.backend.compose.resolvers import frontend_uv
from pex_backend.backend.config.project import load_config
from pex_backend.backend.config.table import TABLE, PexbinConfig
from pex_backend.backend.inputs import check_paths
from pex_backend.backend.wheel import read_wheel
from pex_backend.errors import BuildError, ConfigError
from pex_backend.pex.workers import run_pex3

from .workspace import build_wheel


@dataclass(frozen=True)
class LockRequest:
    """What one resolve's lockfile must hold: requirements, for interpreters or platforms."""

    name: str
    path: Path
    requirements: Tuple[str, ...]
    interpreter_constraints: Tuple[str, ...]
    platforms: Tuple[str, ...]


def project_metadata(project_root: Path) -> Tuple[Tuple[str, ...], str]:
    """The project's own requirements (without extras) and requires-python, from its wheel."""
    with tempfile.TemporaryDirectory() as directory:
        wheel = read_wheel(build_wheel(project_root, Path(directory)))
    return tuple(base_requirements(wheel)), wheel.requires_python or ""


def lock_requests(config: PexbinConfig, project_root: Path) -> List[LockRequest]:
    requirements, requires_python = project_metadata(project_root)
    default = config.defaults.get("resolve", config.table.default_resolve)
    layers: List[Mapping[str, Any]] = [config.defaults, *(o.values for o in config.overrides)]
    layers += [b.values for b in config.binaries]
    requests = []
    for name, path in config.table.resolves.items():
        using = [layer for layer in layers if layer.get("resolve", default) == name] or [config.defaults]
        extra = [d for layer in using for d in layer.get("dependencies", config.defaults.get("dependencies", ()))]
        constraints = [c for layer in using for c in layer.get("interpreter-constraints", ())]
        platforms = [p for layer in using for p in layer.get("platforms", ())]
        requests.append(
            LockRequest(
                name,
                project_root / path,
                tuple(dict.fromkeys([*requirements, *(d for d in extra if not d.startswith("!"))])),
                tuple(dict.fromkeys(constraints or ([requires_python] if requires_python else []))),
                tuple(dict.fromkeys(platforms)),
            )
        )
    return requests


def target_args(request: LockRequest, universal: bool = True) -> List[str]:
    """The lock's targets for pex: its platforms, else its interpreters (a universal lock, for `pex3 lock`)."""
    if request.platforms:
        return [a for p in request.platforms for a in ("--platform", p)]
    interpreters = [a for c in request.interpreter_constraints for a in ("--interpreter-constraint", c)]
    return ["--style", "universal", *interpreters] if universal else interpreters


def stale(request: LockRequest, pip_args: List[str]) -> Optional[str]:
    """pex's own report of why the lockfile is stale, or None when it is up to date.

    A pex lock: `pex3 lock sync --dry-run check` resolves the requirements again for the lock's targets, keeping
    its pins where they still do, and any change to the lock counts: a requirement added, removed or changed (its
    specifier, extras or marker), a pin that no longer satisfies, a transitive pin missing. A PEP 751 file, which
    pex cannot sync: a build from it of the requirements (`pex --pylock`), which fails when the lock lacks one.
    """
    if not request.path.is_file():
        return "there is no lockfile yet"
    with tempfile.TemporaryDirectory() as directory:
        if request.path.suffix == ".toml":
            command = ["pex", "--pylock", str(request.path), *request.requirements, *target_args(request, False)]
            # pip's settings and version too: pex's vendored pip does not run on the newer interpreters it may pick.
            command += [*pip_args, "-o", str(Path(directory) / "check.pex")]
        else:
            copy = Path(directory) / "lock.json"  # dry-run writes nothing, and pex never gets the user's file
            copy.write_bytes(request.path.read_bytes())
            command = ["pex.cli", "lock", "sync", "--lock", str(copy), *request.requirements, *target_args(request)]
            command += [*pip_args, "--dry-run", "check"]
        result = subprocess.run([sys.executable, "-m", *command], capture_output=True, text=True)
    if result.returncode == 0:
        return None
    return "\n".join((result.stderr.strip() or result.stdout.strip()).splitlines()[-20:])


def create(request: LockRequest, pip_args: List[str]) -> None:
    """Write the lockfile with `pex3 lock create` (then `pex3 lock export` for a PEP 751 file)."""
    request.path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as directory:
        pex_lock = Path(directory) / "lock.json"
        command = ["lock", "create", *request.requirements, *target_args(request), *pip_args, "--indent", "2"]
        command += ["-o", str(pex_lock)]
        run_pex3(command, f"locking resolve {request.name!r}")
        if request.path.suffix == ".toml":
            export = ["lock", "export", "--format", "pep-751", str(pex_lock), "-o", str(request.path)]
            run_pex3(export, f"exporting resolve {request.name!r} to PEP 751")
        else:
            request.path.write_text(pex_lock.read_text())


def lock(project_root: Path, check: bool) -> int:
    config = load_config(project_root)
    if config is None or not config.table.resolves:
        raise ConfigError(
            f"{TABLE}.resolves", 'names no lockfile to create; add e.g. `resolves = { default = "pex.lock" }`'
        )
    check_paths(config, project_root)  # lockfiles are written only inside the project
    status = 0
    for request in lock_requests(config, project_root):
        if request.path.name == "uv.lock":
            status = max(status, uv_lock(request, project_root, check))
            continue
        if check:
            why = stale(request, resolver_args(config.table))
            said = f"{request.path.name} (resolve {request.name!r})"
            if why is None:
                print(f"{said} is up to date")
            else:
                print(f"{said} is stale; re-lock with `pexbin lock`:")
                print("\n".join(f"  {line}" for line in why.splitlines()))
                status = 1
            continue
        create(request, resolver_args(config.table))
        print(
            f"wrote {request.path} (resolve {request.name!r}: {', '.join(request.requirements) or 'no requirements'})"
        )
    return status


def uv_lock(request: LockRequest, project_root: Path, check: bool) -> int:
    """A uv.lock resolve: `uv lock` writes it, `uv lock --check` says whether it satisfies the project."""
    uv = frontend_uv()
    if uv is None:
        raise ConfigError(f"{TABLE}.resolves.{request.name}", "uv.lock is made by uv, and no uv is here: install uv")
    result = subprocess.run(
        [uv, "lock", *(["--check"] if check else [])], cwd=project_root, capture_output=True, text=True
    )
    said = f"{request.path.name} (resolve {request.name!r})"
    if check:
        print(f"{said} is up to date" if result.returncode == 0 else f"{said} is stale: run `uv lock`")
        return 0 if result.returncode == 0 else 1
    if result.returncode != 0:
        raise BuildError(f"uv lock failed for resolve {request.name!r}:\n{result.stderr.strip()}")
    print(f"wrote {request.path} (resolve {request.name!r}, with `uv lock`)")
    return 0
