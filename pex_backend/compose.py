"""Pex does the work: one resolve per group into a repository PEX, then each binary from that repository."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, List, Sequence

from packaging.specifiers import InvalidSpecifier, SpecifierSet

from .config import TABLE, TableOptions
from .errors import BuildError, ConfigError
from .plan import BinarySpec, ResolveGroup, groups
from .wheel import WheelContents

JOBS = max(1, os.cpu_count() or 1)
# For foreign targets the build interpreter's own `python3.X` would pin one of them; the PEX picks among the rest.
PORTABLE_SHEBANG = "/usr/bin/env python3"
MISSING_DISTRIBUTION = re.compile(
    r"resolver_download\.[^/\s]+/(?P<target>\S+) .*?No matching distribution found for (?P<requirement>\S+)", re.S
)
TAMPERED_ARTIFACT = re.compile(r"Expected \S+ hash of \S+ when downloading (?P<project>\S+) but hashed to")
STALE_LOCK = ("not present in the lock", "Failed to resolve compatible artifacts", "Dependency on ")
NO_INTERPRETER = "No working interpreter compatible with the requested constraints"


@dataclass(frozen=True)
class BuiltBinary:
    spec: BinarySpec
    path: Path
    seconds: float


def run_pex(args: Sequence[str], what: str, cwd: Path) -> None:
    """Run the pex CLI of this environment; a failure carries pex's own message."""
    command = [sys.executable, "-m", "pex", *args]
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        output = result.stderr.strip() or result.stdout.strip()
        summary = explain(output)
        head = f"pex failed while building {what}:" + (f" {summary}" if summary else "")
        raise BuildError(head + "\n" + "\n".join(output.splitlines()[-40:]))


def run_pex3(args: Sequence[str], what: str) -> None:
    """Run `pex3` (lock, interpreter inspect) for the commands around the build."""
    result = subprocess.run([sys.executable, "-m", "pex.cli", *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise BuildError(f"pex3 failed while {what}:\n{result.stderr.strip() or result.stdout.strip()}")


def explain(pex_output: str) -> str:
    """One line for a pex failure users often meet, naming what pex's own message buries."""
    tampered = TAMPERED_ARTIFACT.search(pex_output)
    if tampered:
        return f"the artifact of {tampered.group('project')} does not have the hash the lock records; it is refused."
    missing = MISSING_DISTRIBUTION.search(pex_output)
    if not missing:
        return ""
    target, requirement = missing.group("target"), missing.group("requirement")
    if re.fullmatch(r"[A-Za-z]+-\d+(\.\d+)*", target):  # a local interpreter, e.g. CPython-3.12.1
        return f"no distribution of {requirement} was found for {target}."
    return (
        f"no wheel of {requirement} was found for platform {target}; a foreign platform needs pre-built wheels "
        "of every requirement (or `resolve-local-platforms` with a matching local interpreter)."
    )


def current_interpreter_matches(constraints: Sequence[str]) -> bool:
    version = ".".join(map(str, sys.version_info[:3]))
    implementation = "PyPy" if sys.implementation.name == "pypy" else "CPython"
    for constraint in constraints:
        match = re.match(r"^\s*([A-Za-z]*)\s*(.*)$", constraint)
        name, specifier = (match.group(1), match.group(2)) if match else ("", constraint)
        if name and name != implementation:
            continue
        try:
            if SpecifierSet(specifier).contains(version, prereleases=True):
                return True
        except InvalidSpecifier:
            continue
    return not constraints


def complete_platform_file(project_root: Path, path: str, group: ResolveGroup, index: int) -> Path:
    key = f"{group.binaries[0].key_of('complete-platforms')}[{index}]"
    file = project_root / path
    if not file.is_file():
        raise ConfigError(key, f"{path!r}: no such file in the project root")
    try:
        content = json.loads(file.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(key, f"{path!r} is not JSON ({exc})") from None
    if not isinstance(content, dict) or not {"marker_environment", "compatible_tags"} <= set(content):
        raise ConfigError(
            key,
            f"{path!r} is not a complete-platform file: expected `marker_environment` and `compatible_tags`, "
            "as `python -m pex_backend inspect-platform` writes them",
        )
    return file


def target_args(group: ResolveGroup, project_root: Path) -> List[str]:
    if group.platforms or group.complete_platforms:
        # As in Pants, explicit platforms replace the constraints: pex would add local interpreters as targets.
        args = [arg for platform in group.platforms for arg in ("--platform", platform)]
        for index, path in enumerate(group.complete_platforms):
            args += ["--complete-platform", str(complete_platform_file(project_root, path, group, index))]
        if group.resolve_local_platforms:
            args.append("--resolve-local-platforms")
        return args
    args = [arg for constraint in group.interpreter_constraints for arg in ("--interpreter-constraint", constraint)]
    if current_interpreter_matches(group.interpreter_constraints):
        # The search path too: with constraints, pex would otherwise add every matching interpreter it knows.
        args += ["--python", sys.executable, "--python-path", os.path.dirname(sys.executable)]
    return args


def resolver_args(table: TableOptions) -> List[str]:
    """Where and how to resolve; only for builds that resolve (`--pex-repository` builds take none of it)."""
    args: List[str] = []
    if table.index_urls is not None:
        args += ["--no-pypi"] + [arg for url in table.index_urls for arg in ("--index-url", url)]
    else:
        args.append("--use-pip-config")
    for link in table.find_links:
        args += ["--find-links", link]
    if table.pip_version:
        args += ["--pip-version", table.pip_version]
    return args


def binary_args(binary: BinarySpec) -> List[str]:
    o = binary.options
    args = list(binary.entry_point.pex_args)
    args.append(f"--layout={o.layout}")
    if o.execution_mode == "venv":
        args.append("--venv")
    if o.emit_warnings is not None:
        args.append("--emit-warnings" if o.emit_warnings else "--no-emit-warnings")
    if o.inherit_path is not None:
        args.append(f"--inherit-path={o.inherit_path}")
    args.append("--strip-pex-env" if o.strip_pex_env else "--no-strip-pex-env")
    if o.include_tools:
        args.append("--include-tools")
    if o.shebang:
        args.append(f"--python-shebang={o.shebang}")
    elif o.platforms or o.complete_platforms:
        args.append(f"--python-shebang={PORTABLE_SHEBANG}")
    if o.ignore_errors:
        args.append("--ignore-errors")
    for name in binary.excludes:
        args += ["--exclude", name]
    return args


def no_interpreter_error(group: ResolveGroup) -> ConfigError:
    return ConfigError(
        group.binaries[0].key_of("interpreter-constraints"),
        f"no interpreter on this machine satisfies {' or '.join(group.interpreter_constraints)}; install one, "
        "or set `platforms` or `complete-platforms` to build for other machines",
    )


def lockfile(table: TableOptions, resolve: str, project_root: Path) -> Path:
    path = project_root / table.resolves[resolve]
    if not path.is_file():
        raise ConfigError(
            f"{TABLE}.resolves.{resolve}",
            f"{table.resolves[resolve]!r}: no such file in the project root; create it with "
            "`python -m pex_backend lock`",
        )
    return path


def lock_args(table: TableOptions, group: ResolveGroup, project_root: Path) -> List[str]:
    """Resolve from the group's lockfile: a PEP 751 `pylock*.toml`, or else a pex lock."""
    if group.resolve is None:
        return []
    path = lockfile(table, group.resolve, project_root)
    return ["--pylock" if path.suffix == ".toml" else "--lock", str(path)]


def build_group(
    group: ResolveGroup,
    wheel: WheelContents,
    table: TableOptions,
    project_root: Path,
    staging: Path,
    pool: ThreadPoolExecutor,
) -> Iterator[BuiltBinary]:
    """Resolve once for the group (when more than one binary shares it), then build each binary."""
    targets = target_args(group, project_root)
    resolving = targets + resolver_args(table)

    def pex(args: Sequence[str], what: str) -> None:
        try:
            run_pex(args, what, staging)
        except BuildError as exc:
            if NO_INTERPRETER in str(exc):
                raise no_interpreter_error(group) from None
            if group.resolve and any(text in str(exc) for text in STALE_LOCK):
                raise BuildError(
                    f"the lockfile of resolve {group.resolve!r} ({table.resolves[group.resolve]}) does not satisfy "
                    "the project's requirements; re-lock with `python -m pex_backend lock`. pex said:\n"
                    + str(exc).split("\n", 1)[-1]
                ) from None
            raise

    project = f"{wheel.name}=={wheel.version}"
    lock = lock_args(table, group, project_root)
    # Pex takes a local wheel beside a lock only as a `--project`.
    own_wheel = ["--project", str(wheel.path)] if lock else [str(wheel.path)]
    if not group.include_requirements:
        sources = [str(wheel.path), "--intransitive", *resolving]
    elif len(group.binaries) == 1:
        sources = [*own_wheel, *group.requirements, *lock, *resolving]
    else:
        repository = Path(tempfile.mkdtemp(prefix="resolve-", dir=staging)) / "repository.pex"
        started = time.monotonic()
        ignore = ["--ignore-errors"] if group.ignore_errors else []
        pex([*own_wheel, *group.requirements, *lock, *resolving, *ignore, "-o", str(repository)], "the shared resolve")
        print(
            f"pex-backend: resolved {project} and its requirements once for {len(group.binaries)} PEX files "
            f"({time.monotonic() - started:.1f} s)",
            flush=True,
        )
        sources = ["--pex-repository", str(repository), project, *group.requirements, *targets]

    def build(binary: BinarySpec) -> BuiltBinary:
        started = time.monotonic()
        output = staging / f"{binary.name}.pex"
        pex([*sources, *binary_args(binary), "-o", str(output)], f"{binary.name}.pex")
        return BuiltBinary(binary, output, time.monotonic() - started)

    yield from pool.map(build, group.binaries)


def replace_path(source: Path, destination: Path) -> None:
    """Move a built file or directory into place, replacing what was there only at the last moment."""
    if destination.is_dir() and not destination.is_symlink():
        old = destination.with_name(f".{destination.name}.old-{os.getpid()}")
        os.replace(destination, old)
        os.replace(source, destination)
        shutil.rmtree(old, ignore_errors=True)
    else:
        if destination.exists() and source.is_dir():
            destination.unlink()
        os.replace(source, destination)


def path_size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


def describe_size(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 100_000 else f"{size / 1e3:.1f} kB"


def compose(
    binaries: Sequence[BinarySpec], wheel: WheelContents, table: TableOptions, project_root: Path, output_dir: Path
) -> List[BuiltBinary]:
    """Build every binary in a staging directory, then move them all into `output_dir` together."""
    output_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".pexbin-staging-", dir=output_dir))
    try:
        with ThreadPoolExecutor(JOBS) as pool, ThreadPoolExecutor(JOBS) as group_pool:
            batches = group_pool.map(
                lambda group: list(build_group(group, wheel, table, project_root, staging, pool)), groups(binaries)
            )
            built = [b for batch in batches for b in batch]
        placed = []
        for item in built:
            destination = output_dir / item.path.name
            replace_path(item.path, destination)
            placed.append(BuiltBinary(item.spec, destination, item.seconds))
            size = describe_size(path_size(destination))
            print(f"pex-backend: wrote {destination.name} ({size}, {item.seconds:.1f} s)", flush=True)
        return placed
    finally:
        shutil.rmtree(staging, ignore_errors=True)
