"""Who resolves a group's requirements: uv, or pex's own pip. The one place that chooses; either way the result is
a loose PEX whose `.deps` holds wheel files, which every binary of the group is built from.

uv resolves and installs into a virtual environment of the build interpreter, and pex takes the distributions from
it (`--venv-repository`), repacking each as a wheel with fixed timestamps; uv's `pylock.toml` beside the resolve
keeps the sha256 of the artifact each was installed from, for the SBOM.
"""

from __future__ import annotations

import configparser
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Protocol, Sequence

from pex_backend.backend.config.project import read_toml
from pex_backend.backend.config.table import TABLE, TableOptions
from pex_backend.backend.plan import ResolveGroup
from pex_backend.bytecode import TRUE
from pex_backend.errors import BuildError, PexbinError
from pex_backend.pex.cache import BuildCache, key_of
from pex_backend.pex.pool import Interpreter, PexWorkers
from pex_backend.timings import step

from . import uvlock
from .failures import pex_failure
from .keys import pip_configuration_files, uv_configuration


@dataclass(frozen=True)
class ResolverChoice:
    """`uv` or `pip`; `fallback` names the key that made pip resolve where uv was asked for."""

    name: str
    fallback: Optional[str] = None


def lock_kind(path: str) -> str:
    """`uv` for a uv.lock, `pylock` for a PEP 751 lock, `pex` for a pex lock."""
    name = Path(path).name
    return "uv" if name == "uv.lock" else "pylock" if name.endswith(".toml") else "pex"


def choose(table: TableOptions, group: ResolveGroup, targets: Sequence[str]) -> ResolverChoice:
    """The resolver of `group`, whose pex target options are `targets`. A uv.lock is exported by uv either way: uv
    installs from the export for the build interpreter, pex's pip resolves from it for other targets."""
    kind = lock_kind(table.resolves.get(group.resolve, "")) if group.resolve is not None else None
    if table.resolver == "pip":
        return ResolverChoice("pip")
    binary = group.binaries[0]
    if kind == "pex":
        return ResolverChoice("pip", f"{TABLE}.resolves.{group.resolve} (a pex lock)")
    for key, value in (
        ("complete-platforms", group.complete_platforms),
        ("platforms", group.platforms),
        ("ignore-errors", group.ignore_errors),
    ):
        if value:
            return ResolverChoice("pip", binary.key_of(key))
    if "--python" not in targets:
        return ResolverChoice("pip", f"{binary.key_of('interpreter-constraints')} (not this build's interpreter)")
    return ResolverChoice("uv")


def wants_uv(table: TableOptions) -> bool:
    """Whether a build of this table may resolve with uv."""
    return table.resolver == "uv" or any(lock_kind(path) == "uv" for path in table.resolves.values())


def frontend_uv() -> Optional[str]:
    """The uv the frontend provides: `UV` (set by `uv build`), `uv` on PATH, or the uv package of the build
    environment."""
    found = os.environ.get("UV") or shutil.which("uv")
    if found:
        return found
    if importlib.util.find_spec("uv") is not None:
        import uv

        return str(uv.find_uv_bin())
    return None


def uv_available(cache_dir: Optional[Path]) -> bool:
    """A quick look, for `get_requires_for_build_wheel`: is there a uv without installing one?"""
    return bool(frontend_uv() or (cache_dir and BuildCache(cache_dir).looks_whole("uv-copies", UV_COPY)))


def find_uv(cache: Optional[BuildCache], key: str) -> str:
    """The uv to resolve with: the frontend's, else the build cache's copy (made from the uv package a build asked
    for, so that later builds need not install it). `key` names what needs it, for the error."""
    found = frontend_uv()
    installed = bool(found) and Path(str(found)).resolve().is_relative_to(Path(sys.prefix).resolve())
    copy = cache.checked("uv-copies", UV_COPY, "uv's copy") if cache and (installed or not found) else None
    if found or copy:
        uv = found or str(copy / "uv")  # type: ignore[operator]
        version = version_of(uv)
        if tuple(int(part) for part in re.findall(r"\d+", version)[:2]) < UV_MINIMUM:
            too_old = f'uv {version} is too old to resolve (uv 0.8 or later): update it, or set `resolver = "pip"`'
            raise BuildError(f"{key}: {too_old}")
        if found and cache and not copy and installed:
            fresh = cache.fresh()
            shutil.copy2(found, fresh / "uv")
            cache.publish(fresh, "uv-copies", UV_COPY, {"uv": version})
        return uv
    raise BuildError(
        f"{key}: uv resolves, and no uv is here (no UV variable, no uv on PATH, no uv package in the build "
        'environment): build again with build isolation, install uv, or set `resolver = "pip"`'
    )


def version_of(uv: str) -> str:
    result = subprocess.run([uv, "--version"], capture_output=True, text=True)
    return (result.stdout.split() + ["", "?"])[1]


def pip_settings() -> Dict[str, List[str]]:
    """pip's index settings (`index-url`, `extra-index-url`, `find-links`, `no-index`) as pip reads them: its
    configuration files in order (`[global]`, then `[download]`, the command pex runs), then `PIP_*` variables."""
    found: Dict[str, List[str]] = {}
    names = ("index-url", "extra-index-url", "find-links", "no-index")
    for path in pip_configuration_files():
        parser = configparser.RawConfigParser()
        try:
            parser.read(path, encoding="utf-8")
        except (configparser.Error, UnicodeDecodeError):
            continue
        for section in ("global", "download"):
            for name in names:
                if parser.has_option(section, name):
                    found[name] = parser.get(section, name).split()
    for name in names:
        value = os.environ.get(f"PIP_{name.upper().replace('-', '_')}")
        if value is not None:
            found[name] = value.split()
    return found


def uv_index_args(table: TableOptions) -> List[str]:
    """The table's `index-urls` and `find-links`, else pip's own settings, as uv options: the same indexes under
    uv as under pip."""
    if table.index_urls is not None:
        primary, extra, links = list(table.index_urls[:1]), list(table.index_urls[1:]), []
        no_index = not table.index_urls
    else:
        # pip's extra indexes are in addition to its index, PyPI unless `index-url` says otherwise: so are uv's.
        pip = pip_settings()
        primary, extra, links = pip.get("index-url", [])[:1], pip.get("extra-index-url", []), pip.get("find-links", [])
        no_index = (pip.get("no-index") or ["0"])[0].lower() in TRUE
    args = ["--no-index"] if no_index else []
    if not no_index:
        args += [arg for url in primary for arg in ("--index-url", url)]
        args += [arg for url in extra for arg in ("--extra-index-url", url)]
    return args + [arg for link in [*links, *table.find_links] for arg in ("--find-links", link)]


@dataclass
class UvResolve:
    """One resolve by uv: a pylock of the requirements (or the one given), installed into a fresh virtual
    environment of the build interpreter, from which pex writes the loose PEX of wheel files."""

    uv: str
    group: ResolveGroup
    table: TableOptions
    project_root: Path
    interpreter: Interpreter
    workers: PexWorkers
    staging: Path

    def run(self, requirements: Sequence[str], pylock: Optional[Path], pex_args: Sequence[str], output: Path,
            what: str) -> None:  # fmt: skip
        """Write the resolve to `output/resolve` and its pylock to `output/pylock.toml` (a UvPexFailure when pex
        cannot take it from the venv)."""
        work = Path(tempfile.mkdtemp(prefix="uv-", dir=self.staging))
        venv = work / "venv"
        python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
        beside = ThreadPoolExecutor(1, thread_name_prefix="pexbin-uv-venv")
        try:
            # The venv made while uv resolves, then pex identifying its new interpreter while uv installs.
            making = ["venv", "--quiet", "--python", self.interpreter.python, str(venv)]
            venv_made = beside.submit(self.uv_run, making, "making a venv")
            identified = beside.submit(lambda: venv_made.exception() or self.workers.identify(str(python)))
            index = uv_index_args(self.table)
            lock = work / PYLOCK
            if pylock is None:
                (work / "requirements.in").write_text("".join(f"{line}\n" for line in requirements))
                compile_ = ["pip", "compile", "--quiet", "--no-header", "--format", "pylock.toml"]
                command = [*compile_, "--python", self.interpreter.python, *index, str(work / "requirements.in")]
                self.uv_run([*command, "-o", str(lock)], f"resolving {what}")
            elif pylock.name == "uv.lock":
                uvlock.export(self.uv, self.project_root, self.group, lock)
            else:
                shutil.copyfile(pylock, lock)
            venv_made.result()  # raises what making it raised
            install = ["pip", "install", "--quiet", "--python", str(python), *index, "-r", str(lock)]
            self.uv_run(install, f"installing {what}")
            identified.result()
            args = [*requirements, "--venv-repository", str(venv), *pex_args, "--no-pre-install-wheels"]
            with step("pex taking the resolve from uv's venv"):
                code, log = self.workers.run([*args, "--layout=loose", "-o", str(output / "resolve")], self.staging)
            if code != 0:
                raise UvPexFailure(log)
            shutil.copyfile(lock, output / PYLOCK)
        finally:
            beside.shutdown()  # before its venv goes
            shutil.rmtree(work, ignore_errors=True)

    def uv_run(self, args: Sequence[str], what: str) -> None:
        uvlock.run_uv(self.uv, self.project_root, args, what)


class UvPexFailure(PexbinError):
    """pex could not take the resolve from uv's virtual environment; `output` is pex's own."""

    def __init__(self, output: str) -> None:
        super().__init__(output)
        self.output = output


def artifact_hashes(resolve: Path) -> Dict[str, str]:
    """Wheel file name to the sha256 of the artifact uv installed it from, from the pylock beside a uv resolve
    (`resolve` is its `.deps`); empty for a resolve pip made, whose wheel files are the artifacts."""
    pylock = resolve.parent.parent / PYLOCK
    if not pylock.is_file():
        return {}
    found = {}
    for package in read_toml(pylock).get("packages", []):
        for wheel in package.get("wheels", []):
            name = wheel.get("name") or urllib.parse.unquote((wheel.get("url") or wheel.get("path", "")).split("/")[-1])
            if name and "sha256" in wheel.get("hashes", {}):
                found[name] = wheel["hashes"]["sha256"]
    return found


class Resolving(Protocol):
    """What a resolve is made from: a group's build (`group.GroupBuild`) as this module reads it."""

    group: ResolveGroup
    table: TableOptions
    project_root: Path
    interpreter: Interpreter
    workers: PexWorkers
    staging: Path
    cache: Optional[BuildCache]
    resolver: ResolverChoice
    requirements: List[str]
    lock: List[str]
    resolving: List[str]
    targets: List[str]
    exclusions: List[str]

    def pex_lock(self) -> List[str]: ...


# `uv pip install -r pylock.toml` (uv 0.8); `uv export --format pylock.toml` came in 0.6.15.
UV_MINIMUM = (0, 8)
UV_REQUIREMENT = "uv>=0.8"
UV_COPY = key_of("uv")
PYLOCK = "pylock.toml"


def key_inputs(choice: ResolverChoice, project_root: Path) -> Dict[str, object]:
    """What the resolver adds to a resolve's cache key: its name, and uv's own settings when uv resolves."""
    return {"resolver": choice.name, "uv": uv_configuration(project_root) if choice.name == "uv" else {}}


def resolve(build: Resolving, output: Path, what: str) -> None:
    """Resolve `build`'s requirements into `output/resolve`, a loose PEX of wheel files, with its resolver, and say
    so in one line."""
    started = time.monotonic()
    resolve_with(build, output, what)
    count = len(build.group.binaries)
    shared = f" once for {count} PEX files" if count > 1 else ""
    took = f"with {build.resolver.name}, {time.monotonic() - started:.1f} s"
    print(f"pex-backend: resolved {what}{shared} ({took})", flush=True)


def resolve_with(build: Resolving, output: Path, what: str) -> None:
    if build.resolver.name == "uv":
        uv = find_uv(build.cache, f"{TABLE}.resolver")
        lock = lockfile_of(build)
        uv_resolve = UvResolve(
            uv, build.group, build.table, build.project_root, build.interpreter, build.workers, build.staging
        )
        try:
            # No targets: the venv's interpreter is the build interpreter, and with targets pex would refuse a venv
            # holding a `py2.py3` wheel (`py2-none-any` is not a tag of the target).
            uv_resolve.run(build.requirements, lock, build.exclusions, output, what)
        except UvPexFailure as failure:
            raise pex_failure(f"resolving {what}", failure.output, build.group, build.table) from None
        return
    lock = build.pex_lock()  # a uv.lock as uv exports it
    if build.resolver.fallback:
        source = " from its uv.lock as uv exports it" if lock != build.lock else ""
        print(f"pex-backend: pip resolves {what}{source}: uv cannot for {build.resolver.fallback}", flush=True)
    ignore = ["--ignore-errors"] if build.group.ignore_errors else []
    args = [*build.requirements, *lock, *build.resolving, *build.exclusions, *ignore]
    args += ["--no-pre-install-wheels", "--layout=loose"]
    code, log = build.workers.run([*args, "-o", str(output / "resolve")], build.staging)
    if code != 0:
        raise pex_failure(f"resolving {what}", log, build.group, build.table)


def lockfile_of(build: Resolving) -> Optional[Path]:
    """The pylock uv installs from for a group with a resolve (None: uv resolves the requirements)."""
    if not build.lock:
        return None
    return Path(build.lock[-1])
