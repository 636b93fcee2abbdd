"""`pexbin verify DIST`: rebuild from the sdist a build wrote, with the cache off, and compare with its record.

The record names the wheel and every PEX with its sha256. The rebuild runs pip on the sdist, in a fresh temporary
directory, as a frontend would (an isolated build environment unless `--no-isolation`), asking for the PEX files
through pex-backend's config-settings; nothing is read from the build cache or written to it.
"""

from __future__ import annotations

import importlib.machinery
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from packaging.utils import canonicalize_name
from packaging.version import Version

from pex_backend.backend.record import sha256_of
from pex_backend.errors import BuildError


@dataclass(frozen=True)
class Artifact:
    """One file the record vouches for: its name in DIST and the sha256 the record gives it."""

    name: str
    recorded: Optional[str]
    """None when the record gives no sha256 (a wheel recorded by an older pex-backend, an SBOM)."""


@dataclass(frozen=True)
class Recorded:
    path: Path
    project: str
    version: str
    artifacts: Tuple[Artifact, ...]
    """The wheel first, then each PEX (and its SBOM)."""
    source_date_epoch: Optional[str]
    tools: Dict[str, str]
    """The build's own tools by distribution name, with their versions (none in a record of an older pex-backend)."""


def read_record(path: Path) -> Recorded:
    try:
        record = json.loads(path.read_text())
        artifacts = [Artifact(record["wheel"], record.get("wheel_sha256"))]
        for binary in record["binaries"]:
            artifacts.append(Artifact(binary["file"], binary["sha256"]))
            if binary.get("sbom"):
                artifacts.append(Artifact(binary["sbom"], None))
        epoch = record.get("source_date_epoch")
        tools = {str(name): str(release) for name, release in (record.get("build_tools") or {}).items()}
        return Recorded(path, record["project"], record["version"], tuple(artifacts), epoch, tools)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BuildError(f"{path} is not a build record pex-backend can read ({type(exc).__name__}: {exc})") from None


def records_in(dist: Path) -> List[Recorded]:
    if not dist.is_dir():
        raise BuildError(
            f"verify: {dist} is not a directory; give the directory a build wrote (sdist, wheel, PEX files)"
        )
    paths = sorted(dist.glob("*.pexbin.json"))
    if not paths:
        raise BuildError(
            f"verify: {dist} has no build record (*.pexbin.json): give the directory a pex-backend build wrote its "
            "PEX files to"
        )
    return [read_record(path) for path in paths]


def sdist_of(dist: Path, recorded: Recorded) -> Path:
    """The sdist of the record's project and version: `name-version.tar.gz`, the name normalized or not."""
    wanted = canonicalize_name(recorded.project)
    for path in sorted(dist.glob(f"*-{recorded.version}.tar.gz")):
        if canonicalize_name(path.name[: -len(f"-{recorded.version}.tar.gz")]) == wanted:
            return path
    raise BuildError(
        f"verify: {dist} has no sdist of {recorded.project} {recorded.version} ({recorded.path.name} describes it): "
        "verify rebuilds from the sdist, so build both (`python -m build`, `uv build`)"
    )


def check_environment(recorded: Recorded) -> None:
    """Without isolation the rebuild runs this environment's tools: stop before it when one is not the version the
    build had, which would give other bytes."""
    for name, release in sorted(recorded.tools.items()):
        try:
            here: Optional[str] = version(name)
        except PackageNotFoundError:
            here = None
        if here != release:
            has = f"has {name} {here}" if here else f"has no {name}"
            raise BuildError(
                f"verify --no-isolation: {recorded.path.name} says the build had {name} {release}, and this "
                f"environment {has}: verify with build isolation (which installs the build's own tools), or install "
                f"{name}=={release} here"
            )


def pinning(frontend: str, constraints: Path) -> Tuple[List[str], Dict[str, str]]:
    """The options and variables that fill the isolated build environment from `constraints`: uv's
    `--build-constraints`, pip's `--build-constraint` (pip 25.3 and later), else `PIP_CONSTRAINT`, which an older
    pip passes on to the install that fills the build environment."""
    if frontend == "uv":
        return ["--build-constraints", str(constraints)], {}
    if Version(version("pip")) >= Version("25.3"):
        return ["--build-constraint", str(constraints)], {}
    return [], {"PIP_CONSTRAINT": " ".join(filter(None, [os.environ.get("PIP_CONSTRAINT"), str(constraints)]))}


def rebuild_command(out: Path, isolation: bool) -> Tuple[str, List[str]]:
    """The frontend and its command: pip's `wheel` where this environment has pip, else `uv build` (an environment
    uv made has no pip). The wheel and the PEX files into `out`, the frontend's cache and ours off, the build
    interpreter this one."""
    settings = [f"pexbin.output-dir={out}", "pexbin.no-cache=true"]
    isolated = [] if isolation else ["--no-build-isolation"]
    # Looked for on sys.path alone: setuptools' distutils hook on sys.meta_path takes a search for pip as pip
    # starting, and warns when it finds distutils imported.
    if importlib.machinery.PathFinder.find_spec("pip") is not None:
        pip = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-cache-dir", "-w", str(out), *isolated]
        return "pip", pip + [arg for setting in settings for arg in ("--config-settings", setting)]
    uv = os.environ.get("UV") or uv_in_this_environment() or shutil.which("uv")
    if not uv:
        raise BuildError(
            "verify: rebuilding needs pip or uv, and this environment has neither: add pip (`python -m ensurepip`) "
            "or put uv on PATH"
        )
    uv_build = [uv, "build", "--wheel", "--no-cache", "--python", sys.executable, "-o", str(out), *isolated]
    return "uv", uv_build + [arg for setting in settings for arg in ("-C", setting)]


def uv_in_this_environment() -> Optional[str]:
    try:
        from uv import find_uv_bin
    except ImportError:
        return None
    try:
        return find_uv_bin()
    except FileNotFoundError:
        return None


def rebuild(sdist: Path, out: Path, isolation: bool, recorded: Recorded) -> None:
    """Build the wheel and PEX files of `sdist` into `out` with pip (or uv), the build cache off, with the build's
    SOURCE_DATE_EPOCH (or none, as the build had none) and, isolated, with the build's own tools."""
    frontend, command = rebuild_command(out, isolation)
    # What the environment would change of this build: a setting of ours, another output directory.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PEXBIN_") and k != "SOURCE_DATE_EPOCH"}
    if recorded.source_date_epoch is not None:
        env["SOURCE_DATE_EPOCH"] = recorded.source_date_epoch
    if isolation and recorded.tools:
        constraints = out.with_name("build-constraints.txt")
        constraints.write_text("".join(f"{name}=={release}\n" for name, release in sorted(recorded.tools.items())))
        options, variables = pinning(frontend, constraints)
        command += options
        env.update(variables)
    print(f"verify: rebuilding from {sdist.name} with {frontend} (build cache off)", file=sys.stderr, flush=True)
    result = subprocess.run([*command, str(sdist)], env=env, capture_output=True, text=True)
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip().splitlines()
        ours = [line for line in output if line.startswith("pex-backend error:")]
        reason = ours[-1] if ours else "\n".join(output[-15:])
        raise BuildError(
            f"verify: rebuilding from {sdist.name} failed ({frontend} exited {result.returncode}): {reason}"
        )


def zip_entries(path: Path) -> List[Tuple[str, int, bytes]]:
    with zipfile.ZipFile(path) as archive:
        return [(info.filename, info.external_attr, archive.read(info)) for info in archive.infolist()]


def same_but_timestamps(kept: Path, again: Path) -> bool:
    """Whether two wheels hold the same entries, in the same order, with the same bytes and modes."""
    try:
        return zip_entries(kept) == zip_entries(again)
    except (OSError, zipfile.BadZipFile):
        return False


def differences(dist: Path, rebuilt: Path, recorded: Recorded) -> Tuple[List[str], bool]:
    """One line per artifact that is not what the record says, in DIST or in the rebuild; and whether the wheel
    matches only but for its zip timestamps (a build without SOURCE_DATE_EPOCH). Everything else, the SBOMs among
    it, is compared byte for byte: the SBOM hashes the copy of the wheel with fixed timestamps that pex was given."""
    loose = False
    lines = []
    wheel = recorded.artifacts[0]
    for artifact in recorded.artifacts:
        kept, again = dist / artifact.name, rebuilt / artifact.name
        kept_sha = sha256_of(kept) if kept.exists() else None
        again_sha = sha256_of(again) if again.exists() else None
        expected = artifact.recorded or kept_sha  # what the record does not hash is compared with DIST's copy
        problems = []
        if kept_sha is None:
            problems.append(f"not in {dist}")
        elif artifact.recorded and kept_sha != artifact.recorded:
            problems.append(f"{dist}'s copy has sha256 {kept_sha}, not the record's {artifact.recorded}")
        if again_sha is None:
            problems.append("the rebuild from the sdist did not write it")
        elif expected and again_sha != expected:
            if (
                artifact is wheel
                and not problems
                and recorded.source_date_epoch is None
                and same_but_timestamps(kept, again)
            ):
                loose = True
            else:
                whose = "the record's" if artifact.recorded else f"{dist}'s"
                problems.append(f"rebuilt sha256 {again_sha} differs from {whose} {expected}")
        if problems:
            lines.append(f"{artifact.name}: {'; '.join(problems)}")
    return lines, loose


def verify(dist: Path, isolation: bool = True) -> int:
    """Exit status 0 when every artifact of every record in `dist` is rebuilt byte for byte, else 1."""
    dist = dist.resolve()
    found = [(recorded, sdist_of(dist, recorded)) for recorded in records_in(dist)]  # every error before any build
    for recorded, _ in found:
        if not isolation:
            check_environment(recorded)
    status = 0
    for recorded, sdist in found:
        with tempfile.TemporaryDirectory(prefix="pexbin-verify-") as scratch:
            rebuilt = Path(scratch) / "dist"
            rebuild(sdist, rebuilt, isolation, recorded)
            lines, loose = differences(dist, rebuilt, recorded)
        for line in lines:
            print(line)
        if lines:
            status = 1
            continue
        exact = len(recorded.artifacts) - 1
        files = f"{exact} file{'' if exact == 1 else 's'}"
        if loose:
            print(
                f"verified {recorded.project} {recorded.version}: the {files} rebuilt from {sdist.name} are "
                f"byte-identical to {recorded.path.name}; the wheel holds the same files, but its zip timestamps are "
                "the build's clock (setuptools stamps them so when SOURCE_DATE_EPOCH is unset: set it when building "
                "for a byte-identical wheel)"
            )
        else:
            print(
                f"verified {recorded.project} {recorded.version}: the wheel and the {files} rebuilt from "
                f"{sdist.name} are byte-identical to {recorded.path.name}"
            )
    return status
