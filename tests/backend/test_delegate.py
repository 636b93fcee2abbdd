"""`delegate-backend`: hatchling and flit_core build the wheel and sdist, through `python -m build` and `uv build`,
exactly as each builds them alone; pex-backend adds the PEX files."""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import tarfile
from pathlib import Path
from typing import Dict

import pytest
from conftest import ROOT, SAMPLES, Project, listing, pex_info, run, run_pex

from pex_backend import __version__
from pex_backend.backend.config.project import load_config
from pex_backend.backend.delegate import check_sdist, load_backend, setuptools_backend
from pex_backend.errors import ConfigError

OURS = {
    "hatched": 'requires = ["pex-backend", "hatchling"]\nbuild-backend = "pex_backend"',
    "flitted": 'requires = ["pex-backend", "flit_core>=3.4"]\nbuild-backend = "pex_backend"',
}
THEIRS = {
    "hatched": 'requires = ["hatchling"]\nbuild-backend = "hatchling.build"',
    "flitted": 'requires = ["flit_core>=3.4"]\nbuild-backend = "flit_core.buildapi"',
}
PYTHON = "{}.{}".format(*sys.version_info[:2])
# What each PEX prints when given `Bob`, and the entry point in its PEX-INFO.
RUNS = {
    "hatched": {
        "hatched.pex": ("hatched, Bob", "hatched.cli:main"),
        "hatched-report.pex": (f"report: cowsay 6.1 on Python {PYTHON}\n", "hatched.cli:report"),
    },
    "flitted": {
        "flitted.pex": ("flitted 1.0: Bob\n", "flitted:main"),
        "flitted-hello.pex": ("flitted-hello: Bob\n", "__pex_executable__"),
    },
}


def delegate_alone(text: str, name: str) -> str:
    """The pyproject.toml with the build-system of the delegate itself, without pex-backend."""
    assert OURS[name] in text
    return text.replace(OURS[name], THEIRS[name])


def copy_sample(name: str, where: Path, env: Dict[str, str]) -> Project:
    shutil.copytree(SAMPLES / name, where / name)
    return Project(where / name, env)


def said(result) -> str:
    return result.stdout + result.stderr


def one_error(result) -> str:
    """The one `pex-backend error:` line of a failed build, which printed no traceback."""
    assert result.returncode != 0
    assert "Traceback" not in said(result), said(result)
    errors = [line for line in said(result).splitlines() if line.startswith("pex-backend error:")]
    assert len(errors) == 1, said(result)
    return errors[0]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def sdist_files(sdist: Path) -> Dict[str, bytes]:
    with tarfile.open(sdist) as archive:
        return {m.name: archive.extractfile(m).read() for m in archive.getmembers() if m.isfile()}


@pytest.fixture(scope="module", params=["hatched", "flitted"])
def built(request, offline_env, tmp_path_factory):
    """One sample built by pex-backend through both frontends, and by its delegate alone (with uv)."""
    name = request.param
    where = tmp_path_factory.mktemp(name)
    # The session's build cache, with pex's compiled copy made once. flit_core dates a wheel's files by their
    # mtimes, which extracting the sdist sets to the time of the build, unless SOURCE_DATE_EPOCH gives it one.
    env = {**offline_env, "SOURCE_DATE_EPOCH": "1700000000"}
    ours = copy_sample(name, where / "ours", {**env, "PEXBIN_TIMINGS": "1"})
    outs = {frontend: where / f"dist-{frontend}" for frontend in ("build", "uv")}
    # `python -m build` fills its build environments with uv, which is faster than pip at it; the hooks are called
    # by build itself (pyproject_hooks), as with pip.
    faster = {"build": ["--installer=uv"], "uv": []}
    outputs = {frontend: said(ours.build(frontend, out, *faster[frontend])) for frontend, out in outs.items()}
    theirs = copy_sample(name, where / "theirs", env)
    theirs.pyproject(delegate_alone((theirs.path / "pyproject.toml").read_text(), name))
    reference = where / "dist-delegate"
    theirs.build("uv", reference)
    return name, outs, outputs, reference, ours


@pytest.mark.parametrize("frontend", ["build", "uv"])
def test_the_wheel_is_the_delegates_own(built, frontend):
    name, outs, _, reference, _ = built
    (wheel,) = reference.glob("*.whl")
    assert sha256(outs[frontend] / wheel.name) == sha256(wheel)


@pytest.mark.parametrize("frontend", ["build", "uv"])
def test_the_sdist_holds_what_the_delegate_puts_in(built, frontend):
    name, outs, _, reference, _ = built
    (sdist,) = reference.glob("*.tar.gz")
    # Compared file by file: the archive's bytes differ where the two pyproject.toml files do (their build-system
    # tables, and the mtime of the one the test rewrote), and every other file is the same.
    ours, theirs = sdist_files(outs[frontend] / sdist.name), sdist_files(sdist)
    assert sorted(ours) == sorted(theirs)
    pyproject = f"{sdist.name[: -len('.tar.gz')]}/pyproject.toml"
    assert delegate_alone(ours.pop(pyproject).decode(), name) == theirs.pop(pyproject).decode()
    assert ours == theirs


def test_the_pex_files_run(built):
    name, outs, outputs, _, _ = built
    for frontend, out in outs.items():
        pex_files = [n for n in listing(out) if n.endswith(".pex")]
        assert pex_files == sorted(RUNS[name])
        record = json.loads((out / f"{name}-1.0.pexbin.json").read_text())
        assert {b["file"]: b["sha256"] for b in record["binaries"]} == {n: sha256(out / n) for n in pex_files}
        for pex in pex_files:
            assert f"pex-backend: wrote {pex} (" in outputs[frontend] or f"reused {pex}" in outputs[frontend]
    # Run once: uv's build, from the same inputs, wrote the same bytes.
    assert {n: sha256(outs["uv"] / n) for n in RUNS[name]} == {n: sha256(outs["build"] / n) for n in RUNS[name]}
    for pex, (output, entry_point) in RUNS[name].items():
        assert output in run_pex(outs["build"] / pex, "Bob").stdout
        assert pex_info(outs["build"] / pex)["entry_point"] == entry_point


def test_the_timings_name_the_delegate_that_built_the_wheel(built):
    name, _, outputs, _, _ = built
    delegate = {"hatched": "hatchling.build", "flitted": "flit_core.buildapi"}[name]
    for output in outputs.values():
        assert f"pex-backend: timing: {delegate}'s wheel " in output
        assert "setuptools' wheel" not in output


def test_the_record_names_the_delegates_distribution_among_the_build_tools(built):
    """`pexbin verify` rebuilds with these (tests/commands/test_verify.py)."""
    name, outs, _, _, _ = built
    backend = {"hatched": ("hatchling", "1.33.0"), "flitted": ("flit_core", "4.2.0")}[name]
    for out in outs.values():
        (record,) = out.glob("*.pexbin.json")
        tools = json.loads(record.read_text())["build_tools"]
        assert tools == dict([backend, ("pex-backend", __version__), ("pex", "2.105.2")])


def test_pip_wheel_gives_the_delegates_wheel(built, tmp_path):
    # pip asks for the metadata first. Under pip, hatchling has no prepare_metadata_for_build_wheel: pex-backend
    # takes it from a wheel it builds with hatchling alone (flit_core has the hook).
    name, _, _, reference, ours = built
    out = tmp_path / "dist"
    result = ours.build("pip-wheel", out, "-v")
    assert "Preparing metadata (pyproject.toml)" in said(result)
    (wheel,) = reference.glob("*.whl")
    assert listing(out) == [wheel.name]  # pip keeps only the wheel: no PEX files without -C pexbin.output-dir
    assert sha256(out / wheel.name) == sha256(wheel)


# A hatchling build hook of the project's own, which notes each wheel hatchling builds.
COUNTING_HOOK = """import os

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class CountingHook(BuildHookInterface):
    def initialize(self, version, build_data):
        with open(os.environ["WHEEL_BUILDS"], "a") as builds:
            builds.write(f"{self.target_name}\\n")
"""


@pytest.mark.parametrize("settings", [[], ["-C", "pexbin.output-dir={out}"]], ids=["wheel-only", "with-pex-files"])
def test_pip_builds_a_delegates_wheel_once_without_prepare_metadata(sample, tmp_path, settings):
    # hatchling has no prepare_metadata_for_build_wheel: the wheel pex-backend builds for the metadata pip asks for
    # first is the one pip then gets from build_wheel.
    project = sample("hatched")
    (project.path / "hatch_build.py").write_text(COUNTING_HOOK)
    pyproject = project.path / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + "\n[tool.hatch.build.targets.wheel.hooks.custom]\n")
    builds = tmp_path / "wheel-builds"
    project.env = {**project.env, "WHEEL_BUILDS": str(builds)}
    out = tmp_path / "dist"
    result = project.build("pip-wheel", out, "-v", *[s.format(out=out) for s in settings])
    assert "Preparing metadata (pyproject.toml)" in said(result)
    assert builds.read_text() == "wheel\n"
    assert "hatched-1.0-py3-none-any.whl" in listing(out)
    assert ("hatched.pex" in listing(out)) == bool(settings)


def test_the_commands_build_the_wheel_with_the_delegate(sample, offline_env, tmp_path):
    project = sample("hatched")
    listed = [sys.executable, "-m", "pex_backend", "list", "--project", project.path]
    assert one_error(run(listed, env=offline_env, check=False)) == (
        "pex-backend error: build-system.requires: the commands build the project's wheel in this environment, "
        "which lacks hatchling; install them here"
    )
    site = tmp_path / "site"  # hatchling installed beside this environment's packages
    run([sys.executable, "-m", "uv", "pip", "install", "-q", "--target", site, "hatchling"], env=offline_env)
    result = run(listed, env={**offline_env, "PYTHONPATH": str(site)})
    assert [line.split() for line in result.stdout.splitlines()] == [
        ["hatched", "hatched"],
        ["hatched-report", "hatched-report"],
    ]


NOT_LISTED = "it is not in build-system.requires, and must be: add the distribution that provides it there"


@pytest.mark.parametrize(
    "written, instead, message",
    [
        (
            'delegate-backend = "hatchling.build"',
            'delegate-backend = "nosuch.backend"',
            f"cannot import 'nosuch.backend' (No module named 'nosuch'); {NOT_LISTED}",
        ),
        (
            'requires = ["pex-backend", "hatchling"]',
            'requires = ["pex-backend"]',
            f"cannot import 'hatchling.build' (No module named 'hatchling'); {NOT_LISTED}",
        ),
    ],
    ids=["unknown", "not-required"],
)
def test_a_backend_that_cannot_be_imported_is_named(sample, tmp_path, written, instead, message):
    project = sample("hatched")
    project.pyproject((project.path / "pyproject.toml").read_text().replace(written, instead))
    line = one_error(project.build("uv", tmp_path / "dist", "--wheel", check=False))
    assert line == f"pex-backend error: tool.pexbin.delegate-backend: {message}"


def test_a_referenced_file_the_sdist_lacks_is_named(sample, tmp_path):
    project = sample("flitted")
    text = (project.path / "pyproject.toml").read_text()
    project.pyproject(text.replace('[tool.flit.sdist]\ninclude = ["bin/"]\n', ""))
    out = tmp_path / "dist"
    assert one_error(project.build("uv", out, "--sdist", check=False)) == (
        "pex-backend error: tool.pexbin.binaries.flitted-hello.executable: 'bin/flitted-hello' is not in the sdist "
        "flitted-1.0.tar.gz that flit_core.buildapi built; list it in [tool.flit.sdist] include"
    )


def test_uv_lock_missing_from_uv_build_s_sdist_says_how_to_include_it(tmp_path):
    """uv's own backend leaves uv.lock out of its sdist unless told: a project using uv.lock as a resolve is told
    the setting that carries it (and a backend not known here, to use its own sdist configuration)."""
    table = 'delegate-backend = "uv_build"\nresolves = { default = "uv.lock" }\nresolve = "default"'
    root = write_project(tmp_path / "p", 'requires = ["pex-backend", "uv_build"]', table)
    (root / "uv.lock").write_text("version = 1\n")
    sdist = tmp_path / "tiny-1.0.tar.gz"
    with tarfile.open(sdist, "w:gz") as archive:
        archive.add(root / "pyproject.toml", "tiny-1.0/pyproject.toml")
    with pytest.raises(ConfigError) as raised:
        check_sdist(load_config(root), root, sdist)
    assert str(raised.value) == (
        "tool.pexbin.resolves.default: 'uv.lock' is not in the sdist tiny-1.0.tar.gz that uv_build built; "
        "list it in [tool.uv.build-backend] source-include"
    )
    other = table.replace('"uv_build"', '"other_backend"')
    (root / "pyproject.toml").write_text((root / "pyproject.toml").read_text().replace(table, other))
    with pytest.raises(ConfigError, match="that other_backend built; include it through that backend's own sdist"):
        check_sdist(load_config(root), root, sdist)
    with tarfile.open(sdist, "w:gz") as archive:
        archive.add(root / "pyproject.toml", "tiny-1.0/pyproject.toml")
        archive.add(root / "uv.lock", "tiny-1.0/uv.lock")
    check_sdist(load_config(root), root, sdist)


def write_project(root: Path, build_system: str, table: str = 'delegate-backend = "tiny_backend"') -> Path:
    root.mkdir(parents=True)
    (root / "pyproject.toml").write_text(
        f"[build-system]\n{build_system}\n\n"
        '[project]\nname = "tiny"\nversion = "1.0"\n[project.scripts]\ntiny = "tiny_app:main"\n'
        '[tool.setuptools]\npy-modules = ["tiny_app"]\n\n'
        f"[tool.pexbin]\n{table}\n"
    )
    (root / "tiny_app.py").write_text("def main():\n    print('tiny')\n")
    return root


@pytest.fixture
def tiny(tmp_path) -> Path:
    """A project whose in-tree delegate has only the two mandatory hooks (setuptools' own), beside an in-tree
    copy of pex-backend (a frontend loads the backend from `backend-path` when the project has one)."""
    root = write_project(
        tmp_path / "tiny",
        'requires = ["setuptools>=70.1", "packaging>=22", "tomli>=1.1; python_version < \'3.11\'"]\n'
        'build-backend = "pex_backend"\nbackend-path = ["_backend"]',
    )
    (root / "_backend").mkdir()
    (root / "_backend" / "tiny_backend.py").write_text(
        '"""A backend without optional hooks."""\n\nfrom setuptools.build_meta import build_sdist, build_wheel\n'
    )
    shutil.copytree(
        ROOT / "pex_backend", root / "_backend" / "pex_backend", ignore=shutil.ignore_patterns("__pycache__")
    )
    return root


# pex_backend as a frontend imports it in the project root: the in-tree copy when there is one.
IMPORT_BACKEND = "import sys; sys.path.insert(0, '_backend'); import pex_backend"
HOOKS = [
    "build_editable",
    "get_requires_for_build_editable",
    "prepare_metadata_for_build_editable",
    "prepare_metadata_for_build_wheel",
]
HAS_HOOKS = f"{IMPORT_BACKEND}; print([hasattr(pex_backend, hook) for hook in {HOOKS}])"


def test_a_delegate_without_editable_hooks_gives_none(tiny, sample):
    assert run([sys.executable, "-c", HAS_HOOKS], cwd=tiny).stdout == "[False, False, False, True]\n"
    # setuptools' hooks, as without the key.
    assert run([sys.executable, "-c", HAS_HOOKS], cwd=sample("hello").path).stdout == "[True, True, True, True]\n"


def test_pip_says_a_delegate_without_build_editable_cannot_install_editable(tiny, offline_env):
    result = run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--no-deps", "-e", tiny], env=offline_env, check=False
    )
    assert result.returncode != 0
    assert "missing the 'build_editable' hook" in said(result)


def test_the_metadata_of_a_delegate_without_prepare_metadata(tiny, tmp_path):
    metadata = tmp_path / "metadata"
    metadata.mkdir()
    command = f"{IMPORT_BACKEND}; print(pex_backend.prepare_metadata_for_build_wheel({str(metadata)!r}))"
    assert run([sys.executable, "-c", command], cwd=tiny).stdout.splitlines()[-1] == "tiny-1.0.dist-info"
    assert listing(metadata) == ["tiny-1.0.dist-info"]  # the wheel it came from is gone
    assert "Name: tiny\n" in (metadata / "tiny-1.0.dist-info" / "METADATA").read_text()
    assert "tiny = tiny_app:main" in (metadata / "tiny-1.0.dist-info" / "entry_points.txt").read_text()


@pytest.mark.parametrize(
    "table, message",
    [
        (
            'delegate-backend = "pex_backend"',
            "'pex_backend' is pex-backend itself; name the backend that builds the wheel and sdist",
        ),
        ('delegate-backend = "json"', "'json' is not a PEP 517 backend: it has no build_wheel or build_sdist hook"),
        ('delegate-backend = "json:nothing"', "'json:nothing': module 'json' has no attribute 'nothing'"),
        (
            'delegate-backend = "nosuch.backend"',
            "cannot import 'nosuch.backend' (No module named 'nosuch'), though build-system.requires lists "
            "nosuch-backend>=1; is it installed where the build runs?",
        ),
    ],
)
def test_what_is_no_delegate_is_named(tmp_path, table, message):
    root = write_project(tmp_path / "p", 'requires = ["pex-backend", "nosuch-backend>=1"]', table)
    with pytest.raises(ConfigError) as raised:
        load_backend(root, load_config(root))
    assert str(raised.value) == f"tool.pexbin.delegate-backend: {message}"


def test_setuptools_as_the_delegate_is_no_delegate(tmp_path):
    root = write_project(tmp_path / "p", 'requires = ["pex-backend"]', 'delegate-backend = "setuptools.build_meta"')
    assert load_backend(root, load_config(root)) is setuptools_backend


# `setup_requires` where setuptools reads it: the only two places a project can declare it.
SETUP_REQUIRES = {
    "setup.cfg": "[options]\nsetup_requires =\n    cowsay>=6\n",
    "setup.py": 'from setuptools import setup\n\nsetup(setup_requires=["cowsay>=6"])\n',
}
ASK_HOOKS = (
    "import json, sys; sys.path.insert(0, sys.argv[1]); import {module} as backend; "
    "print(json.dumps([backend.get_requires_for_build_wheel(), backend.get_requires_for_build_sdist()]))"
)


def requirements(project: Path, module: str, env: Dict[str, str]) -> list:
    """What the two get_requires hooks of `module` answer in `project`, each called as a frontend calls it, less
    pex-backend's own additions (pex and uv, asked for when a build will resolve)."""
    result = run([sys.executable, "-c", ASK_HOOKS.format(module=module), str(ROOT)], cwd=project, env=env)
    answers = json.loads(result.stdout.splitlines()[-1])
    return [[r for r in answer if not r.startswith(("pex", "uv"))] for answer in answers]


@pytest.mark.parametrize("declared_in", [None, *SETUP_REQUIRES])
def test_setuptools_is_asked_for_requirements_only_where_a_project_can_declare_them(declared_in, tmp_path, offline_env):
    """setuptools' get_requires hooks run the project's setup script (egg_info) to collect `setup_requires`, which
    only setup.py and setup.cfg can declare. Without either file pex-backend gives setuptools' answer, `[]`, without
    running the script; with either, setuptools is asked and its answer passed on."""
    project = tmp_path / "hello"
    shutil.copytree(SAMPLES / "hello", project)
    if declared_in:
        (project / declared_in).write_text(SETUP_REQUIRES[declared_in])
    expected = [["cowsay>=6"]] * 2 if declared_in else [[], []]
    assert requirements(project, "pex_backend", offline_env) == expected
    if not declared_in:
        assert list(project.glob("src/*.egg-info")) == []  # setuptools' egg_info did not run
    assert requirements(project, "setuptools.build_meta", offline_env) == expected  # setuptools' own answer


SETUPTOOLS_HOOKS = """
import hashlib, os, sys, tempfile
from setuptools import build_meta
from pex_backend.backend import delegate
out = tempfile.mkdtemp()
if sys.argv[1] == "ours":
    name = delegate.prepare_metadata(build_meta, tempfile.mkdtemp(), {})
    name = delegate.build_wheel(build_meta, out, {}, None)
else:
    name = build_meta.build_wheel(out, {})
with open(os.path.join(out, name), "rb") as wheel:
    print("pex.bin.pex" in sys.modules, delegate.PEX_COMMAND in sys.modules, hashlib.sha256(wheel.read()).hexdigest())
"""


def test_setuptools_hooks_do_not_import_pex_through_its_distutils_command(sample):
    """pex registers a `distutils.commands` entry point (`bdist_pex`), and setuptools imports every one of them while
    it reads pyproject.toml: where the build installed pex, that would import all of pex, uncompiled, in each hook.
    This environment has pex installed: setuptools alone imports it, the backend's calls of setuptools do not, and
    the wheel is the same."""
    project = sample("hello")
    env = {**project.env, "SOURCE_DATE_EPOCH": "1700000000"}
    said = {
        way: run([sys.executable, "-c", SETUPTOOLS_HOOKS, way], cwd=project.path, env=env).stdout.splitlines()[-1]
        for way in ("alone", "ours")
    }
    alone, ours = said["alone"].split(), said["ours"].split()
    assert alone[:2] == ["True", "True"], "setuptools no longer imports pex's command: the stand-in can go"
    assert ours == ["False", "False", alone[2]]
