"""What `build_wheel` does beyond setuptools: plan the PEX files, compose them, and publish them all or nothing.

Every artifact (the wheel, each PEX, the build record) is staged on its destination's file system, in the cache's
scratch area or else in a hidden directory of the destination, and flushed to disk; then one run of renames puts
them in place, the old record first out and the new record last in, so that a file in the output directory is
always a complete artifact and no record ever names a file it does not describe.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

from pex_backend.backend.compose.built import announce
from pex_backend.backend.compose.keys import PIP_PER_RUN
from pex_backend.backend.compose.resolvers import UV_REQUIREMENT, uv_available, wants_uv
from pex_backend.backend.compose.session import compose, pex_session
from pex_backend.backend.config.settings import PREFIX, BuildSettings
from pex_backend.backend.config.table import DEFAULT_PEX_VERSION, PexbinConfig
from pex_backend.errors import BuildError
from pex_backend.pex.cache import BuildCache, open_cache
from pex_backend.pex.cache_files import claim_directory, identity, lock, remove_leftovers
from pex_backend.pex.workers import copy_key, forget_copy_on_import, importable_pex
from pex_backend.timings import step

from .delegate import wheel_step
from .inputs import check_inputs
from .plan import plan
from .record import records_naming, sha256_of, write_record
from .sbom import check_library, library_requirement, wants_sbom, write_sbom
from .unchanged import as_last_built, remember, sources_seen
from .wheel import read_wheel, reproducible_copy

# The frontends that build a wheel to install it and keep nothing else (`reason_to_skip`). pip builds wheels into a
# temporary directory: older pips name it `pip-wheel-*`; every pip since 20.3 (pex's vendored one included) runs a
# build under its build tracker, which it names in the environment of the backend (`PIP_BUILD_TRACKER`,
# `PIP_REQ_TRACKER` before pip 22.1). uv's installs (`uv pip install`, `uv tool install`, a non-editable `uv sync`)
# build into a temporary directory of its cache's builds bucket, `<cache>/builds-v0/.tmpXXXXXX` (uv's
# `Cache::build_dir`), and set no variable of their own; `uv build` builds into its output directory.
PIP_TEMPORARY_DIRECTORY = "pip-wheel-"
UV_BUILDS_BUCKET = re.compile(r"builds-v[0-9]+")
UV_TEMPORARY_DIRECTORY = ".tmp"
# A build's staging directory in an output directory (when the cache is off or on another file system), claimed
# by its process; older backends staged under the second prefix too. A later build removes those of dead builds.
STAGING_PREFIXES = (".pexbin-staging-", ".pexbin-wheel-")
# For the tests alone: a file the build writes once everything is staged, waiting until it is removed, so that a
# test can kill the build right before the run of renames.
PAUSE_BEFORE_PUBLISH = "PEXBIN_TEST_PAUSE_BEFORE_PUBLISH"
# With this one set to N as well, the build waits before the Nth rename of that run instead (counting from 0).
PAUSE_AT_RENAME = "PEXBIN_TEST_PAUSE_AT_RENAME"


def pex_requirement(config: PexbinConfig, cache_dir: Optional[Path]) -> List[str]:
    """What the build needs installed to run pex (nothing when the build cache holds a whole copy of that pex),
    cyclonedx-python-lib when a binary may have `sbom` on, and uv when uv may resolve and neither the frontend nor
    the build cache has one."""
    wanted = config.table.pex_version or DEFAULT_PEX_VERSION
    extra = [library_requirement()] if wants_sbom(config) else []
    if wants_uv(config.table) and not uv_available(cache_dir):
        extra.append(UV_REQUIREMENT)
    # A quick look (every file there, at its size; a damaged copy asks for pex): `build_wheel` checks the copy
    # whole before it runs it, and says to build again should it be damaged or gone by then.
    if cache_dir and BuildCache(cache_dir).looks_whole("pex-copies", copy_key(wanted)):
        return extra
    return [f"pex=={wanted}", *extra]


def installing_frontend(wheel_directory: Optional[Path]) -> Optional[str]:
    """The frontend ("pip", "uv") building the wheel only to install it, which throws away anything else written
    beside it; None for a frontend that keeps its output directory (`python -m build`, `uv build`). Without the
    wheel directory (`get_requires_for_build_wheel` has none), what the environment says: pip's tracker."""
    if any(v in os.environ for v in PIP_PER_RUN):
        return "pip"
    if wheel_directory is None:
        return None
    if wheel_directory.name.startswith(PIP_TEMPORARY_DIRECTORY):
        return "pip"
    if wheel_directory.name.startswith(UV_TEMPORARY_DIRECTORY) and UV_BUILDS_BUCKET.fullmatch(
        wheel_directory.parent.name
    ):
        return "uv"
    return None


def reason_to_skip(
    config: Optional[PexbinConfig],
    settings: BuildSettings,
    wheel_directory: Optional[Path],
    config_settings: Optional[Mapping[str, Any]] = None,
) -> Optional[str]:
    """Why this build writes no PEX files, if it writes none. `get_requires_for_build_wheel` asks it too (with no
    wheel directory), so that a build that will write none asks the frontend for no pex."""
    if config is None:
        return "no [tool.pexbin] table"
    if settings.skip:
        return "PEX files turned off by pexbin.skip"
    # Under an install only the frontend's command line asks for PEX files: every pip or uv run (`pip install .`,
    # `uv pip install .` too) inherits an exported PEXBIN_OUTPUT_DIR.
    frontend = installing_frontend(wheel_directory)
    if frontend and f"{PREFIX}output-dir" not in (config_settings or {}):
        return (
            f"{frontend} keeps only the wheel; set -C pexbin.output-dir=DIR on {frontend}'s command line to get PEX "
            "files"
        )
    return None


def flush(path: Path, directory: bool = False) -> None:
    """Write a file (or a directory's entries) to disk; some systems cannot do it for directories."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        if directory:
            return
        raise
    try:
        os.fsync(fd)
    except OSError:
        if not directory:
            raise
    finally:
        os.close(fd)


def durable(path: Path) -> None:
    """Flush a staged file, or every file and directory of a staged tree, to disk."""
    if path.is_dir() and not path.is_symlink():
        for root, _, names in os.walk(path):
            for name in names:
                if not os.path.islink(os.path.join(root, name)):
                    flush(Path(root, name))
            flush(Path(root), directory=True)
    else:
        flush(path)
    flush(path.parent, directory=True)


@contextlib.contextmanager
def taking_turns(directories: Sequence[Path]) -> Iterator[None]:
    """An exclusive lock on each directory, so that builds publishing into the same one take turns."""
    held: List[int] = []
    try:
        for directory in sorted(set(directories)):
            with contextlib.suppress(OSError):  # a system that cannot open directories has no locks on them
                held.append(os.open(directory, os.O_RDONLY))
                lock(held[-1], exclusive=True)
        yield
    finally:
        for fd in held:
            os.close(fd)


def pause_for_tests(rename: Optional[int] = None) -> None:
    flag, at = os.environ.get(PAUSE_BEFORE_PUBLISH), os.environ.get(PAUSE_AT_RENAME)
    if flag and at == (None if rename is None else str(rename)):
        Path(flag).write_text(f"{os.getpid()}\n")
        while os.path.lexists(flag):
            time.sleep(0.05)


class Publication:
    """A build's artifacts, staged beside (on the file system of) their destinations, then put in place together."""

    def __init__(self, cache: Optional[BuildCache]) -> None:
        self.cache = cache
        self.stages: Dict[Path, Path] = {}
        self.claimed: List[Tuple[Path, int]] = []
        self.moves: List[Tuple[Path, Path]] = []
        self.kept: List[Tuple[Path, Optional[Tuple[int, ...]]]] = []

    def __enter__(self) -> Publication:
        return self

    def __exit__(self, *exc_info: object) -> None:
        # Stages in the cache's scratch area go with the cache's session; those in output directories go here.
        for path, fd in self.claimed:
            shutil.rmtree(path, ignore_errors=True)
            os.close(fd)

    def staging(self, destination: Path) -> Path:
        """A directory of this build's on `destination`'s file system: in the cache's scratch area when that is
        on it, else a hidden one in `destination` (after removing those that killed builds left there)."""
        if destination not in self.stages:
            destination.mkdir(parents=True, exist_ok=True)
            for prefix in STAGING_PREFIXES:
                remove_leftovers(destination, prefix)
            if self.cache and os.stat(self.cache.root).st_dev == os.stat(destination).st_dev:
                stage = self.cache.fresh()
            else:
                stage, fd = claim_directory(destination, STAGING_PREFIXES[0])
                self.claimed.append((stage, fd))
            (stage / ".aside").mkdir()
            self.stages[destination] = stage
        return self.stages[destination]

    def add(self, staged: Path, destination: Path) -> None:
        self.moves.append((staged, destination))

    def keep(self, present: Path) -> None:
        """Leave a file the record names where it is (the build found it holding the bytes it would publish)."""
        self.kept.append((present, identity(present)))

    def check_kept(self) -> None:
        """Under the output directories' locks: a kept file another build changed since would make the record lie."""
        for present, found in self.kept:
            if identity(present) != found:
                raise BuildError(f"{present} changed while this build ran (another build?): build again")

    def commit(self, record: Path, destination: Path) -> None:
        """Put every added artifact in place, and the build record `record` (naming them) at `destination`."""
        moves = [*self.moves, (record, destination)]
        for staged, _ in moves:
            durable(staged)
        for _, final in moves:
            final.parent.mkdir(parents=True, exist_ok=True)  # a scie's directory per platform
        pause_for_tests()
        with taking_turns([final.parent for _, final in moves]):
            self.check_kept()
            # First out: the records (this one's earlier build's, other versions') naming a file about to change.
            replaced = {final.name for _, final in self.moves if final.parent == destination.parent}
            outdated = set(records_naming(destination.parent, replaced))
            renames = [(old, self.aside(old)) for old in sorted(outdated | {destination}) if os.path.lexists(old)]
            for staged, final in self.moves:
                is_directory = final.is_dir() and not final.is_symlink()
                if os.path.lexists(final) and (staged.is_dir() or is_directory):
                    renames.append((final, self.aside(final)))  # a directory cannot be renamed over
                renames.append((staged, final))
            renames.append((record, destination))
            # The run of renames, doing nothing else: the old records out first, the new one in last.
            for index, (source, target) in enumerate(renames):
                pause_for_tests(index)
                os.replace(source, target)
        for directory in {final.parent for _, final in moves}:
            flush(directory, directory=True)

    def aside(self, final: Path) -> Path:
        """Where what `final` replaces goes, to be removed with the staging directory."""
        directory = next(d for d in final.parents if d in self.stages)  # a scie's platform directory is inside
        aside = self.stages[directory] / ".aside" / final.relative_to(directory)
        aside.parent.mkdir(parents=True, exist_ok=True)
        return aside


def build_wheel_and_pex_files(
    build_wheel: Callable[[str], str],
    config: PexbinConfig,
    settings: BuildSettings,
    wheel_directory: Path,
    project_root: Path,
) -> str:
    """Build the wheel and every PEX in staging; only when all succeed do they replace earlier artifacts."""
    output_dir = settings.output_dir or wheel_directory
    with step("opening the build cache"):
        cache = open_cache(settings.cache_dir)
    try:
        # Sources as the last build left them: its PEX files are reused, and pex most likely runs not at all.
        expected = as_last_built(cache, project_root, sources_seen(project_root) if cache else None)
        with step("pex's copy"):
            unread = importable_pex(cache, config.table.pex_version or DEFAULT_PEX_VERSION, lazily=expected)
        with step("checking the inputs"):
            check_inputs(config, project_root)  # with pex, which checks the interpreter constraints
        if unread and cache:  # the PEX files in the output directory, likely reused: hashed beside setuptools
            cache.ahead.start(path for path in sorted(output_dir.glob("*.pex")) if path.is_file())
        with Publication(cache) as publication:
            staging = publication.staging(wheel_directory)
            pex_staging = publication.staging(output_dir)
            # pex's first worker starts (and imports pex) while setuptools builds the wheel, unless none is expected.
            with pex_session(cache, pex_staging, early=not unread) as session:
                with step(wheel_step(config)):
                    basename = build_wheel(str(staging))
                seen = sources_seen(project_root) if cache else None
                with step("reading the wheel"):
                    wheel = read_wheel(reproducible_copy(staging / basename, staging / "for-pex"))
                    binaries = plan(config, wheel, project_root, settings)
                    check_library(binaries)
                with step("PEX files"):
                    table, root = config.table, project_root
                    built = compose(binaries, wheel, table, root, pex_staging, cache, False, session, output_dir)
            with step("SBOMs"):  # of the final PEX files, however each was made
                sboms = {
                    item.path.name: write_sbom(item, item.sha256 or sha256_of(item.path), wheel, project_root)
                    for item in built
                    if item.spec.options.sbom
                }
            record = write_record(built, wheel, pex_staging, staging / basename, config)
            publication.add(staging / basename, wheel_directory / basename)
            for item in built:
                if item.path.parent == output_dir:
                    publication.keep(item.path)  # a reused PEX already there, hashed in place
                else:
                    publication.add(item.path, output_dir / item.path.name)
                for scie in item.scies:  # beside the PEX, or in a directory per platform (`scie-name-style`)
                    publication.add(pex_staging / scie, output_dir / scie)
                if item.path.name in sboms:
                    publication.add(sboms[item.path.name], output_dir / sboms[item.path.name].name)
            with step("publishing"):
                publication.commit(record, output_dir / record.name)
            remember(cache, project_root, seen)
    finally:
        forget_copy_on_import()
        if cache:
            cache.close()
    announce([replace(item, path=output_dir / item.path.name) for item in built])
    for pex, sbom in sboms.items():
        print(f"pex-backend: wrote {sbom.name} (the CycloneDX SBOM of {pex})", flush=True)
    return basename
