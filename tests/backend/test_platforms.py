"""PEX files for other machines and other Pythons: multiplatform, per platform, complete platforms."""

from __future__ import annotations

import os
import sys
import tarfile

import pytest
from conftest import listing, needs, needs_compiler, needs_linux_x86_64, pex_info, run, run_pex

PLATFORMS = ["linux_x86_64-cp-3.11.7-cp311", "linux_x86_64-cp-3.12.1-cp312", "macosx_11_0_arm64-cp-312-cp312"]


def charset_wheels(pex):
    return sorted(name for name in pex_info(pex)["distributions"] if name.startswith("charset_normalizer"))


@pytest.fixture(scope="module")
def multi_built(tmp_path_factory, offline_env, foreign_wheels):
    import shutil

    from conftest import SAMPLES, Project

    project_dir = tmp_path_factory.mktemp("multi") / "multi"
    shutil.copytree(SAMPLES / "multi", project_dir)
    out = tmp_path_factory.mktemp("dist")
    Project(project_dir, offline_env).build("uv", out, "--wheel")
    return out


def test_one_pex_holds_every_platform(multi_built):
    wheels = charset_wheels(multi_built / "multi_main-run.pex")
    assert len(wheels) == 3, wheels
    assert any("cp311" in w and "manylinux" in w for w in wheels)
    assert any("cp312" in w and "manylinux" in w for w in wheels)
    assert any("macosx" in w and ("arm64" in w or "universal2" in w) for w in wheels)


def test_multiplatform_pex_runs_under_each_local_python(multi_built, pythons, tmp_path):
    needs(pythons, "3.11", "3.12")
    needs_linux_x86_64()
    pex = multi_built / "multi_main-run.pex"
    with open(pex, "rb") as file:
        assert file.readline() == b"#!/usr/bin/env python3\n"
    env = {**os.environ, "PEX_ROOT": str(tmp_path / "pex-root")}
    for version, python in pythons.items():
        assert run([python, pex], env=env).stdout == f"utf_8 on Python {version}\n"
    # Directly, through its shebang, with each interpreter first on PATH.
    for version, python in pythons.items():
        path_env = {**env, "PATH": f"{python.parent}{os.pathsep}{env['PATH']}"}
        (tmp_path / "bin").mkdir(exist_ok=True)
        link = tmp_path / "bin" / "python3"
        link.unlink(missing_ok=True)
        link.symlink_to(python)
        path_env["PATH"] = f"{link.parent}{os.pathsep}{env['PATH']}"
        assert run_pex(pex, env=path_env).stdout == f"utf_8 on Python {version}\n"


def test_per_platform_files_hold_only_their_wheels(multi_built, pythons, tmp_path):
    split = sorted(n for n in listing(multi_built) if n.startswith("multi-split-"))
    assert split == [f"multi-split-{p}.pex" for p in sorted(PLATFORMS)]
    for platform in PLATFORMS:
        wheels = charset_wheels(multi_built / f"multi-split-{platform}.pex")
        assert len(wheels) == 1, wheels
        assert platform.split("-")[-1] in wheels[0]


def test_a_per_platform_pex_runs_on_its_platform(multi_built, pythons, tmp_path):
    needs(pythons, "3.12")
    needs_linux_x86_64()
    env = {**os.environ, "PEX_ROOT": str(tmp_path / "pex-root")}
    pex = multi_built / "multi-split-linux_x86_64-cp-3.12.1-cp312.pex"
    assert run([pythons["3.12"], pex], env=env).stdout == "utf_8 on Python 3.12\n"


def test_complete_platform_file_from_the_sdist(sample, tmp_path, pythons, foreign_wheels):
    needs(pythons, "3.12")
    needs_linux_x86_64()  # the wheelhouse has charset-normalizer for linux x86_64 (and macOS arm64) only
    project = sample("multi")
    run([sys.executable, "-m", "pex_backend", "inspect-platform", "--python", pythons["3.12"], "-o",
         project.path / "platforms" / "py312.json"])  # fmt: skip
    text = (project.path / "pyproject.toml").read_text()
    text = text[: text.index("platforms = [")] + 'complete-platforms = ["platforms/py312.json"]\n'
    project.pyproject(text)
    out = tmp_path / "dist"
    project.build("build", out)  # sdist first, then the wheel from the unpacked sdist
    assert "multi-1.0/platforms/py312.json" in tarfile.open(out / "multi-1.0.tar.gz").getnames()
    env = {**os.environ, "PEX_ROOT": str(tmp_path / "pex-root")}
    assert run([pythons["3.12"], out / "multi_main-run.pex"], env=env).stdout == "utf_8 on Python 3.12\n"
    assert charset_wheels(out / "multi_main-run.pex")[0].count("cp312") == 2


@pytest.mark.parametrize(
    "content, expected",
    [
        (None, "'platforms/py312.json': no such file in the project root"),
        ("{not json", "'platforms/py312.json' is not JSON"),
        ('{"path": "x"}', "'platforms/py312.json' is not a complete-platform file: expected `marker_environment`"),
    ],
)
def test_bad_complete_platform_file_is_named(sample, tmp_path, content, expected):
    project = sample("multi")
    text = (project.path / "pyproject.toml").read_text()
    project.pyproject(text[: text.index("platforms = [")] + 'complete-platforms = ["platforms/py312.json"]\n')
    if content is not None:
        (project.path / "platforms").mkdir()
        (project.path / "platforms" / "py312.json").write_text(content)
    result = project.build("uv", tmp_path / "dist", "--wheel", check=False)
    assert result.returncode != 0
    assert f"pex-backend error: tool.pexbin.complete-platforms[0]: {expected}" in result.stdout + result.stderr


def test_a_compiled_project_cannot_target_other_platforms(sample, tmp_path):
    needs_compiler()
    project = sample("compiled")
    result = project.build("uv", tmp_path / "dist", "--wheel", check=False)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    line = next(line for line in output.splitlines() if line.startswith("pex-backend error:"))
    assert line.startswith("pex-backend error: tool.pexbin.platforms: the project's own wheel (compiled-0.1-cp")
    assert "is platform-specific (it has compiled code)" in line

    project.pyproject((project.path / "pyproject.toml").read_text().replace("platforms = [", "tags = ["))
    out = tmp_path / "dist"
    project.build("uv", out, "--wheel")
    assert run_pex(out / "compiled.pex").stdout == "42\n"


def test_a_missing_wheel_names_the_requirement_and_the_platform(sample, tmp_path, foreign_wheels):
    project = sample("multi")
    text = (project.path / "pyproject.toml").read_text()
    project.pyproject(text.replace('"linux_x86_64-cp-3.11.7-cp311",', '"win_amd64-cp-312-cp312",'))
    result = project.build("uv", tmp_path / "dist", "--wheel", check=False)
    assert result.returncode != 0
    assert (
        "no wheel of charset-normalizer>=3 was found for platform win_amd64-cp-312-cp312; a foreign platform needs "
        "pre-built wheels of every requirement" in result.stdout + result.stderr
    )


def test_resolve_local_platforms_builds_sdists_with_a_matching_interpreter(sample, tmp_path, pythons):
    needs(pythons, "3.12")
    needs_compiler()
    needs_linux_x86_64()
    if sys.version_info[:2] == (3, 12):
        pytest.skip("the build interpreter is CPython 3.12 itself: pex builds the sdist for the target either way")
    links = tmp_path / "links"
    sample("compiled").build("uv", links, "--sdist")  # a requirement published only as a C-extension sdist
    project = sample("hello")
    text = (project.path / "pyproject.toml").read_text()
    table = (
        f'find-links = ["{links.as_posix()}"]\nplatforms = ["linux_x86_64-cp-312-cp312"]\n'
        '[tool.pexbin.binaries.answer]\nscript = "compiled"\ndependencies = ["compiled"]\n'
    )
    project.env = {**project.env, "PATH": f"{pythons['3.12'].parent}{os.pathsep}{project.env['PATH']}"}
    project.pyproject(text + table)
    # Without the field pex builds the sdist with the interpreter running it (3.11 here): refused for the target.
    without = project.build("uv", tmp_path / "without", "--wheel", check=False)
    assert without.returncode != 0
    assert (
        "pex-backend error: pex failed while building answer.pex: the wheel resolved for compiled does not work on "
        "abbreviated platform cp312-cp312-linux_x86_64" in without.stdout + without.stderr
    )

    project.pyproject(text + "resolve-local-platforms = true\n" + table)
    out = tmp_path / "dist"
    project.build("uv", out, "--wheel")
    assert "compiled-0.1-cp312-cp312-linux_x86_64.whl" in pex_info(out / "answer.pex")["distributions"]
    env = {**os.environ, "PEX_ROOT": str(tmp_path / "pex-root")}
    assert run([pythons["3.12"], out / "answer.pex"], env=env).stdout == "42\n"
