"""The backend end to end through real frontends, in fresh isolated build environments."""

from __future__ import annotations

import json
import re
import shutil
import tarfile
import zipfile
from pathlib import Path
from typing import Dict

import pytest
from conftest import SAMPLES, Project, listing, pex_info, run, run_pex, with_pex_copy, with_setuptools_backend

HELLO_PEX_FILES = ["hello.pex", "hello_admin-main.pex", "report_py.pex"]


def module_copy(name: str, where: Path, env: Dict[str, str], pex_copy: Path) -> Project:
    """A copy of a sample project for a module's fixture, with a build cache of its own (holding pex's copy)."""
    shutil.copytree(SAMPLES / name, where / name)
    cache_dir = where / "pexbin-cache"
    with_pex_copy(cache_dir, pex_copy)
    return Project(where / name, {**env, "PEXBIN_CACHE_DIR": str(cache_dir)})


@pytest.fixture(scope="module")
def built_by_python_m_build(tmp_path_factory, offline_env, pex_copy):
    """hello built once by `python -m build` (pip fills its environments): the sdist, then the wheel from it.
    Tests only read the project and what the build wrote."""
    where = tmp_path_factory.mktemp("python-m-build")
    project = module_copy("hello", where, offline_env, pex_copy)
    out = where / "dist"
    return project, out, project.build("build-pip", out)


@pytest.fixture(scope="module")
def built_by_uv(tmp_path_factory, offline_env, pex_copy):
    """A sample project built once per module by `uv build` (sdist, then the wheel), with a fixed
    SOURCE_DATE_EPOCH: the directory it wrote, by project name. Tests only read it."""
    built = {}

    def build(name: str) -> Path:
        if name not in built:
            where = tmp_path_factory.mktemp(f"uv-{name}")
            project = module_copy(name, where, offline_env, pex_copy)
            project.env["SOURCE_DATE_EPOCH"] = "1700000000"
            project.build("uv", where / "dist")
            built[name] = where / "dist"
        return built[name]

    return build


def check_hello_pex_files(out: Path) -> None:
    assert set(HELLO_PEX_FILES) <= set(listing(out))
    assert "hello, Bob" in run_pex(out / "hello.pex", "Bob").stdout
    admin = run_pex(out / "hello_admin-main.pex", "a", "--fail", check=False)
    assert (admin.returncode, admin.stdout) == (3, "admin: a --fail\n")
    assert run_pex(out / "report_py.pex").stdout == "report: cowsay 6.1 on Python {}.{}\n".format(
        *__import__("sys").version_info[:2]
    )
    assert pex_info(out / "hello.pex")["entry_point"] == "hello.cli:main"
    assert pex_info(out / "hello_admin-main.pex")["entry_point"] == "hello.admin:main"
    assert pex_info(out / "report_py.pex")["entry_point"] == "hello.tools.report"


@pytest.mark.parametrize("args", [(), ("--wheel",)], ids=["sdist-then-wheel", "wheel"])
def test_python_m_build(sample, tmp_path, args, installer, request):
    if args:
        out = tmp_path / "dist"
        result = sample("hello").build("build", out, *args)
    else:  # pip fills the environments once
        _, out, result = request.getfixturevalue("built_by_python_m_build")
    expected = {"hello-1.0-py3-none-any.whl", "hello-1.0.pexbin.json", *HELLO_PEX_FILES}
    if not args:
        expected.add("hello-1.0.tar.gz")
    assert set(listing(out)) == expected
    check_hello_pex_files(out)
    for name in HELLO_PEX_FILES:
        assert f"pex-backend: wrote {name} (" in result.stdout
    # One resolve serves all three entry points.
    assert result.stdout.count("pex-backend: resolved") == 1
    assert "pex-backend: resolved hello==1.0's requirements once for 3 PEX files" in result.stdout
    # The PEX prints what the installed console script prints.
    scripts = installer(out / "hello-1.0-py3-none-any.whl")
    assert run([scripts / "hello", "Bob"]).stdout == run_pex(out / "hello.pex", "Bob").stdout


def test_uv_build(built_by_uv):
    out = built_by_uv("hello")
    assert {"hello-1.0.tar.gz", "hello-1.0-py3-none-any.whl"} <= set(listing(out))
    check_hello_pex_files(out)


def test_pip_wheel_needs_the_output_setting(sample, tmp_path):
    project = sample("hello")
    plain = tmp_path / "plain"
    result = project.build("pip-wheel", plain, "-v")
    assert listing(plain) == ["hello-1.0-py3-none-any.whl"]
    assert "set -C pexbin.output-dir=DIR" in result.stdout + result.stderr

    out = tmp_path / "dist"
    project.build("pip-wheel", out, "-C", f"pexbin.output-dir={out}")
    check_hello_pex_files(out)


def test_output_dir_from_the_environment(sample, tmp_path):
    project = sample("hello")
    out = tmp_path / "pexes"
    project.env = {**project.env, "PEXBIN_OUTPUT_DIR": str(out)}
    project.build("uv", tmp_path / "wheels", "--wheel")
    assert [name for name in listing(tmp_path / "wheels") if not name.startswith(".")] == ["hello-1.0-py3-none-any.whl"]
    check_hello_pex_files(out)
    # Under pip the variable alone turns nothing on (every pip run, `pip install .` too, would inherit it).
    pip_out = tmp_path / "pip-pexes"
    project.env = {**project.env, "PEXBIN_OUTPUT_DIR": str(pip_out)}
    result = project.build("pip-wheel", tmp_path / "pip-wheels", "-v")
    assert listing(tmp_path / "pip-wheels") == ["hello-1.0-py3-none-any.whl"]
    assert not pip_out.exists()
    assert "set -C pexbin.output-dir=DIR on pip's command line" in result.stdout + result.stderr


def test_pip_install_builds_no_pex_and_installs(sample, tmp_path, offline_env, new_venv):
    project = sample("hello")
    project.pyproject(
        project.path.joinpath("pyproject.toml").read_text() + 'dependencies = ["!cowsay", "no-such-dist-anywhere"]\n'
    )
    target = tmp_path / "venv"
    new_venv(target)
    run([target / "bin" / "python", "-m", "pip", "install", project.path], env=offline_env)
    assert "hello, Ann" in run([target / "bin" / "hello", "Ann"]).stdout
    assert not list(tmp_path.rglob("*.pex"))
    run([target / "bin" / "python", "-m", "pip", "install", "-e", project.path], env=offline_env)
    assert (
        "admin: x"
        in run(
            [target / "bin" / "python", "-c", "import sys; sys.argv=['a','x']; import hello.admin as a; a.main()"]
        ).stdout
    )
    assert not list(tmp_path.rglob("*.pex"))


def test_skip_setting_builds_only_the_wheel(sample, tmp_path):
    project = sample("hello")
    out = tmp_path / "dist"
    result = project.build("build", out, "--wheel", "-C", "pexbin.skip=true")
    assert listing(out) == ["hello-1.0-py3-none-any.whl"]
    assert "turned off by pexbin.skip" in result.stdout


def test_setup_cfg_project_gets_one_pex_per_console_script(sample, tmp_path):
    project = sample("tally")
    out = tmp_path / "dist"
    project.build("build", out)
    assert [n for n in listing(out) if n.endswith(".pex")] == ["tally-count.pex", "tally-moo.pex", "tally-sum.pex"]
    assert run_pex(out / "tally-count.pex", "a", "b").stdout == "count: 2\n"
    result = run_pex(out / "tally-sum.pex", check=False)
    assert (result.returncode, result.stdout) == (2, "sum: 0\n")
    assert "hi there" in run_pex(out / "tally-moo.pex", "hi", "there").stdout
    record = json.loads((out / "tally-2.3.pexbin.json").read_text())
    assert [b["file"] for b in record["binaries"]] == ["tally-count.pex", "tally-moo.pex", "tally-sum.pex"]
    assert record["binaries"][0]["requirements"] == ["cowsay==6.1", "tally==2.3"]


def test_no_table_is_plain_setuptools(sample, tmp_path):
    project = sample("plain")
    out = tmp_path / "dist"
    result = project.build("build", out)
    assert listing(out) == ["plain-0.5-py3-none-any.whl", "plain-0.5.tar.gz"]
    # Less the temporary directories' random names (tempfile's 8 characters), which may hold "pex" by chance.
    said = re.sub(r"(tmp|env|sdist)[-_]?[a-z0-9_]{8}\b", "", result.stdout.lower())
    assert "pex" not in said.replace("pex_backend", "").replace("pex-backend", "")


def members(path: Path) -> Dict[str, tuple]:
    """Each member of a wheel or sdist by name: its header fields and its bytes."""
    if path.suffix == ".whl":
        with zipfile.ZipFile(path) as wheel:
            return {
                i.filename: (i.date_time, i.external_attr, i.compress_type, i.create_system, wheel.read(i))
                for i in wheel.infolist()
            }
    with tarfile.open(path) as sdist:
        # Not the mtime: setuptools writes each file's own, and SOURCE_DATE_EPOCH does not change that.
        return {
            m.name: (
                m.type,
                m.mode,
                m.uid,
                m.gid,
                m.uname,
                m.gname,
                m.linkname,
                m.isfile() and sdist.extractfile(m).read(),
            )
            for m in sdist.getmembers()
        }


@pytest.mark.parametrize("name", ["hello", "tally", "plain"])
def test_wheel_and_sdist_hold_what_setuptools_gives(built_by_uv, offline_env, tmp_path, name):
    # A fixed SOURCE_DATE_EPOCH makes setuptools' wheels reproducible (each zip entry's date), so two wheels of one
    # project compare whole; its sdists take their tar headers' mtimes from the files and gzip's from the clock,
    # so they compare member by member, every header field but the mtime and every byte.
    ours = built_by_uv(name)
    # A fresh copy (setuptools reads an existing SOURCES.txt back), built by setuptools' own backend.
    env = {**offline_env, "PEXBIN_CACHE_DIR": str(tmp_path / "pexbin-cache"), "SOURCE_DATE_EPOCH": "1700000000"}
    theirs = Project(tmp_path / "setuptools" / name, env)
    shutil.copytree(SAMPLES / name, theirs.path)
    with_setuptools_backend(theirs.path)
    theirs.build("uv", tmp_path / "theirs")
    built = sorted(p.name for p in (tmp_path / "theirs").iterdir() if p.suffix in (".whl", ".gz"))
    assert len(built) == 2 and set(built) <= set(listing(ours))
    for artifact in built:
        our_members, their_members = members(ours / artifact), members(tmp_path / "theirs" / artifact)
        if artifact.endswith(".tar.gz"):
            # Each sdist holds the pyproject.toml it was built from, and that is the one difference.
            pyproject = f"{artifact[: -len('.tar.gz')]}/pyproject.toml"
            assert our_members.pop(pyproject)[-1] == (SAMPLES / name / "pyproject.toml").read_bytes()
            assert their_members.pop(pyproject)[-1] == (theirs.path / "pyproject.toml").read_bytes()
        assert sorted(our_members) == sorted(their_members), artifact
        for member, value in their_members.items():
            assert our_members[member] == value, f"{artifact}: {member}"
        if artifact.endswith(".whl"):
            assert (ours / artifact).read_bytes() == (tmp_path / "theirs" / artifact).read_bytes()


def test_two_builds_give_byte_identical_pex_files(built_by_python_m_build, tmp_path):
    first, one, _ = built_by_python_m_build  # the sdist, then the wheel from it
    # A second checkout elsewhere, with other mtimes, built from the tree with the build cache off and a PEX_ROOT
    # of its own: every PEX is written again by pex, none copied from the first build.
    second = Project(tmp_path / "elsewhere" / "hello", {**first.env, "PEXBIN_NO_CACHE": "1"})
    second.env["PEX_ROOT"] = str(tmp_path / "second-pex-root")
    shutil.copytree(first.path, second.path)
    (second.path / "src" / "hello" / "cli.py").touch()
    result = second.build("uv", tmp_path / "two", "--wheel")
    for name in HELLO_PEX_FILES:
        assert f"pex-backend: wrote {name} (" in result.stdout + result.stderr, name
    record = json.loads((tmp_path / "two" / "hello-1.0.pexbin.json").read_text())
    assert {b["file"]: b["reused"] for b in record["binaries"]} == dict.fromkeys(HELLO_PEX_FILES, False)
    assert listing(tmp_path / "second-pex-root")  # pex worked in the second PEX_ROOT
    for name in HELLO_PEX_FILES:
        assert (one / name).read_bytes() == (tmp_path / "two" / name).read_bytes(), name
