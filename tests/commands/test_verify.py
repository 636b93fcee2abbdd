"""`pexbin verify DIST`: the sdist rebuilt with the cache off, its wheel and PEX files compared with the record."""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import zipfile
from importlib.metadata import version
from pathlib import Path

from conftest import run

from pex_backend import __version__
from pex_backend.backend.sbom import sbom_name

SOURCE_DATE_EPOCH = "1700000000"
OLDER_SETUPTOOLS = "80.10.2"  # in pins.txt beside the newer one the build environments take


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def verify(project, dist: Path, *args: str, env=None):
    command = [sys.executable, "-m", "pex_backend", "verify", dist, *args]
    return run(command, cwd=dist.parent, env=env or project.env, check=False)


def lines(result) -> list:
    return result.stdout.splitlines()


def with_sboms(project) -> None:
    pyproject = project.path / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("[tool.pexbin]\n", "[tool.pexbin]\nsbom = true\n"))


def test_a_build_with_source_date_epoch_verifies_byte_for_byte_and_any_change_is_named(sample, tmp_path):
    project = sample("hello")
    with_sboms(project)
    project.env["SOURCE_DATE_EPOCH"] = SOURCE_DATE_EPOCH
    dist = tmp_path / "dist"
    project.build("uv", dist)
    record_path = dist / "hello-1.0.pexbin.json"
    record = json.loads(record_path.read_text())
    assert record["source_date_epoch"] == SOURCE_DATE_EPOCH
    # verify rebuilds with the recorded SOURCE_DATE_EPOCH, whatever the environment says now.
    environment = {k: v for k, v in project.env.items() if k != "SOURCE_DATE_EPOCH"}
    environment["PEXBIN_CACHE_DIR"] = str(tmp_path / "never-used")
    result = verify(project, dist, env=environment)
    assert result.returncode == 0, result.stdout + result.stderr
    assert lines(result) == [
        "verified hello 1.0: the wheel and the 6 files rebuilt from hello-1.0.tar.gz are byte-identical to "
        "hello-1.0.pexbin.json"
    ]
    # Nothing else but the rebuild's line: no warning from setuptools' distutils hook, which a search for pip on
    # sys.meta_path sets off once the command has imported distutils (through setuptools).
    assert result.stderr.splitlines() == ["verify: rebuilding from hello-1.0.tar.gz with pip (build cache off)"]
    assert not (tmp_path / "never-used").exists()  # the cache is off

    # A PEX changed after the build, an SBOM edited beside another, and a record that lies about a third: one line
    # for each, and exit 1.
    pristine = tmp_path / "pristine"
    shutil.copytree(dist, pristine)
    pex = dist / "hello.pex"
    pex.write_bytes(pex.read_bytes() + b"\0")
    sbom = dist / "hello_admin-main.cdx.json"
    built_sbom = sha256(sbom)
    sbom.write_text(sbom.read_text().replace('"name": "cowsay"', '"name": "cowsay-fork"'))
    recorded = {b["file"]: b["sha256"] for b in record["binaries"]}
    next(b for b in record["binaries"] if b["file"] == "report_py.pex")["sha256"] = "0" * 64
    record_path.write_text(json.dumps(record))
    result = verify(project, dist, "--no-isolation")  # this environment's setuptools and pex: faster
    assert result.returncode == 1
    assert lines(result) == [
        f"hello.pex: {dist}'s copy has sha256 {sha256(pex)}, not the record's {recorded['hello.pex']}",
        f"hello_admin-main.cdx.json: rebuilt sha256 {built_sbom} differs from {dist}'s {sha256(sbom)}",
        f"report_py.pex: {dist}'s copy has sha256 {recorded['report_py.pex']}, not the record's {'0' * 64}; "
        f"rebuilt sha256 {recorded['report_py.pex']} differs from the record's {'0' * 64}",
    ]

    # An sdist of other sources under the same name: the wheel and every PEX rebuilt from it differ.
    cli = project.path / "src" / "hello" / "cli.py"
    cli.write_text(cli.read_text() + "\n# changed\n")
    project.build("uv", pristine, "--sdist")
    result = verify(project, pristine, "--no-isolation")
    assert result.returncode == 1
    named = [line.split(": ")[0] for line in lines(result)]
    pex_files = ["hello.pex", "hello_admin-main.pex", "report_py.pex"]
    assert named == ["hello-1.0-py3-none-any.whl", *(f for pex in pex_files for f in (pex, sbom_name(Path(pex))))]
    assert all("rebuilt sha256" in line and "differs from" in line for line in lines(result))


def test_a_build_without_source_date_epoch_with_older_tools_and_the_errors_of_verify(
    sample, tmp_path, installer, wheelhouse
):
    """The build takes the older setuptools of the wheelhouse (which holds a newer one too); verify rebuilds with
    it, under pip 23 (`PIP_CONSTRAINT`) and under pip 26 (`--build-constraint`)."""
    project = sample("hello")
    project.env.pop("SOURCE_DATE_EPOCH", None)
    with_sboms(project)
    older = tmp_path / "older.txt"
    older.write_text(f"setuptools=={OLDER_SETUPTOOLS}\n")
    dist = tmp_path / "dist"
    project.build("uv", dist, "--build-constraints", str(older))
    record = json.loads((dist / "hello-1.0.pexbin.json").read_text())
    tools = {"setuptools": OLDER_SETUPTOOLS, "pex-backend": __version__, "pex": "2.105.2"}
    assert record["build_tools"] == {**tools, "cyclonedx-python-lib": "11.12.0"}
    with zipfile.ZipFile(dist / "hello-1.0-py3-none-any.whl") as wheel:
        assert f"Generator: setuptools ({OLDER_SETUPTOOLS})" in wheel.read("hello-1.0.dist-info/WHEEL").decode()
    assert version("setuptools") != OLDER_SETUPTOOLS and version("pip") == "23.2.1"

    # setuptools stamps the wheel's entries with the clock: the wheel holds the same files; the PEX files and their
    # SBOMs (which hash the copy of the wheel with fixed timestamps pex was given) are byte-identical.
    verified = [
        "verified hello 1.0: the 6 files rebuilt from hello-1.0.tar.gz are byte-identical to hello-1.0.pexbin.json; "
        "the wheel holds the same files, but its zip timestamps are the build's clock (setuptools stamps them so "
        "when SOURCE_DATE_EPOCH is unset: set it when building for a byte-identical wheel)"
    ]
    result = verify(project, dist)
    assert (result.returncode, lines(result)) == (0, verified), result.stdout + result.stderr
    pip_26 = installer(next(wheelhouse.glob("pex_backend-*.whl")), "pip==26.0.1")
    command = [pip_26 / "python", "-m", "pex_backend", "verify", dist]
    result = run(command, cwd=tmp_path, env=project.env, check=False)
    assert (result.returncode, lines(result)) == (0, verified), result.stdout + result.stderr

    # Without isolation this environment's setuptools would build: one line, before any build.
    result = verify(project, dist, "--no-isolation")
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.strip() == (
        f"pex-backend error: verify --no-isolation: hello-1.0.pexbin.json says the build had setuptools "
        f"{OLDER_SETUPTOOLS}, and this environment has setuptools {version('setuptools')}: verify with build "
        f"isolation (which installs the build's own tools), or install setuptools=={OLDER_SETUPTOOLS} here"
    )

    no_sdist = tmp_path / "no-sdist"
    shutil.copytree(dist, no_sdist)
    (no_sdist / "hello-1.0.tar.gz").unlink()
    result = verify(project, no_sdist)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.strip() == (
        f"pex-backend error: verify: {no_sdist} has no sdist of hello 1.0 (hello-1.0.pexbin.json describes it): "
        "verify rebuilds from the sdist, so build both (`python -m build`, `uv build`)"
    )
    (no_sdist / "hello-1.0.pexbin.json").unlink()
    result = verify(project, no_sdist)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.strip() == (
        f"pex-backend error: verify: {no_sdist} has no build record (*.pexbin.json): give the directory a "
        "pex-backend build wrote its PEX files to"
    )
    (no_sdist / "hello-1.0.pexbin.json").write_text("{not json")
    result = verify(project, no_sdist)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith(f"pex-backend error: {no_sdist / 'hello-1.0.pexbin.json'} is not a build record")
