"""One resolve group's build: its cache keys, its resolve (or the cache's), and each binary's PEX: reused, built by
pex, derived from a sibling, or spliced onto a base."""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from pex_backend.backend.config.table import TABLE, TableOptions
from pex_backend.backend.plan import BinarySpec, ResolveGroup
from pex_backend.backend.wheel import WheelContents
from pex_backend.pex.cache import BuildCache, key_of
from pex_backend.pex.cache_files import file_digest
from pex_backend.pex.pool import Interpreter, PexWorkers
from pex_backend.pex.proofs import SiblingProofs
from pex_backend.pex.siblings import FirstPex, Target, derive
from pex_backend.timings import step

from . import resolvers, uvlock
from .args import (
    base_requirements,
    binary_args,
    copyable,
    lock_args,
    resolver_args,
    sibling_shape,
    stable_args,
    target_args,
)
from .bases import Bases
from .built import BuiltBinary, fallback
from .failures import pex_failure
from .keys import resolve_inputs

# For the tests alone: derived siblings get one byte more, as if a future pex wrote them differently.
ALTER_SIBLINGS = "PEXBIN_TEST_ALTER_SIBLINGS"


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
class GroupBuild(Bases):
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
    published: Optional[Path] = None  # where the build puts the PEX files: a reused one there is left in place

    def __post_init__(self) -> None:
        self.targets = target_args(self.group, self.project_root, self.interpreter, self.workers.interpreter_matches)
        self.resolving = self.targets + resolver_args(self.table)
        self.lock = lock_args(self.table, self.group, self.project_root)
        self.exclusions = [arg for name in self.excludes for arg in ("--exclude", name)]
        self.requirements = base_requirements(self.wheel) + list(self.group.requirements)
        self.resolver = resolvers.choose(self.table, self.group, self.targets)
        self.inputs = resolve_inputs(
            self.group, self.requirements, self.table, [*self.lock, *self.resolving, *self.exclusions], self.interpreter
        )
        self.inputs.update(resolvers.key_inputs(self.resolver, self.project_root))
        self.resolve_key = key_of(self.inputs)
        self.wheel_digest = file_digest(self.wheel.path)
        self.project = f"{self.wheel.name}=={self.wheel.version}"
        self.resolved: Optional[Path] = None
        self.digests: Optional[Dict[str, str]] = None
        self.proofs = SiblingProofs(self.cache) if self.cache else None
        self.exported: Optional[List[str]] = None
        self.exporting = threading.Lock()

    def pex_lock(self) -> List[str]:
        """The lock options of pex's own resolves: a uv.lock as uv exports it (pex reads no uv.lock), once."""
        if not uvlock.is_uv_lock(self.lock):
            return self.lock
        with self.exporting:
            if self.exported is None:
                pylock = Path(tempfile.mkdtemp(prefix="uv-export-", dir=self.staging)) / resolvers.PYLOCK
                uv = resolvers.find_uv(self.cache, f"{TABLE}.resolves.{self.group.resolve}")
                uvlock.export(uv, self.project_root, self.group, pylock)
                self.exported = ["--pylock", str(pylock)]
            return self.exported

    def dependencies(self) -> Optional[Path]:
        """A directory of the wheels the project's requirements resolve to, from the cache or resolved now."""
        if not self.requirements:
            return None
        what = f"{self.project}'s requirements"
        found = self.cache.checked("resolves", self.resolve_key, f"resolve of {what}") if self.cache else None
        if found:
            print(f"pex-backend: reused the resolve of {what} from the build cache", flush=True)
            return found / "resolve" / ".deps"
        if not self.lock:
            uvlock.check_no_sources(self.requirements, self.project_root)  # a lock pins what it pins
        directory = self.cache.fresh() if self.cache else Path(tempfile.mkdtemp(prefix="resolve-", dir=self.staging))
        # A loose PEX of wheel files: its `.deps` is the resolve, as wheels pex can take back pre-resolved.
        try:
            resolvers.resolve(self, directory, what)
        except BaseException:
            shutil.rmtree(directory, ignore_errors=True)
            raise
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
            if not self.lock:
                uvlock.check_no_sources(self.requirements, self.project_root)
            own_wheel = ["--project", str(self.wheel.path)] if self.lock else [str(self.wheel.path)]
            wanted = own_wheel if ours else base_requirements(self.wheel)
            return [*wanted, *group.requirements, *self.pex_lock(), *self.resolving]
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
            hashes = resolvers.artifact_hashes(wheels) if wheels else {}
            found = sorted(wheels.glob("*.whl")) if wheels else []
            self.digests = {path.name: hashes.get(path.name) or file_digest(path) for path in found}
        return self.digests

    def key(self, binary: BinarySpec) -> str:
        # Without the project's wheel (`include-sources = false`) the PEX does not change with it.
        wheel = self.wheel_digest if self.group.include_sources else None
        return key_of(self.resolve_key, wheel, binary.name, stable_args(binary))

    def reuse(self, binary: BinarySpec) -> Optional[BuiltBinary]:
        """The cached PEX: the file in `published` if it is the entry's (hashed there), else a checked copy."""
        if not self.cache or binary.options.scie:  # pex builds scies each time; an SBOM is written beside its PEX
            return None
        output = self.staging / f"{binary.name}.pex"
        present = self.published / output.name if self.published and not binary.options.sbom else None
        found = self.cache.checked_out("pex", self.key(binary), f"pex {output.name}", output, present)
        if not found:
            return None
        return BuiltBinary(binary, found[1], 0.0, reused=True, sha256=self.cache.digest(found[0], output.name))

    def build(self, binary: BinarySpec, sources: Sequence[str]) -> BuiltBinary:
        started = time.monotonic()
        # A scie build gets a directory of its own: pex writes the scies beside the PEX, named after it.
        scie_dir = self.staging / f"{binary.name}.scie" if binary.options.scie else None
        output = (scie_dir or self.staging) / f"{binary.name}.pex"
        with step(f"pex building {output.name}"):
            code, log = self.workers.run([*sources, *binary_args(binary), "-o", str(output)], self.staging)
        if code != 0:
            raise pex_failure(f"building {output.name}", log, self.group, self.table, binary)
        if scie_dir:
            scies = tuple(sorted(p.relative_to(scie_dir) for p in scie_dir.rglob("*") if p.is_file() and p != output))
            return BuiltBinary(binary, output, time.monotonic() - started, scies=scies)
        return self.keep(BuiltBinary(binary, output, time.monotonic() - started))

    def keep(self, built: BuiltBinary) -> BuiltBinary:
        """Put a PEX this build wrote into the cache."""
        if self.cache:
            entry = self.cache.fresh()
            copy_path(built.path, entry / built.path.name)
            key, inputs = self.key(built.spec), {"resolve": self.resolve_key, "binary": built.spec.name}
            # The binary's place in the cache: the same but for the wheel. An edit's PEX supersedes the older one.
            inputs["slot"] = key_of(self.wheel.name, self.resolve_key, built.spec.name, stable_args(built.spec))
            published = self.cache.publish(entry, "pex", key, inputs)
            self.cache.supersede("pex", key, inputs["slot"])
            return replace(built, sha256=self.cache.digest(published, built.path.name))
        return built

    def derived(self, first: FirstPex, binary: BinarySpec, output: Optional[Path] = None) -> Optional[BuiltBinary]:
        """`binary` written from its sibling `first` (see `siblings`), or None where that is not done."""
        started = time.monotonic()
        path = output or self.staging / f"{binary.name}.pex"
        target = Target(console_script=binary.entry_point.script, entry_point=binary.entry_point.module)
        with step(f"deriving {path.name}"):
            why_not = derive(first, target, path, alter=bool(os.environ.get(ALTER_SIBLINGS)))
        if why_not:
            fallback(path.name, why_not)
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
            later, deriving = [], []
            for family, verdict in zip(families, verdicts):
                if verdict is False:
                    continue
                built_first = done[family[0].name]
                assert built_first is not None
                first = FirstPex(built_first.path, self.workers)  # pex's code by a worker, which has it imported
                if verdict is None and not self.proven(first, done[family[1].name]):
                    later += family[2:]
                    continue
                deriving += [(first, binary) for binary in family[1:] if done[binary.name] is None]

            def derived_and_kept(pair: Tuple[FirstPex, BinarySpec]) -> Tuple[BinarySpec, Optional[BuiltBinary]]:
                found = self.derived(*pair)
                return pair[1], self.keep(found) if found else None

            for binary, found in pool.map(derived_and_kept, deriving):  # side by side: they copy and hash
                done[binary.name] = found
                if found is None:
                    later.append(binary)
            done.update((item.spec.name, item) for item in pool.map(lambda b: self.build(b, sources), later))
        # A reused PEX too: its SBOM needs the wheels' hashes, which the (reused) resolve gives.
        return [
            replace(item, artifacts=self.artifacts()) if item.spec.options.sbom else item
            for item in done.values()
            if item
        ]

    def proven(self, first: FirstPex, witness: Optional[BuiltBinary]) -> bool:
        """Whether the witness (built by pex) is what derivation writes from `first`; the outcome is kept."""
        assert witness is not None
        check = self.derived(first, witness.spec, self.staging / f"{witness.path.name}.derived")
        if check is None:
            return True  # not derivable after all: each PEX that is not falls back to pex
        return self.judged(sibling_shape(witness.spec), check, witness)


def copy_path(source: Path, destination: Path) -> None:
    if source.is_dir():
        shutil.copytree(source, destination, symlinks=True)
    else:
        shutil.copy2(source, destination)
