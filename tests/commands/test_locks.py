"""Resolves from lockfiles: created by `python -m pex_backend lock`, verified, refused when stale or tampered."""

from __future__ import annotations

import json
import shutil
import sys
import tarfile

import pytest
from conftest import pex_info, run, run_pex
from pex.pip.version import PipVersion

from pex_backend.backend.config.table import DEFAULT_PIP_VERSION

LOCKED = 'default-resolve = "default"\nresolves = {{ default = "{path}" }}\n'


def lock(project, *args: str, check: bool = True):
    return run(
        [sys.executable, "-m", "pex_backend", "lock", "--project", project.path, *args], env=project.env, check=check
    )


def locked_hello(sample, path: str):
    project = sample("hello")
    project.pyproject((project.path / "pyproject.toml").read_text() + LOCKED.format(path=path))
    return project


@pytest.mark.parametrize("path", ["pex.lock", "locks/pylock.toml"])
def test_a_lock_made_by_the_command_is_used_by_the_build(sample, tmp_path, path):
    project = locked_hello(sample, path)
    assert lock(project, "--check", check=False).returncode == 1  # no lockfile yet
    assert "wrote" in lock(project).stdout
    assert "is up to date" in lock(project, "--check").stdout
    out = tmp_path / "dist"
    project.build("build", out)  # sdist first: the lockfile must travel in it
    assert f"hello-1.0/{path}" in tarfile.open(out / "hello-1.0.tar.gz").getnames()
    assert "hello, Lou" in run_pex(out / "hello.pex", "Lou").stdout
    assert "cowsay-6.1-py3-none-any.whl" in pex_info(out / "hello.pex")["distributions"]


def test_a_tampered_hash_is_refused_naming_the_requirement(sample, tmp_path):
    project = locked_hello(sample, "pex.lock")
    lock(project)
    lockfile = project.path / "pex.lock"
    text = lockfile.read_text()
    digest = text.split('"hash": "', 1)[1][:64]
    lockfile.write_text(text.replace(digest, "0" * 64))
    project.env = {**project.env, "PEX_ROOT": str(tmp_path / "pex-root")}  # nothing cached under the bad hash
    result = project.build("uv", tmp_path / "dist", "--wheel", check=False)
    assert result.returncode != 0
    assert (
        "the artifact of cowsay does not have the hash the lock records; it is refused."
        in result.stdout + result.stderr
    )


def test_a_stale_lock_is_refused_with_a_hint_to_relock(sample, tmp_path):
    project = locked_hello(sample, "pex.lock")
    lock(project)
    pyproject = project.path / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('["cowsay>=6"]', '["cowsay>=6", "packaging>=20"]'))
    checked = lock(project, "--check", check=False)
    assert checked.returncode == 1 and "pex.lock (resolve 'default') is stale; re-lock with" in checked.stdout
    assert "Would add 'packaging>=20'" in checked.stdout  # pex's own report
    result = project.build("uv", tmp_path / "dist", "--wheel", check=False)
    assert result.returncode != 0
    assert (
        "pex-backend error: the lockfile of resolve 'default' (pex.lock) does not satisfy the project's "
        "requirements (packaging>=20 is not in the lock); re-lock with `python -m pex_backend lock`"
        in result.stdout
        + result.stderr
    )


def test_check_is_pex_own_and_sees_more_than_the_top_level_names(sample):
    # A lock made by the command from the wheelhouse; then the project's requirements change in ways a comparison
    # of the top-level names and versions missed, each reported by pex (`pex3 lock sync --dry-run check`).
    project = sample("hello")
    pyproject = project.path / "pyproject.toml"
    text = pyproject.read_text().replace('requires-python = ">=3.9"', 'requires-python = ">=3.10"')
    good = text.replace('["cowsay>=6"]', '["cowsay>=6", "validate-pyproject"]') + LOCKED.format(path="pex.lock")
    pyproject.write_text(good)
    lock(project)
    assert lock(project, "--check").stdout == "pex.lock (resolve 'default') is up to date\n"
    for old, new, report in [
        ('"cowsay>=6"', '"cowsay>=6,<6.1"', "Would update cowsay from 6.1 to 6"),  # the pin no longer satisfies
        ('"validate-pyproject"', '"validate-pyproject[all]"', "Would add trove-classifiers"),  # an extra
        ('"cowsay>=6"', "\"cowsay>=6; python_version >= '3.12'\"", "Would update 'cowsay>=6' to 'cowsay>=6; python"),
    ]:
        pyproject.write_text(good.replace(old, new))
        checked = lock(project, "--check", check=False)
        assert checked.returncode == 1 and "is stale; re-lock with `pexbin lock`:" in checked.stdout, new
        assert report in checked.stdout, checked.stdout
    # A transitive pin gone from the lock (a bad merge), the requirements as they were locked.
    pyproject.write_text(good)
    lockfile = project.path / "pex.lock"
    locked = json.loads(lockfile.read_text())
    pins = locked["locked_resolves"][0]["locked_requirements"]
    locked["locked_resolves"][0]["locked_requirements"] = [p for p in pins if p["project_name"] != "fastjsonschema"]
    lockfile.write_text(json.dumps(locked, indent=2))
    checked = lock(project, "--check", check=False)
    assert checked.returncode == 1 and "Would add fastjsonschema" in checked.stdout, checked.stdout


def test_offline_from_the_tables_find_links_without_any_index(sample, tmp_path, wheelhouse):
    # cowsay is only in the table's find-links directory: the wheelhouse the environment points pip and uv at (for
    # the build environment) is a copy without it. Pex sets up its pip from the same find-links, so they hold that
    # pip and what pex installs beside it (and packaging, which wheel needs).
    pex_pip = [f"{r}-*".replace("==", "-") for r in PipVersion.for_value(DEFAULT_PIP_VERSION).requirements]
    links = tmp_path / "links"
    links.mkdir()
    for pattern in ("cowsay-6.1-*", "packaging-*", *pex_pip):
        (wheel,) = wheelhouse.glob(pattern)
        shutil.copy2(wheel, links)
    without_cowsay = tmp_path / "wheelhouse-without-cowsay"
    shutil.copytree(wheelhouse, without_cowsay, ignore=shutil.ignore_patterns("cowsay*"))
    project = sample("hello")
    project.env = {
        **project.env,
        "PIP_FIND_LINKS": str(without_cowsay),
        "UV_FIND_LINKS": str(without_cowsay),
        "PEX_ROOT": str(tmp_path / "pex-root"),  # an empty pex cache: no cowsay from an earlier resolve
    }
    pyproject = (project.path / "pyproject.toml").read_text()
    project.pyproject(pyproject + f'index-urls = []\nfind-links = ["{links.as_posix()}"]\n')
    out = tmp_path / "dist"
    project.build("uv", out, "--wheel")
    assert "hello, Ida" in run_pex(out / "hello.pex", "Ida").stdout
    assert "cowsay-6.1-py3-none-any.whl" in pex_info(out / "hello.pex")["distributions"]

    # Without the table's find-links, no index and no directory has cowsay (pex's pip is in its PEX_ROOT by now).
    project.pyproject(pyproject + "index-urls = []\n")
    result = project.build("uv", tmp_path / "unfound", "--wheel", check=False)
    assert result.returncode != 0
    said = result.stdout + result.stderr
    # uv resolves (`resolver = "uv"`), and says what it did not find.
    assert "pex-backend error: uv failed while resolving hello==1.0's requirements:" in said
    assert "cowsay" in said.split("uv failed while resolving")[1]


def test_pex_version_is_honoured(sample, tmp_path, wheelhouse):
    # pex 2.105.1 is in the wheelhouse (tests/pins.txt).
    project = sample("hello")
    project.pyproject((project.path / "pyproject.toml").read_text() + 'pex-version = "2.105.1"\nresolver = "pip"\n')
    project.env = {**project.env, "PEX_ROOT": str(tmp_path / "pex-root")}
    out = tmp_path / "dist"
    result = project.build("build", out, "--wheel")
    assert "pex==2.105.1" in result.stdout + result.stderr
    assert pex_info(out / "hello.pex")["build_properties"]["pex_version"] == "2.105.1"
    # That pex knows the pinned pip, so it resolves with it (set up by its vendored pip), not with pip 20.3.4 alone.
    assert DEFAULT_PIP_VERSION in [p.name for p in (tmp_path / "pex-root").glob("pip/*/*")]
