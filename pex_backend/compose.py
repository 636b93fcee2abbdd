"""Pex does the work: one resolve per group (or the cache's), then each binary from those pre-resolved wheels."""

from __future__ import annotations

import contextlib
import filecmp
import os
import shlex
import shutil
import sys
import sysconfig
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name as canonical

from .cache import BuildCache, backend_digest, file_digest, key_of, size_of
from .config import DEFAULT_PIP_VERSION, TABLE, TableOptions
from .constraints import running_interpreter_matches
from .errors import PexbinError
from .inputs import complete_platform_file as checked_platform_file
from .inputs import lockfile
from .pex_failures import PexContext, failure
from .pexinfo import pex_info, pinned_requirements
from .pexrun import JOBS, Interpreter, PexWorkers, build_interpreter, pex_version, worker_command
from .plan import BinarySpec, ResolveGroup, groups, per_platform
from .proofs import SiblingProofs
from .siblings import Target, derive, splice
from .timings import step
from .wheel import WheelContents

# For foreign targets the build interpreter's own `python3.X` would pin one of them; the PEX picks among the rest.
PORTABLE_SHEBANG = "/usr/bin/env python3"


BASE = "base.pex"
# For the tests alone: derived siblings get one byte more, as if a future pex wrote them differently.
ALTER_SIBLINGS = "PEXBIN_TEST_ALTER_SIBLINGS"


@dataclass(frozen=True)
class BuiltBinary:
    spec: BinarySpec
    path: Path
    seconds: float
    reused: bool = False
    derived_from: Optional[str] = None
    """The PEX this one was derived from (its name), when it was not built by pex."""
    spliced: bool = False
    """Whether pex built the project's part alone, the rest coming from an earlier build's PEX."""
    sha256: Optional[str] = None
    """The file's sha256, when the build cache's manifest already says it."""
    scies: Tuple[Path, ...] = ()
    """The scies (and their checksum files) pex wrote beside the PEX, relative to its directory."""
    artifacts: Mapping[str, str] = field(default_factory=dict)
    """With `sbom`: the sha256 of each wheel file of the resolve pex built it from, by file name."""


def current_interpreter_matches(constraints: Sequence[str]) -> bool:
    return running_interpreter_matches(constraints)


def complete_platform_file(project_root: Path, path: str, group: ResolveGroup, index: int) -> Path:
    return checked_platform_file(project_root, path, f"{group.binaries[0].key_of('complete-platforms')}[{index}]")


def target_args(group: ResolveGroup, project_root: Path, interpreter: Interpreter) -> List[str]:
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
        args += ["--python", interpreter.python, "--python-path", interpreter.directory]
    return args


def pip_version(table: TableOptions) -> Optional[str]:
    """The pip pex resolves with: the table's, else our pinned default (unless an older pex is pinned, which may
    not know it: then pex's own default)."""
    if table.pip_version or table.pex_version:
        return table.pip_version
    return DEFAULT_PIP_VERSION


def resolver_args(table: TableOptions) -> List[str]:
    """Where and how to resolve; only for builds that resolve (builds from pre-resolved wheels take none of it)."""
    args: List[str] = []
    if table.index_urls is not None:
        args += ["--no-pypi"] + [arg for url in table.index_urls for arg in ("--index-url", url)]
    else:
        args.append("--use-pip-config")
    for link in table.find_links:
        args += ["--find-links", link]
    if pip_version(table):
        args += ["--pip-version", str(pip_version(table))]
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
    if o.args:
        args.append(f"--inject-args={shlex.join(o.args)}")  # pex splits each value as a shell would
    args += [f"--inject-env={name}={value}" for name, value in sorted(o.env.items())]
    if o.check != "warn":  # pex's default, as Pants'
        args.append(f"--check={o.check}")
    if not o.compress:
        args.append("--no-compress")
    if o.sh_boot:
        args.append("--sh-boot")
    if o.validate_entry_point and binary.entry_point.module:  # pex validates a module entry point alone
        args.append("--validate-entry-point")
    if o.execution_mode == "venv" and not o.venv_hermetic_scripts:
        args.append("--non-hermetic-venv-scripts")
    if o.execution_mode == "venv" and o.venv_site_packages_copies:
        args.append("--venv-site-packages-copies")
    return [*args, *scie_args(binary), *o.extra_build_args]


def stable_args(binary: BinarySpec) -> List[str]:
    """`binary_args` as cache keys see them: a project file's path replaced by its digest."""
    return [stable(arg) for arg in binary_args(binary)]


def scie_args(binary: BinarySpec) -> List[str]:
    """The `scie` fields as pex options (none without `scie`)."""
    o = binary.options
    if not o.scie:
        return []
    args = [f"--scie={o.scie}"]
    values = {
        "--scie-exe": o.scie_exe,
        "--scie-busybox": o.scie_busybox,
        "--scie-name-style": o.scie_name_style,
        "--scie-pbs-release": o.scie_pbs_release,
        "--scie-python-version": o.scie_python_version,
        "--scie-hash-alg": o.scie_hash_alg,
        "--scie-assets-base-url": o.scie_assets_base_url,
    }
    args += [f"{option}={value}" for option, value in values.items() if value]
    if o.scie_science_binary:  # a URL, or the project file's absolute path (plan), which the cache key digests
        args += ["--scie-science-binary", o.scie_science_binary]
    lists = {"--scie-args": o.scie_args, "--scie-env": o.scie_env, "--scie-platform": o.scie_platform}
    lists["--scie-bind-resource-path"] = o.scie_bind_resource_path
    args += [f"{option}={value}" for option, items in lists.items() for value in items]
    switches = {
        "scie-load-dotenv": o.scie_load_dotenv,
        "scie-pex-entrypoint-env-passthrough": o.scie_pex_entrypoint_env_passthrough,
        "scie-pbs-free-threaded": o.scie_pbs_free_threaded,
        "scie-pbs-debug": o.scie_pbs_debug,
        "scie-pbs-stripped": o.scie_pbs_stripped,
    }
    args += [f"--{'' if on else 'no-'}{name}" for name, on in switches.items() if on is not None]
    return args


def lock_args(table: TableOptions, group: ResolveGroup, project_root: Path) -> List[str]:
    """Resolve from the group's lockfile: a PEP 751 `pylock*.toml`, or else a pex lock."""
    if group.resolve is None:
        return []
    path = lockfile(table, group.resolve, project_root)
    return ["--pylock" if path.suffix == ".toml" else "--lock", str(path)]


def base_requirements(wheel: WheelContents) -> List[str]:
    """The wheel's requirements that a plain install of it takes (not those of its extras)."""
    kept = []
    for text in wheel.requires_dist:
        marker = Requirement(text).marker
        if marker is None or "extra" not in str(marker):
            kept.append(text)
    return kept


def stable(arg: str, interpreter: Optional[Interpreter] = None) -> str:
    """A pex argument as the cache key sees it: paths that differ from build to build replaced by what they are."""
    if interpreter and arg == interpreter.python:
        return f"{os.path.realpath(sys.executable)} {sys.version} {sysconfig.get_platform()}"
    if interpreter and arg == interpreter.directory:
        return "<the build interpreter's directory>"
    path = Path(arg)
    if path.is_absolute() and path.is_file():
        return file_digest(path)
    if path.is_absolute() and path.is_dir():
        # A directory of wheels (find-links): each file's name, size and mtime, as a rebuilt wheel changes them.
        entries = sorted(os.scandir(path), key=lambda entry: entry.name)
        return " ".join(f"{e.name}:{e.stat().st_size}:{e.stat().st_mtime_ns}" for e in entries if e.is_file())
    return arg


def pip_configuration_files() -> List[Path]:
    """The configuration files pip reads (existing or not), in pip's order: `PIP_CONFIG_FILE` (`os.devnull`: no
    file at all), global, user (not when `PIP_CONFIG_FILE` exists), site.

    As `Configuration.iter_config_files` lists them (pip/_internal/configuration.py and utils/appdirs.py, the same
    in pex's vendored pip 20.3.4 and in pip 26; https://pip.pypa.io/en/stable/topics/configuration/#location),
    taking both where they differ (macOS' user directory). Not asked of pip at build time: pex's vendored copy does
    not import on Python 3.12+, and a build environment may have no pip of its own; a test asks both pips.
    """
    config_file = os.environ.get("PIP_CONFIG_FILE")
    if config_file == os.devnull:
        return []
    home, name = Path.home(), "pip.ini" if sys.platform == "win32" else "pip.conf"
    if sys.platform == "win32":
        global_dirs = [Path(os.environ.get("ALLUSERSPROFILE") or "C:/ProgramData") / "pip"]
        user_dirs = [home / "pip", Path(os.environ.get("APPDATA") or home / "AppData" / "Roaming") / "pip"]
    elif sys.platform == "darwin":
        global_dirs = [Path("/Library/Application Support/pip")]
        user_dirs = [home / ".pip", home / "Library" / "Application Support" / "pip", home / ".config" / "pip"]
    else:
        xdg_dirs = (os.environ.get("XDG_CONFIG_DIRS") or "/etc/xdg").split(os.pathsep)
        global_dirs = [Path(d).expanduser() / "pip" for d in xdg_dirs] + [Path("/etc")]
        user_dirs = [home / ".pip", Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config") / "pip"]
    files = [Path(config_file)] if config_file else []
    files += [d / name for d in global_dirs]
    if not (config_file and os.path.exists(config_file)):
        files += [d / name for d in user_dirs]
    # The site file of the interpreter pip runs with: the base interpreter (pex's vendored pip) or a virtual
    # environment (this build's, or the one pex makes for a newer pip, which nobody configures).
    return files + [Path(prefix) / name for prefix in dict.fromkeys((sys.prefix, sys.base_prefix))]


def pip_configuration() -> Dict[str, str]:
    """What `--use-pip-config` lets into a resolve: pip's environment variables and its configuration files."""
    found = {k: v for k, v in os.environ.items() if k.startswith("PIP_")}
    for link in os.environ.get("PIP_FIND_LINKS", "").split():
        found[f"PIP_FIND_LINKS {link}"] = stable(link)
    for path in pip_configuration_files():
        if path.is_file():
            found[str(path)] = file_digest(path)
    return found


def resolve_inputs(
    group: ResolveGroup, requirements: Sequence[str], table: TableOptions, args: Sequence[str], interpreter: Interpreter
) -> Dict:
    """Everything the group's resolve depends on; its cache key is made of these."""
    return {
        "requirements": list(requirements),
        "args": [stable(arg, interpreter) for arg in args],
        "pip": pip_configuration() if table.index_urls is None else {},
        "ignore_errors": group.ignore_errors,
        "include_requirements": group.include_requirements,
        "pex": pex_version(),
        "backend": backend_digest(),
    }


class SharedResolves:
    """The resolves of one build by key, each done once: groups that take different parts of the same resolve
    (`include-sources`) share it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.locks: Dict[str, threading.Lock] = {}
        self.found: Dict[str, Optional[Path]] = {}

    def get(self, key: str, resolve: Callable[[], Optional[Path]]) -> Optional[Path]:
        with self.lock:
            key_lock = self.locks.setdefault(key, threading.Lock())
        with key_lock:
            if key not in self.found:
                self.found[key] = resolve()
            return self.found[key]


@dataclass
class GroupBuild:
    """One resolve group's build: its cache keys, its resolve, and each binary's pex run."""

    group: ResolveGroup
    wheel: WheelContents
    table: TableOptions
    project_root: Path
    staging: Path
    workers: PexWorkers
    cache: Optional[BuildCache]
    interpreter: Interpreter
    excludes: Sequence[str] = ()
    """Distributions the resolve leaves out (`!name` dependencies), for a query about one binary."""
    shared: Optional[SharedResolves] = None

    def __post_init__(self) -> None:
        self.targets = target_args(self.group, self.project_root, self.interpreter)
        self.resolving = self.targets + resolver_args(self.table)
        self.lock = lock_args(self.table, self.group, self.project_root)
        self.exclusions = [arg for name in self.excludes for arg in ("--exclude", name)]
        self.requirements = base_requirements(self.wheel) + list(self.group.requirements)
        self.inputs = resolve_inputs(
            self.group, self.requirements, self.table, [*self.lock, *self.resolving, *self.exclusions], self.interpreter
        )
        self.resolve_key = key_of(self.inputs)
        self.wheel_digest = file_digest(self.wheel.path)
        self.project = f"{self.wheel.name}=={self.wheel.version}"
        self.resolved: Optional[Path] = None
        self.digests: Optional[Dict[str, str]] = None
        self.proofs = SiblingProofs(self.cache) if self.cache else None

    def failure(self, what: str, output: str, binary: Optional[BinarySpec] = None) -> PexbinError:
        group, table = self.group, self.table
        scie = binary and binary.options.scie
        validate = binary and binary.options.validate_entry_point
        context = PexContext(
            scie_key=binary.key_of("scie") if binary and scie else "",
            science_key=binary.key_of("scie-science-binary") if scie and binary.options.scie_science_binary else "",
            assets_key=binary.key_of("scie-assets-base-url") if scie and binary.options.scie_assets_base_url else "",
            validate_key=binary.key_of("validate-entry-point") if validate else "",
            constraints_key=group.binaries[0].key_of("interpreter-constraints"),
            constraints=group.interpreter_constraints,
            resolve=group.resolve,
            lockfile=table.resolves[group.resolve] if group.resolve else None,
            pip_version=pip_version(table) or "",
            pip_version_key=f"{TABLE}.pip-version" if table.pip_version else "",
        )
        return failure(what, output, context)

    def dependencies(self) -> Optional[Path]:
        """A directory of the wheels the project's requirements resolve to, from the cache or resolved now."""
        if not self.requirements:
            return None
        what = f"{self.project}'s requirements"
        found = self.cache.checked("resolves", self.resolve_key, f"resolve of {what}") if self.cache else None
        if found:
            print(f"pex-backend: reused the resolve of {what} from the build cache", flush=True)
            return found / "resolve" / ".deps"
        started = time.monotonic()
        directory = self.cache.fresh() if self.cache else Path(tempfile.mkdtemp(prefix="resolve-", dir=self.staging))
        # A loose PEX of wheel files: its `.deps` is the resolve, as wheels pex can take back pre-resolved.
        ignore = ["--ignore-errors"] if self.group.ignore_errors else []
        args = [*self.requirements, *self.lock, *self.resolving, *self.exclusions, *ignore]
        args += ["--no-pre-install-wheels", "--layout=loose"]
        code, output = self.workers.run([*args, "-o", str(directory / "resolve")], self.staging)
        if code != 0:
            shutil.rmtree(directory, ignore_errors=True)
            raise self.failure(f"resolving {what}", output)
        count = len(self.group.binaries)
        shared = f" once for {count} PEX files" if count > 1 else ""
        print(f"pex-backend: resolved {what}{shared} ({time.monotonic() - started:.1f} s)", flush=True)
        if self.cache:
            # What later builds read (the wheels, and PEX-INFO for `dependencies`), not pex's bootstrap code.
            for path in (directory / "resolve").iterdir():
                if path.name not in (".deps", "PEX-INFO"):
                    shutil.rmtree(path) if path.is_dir() else path.unlink()
            directory = self.cache.publish(directory, "resolves", self.resolve_key, self.inputs)
        return directory / "resolve" / ".deps"

    def sources(self) -> List[str]:
        """What pex builds every binary of the group from: the project's wheel (unless `include-sources` is off,
        when its requirements stand in for it) and what it requires."""
        group = self.group
        ours = group.include_sources
        if not group.include_requirements:
            return [str(self.wheel.path), "--intransitive", *self.resolving] if ours else list(self.resolving)
        if group.ignore_errors:
            # Pex keeps going past conflicts only in a resolve of its own, so each binary resolves.
            own_wheel = ["--project", str(self.wheel.path)] if self.lock else [str(self.wheel.path)]
            wanted = own_wheel if ours else base_requirements(self.wheel)
            return [*wanted, *group.requirements, *self.lock, *self.resolving]
        resolved = ["--pre-resolved-dists", str(self.resolution())] if self.resolution() else []
        wanted = ["--pre-resolved-dists", str(self.wheel.path), self.project] if ours else base_requirements(self.wheel)
        return [*resolved, *wanted, *group.requirements, *self.targets]

    def resolution(self) -> Optional[Path]:
        """The group's resolve (a directory of wheel files), done once per build."""
        if self.resolved is None:
            self.resolved = self.shared.get(self.resolve_key, self.dependencies) if self.shared else self.dependencies()
        return self.resolved

    def artifacts(self) -> Dict[str, str]:
        """The sha256 of each wheel file of the group's resolve: what pex installed into its PEX files (a group
        that resolves per binary, `ignore-errors`, gets the same wheels from the same index settings)."""
        if self.digests is None:
            wheels = self.resolution() if self.group.include_requirements else None
            self.digests = {path.name: file_digest(path) for path in sorted(wheels.glob("*.whl"))} if wheels else {}
        return self.digests

    def key(self, binary: BinarySpec) -> str:
        # Without the project's wheel (`include-sources = false`) the PEX does not change with it.
        wheel = self.wheel_digest if self.group.include_sources else None
        return key_of(self.resolve_key, wheel, binary.name, stable_args(binary))

    def reuse(self, binary: BinarySpec) -> Optional[BuiltBinary]:
        """The cached PEX, copied out of the cache (the copy checked against the entry's manifest). A PEX with
        scies is not cached: pex builds it each time (science keeps its own cache of interpreters)."""
        if not self.cache or binary.options.scie:
            return None
        output = self.staging / f"{binary.name}.pex"
        entry = self.cache.checked("pex", self.key(binary), f"pex {output.name}", copy=(output.name, output))
        if not entry:
            return None
        return BuiltBinary(binary, output, 0.0, reused=True, sha256=self.cache.digest(entry, output.name))

    def build(self, binary: BinarySpec, sources: Sequence[str]) -> BuiltBinary:
        started = time.monotonic()
        # A scie build gets a directory of its own: pex writes the scies beside the PEX, named after it.
        scie_dir = self.staging / f"{binary.name}.scie" if binary.options.scie else None
        output = (scie_dir or self.staging) / f"{binary.name}.pex"
        with step(f"pex building {output.name}"):
            code, log = self.workers.run([*sources, *binary_args(binary), "-o", str(output)], self.staging)
        if code != 0:
            raise self.failure(f"building {output.name}", log, binary)
        if scie_dir:
            scies = tuple(sorted(p.relative_to(scie_dir) for p in scie_dir.rglob("*") if p.is_file() and p != output))
            return BuiltBinary(binary, output, time.monotonic() - started, scies=scies)
        return self.keep(BuiltBinary(binary, output, time.monotonic() - started))

    def first(self, binary: BinarySpec, sources: Sequence[str]) -> BuiltBinary:
        """The first PEX of a family. Once the build cache holds a base for it (a PEX of the same resolve, options
        and wheel name an earlier build kept), pex builds the project's own part alone after an edit and the base
        gives the rest (`siblings.splice`), once that is proven for this pex version and shape."""
        base = self.base(binary)
        if base is None or self.proofs is None:
            return self.kept_as_base(self.build(binary, sources))
        shape = ("splice", *stable_args(binary))
        verdict = self.proofs.verdict(shape)
        spliced = self.spliced(binary, base) if verdict is not False else None
        if spliced and verdict:
            final = spliced.path.with_name(f"{binary.name}.pex")
            os.replace(spliced.path, final)
            return self.keep(replace(spliced, path=final))
        built = self.build(binary, sources)
        if spliced:
            self.judged(shape, spliced, built)
        return built

    def judged(self, shape: Sequence[str], shortcut: BuiltBinary, built: BuiltBinary) -> bool:
        """Whether a PEX written by a shortcut is the one pex built; the verdict is kept, the shortcut's file goes."""
        assert self.proofs is not None
        identical = filecmp.cmp(shortcut.path, built.path, shallow=False)
        shortcut.path.unlink()
        self.proofs.record(shape, identical, built.path.name)
        return identical

    def spliceable(self, binary: BinarySpec) -> bool:
        """Whether `binary` is built from the group's resolve and the project's wheel as a zipapp alone, so that a
        base can stand for it."""
        standard = self.group.include_requirements and not self.group.ignore_errors and self.requirements
        return bool(self.cache and standard and self.group.include_sources and copyable(binary))

    def base_key(self, binary: BinarySpec) -> str:
        return key_of("base", self.resolve_key, stable_args(binary), self.wheel.path.name)

    def base(self, binary: BinarySpec) -> Optional[Path]:
        if not self.cache or not self.spliceable(binary):
            return None
        found = self.cache.checked("bases", self.base_key(binary), f"base of {binary.name}.pex")
        return found / BASE if found else None

    def kept_as_base(self, built: BuiltBinary) -> BuiltBinary:
        """Keep a PEX pex built as the base of later builds of the same resolve and options (first one wins)."""
        if self.cache and self.spliceable(built.spec):
            entry = self.cache.fresh()
            copy_path(built.path, entry / BASE)
            self.cache.publish(entry, "bases", self.base_key(built.spec), {"resolve": self.resolve_key})
        return built

    def spliced(self, binary: BinarySpec, base: Path) -> Optional[BuiltBinary]:
        """`binary` from its base and a PEX of the project's own part alone, which pex builds with every other
        distribution excluded; None where that is not done."""
        started = time.monotonic()
        output = self.staging / f"{binary.name}.pex.spliced"
        small = self.staging / f"{binary.name}.pex.project"
        others = {name.split("==")[0] for name in pinned_requirements(pex_info(base))} - {canonical(self.wheel.name)}
        excluded = [arg for name in sorted(others) for arg in ("--exclude", name)]
        with step(f"pex building the project's part of {binary.name}.pex"):
            args = [*self.sources(), *binary_args(binary), *excluded, "-o", str(small)]
            code, log = self.workers.run(args, self.staging)
        if code != 0:
            return None  # pex builds the whole PEX, and says what is wrong
        with step(f"splicing {binary.name}.pex"):
            done = splice(base, small, self.wheel.path.name, output)
        small.unlink()
        return BuiltBinary(binary, output, time.monotonic() - started, spliced=True) if done else None

    def keep(self, built: BuiltBinary) -> BuiltBinary:
        """Put a PEX this build wrote into the cache."""
        if self.cache:
            entry = self.cache.fresh()
            copy_path(built.path, entry / built.path.name)
            key, inputs = self.key(built.spec), {"resolve": self.resolve_key, "binary": built.spec.name}
            published = self.cache.publish(entry, "pex", key, inputs)
            return replace(built, sha256=self.cache.digest(published, built.path.name))
        return built

    def derived(self, first: BuiltBinary, binary: BinarySpec, output: Optional[Path] = None) -> Optional[BuiltBinary]:
        """`binary` written from its sibling `first` (see `siblings`), or None where that is not done."""
        started = time.monotonic()
        path = output or self.staging / f"{binary.name}.pex"
        target = Target(console_script=binary.entry_point.script, entry_point=binary.entry_point.module)
        with step(f"deriving {path.name}"):
            if not derive(first.path, target, path, alter=bool(os.environ.get(ALTER_SIBLINGS))):
                return None
        return BuiltBinary(binary, path, time.monotonic() - started, derived_from=first.path.name)

    def families(self, missing: Sequence[BinarySpec]) -> List[List[BinarySpec]]:
        """The binaries to build, in lists of siblings: zipapps of one shape (what pex is told apart from the entry
        point); each other binary alone. Without the cache, every binary alone: pex builds each."""
        families: Dict[Tuple[str, ...], List[BinarySpec]] = {}
        for binary in missing:
            derivable = self.cache is not None and copyable(binary)
            families.setdefault(sibling_shape(binary) if derivable else (binary.name,), []).append(binary)
        return list(families.values())

    def run(self, pool: ThreadPoolExecutor) -> List[BuiltBinary]:
        """Reuse what the cache holds; resolve (at most once) and build the rest: pex builds the first of each
        family of siblings (and, until derivation is proven for their shape, a second to prove it on) in
        parallel, and the others are derived from the first."""
        done: Dict[str, Optional[BuiltBinary]] = {binary.name: self.reuse(binary) for binary in self.group.binaries}
        missing = [binary for binary in self.group.binaries if done[binary.name] is None]
        if missing:
            sources = self.sources()
            families = self.families(missing)
            proofs = self.proofs
            verdicts = [proofs.verdict(sibling_shape(f[0])) if proofs and len(f) > 1 else False for f in families]
            by_pex = [b for f, v in zip(families, verdicts) for b in (f if v is False else f[: 1 if v else 2])]
            firsts = {family[0].name for family in families}

            def build(binary: BinarySpec) -> BuiltBinary:
                return self.first(binary, sources) if binary.name in firsts else self.build(binary, sources)

            done.update((item.spec.name, item) for item in pool.map(build, by_pex))
            later = []
            for family, verdict in zip(families, verdicts):
                if verdict is False:
                    continue
                first = done[family[0].name]
                assert first is not None
                if verdict is None and not self.proven(first, done[family[1].name]):
                    later += family[2:]
                    continue
                for binary in family[1:]:
                    if done[binary.name] is None:
                        found = self.derived(first, binary)
                        if found:
                            done[binary.name] = self.keep(found)
                        else:
                            later.append(binary)
            done.update((item.spec.name, item) for item in pool.map(lambda b: self.build(b, sources), later))
        # A reused PEX too: its SBOM needs the wheels' hashes, which the (reused) resolve gives.
        return [
            replace(item, artifacts=self.artifacts()) if item.spec.options.sbom else item
            for item in done.values()
            if item
        ]

    def proven(self, first: BuiltBinary, witness: Optional[BuiltBinary]) -> bool:
        """Whether the witness (built by pex) is what derivation writes from `first`; the outcome is kept."""
        assert witness is not None
        check = self.derived(first, witness.spec, self.staging / f"{witness.path.name}.derived")
        if check is None:
            return True  # not derivable after all: each PEX that is not falls back to pex
        return self.judged(sibling_shape(witness.spec), check, witness)


def copyable(binary: BinarySpec) -> bool:
    """Whether `binary` is one zipapp file whose entry point is a module or console script: what a sibling can be
    written from, or stand for, by copy (a scie, an `executable` and an entry point pex is to import are left to
    pex)."""
    o = binary.options
    return o.layout == "zipapp" and not (o.scie or o.validate_entry_point or binary.entry_point.executable)


def sibling_shape(binary: BinarySpec) -> Tuple[str, ...]:
    """What a PEX's build is apart from its entry point: siblings of one shape differ in their entry point alone."""
    kind = "console-script" if binary.entry_point.script else "entry-point"
    return (kind, *binary_args(binary)[len(binary.entry_point.pex_args) :])


def copy_path(source: Path, destination: Path) -> None:
    if source.is_dir():
        shutil.copytree(source, destination, symlinks=True)
    else:
        shutil.copy2(source, destination)


def describe_size(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 100_000 else f"{size / 1e3:.1f} kB"


def announce(built: Sequence[BuiltBinary]) -> None:
    """One line per PEX, once it is in place."""
    for item in built:
        size = describe_size(size_of(item.path))
        if item.reused:
            print(f"pex-backend: reused {item.path.name} from the build cache ({size})", flush=True)
        elif item.spliced:
            what = "pex built the project's part"
            print(f"pex-backend: wrote {item.path.name} ({size}, {item.seconds:.1f} s, {what})", flush=True)
        elif item.derived_from:
            print(f"pex-backend: wrote {item.path.name} ({size}, derived from {item.derived_from})", flush=True)
        else:
            print(f"pex-backend: wrote {item.path.name} ({size}, {item.seconds:.1f} s)", flush=True)
        if item.scies:
            scies = ", ".join(scie.as_posix() for scie in item.scies)
            print(f"pex-backend: wrote {scies} (pex's scie of {item.path.name})", flush=True)


@contextlib.contextmanager
def pex_session(cache: Optional[BuildCache], parent: Optional[Path]) -> Iterator[Tuple[Path, Interpreter, PexWorkers]]:
    """A work directory (in `parent`), the build interpreter and pex's workers; the directory goes at the end."""
    staging = Path(tempfile.mkdtemp(prefix="pexbin-work-", dir=parent))
    with step("the build interpreter"):
        python = build_interpreter(cache)
    try:
        # pex's compiled copy is looked for (or made) when the first worker starts: a build that reuses every PEX
        # runs no pex.
        with PexWorkers(lambda: worker_command(cache, python)) as workers:
            yield staging, python, workers
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def compose(
    binaries: Sequence[BinarySpec],
    wheel: WheelContents,
    table: TableOptions,
    project_root: Path,
    output_dir: Path,
    cache: Optional[BuildCache],
    announced: bool = True,
) -> List[BuiltBinary]:
    """Build (or reuse) every binary into `output_dir`, a directory no one else looks into until the caller is done
    (a build's staging directory, which the build publishes; `run`'s temporary one). Without `announced`, the
    caller prints the lines (`announce`) once the files are in place."""
    output_dir.mkdir(parents=True, exist_ok=True)
    with pex_session(cache, output_dir) as (staging, python, workers):
        with ThreadPoolExecutor(JOBS) as pool, ThreadPoolExecutor(JOBS) as group_pool:
            with step("cache keys"):
                shared = SharedResolves()
                builds = [
                    GroupBuild(g, wheel, table, project_root, staging, workers, cache, python, shared=shared)
                    for g in groups(binaries)
                ]
            built = [item for batch in group_pool.map(lambda build: build.run(pool), builds) for item in batch]
        placed = []
        for item in built:
            destination = output_dir / item.path.name
            for scie in item.scies:
                (output_dir / scie).parent.mkdir(parents=True, exist_ok=True)
                os.replace(item.path.parent / scie, output_dir / scie)
            os.replace(item.path, destination)  # from the work directory inside it
            placed.append(replace(item, path=destination))
    if announced:
        announce(placed)
    return placed


def target_label(binary: BinarySpec) -> str:
    """The one target of a single-target binary, as users name it."""
    o = binary.options
    if o.platforms or o.complete_platforms:
        return (o.platforms or o.complete_platforms)[0]
    return f"this machine ({' or '.join(o.interpreter_constraints) or 'any Python'})"


def resolved_per_target(
    binary: BinarySpec, wheel: WheelContents, table: TableOptions, project_root: Path, cache: Optional[BuildCache]
) -> List[Tuple[str, List[str]]]:
    """For each target of `binary`: the third-party distributions its PEX holds there, resolved as the build
    resolves them (from its lockfile when it has one), without the ones it excludes."""
    singles = per_platform(replace(binary, options=replace(binary.options, per_platform=True)))
    with pex_session(cache, None) as (staging, python, workers), ThreadPoolExecutor(JOBS) as pool:

        def resolve(single: BinarySpec) -> Tuple[str, List[str]]:
            group = replace(ResolveGroup.key_of(single), binaries=(single,))
            build = GroupBuild(group, wheel, table, project_root, staging, workers, cache, python, single.excludes)
            resolved = build.dependencies() if group.include_requirements else None
            return target_label(single), pinned_requirements(pex_info(resolved.parent)) if resolved else []

        return list(pool.map(resolve, singles))
