"""Each pattern that turns pex's output into our error line, against the output pex itself prints for that failure."""

from __future__ import annotations

import os
import sys
import tarfile
from pathlib import Path

import pytest
from conftest import run

from pex_backend.errors import BuildError, ConfigError
from pex_backend.pex.failures import PexContext, failure, tail

CONSTRAINTS_KEY = "tool.pexbin.interpreter-constraints"
DEFAULT = PexContext(CONSTRAINTS_KEY, (), pip_version="26.0.1")
BASE_PYTHON_DIR = Path(os.path.realpath(sys.executable)).parent


def pex_output(env, *args: object) -> str:
    """What pex prints when it fails with these arguments (it must fail)."""
    result = run([sys.executable, "-m", "pex", *args], env=env, check=False)
    assert result.returncode != 0, result.stdout + result.stderr
    return result.stdout + result.stderr


@pytest.fixture
def env(offline_env, wheelhouse):
    return {**offline_env, "PEX_SCRIPT": "", "PYENV_ROOT": os.devnull}


@pytest.fixture
def resolving(wheelhouse, tmp_path):
    """pex's resolver arguments as the backend gives them, offline from the wheelhouse."""
    return ["--no-pypi", "-f", wheelhouse, "--pip-version", "26.0.1", "-o", tmp_path / "x.pex"]


def interpreter_error(output: str) -> str:
    error = failure("resolving", output, PexContext(CONSTRAINTS_KEY, ("CPython==2.6.*",)))
    assert isinstance(error, ConfigError)
    return str(error)


NO_INTERPRETER_LINE = (
    "tool.pexbin.interpreter-constraints: no interpreter on this machine satisfies CPython==2.6.*; install one, "
    "or set `platforms` or `complete-platforms` to build for other machines"
)


def test_no_interpreter_on_a_clean_path(env, resolving):
    output = pex_output({**env, "PATH": str(BASE_PYTHON_DIR)}, "cowsay", "--interpreter-constraint", "CPython==2.6.*",
                        *resolving)  # fmt: skip
    assert "No interpreter compatible with the requested constraints was found" in output
    assert interpreter_error(output) == NO_INTERPRETER_LINE


def test_no_interpreter_when_pex_skipped_broken_ones(env, resolving, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "python3.9").write_text("#!/bin/sh\nexit 3\n")
    (broken / "python3.9").chmod(0o755)
    path = f"{broken}{os.pathsep}{BASE_PYTHON_DIR}{os.pathsep}/usr/bin{os.pathsep}/bin"
    output = pex_output({**env, "PATH": path}, "cowsay", "--interpreter-constraint", "CPython==2.6.*", *resolving)
    assert "No working interpreter compatible with the requested constraints was found" in output
    assert interpreter_error(output) == NO_INTERPRETER_LINE


def test_no_interpreter_at_all(env, resolving, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    output = pex_output({**env, "PATH": str(empty)}, "cowsay", "--interpreter-constraint", "CPython==2.6.*",
                        "--python-path", empty, *resolving)  # fmt: skip
    assert "No interpreters could be found on the system." in output
    assert interpreter_error(output) == NO_INTERPRETER_LINE
    # Without constraints the same words are not ours to explain.
    assert not isinstance(failure("resolving", output, DEFAULT), ConfigError)


@pytest.fixture
def old_lock(env, wheelhouse, tmp_path) -> Path:
    lock = tmp_path / "pex.lock"
    run([sys.executable, "-m", "pex.cli", "lock", "create", "cowsay==6.0", "--no-pypi", "-f", wheelhouse,
         "--pip-version", "26.0.1", "--style", "universal", "--interpreter-constraint", ">=3.9", "-o", lock],
        env=env)  # fmt: skip
    return lock


@pytest.mark.parametrize(
    "requirement, detail",
    [("cowsay>=6.1", "cowsay>=6.1: the lock has cowsay 6"), ("packaging", "packaging is not in the lock")],
)
def test_a_stale_lock(env, resolving, old_lock, requirement, detail):
    output = pex_output(env, requirement, "--lock", old_lock, *resolving)
    error = failure("resolving", output, PexContext(CONSTRAINTS_KEY, (), resolve="default", lockfile="pex.lock"))
    assert isinstance(error, BuildError)
    assert str(error).splitlines()[0] == (
        f"the lockfile of resolve 'default' (pex.lock) does not satisfy the project's requirements ({detail}); "
        "re-lock with `python -m pex_backend lock`. pex said:"
    )


def test_no_wheel_for_a_foreign_platform(env, resolving):
    output = pex_output(env, "cowsay", "nosuchdist>=1", "--platform", "win_amd64-cp-312-cp312", *resolving)
    assert str(failure("resolving", output, DEFAULT)).splitlines()[0] == (
        "pex failed while resolving: no wheel of nosuchdist>=1 was found for platform win_amd64-cp-312-cp312; a "
        "foreign platform needs pre-built wheels of every requirement (or `resolve-local-platforms` with a "
        "matching local interpreter)."
    )


def test_no_distribution_for_the_local_interpreter(env, resolving):
    output = pex_output(env, "cowsay", "nosuchdist>=1", "--python", sys.executable, *resolving)
    implementation = "CPython-{}.{}.{}".format(*sys.version_info[:3])
    assert str(failure("resolving", output, DEFAULT)).splitlines()[0] == (
        f"pex failed while resolving: no distribution of nosuchdist>=1 was found for {implementation}."
    )


@pytest.fixture
def needy_sdist(tmp_path) -> Path:
    """An sdist whose build requirement exists nowhere."""
    source = tmp_path / "src" / "needy-0.1"
    (source / "needy").mkdir(parents=True)
    (source / "needy" / "__init__.py").write_text("")
    (source / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools", "nosuchbuilddep>=1"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "needy"\nversion = "0.1"\n'
    )
    links = tmp_path / "links"
    links.mkdir()
    with tarfile.open(links / "needy-0.1.tar.gz", "w:gz") as archive:
        archive.add(source, arcname="needy-0.1")
    return links


@pytest.mark.parametrize(
    "pip_version, sdist", [("26.0.1", "the sdist of needy"), ("vendored", "an sdist")], ids=["modern", "vendored"]
)
def test_an_sdist_whose_build_requirement_is_missing(env, wheelhouse, tmp_path, needy_sdist, pip_version, sdist):
    output = pex_output(env, "needy", "--no-pypi", "-f", wheelhouse, "-f", needy_sdist, "--pip-version", pip_version,
                        "-o", tmp_path / "x.pex")  # fmt: skip
    assert str(failure("resolving", output, DEFAULT)).splitlines()[0] == (
        f"pex failed while resolving: {sdist} could not be built: its build requirement nosuchbuilddep>=1 was not "
        "found on the indexes or find-links this build uses; make it available there, or provide a wheel of the "
        "sdist."
    )


def test_a_pip_version_pex_cannot_install(env, wheelhouse, tmp_path):
    env = {**env, "PEX_ROOT": str(tmp_path / "pex-root")}  # no pip installed by an earlier build
    output = pex_output(env, "cowsay", "--no-pypi", "-f", wheelhouse, "--pip-version", "24.3.1", "-o", tmp_path / "x")
    context = PexContext(CONSTRAINTS_KEY, (), pip_version="24.3.1", pip_version_key="tool.pexbin.pip-version")
    assert str(failure("resolving", output, context)).splitlines()[0] == (
        "pex failed while resolving: pex could not set up pip 24.3.1 (set by tool.pexbin.pip-version) to resolve "
        "with: pip==24.3.1 is not on the indexes or find-links this build uses. Make pip 24.3.1 and what it needs "
        "available there, or set `pip-version` to another version."
    )


def test_a_failure_no_pattern_knows_is_pex_s_own_last_lines(env, resolving):
    output = pex_output(env, "cowsay", "-c", "nosuchscript", *resolving)
    error = failure("building x.pex", output, DEFAULT)
    assert str(error) == "pex failed while building x.pex:\n" + tail(output)
    assert "nosuchscript" in str(error)
