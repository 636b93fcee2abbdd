"""Pex's failures as our errors: every pattern over pex's output that becomes one line naming the cause.

Each pattern is matched against what pex really prints (the tests produce each failure with pex itself). A failure
that no pattern matches exactly is shown as pex's own last lines, never guessed at.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional, Sequence

from pex_backend.errors import BuildError, ConfigError, PexbinError

TAIL = 40
"""How many of pex's last lines a failure shows."""

# pex's words when no interpreter satisfies the constraints, in each form `UnsatisfiableInterpreterConstraintsError`
# writes (`working` appears only when it skipped broken interpreters, e.g. pyenv shims of other versions).
NO_INTERPRETER = re.compile(
    r"^(?:Could not find a compatible interpreter\.|No (?:working )?interpreter compatible with the requested "
    r"constraints was found:|No interpreters could be found on the system\.|Interpreters were found but they all "
    r"appear to be broken:)$",
    re.M,
)
# A lock that lacks a requirement, or pins a version the project no longer accepts (pex locks and PEP 751 locks).
STALE_LOCK = re.compile(r"^Failed to resolve compatible artifacts from .+ for \d+ targets?:$", re.M)
UNSATISFIED = re.compile(
    r"^Dependency on (?P<project>\S+) (?:\(via: (?P<via>[^)]*)\) )?not satisfied, (?:no candidates found\.|"
    r"\d+ incompatible candidates? found:\n1\.\) \S+ (?P<locked>\S+) does not satisfy the following requirements:"
    r"\n\s+\S+ \(via: (?P<wanted>[^)]*)\))",
    re.M,
)
NOT_IN_LOCK = re.compile(
    r"^Found \d+ (?:local project|URL) requirements? not present in the lock at (?P<lock>.+):$", re.M
)
TAMPERED_ARTIFACT = re.compile(r"Expected \S+ hash of \S+ when downloading (?P<project>\S+) but hashed to", re.M)
# A pre-resolved wheel (built from an sdist with another interpreter) that does not fit the target.
UNFIT_WHEEL = re.compile(
    r"^\s*Failed to resolve all requirements for (?P<target>[^\n]+?)(?: interpreter at \S+)?:\n.*?"
    r"^Dependency on (?P<project>\S+) not satisfied, \d+ incompatible candidates? found:\n"
    r"1\.\) \S+ \S+ (?:\(via: [^)]*\) )?does not have any compatible artifacts",
    re.M | re.S,
)
# The pip command pex ran, with the download directory named after its target (a platform or an interpreter).
PIP_TARGET = re.compile(r"^pid \d+ -> .* --dest \S*/resolver_download\.[^/\s]+/(?P<target>[^/\s]+) ", re.M)
# pip's own top-level error (not indented: an indented one is from a build environment pip set up).
NOT_FOUND = re.compile(r"^pip: ERROR: No matching distribution found for (?P<requirement>\S+)$", re.M)
# An sdist whose build requirements pip could not install: modern pip, then pip 20.3 (pex's vendored pip).
BUILD_DEPENDENCIES = re.compile(
    r"^pip: ERROR: Failed to build '(?P<sdist>[^']+)' when installing build dependencies|"
    r"^pip:\s+Installing build dependencies: finished with status 'error'$",
    re.M,
)
BUILD_REQUIREMENT_NOT_FOUND = re.compile(
    r"^pip:\s+ERROR: No matching distribution found for (?P<requirement>\S+)$", re.M
)
LOCAL_INTERPRETER = re.compile(r"[A-Za-z]+-\d+(?:\.\d+)*")
# pex could not install the pip it was asked to resolve with (`pip-version`), before running any resolve.
PIP_BOOTSTRAP = re.compile(r"\AFailed to spawn a job for \S+")


@dataclass(frozen=True)
class PexContext:
    """What the build asked pex for, so that a failure can name the key behind it."""

    constraints_key: str
    constraints: Sequence[str]
    resolve: Optional[str] = None
    lockfile: Optional[str] = None
    pip_version: str = ""
    """The pip version pex resolves with."""
    pip_version_key: str = ""
    """The key that chose it; empty for pex-backend's default."""
    scie_key: str = ""
    """For a PEX with scies: the key that asked for them, and those of the fields naming local copies of what
    pex otherwise downloads for them."""
    science_key: str = ""
    assets_key: str = ""
    validate_key: str = ""
    """The key that asked pex to import the entry point (`validate-entry-point`)."""


# pex's last line when it could not fetch what a scie needs (`science`, or through it an interpreter or scie-jump).
SCIE_FETCH = re.compile(r"<urlopen error .*>|unknown url type: .*|.*science binary.*|.*Failed to (?:fetch|download).*")


def scie_fetch(output: str, context: PexContext) -> Optional[PexbinError]:
    lines = output.strip().splitlines()
    if not context.scie_key or not lines or not SCIE_FETCH.fullmatch(lines[-1].strip()):
        return None
    if context.science_key:
        return ConfigError(context.science_key, f"pex could not get the `science` tool from it ({lines[-1].strip()})")
    where = f"the mirror of {context.assets_key}" if context.assets_key else "GitHub"
    return ConfigError(
        context.scie_key,
        f"pex could not download what a scie needs from {where} ({lines[-1].strip()}); point "
        "`scie-science-binary` at a local `science` and `scie-assets-base-url` at a mirror made with "
        "`science download`, or build where those downloads work",
    )


# pex's last lines when `--validate-entry-point` could not import it: the exception, then its verdict.
INVALID_ENTRY_POINT = re.compile(
    r"^(?P<error>[\w.]+: .*?)(?: \(/[^\n]*\))?\nInvalid entry point: `(?P<entry_point>[^`]+)`\n"
    r"Entry point verification failed: ",
    re.M,
)


def invalid_entry_point(output: str, context: PexContext) -> Optional[PexbinError]:
    invalid = INVALID_ENTRY_POINT.search(output)
    if not context.validate_key or not invalid:
        return None
    return ConfigError(
        context.validate_key,
        f"pex could not import the entry point {invalid.group('entry_point')} from the PEX ({invalid.group('error')})",
    )


def tail(output: str) -> str:
    return "\n".join(output.rstrip().splitlines()[-TAIL:])


def no_interpreter(output: str, context: PexContext) -> Optional[PexbinError]:
    if not context.constraints or not NO_INTERPRETER.search(output):
        return None
    return ConfigError(
        context.constraints_key,
        f"no interpreter on this machine satisfies {' or '.join(context.constraints)}; install one, "
        "or set `platforms` or `complete-platforms` to build for other machines",
    )


def stale_lock(output: str, context: PexContext) -> Optional[PexbinError]:
    if context.resolve is None or not (STALE_LOCK.search(output) or NOT_IN_LOCK.search(output)):
        return None
    unsatisfied = UNSATISFIED.search(output)
    detail = ""
    if unsatisfied and unsatisfied.group("locked"):
        detail = (
            f" ({unsatisfied.group('wanted')}: the lock has "
            f"{unsatisfied.group('project')} {unsatisfied.group('locked')})"
        )
    elif unsatisfied:
        detail = f" ({unsatisfied.group('via') or unsatisfied.group('project')} is not in the lock)"
    return BuildError(
        f"the lockfile of resolve {context.resolve!r} ({context.lockfile}) does not satisfy the project's "
        f"requirements{detail}; re-lock with `python -m pex_backend lock`. pex said:\n{tail(output)}"
    )


def summary(output: str, context: PexContext) -> str:
    """One sentence for a pex failure users often meet; empty when no pattern matches exactly."""
    tampered = TAMPERED_ARTIFACT.search(output)
    if tampered:
        return f"the artifact of {tampered.group('project')} does not have the hash the lock records; it is refused."
    unfit = UNFIT_WHEEL.search(output)
    if unfit:
        return (
            f"the wheel resolved for {unfit.group('project')} does not work on {unfit.group('target')}; "
            "pex built it from an sdist with the build interpreter. Set `resolve-local-platforms = true` with a "
            "matching interpreter on PATH, or provide a wheel for that platform."
        )
    bootstrap, missing = PIP_BOOTSTRAP.search(output), NOT_FOUND.search(output)
    if bootstrap and missing:
        chosen = f"set by {context.pip_version_key}" if context.pip_version_key else "pex-backend's default"
        return (
            f"pex could not set up pip {context.pip_version} ({chosen}) to resolve with: "
            f"{missing.group('requirement')} is not on the indexes or find-links this build uses. Make pip "
            f"{context.pip_version} and what it needs available there, or set `pip-version` to another version."
        )
    build = BUILD_DEPENDENCIES.search(output)
    if build:
        requirement = BUILD_REQUIREMENT_NOT_FOUND.search(output)
        sdist = f"the sdist of {build.group('sdist')}" if build.group("sdist") else "an sdist"
        missing = f" {requirement.group('requirement')}" if requirement else ""
        return (
            f"{sdist} could not be built: its build requirement{missing} was not found on the indexes or "
            "find-links this build uses; make it available there, or provide a wheel of the sdist."
        )
    target, missing = PIP_TARGET.search(output), NOT_FOUND.search(output)
    if not (target and missing):
        return ""
    where, requirement = target.group("target"), missing.group("requirement")
    if LOCAL_INTERPRETER.fullmatch(where):  # a local interpreter, e.g. CPython-3.12.1
        return f"no distribution of {requirement} was found for {where}."
    return (
        f"no wheel of {requirement} was found for platform {where}; a foreign platform needs pre-built wheels "
        "of every requirement (or `resolve-local-platforms` with a matching local interpreter)."
    )


def failure(what: str, output: str, context: PexContext) -> PexbinError:
    """Our error for pex's failure while doing `what`: a key's error when the cause is the user's, else one line
    saying what failed (and why, when a pattern knows), followed by pex's own last lines."""
    for recognise in (no_interpreter, stale_lock, scie_fetch, invalid_entry_point):
        error = recognise(output, context)
        if error:
            return error
    why = summary(output, context)
    return BuildError(f"pex failed while {what}:" + (f" {why}" if why else "") + "\n" + tail(output))
