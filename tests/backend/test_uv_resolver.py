"""uv resolves (`resolver = "uv"`, the default): through `uv build` and `python -m build`, the same pins as pip's
resolve, byte-identical builds, pip where uv cannot resolve, and `uv.lock` as a resolve."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Dict, List

import pytest
from conftest import SAMPLES, Project, listing, pex_info, run, run_pex, with_pex_copy

HELLO = ["hello.pex", "hello_admin-main.pex", "report_py.pex"]


def digests(out: Path) -> Dict[str, str]:
    return {name: hashlib.sha256((out / name).read_bytes()).hexdigest() for name in HELLO}


def said(result) -> str:
    return result.stdout + result.stderr  # uv build passes the backend's output on to stderr


def use_resolver(project, resolver: str) -> None:
    text = (project.path / "pyproject.toml").read_text()
    project.pyproject(text.replace("[tool.pexbin]\n", f'[tool.pexbin]\nresolver = "{resolver}"\n'))


@pytest.fixture(scope="module")
def built_by_uv(tmp_path_factory, offline_env, pex_copy):
    """hello built once with `uv build --wheel` (resolver uv) in a build cache of its own that holds only pex's
    copy: the project, the directory the build wrote, and what it printed. Tests that build again do it on a copy
    of the project and the cache (`copied`)."""
    where = tmp_path_factory.mktemp("uv-built")
    shutil.copytree(SAMPLES / "hello", where / "hello")
    with_pex_copy(where / "pexbin-cache", pex_copy)
    project = Project(where / "hello", {**offline_env, "PEXBIN_CACHE_DIR": str(where / "pexbin-cache")})
    out = where / "uv"
    return project, out, project.build("uv", out, "--wheel")


def copied(project: Project, where: Path) -> Project:
    """A copy of a project and of its build cache."""
    shutil.copytree(project.path, where / project.path.name)
    shutil.copytree(project.env["PEXBIN_CACHE_DIR"], where / "pexbin-cache", symlinks=True)
    return Project(where / project.path.name, {**project.env, "PEXBIN_CACHE_DIR": str(where / "pexbin-cache")})


@pytest.mark.parametrize("frontend", ["uv", "build"])
def test_uv_resolves_the_pins_pip_resolves(sample, tmp_path, frontend, request):
    if frontend == "uv":
        built, out, result = request.getfixturevalue("built_by_uv")
        project = copied(built, tmp_path / "copy")
    else:
        project, out = sample("hello"), tmp_path / "uv"
        result = project.build(frontend, out, "--wheel")
    assert "pex-backend: resolved hello==1.0's requirements once for 3 PEX files (with uv, " in said(result)
    assert set(HELLO) <= set(listing(out))
    assert "hello, Bob" in run_pex(out / "hello.pex", "Bob").stdout
    use_resolver(project, "pip")
    result = project.build(frontend, tmp_path / "pip", "--wheel")
    assert "pex-backend: resolved hello==1.0's requirements once for 3 PEX files (with pip, " in said(result)
    for name in HELLO:
        uv, pip = pex_info(out / name), pex_info(tmp_path / "pip" / name)
        assert uv["requirements"] == pip["requirements"]
        assert sorted(uv["distributions"]) == sorted(pip["distributions"])


def test_two_cold_builds_are_byte_identical_and_so_is_a_cache_off_build(built_by_uv, tmp_path):
    built, first_out, first = built_by_uv
    assert "(with uv, " in said(first)
    # Another empty build cache and PEX_ROOT: everything is resolved and built again.
    project = Project(tmp_path / "hello", {**built.env, "PEXBIN_CACHE_DIR": str(tmp_path / "cache2")})
    project.env["PEX_ROOT"] = str(tmp_path / "root2")
    shutil.copytree(built.path, project.path)
    second = project.build("uv", tmp_path / "second", "--wheel")
    assert "(with uv, " in said(second)
    assert digests(first_out) == digests(tmp_path / "second")
    warm = project.build("uv", tmp_path / "warm", "--wheel")
    assert "reused the resolve" in said(warm) or "reused hello.pex" in said(warm)
    project.env = {**project.env, "PEXBIN_NO_CACHE": "1"}
    cold = project.build("uv", tmp_path / "off", "--wheel")
    assert "(with uv, " in said(cold)
    assert digests(tmp_path / "warm") == digests(tmp_path / "off") == digests(first_out)


def test_complete_platforms_fall_back_to_pip_with_one_notice(sample, tmp_path):
    project = sample("hello")
    (project.path / "platforms").mkdir()
    inspect = [sys.executable, "-m", "pex_backend", "inspect-platform", "--python", sys.executable]
    run([*inspect, "-o", project.path / "platforms" / "here.json"], env=project.env)
    text = (project.path / "pyproject.toml").read_text()
    project.pyproject(text.replace("[tool.pexbin]\n", '[tool.pexbin]\ncomplete-platforms = ["platforms/here.json"]\n'))
    output = said(project.build("uv", tmp_path / "out", "--wheel"))
    notice = "pex-backend: pip resolves hello==1.0's requirements: uv cannot for tool.pexbin.complete-platforms"
    assert output.count(notice) == 1
    assert "(with pip, " in output
    assert "hello, Bob" in run_pex(tmp_path / "out" / "hello.pex", "Bob").stdout


def asked_for(project, bin_dir: Path, path: str) -> List[str]:
    """What the hook asks the frontend for, in an environment with pex-backend and no uv package."""
    command = "import json, pex_backend; print(json.dumps(pex_backend.get_requires_for_build_wheel()))"
    env = {k: v for k, v in project.env.items() if k != "UV"}
    printed = run([bin_dir / "python", "-c", command], cwd=project.path, env={**env, "PATH": path}).stdout
    return json.loads(printed.splitlines()[-1])


def test_uv_is_asked_for_only_when_no_uv_is_at_hand(sample, installer, wheelhouse, tmp_path):
    bin_dir = installer(next(wheelhouse.glob("pex_backend-*.whl")))
    project = sample("hello")
    with_uv = tmp_path / "with-uv"
    with_uv.mkdir()
    (with_uv / "uv").symlink_to(Path(sys.executable).with_name("uv"))
    assert "uv>=0.8" in asked_for(project, bin_dir, "/usr/bin:/bin")
    assert "uv>=0.8" not in asked_for(project, bin_dir, f"{with_uv}:/usr/bin:/bin")
    # A build that installed uv keeps a copy in the build cache: later builds need not install it.
    project.env = {**project.env, "PATH": "/usr/bin:/bin"}
    assert "(with uv, " in said(project.build("build", tmp_path / "dist", "--wheel"))
    assert "uv>=0.8" not in asked_for(project, bin_dir, "/usr/bin:/bin")
    text = (project.path / "pyproject.toml").read_text()
    project.pyproject(text.replace("[tool.pexbin]\n", '[tool.pexbin]\nresolver = "pip"\n'))
    project.env = {**project.env, "PEXBIN_CACHE_DIR": str(tmp_path / "empty")}
    assert "uv>=0.8" not in asked_for(project, bin_dir, "/usr/bin:/bin")


def uv_locked(project):
    """hello with a uv.lock resolve that pins cowsay 6.0, where a resolve picks 6.1."""
    text = (project.path / "pyproject.toml").read_text()
    table = '[tool.pexbin]\nresolves = { default = "uv.lock" }\ndefault-resolve = "default"\n'
    project.pyproject(text.replace("[tool.pexbin]\n", table))
    run([sys.executable, "-m", "uv", "lock", "--upgrade-package", "cowsay==6.0"], cwd=project.path, env=project.env)
    return project


def pexbin_lock(project, *args: str):
    command = [sys.executable, "-m", "pex_backend", "lock", "--project", project.path, *args]
    return run(command, env=project.env, check=False)


def test_a_uv_lock_resolve_pins_what_the_lock_pins(sample, tmp_path):
    project = uv_locked(sample("hello"))
    result = project.build("uv", tmp_path / "out")  # sdist, then the wheel from it: uv.lock travels in the sdist
    assert "(with uv, " in said(result)
    assert sorted(pex_info(tmp_path / "out" / "hello.pex")["distributions"])[0].startswith("cowsay-6.0-")
    assert "cowsay 6.0" in run_pex(tmp_path / "out" / "report_py.pex").stdout
    assert pexbin_lock(project, "--check").stdout == "uv.lock (resolve 'default') is up to date\n"


def test_a_uv_lock_resolve_for_another_platform_is_pex_s_from_uv_s_export(sample, tmp_path):
    """uv installs a uv.lock's pins for the build interpreter alone; for another platform pex's pip resolves from
    the lock as uv exports it (one notice), so that what only that platform needs is in the PEX, at the lock's
    version, and a stale lock is the same one error."""
    project = sample("hello")
    text = (project.path / "pyproject.toml").read_text()
    darwin_only = 'dependencies = ["cowsay>=6", "sortedcontainers; sys_platform == \'darwin\'"]'
    project.pyproject(text.replace('dependencies = ["cowsay>=6"]', darwin_only))
    project = uv_locked(project)
    text = (project.path / "pyproject.toml").read_text()
    platform = '[tool.pexbin]\nplatforms = ["macosx_11_0_arm64-cp-312-cp312"]\n'
    project.pyproject(text.replace("[tool.pexbin]\n", platform))
    out = tmp_path / "out"
    result = said(project.build("uv", out, "--wheel"))
    notice = "pex-backend: pip resolves hello==1.0's requirements from its uv.lock as uv exports it: uv cannot for "
    assert notice + "tool.pexbin.platforms" in result, result
    lock = (project.path / "uv.lock").read_text()
    pinned = lock.split('name = "sortedcontainers"\nversion = "', 1)[1].split('"', 1)[0]
    distributions = sorted(pex_info(out / "hello.pex")["distributions"])
    assert [name.split("-")[:2] for name in distributions] == [
        ["cowsay", "6.0"],
        ["hello", "1.0"],
        ["sortedcontainers", pinned],
    ]
    text = (project.path / "pyproject.toml").read_text()
    project.pyproject(text.replace('"cowsay>=6",', '"cowsay>=6.1",'))
    stale = said(project.build("uv", tmp_path / "stale", "--wheel", check=False))
    (error,) = [line for line in stale.splitlines() if "pex-backend error:" in line]
    assert error.startswith("pex-backend error: tool.pexbin.resolves.default: uv.lock does not satisfy the project")


def test_a_requirement_uv_takes_from_a_source_of_the_project_s_is_not_taken_from_an_index(sample, tmp_path):
    """`[tool.uv.sources]` (the project's, or its uv workspace's) says where uv takes a requirement from, which a
    resolve of requirements reads no more than pip does: a distribution of that name from an index could be another
    one. One error naming the source, for either resolver; `UV_NO_SOURCES=1` resolves from the indexes anyway."""
    project = sample("hello")
    text = (project.path / "pyproject.toml").read_text()
    project.pyproject(text + '\n[tool.uv.sources]\ncowsay = { path = "../cowsay" }\n')
    expected = 'pex-backend error: tool.uv.sources.cowsay: uv takes cowsay from { path = "../cowsay" }, which a resolve'
    for resolver in ("uv", "pip"):
        if resolver == "pip":
            use_resolver(project, "pip")
        result = said(project.build("uv", tmp_path / resolver, "--wheel", check=False))
        (error,) = [line for line in result.splitlines() if "pex-backend error:" in line]
        assert error.startswith(expected) and "UV_NO_SOURCES=1" in error, error
        assert "Traceback" not in result and not list((tmp_path / resolver).glob("*.pex"))
    project.env["UV_NO_SOURCES"] = "1"
    project.build("uv", tmp_path / "anyway", "--wheel")
    assert "cowsay 6.1" in run_pex(tmp_path / "anyway" / "report_py.pex").stdout

    # A workspace member: the workspace root's sources are the member's too.
    del project.env["UV_NO_SOURCES"]
    project.pyproject(text)
    (project.path.parent / "pyproject.toml").write_text(
        '[tool.uv.workspace]\nmembers = ["hello"]\n\n[tool.uv.sources]\ncowsay = { git = "https://example.com/c" }\n'
    )
    result = said(project.build("uv", tmp_path / "member", "--wheel", check=False))
    assert 'pex-backend error: tool.uv.sources.cowsay: uv takes cowsay from { git = "https://example.com/c" }' in result


def test_a_stale_uv_lock_is_one_error_and_nothing_is_written(sample, tmp_path):
    project = uv_locked(sample("hello"))
    text = (project.path / "pyproject.toml").read_text()
    project.pyproject(text.replace('dependencies = ["cowsay>=6"]', 'dependencies = ["cowsay>=6.1"]'))
    check = pexbin_lock(project, "--check")
    assert (check.returncode, check.stdout) == (1, "uv.lock (resolve 'default') is stale: run `uv lock`\n")
    out = tmp_path / "out"
    result = project.build("uv", out, "--wheel", check=False)
    assert result.returncode != 0 and "Traceback" not in said(result)
    (error,) = [line for line in said(result).splitlines() if "pex-backend error:" in line]
    assert error.startswith("pex-backend error: tool.pexbin.resolves.default: uv.lock does not satisfy the project")
    assert error.endswith("run `uv lock`")
    assert listing(out) == [] if out.exists() else True
    # `pexbin lock` runs `uv lock`; then the lock is fresh and builds.
    assert pexbin_lock(project).returncode == 0
    assert pexbin_lock(project, "--check").returncode == 0
    project.build("uv", out, "--wheel")
    assert "cowsay 6.1" in run_pex(out / "report_py.pex").stdout


def test_a_dependency_the_uv_lock_lacks_is_one_error_naming_the_key(sample, tmp_path):
    project = uv_locked(sample("hello"))
    text = (project.path / "pyproject.toml").read_text()
    project.pyproject(
        text.replace('default-resolve = "default"\n', 'default-resolve = "default"\ndependencies = ["packaging"]\n')
    )
    result = project.build("uv", tmp_path / "out", "--wheel", check=False)
    (error,) = [line for line in said(result).splitlines() if "pex-backend error:" in line]
    assert error.startswith("pex-backend error: tool.pexbin.dependencies: 'packaging' is not in the resolve 'default'")


def test_pips_index_settings_mean_the_same_under_uv(sample, tmp_path, wheelhouse):
    """Only pip's settings name the wheelhouse, here one that has cowsay 6.0 alone: uv finds it there (handed
    `--find-links` and `--no-index`), where uv by itself would look on PyPI."""
    links = tmp_path / "links"
    shutil.copytree(wheelhouse, links, ignore=shutil.ignore_patterns("cowsay-6.1-*"))
    project = sample("hello")
    env = {k: v for k, v in project.env.items() if not k.startswith("UV_") or k == "UV_CACHE_DIR"}
    project.env = {**env, "PIP_FIND_LINKS": str(links)}
    result = project.build("build-pip", tmp_path / "out", "--wheel")  # pip fills the build environment
    assert "(with uv, " in said(result)
    assert "cowsay 6.0" in run_pex(tmp_path / "out" / "report_py.pex").stdout


@pytest.mark.parametrize(
    ("pip", "table", "expected"),
    [
        # pip's extra indexes come on top of PyPI (its index-url unset): uv keeps its own default index too.
        ({"PIP_EXTRA_INDEX_URL": "https://a/simple https://b/simple"}, None,
         ["--extra-index-url", "https://a/simple", "--extra-index-url", "https://b/simple"]),
        ({"PIP_INDEX_URL": "https://i/simple", "PIP_EXTRA_INDEX_URL": "https://a/simple"}, None,
         ["--index-url", "https://i/simple", "--extra-index-url", "https://a/simple"]),
        ({"PIP_NO_INDEX": "1", "PIP_EXTRA_INDEX_URL": "https://a/simple"}, None, ["--no-index"]),
        ({"PIP_EXTRA_INDEX_URL": "https://a/simple"}, ["https://t/simple", "https://u/simple"],
         ["--index-url", "https://t/simple", "--extra-index-url", "https://u/simple"]),
        ({}, [], ["--no-index"]),
    ],
)  # fmt: skip
def test_pips_index_settings_become_uvs(monkeypatch, pip, table, expected):
    from pex_backend.backend.compose.resolvers import uv_index_args
    from pex_backend.backend.config.table import TableOptions

    for name in ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_NO_INDEX", "PIP_FIND_LINKS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    for name, value in pip.items():
        monkeypatch.setenv(name, value)
    assert uv_index_args(TableOptions(index_urls=table)) == expected


def test_a_resolve_of_several_distributions_leaves_nothing_in_the_temporary_directory(sample, tmp_path):
    # pex turns each distribution uv installed into a wheel in a temporary directory of a process it forks, which
    # never runs pex's clean-up at exit: those directories (a copy of each wheel) stayed in the system's /tmp.
    project = sample("hello")
    text = (project.path / "pyproject.toml").read_text()
    several = 'dependencies = ["cowsay>=6", "cyclonedx-python-lib"]'
    project.pyproject(text.replace('dependencies = ["cowsay>=6"]', several))
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    project.env = {**project.env, **dict.fromkeys(("TMPDIR", "TEMP", "TMP"), str(tmp))}
    result = project.build("uv", tmp_path / "out", "--wheel")
    assert "(with uv, " in said(result)
    assert len(pex_info(tmp_path / "out" / "hello.pex")["distributions"]) > 5  # enough for pex to fork
    assert [path.name for path in tmp.iterdir() if path.name.startswith("pex")] == []
