"""Every binary of a build composed in one pex session: the groups built side by side, the files put in place."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Iterator, List, Optional, Sequence, Tuple

from pex_backend.backend.config.table import TableOptions
from pex_backend.backend.plan import BinarySpec, ResolveGroup, groups, per_platform
from pex_backend.backend.wheel import WheelContents
from pex_backend.pex.cache import BuildCache
from pex_backend.pex.pexinfo import pex_info, pinned_requirements
from pex_backend.pex.pool import PexWorkers
from pex_backend.pex.workers import JOBS, Interpreter, WorkerCommand, build_interpreter
from pex_backend.timings import step

from .built import BuiltBinary, announce
from .group import GroupBuild, SharedResolves

Session = Tuple[Path, Interpreter, PexWorkers]


@contextlib.contextmanager
def pex_session(cache: Optional[BuildCache], parent: Optional[Path], early: bool = False) -> Iterator[Session]:
    """A work directory (in `parent`), the build interpreter and pex's workers; the directory goes at the end.
    With `early`, the first worker starts now, in the background: the build opens the session before setuptools
    builds the wheel, so that pex is imported meanwhile."""
    staging = Path(tempfile.mkdtemp(prefix="pexbin-work-", dir=parent))
    with step("the build interpreter"):
        python = build_interpreter(cache)
    command = WorkerCommand(cache, python, staging)
    try:
        # pex's compiled copy is looked for (or made) when the first worker starts: without `early`, a build that
        # reuses every PEX runs no pex.
        tmp = staging / "tmp"
        tmp.mkdir()
        with PexWorkers(command, tmp=tmp) as workers:
            if early:
                workers.start_first()
            yield staging, python, workers
    finally:
        command.finish()
        shutil.rmtree(staging, ignore_errors=True)


def compose(
    binaries: Sequence[BinarySpec],
    wheel: WheelContents,
    table: TableOptions,
    project_root: Path,
    output_dir: Path,
    cache: Optional[BuildCache],
    announced: bool = True,
    session: Optional[Session] = None,
    published: Optional[Path] = None,
) -> List[BuiltBinary]:
    """Build (or reuse) every binary into `output_dir`, a directory no one else looks into until the caller is done
    (a build's staging directory, which the build publishes; `run`'s temporary one). Without `announced`, the
    caller prints the lines (`announce`) once the files are in place. `session`: one the caller opened (in
    `output_dir`), else one of its own. `published`: where the caller puts the files; a reused PEX already there
    (the cache's bytes, hashed there) is left in place, the item naming it there."""
    output_dir.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        staging, python, workers = session or stack.enter_context(pex_session(cache, output_dir))
        with ThreadPoolExecutor(JOBS) as pool, ThreadPoolExecutor(JOBS) as group_pool:
            with step("cache keys"):
                shared = SharedResolves()
                builds = [
                    GroupBuild(g, wheel, table, project_root, staging, workers, cache, python, (), shared, published)
                    for g in groups(binaries)
                ]
            built = [item for batch in group_pool.map(lambda build: build.run(pool), builds) for item in batch]
        placed = []
        for item in built:
            if published and item.path.parent == published:
                placed.append(item)
                continue
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
