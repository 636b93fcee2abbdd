"""`sbom = true`: a CycloneDX JSON SBOM beside each PEX, checked against the PEX files and wheels of real builds."""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import zipfile
from email.parser import Parser
from pathlib import Path
from typing import Dict

import pytest
from conftest import SAMPLES, Project, listing, pex_info, run
from packaging.requirements import Requirement

from pex_backend import __version__
from pex_backend.backend.build import pex_requirement
from pex_backend.backend.config.load import load
from pex_backend.backend.sbom import Distribution, dependency_graph
from pex_backend.backend.wheel import reproducible_copy

# hello with a requirement that has requirements (and a marker): cyclonedx-python-lib. sbom is on at the top,
# off for one entry point; report.py is the sibling of hello.admin:main, moo a packed (directory) PEX with
# requirements of its own (`dependencies`): one already in the PEX further down, one whose marker does not hold.
PYPROJECT = """\
[build-system]
requires = ["pex-backend"]
build-backend = "pex_backend"

[project]
name = "hello"
version = "1.0"
requires-python = ">=3.9"
dependencies = ["cowsay>=6", "cyclonedx-python-lib==11.12.0"]

[project.scripts]
hello = "hello.cli:main"

[tool.pexbin]
entry-points = ["hello", "hello.admin:main", "src/hello/tools/report.py"]
sbom = true

[tool.pexbin.overrides]
"hello.admin:main" = { sbom = false }

[tool.pexbin.binaries.moo]
script = "cowsay"
layout = "packed"
dependencies = ["boolean.py>=5", "packageurl-python; sys_platform == 'win32'"]
"""
WITH_SBOM = {"hello.pex": "hello.cdx.json", "report_py.pex": "report_py.cdx.json", "moo.pex": "moo.cdx.json"}
EPOCH = "1700000000"


def said(result) -> str:
    return result.stdout + result.stderr


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def project_copy(where: Path, env: Dict[str, str], cache: Path) -> Project:
    shutil.copytree(SAMPLES / "hello", where)
    project = Project(where, {**env, "PEXBIN_CACHE_DIR": str(cache)})
    project.pyproject(PYPROJECT)
    return project


@pytest.fixture(scope="module")
def builds(offline_env, tmp_path_factory):
    """Three builds of one project: with `uv build`, a fresh cache and SOURCE_DATE_EPOCH (which makes the wheel,
    whose sha256 the SBOM holds, reproducible); the same with `python -m build` and another fresh cache; with
    `uv build`, the first cache (every PEX reused) and no SOURCE_DATE_EPOCH."""
    where = tmp_path_factory.mktemp("sbom")
    first, second = where / "cache-1", where / "cache-2"
    outs = {name: where / name for name in ("uv", "build", "reused")}
    project = project_copy(where / "hello", {**offline_env, "SOURCE_DATE_EPOCH": EPOCH}, first)
    outputs = {"uv": said(project.build("uv", outs["uv"], "--wheel"))}
    project.env["PEXBIN_CACHE_DIR"] = str(second)
    outputs["build"] = said(project.build("build", outs["build"], "--wheel", "--installer=uv"))
    project.env["PEXBIN_CACHE_DIR"] = str(first)
    del project.env["SOURCE_DATE_EPOCH"]
    outputs["reused"] = said(project.build("uv", outs["reused"], "--wheel"))
    return outs, outputs, first


def sbom_of(out: Path, pex: str) -> dict:
    return json.loads((out / WITH_SBOM[pex]).read_text())


def test_an_sbom_beside_each_pex_with_sbom_on(builds):
    outs, outputs, _ = builds
    for out in outs.values():
        names = listing(out)
        assert "hello_admin-main.pex" in names and "hello_admin-main.cdx.json" not in names
        assert set(WITH_SBOM.values()) <= set(names)
        assert (out / "moo.pex").is_dir()  # a directory layout: the SBOM is beside the directory
    for pex, sbom in WITH_SBOM.items():
        assert f"pex-backend: wrote {sbom} (the CycloneDX SBOM of {pex})" in outputs["uv"]


def test_the_record_names_each_sbom(builds):
    outs, _, _ = builds
    record = json.loads((outs["uv"] / "hello-1.0.pexbin.json").read_text())
    sboms = {entry["file"]: entry["sbom"] for entry in record["binaries"]}
    assert sboms == {**WITH_SBOM, "hello_admin-main.pex": None}


def test_every_sbom_is_valid_cyclonedx_1_6(builds):
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    validator = JsonStrictValidator(SchemaVersion.V1_6)
    outs, _, _ = builds
    for out in outs.values():
        for sbom in WITH_SBOM.values():
            text = (out / sbom).read_text()
            assert validator.validate_str(text) is None, sbom
            assert json.loads(text)["specVersion"] == "1.6"


def wheel_metadata(wheel: Path):
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA") and n.count("/") == 1)
        return Parser().parsestr(archive.read(name).decode())


def test_the_components_are_the_distributions_in_the_pex(builds, wheelhouse, tmp_path):
    outs, _, _ = builds
    out = outs["uv"]
    (own_wheel,) = out.glob("hello-1.0-*.whl")
    given = reproducible_copy(own_wheel, tmp_path)
    assert sha256(given) != sha256(own_wheel)  # setuptools stamped its entries with SOURCE_DATE_EPOCH
    for pex in WITH_SBOM:
        sbom = sbom_of(out, pex)
        info = pex_info(out / pex)
        components = {c["bom-ref"]: c for c in sbom["components"]}
        assert sorted(components) == sorted(info["distributions"])
        for wheel, component in components.items():
            # The real file pex installed: the wheelhouse's, or the copy of the built wheel with fixed timestamps.
            artifact = given if wheel == own_wheel.name else wheelhouse / wheel
            metadata = wheel_metadata(artifact)
            assert (component["name"], component["version"]) == (metadata["Name"], metadata["Version"])
            purl_name = metadata["Name"].lower().replace("_", "-")
            assert component["purl"] == f"pkg:pypi/{purl_name}@{metadata['Version']}"
            assert component["hashes"] == [{"alg": "SHA-256", "content": sha256(artifact)}]
            assert component["type"] == "library"
        assert components["boolean_py-5.0-py3-none-any.whl"]["purl"] == "pkg:pypi/boolean.py@5.0"
        assert components["py_serializable-2.2.0-py3-none-any.whl"]["purl"] == "pkg:pypi/py-serializable@2.2.0"


def test_the_metadata_names_the_pex_its_targets_and_tools(builds):
    outs, _, _ = builds
    out = outs["uv"]
    record = {e["file"]: e for e in json.loads((out / "hello-1.0.pexbin.json").read_text())["binaries"]}
    for pex in WITH_SBOM:
        metadata = sbom_of(out, pex)["metadata"]
        application = metadata["component"]
        assert application["type"] == "application"
        assert (application["name"], application["version"], application["purl"]) == (
            "hello",
            "1.0",
            "pkg:pypi/hello@1.0",
        )
        assert application["hashes"] == [{"alg": "SHA-256", "content": record[pex]["sha256"]}]
        if pex != "moo.pex":
            assert record[pex]["sha256"] == sha256(out / pex)
        constraints = [p["value"] for p in metadata["properties"] if p["name"] == "pex-backend:interpreter-constraint"]
        assert constraints == pex_info(out / pex)["interpreter_constraints"] == [">=3.9"]
        tools = {t["name"]: t["version"] for t in metadata["tools"]["components"]}
        assert tools == {"pex": pex_info(out / pex)["build_properties"]["pex_version"], "pex-backend": __version__}
        assert metadata["timestamp"] == "2023-11-14T22:13:20+00:00"  # SOURCE_DATE_EPOCH


def test_the_dependency_graph(builds):
    outs, _, _ = builds
    sbom = sbom_of(outs["uv"], "hello.pex")
    graph = {d["ref"]: sorted(d.get("dependsOn", [])) for d in sbom["dependencies"]}
    wheels = {ref.split("-")[0]: ref for ref in graph if ref.endswith(".whl")}
    own, cowsay, cyclonedx = wheels["hello"], wheels["cowsay"], wheels["cyclonedx_python_lib"]
    assert graph["hello.pex"] == sorted([own, cowsay, cyclonedx])
    assert graph[own] == sorted([cowsay, cyclonedx])
    # typing_extensions only where `python_version < "3.13"` holds; the extras' requirements (jsonschema) not.
    lib = ["license_expression", "packageurl_python", "py_serializable", "sortedcontainers", "typing_extensions"]
    assert graph[cyclonedx] == sorted(wheels[name] for name in lib if name in wheels)
    assert ("typing_extensions" in wheels) == (sys.version_info < (3, 13))
    assert graph[wheels["license_expression"]] == [wheels["boolean_py"]]
    assert graph[wheels["py_serializable"]] == [wheels["defusedxml"]]
    assert graph[cowsay] == graph[wheels["boolean_py"]] == []
    assert set(graph) == {"hello.pex", *wheels.values()}


def test_the_pex_depends_on_the_binarys_own_dependencies(builds):
    """moo's `dependencies` are edges of moo.pex, where their markers hold; hello.pex has none of them."""
    outs, _, _ = builds
    for pex in ("moo.pex", "hello.pex"):
        sbom = sbom_of(outs["uv"], pex)
        assert sbom["metadata"]["component"]["bom-ref"] == pex
        graph = {d["ref"]: sorted(d.get("dependsOn", [])) for d in sbom["dependencies"]}
        wheels = {ref.split("-")[0]: ref for ref in graph if ref.endswith(".whl")}
        assert "packageurl_python" in wheels  # in the PEX, as cyclonedx-python-lib requires it
        own = [wheels[name] for name in ("hello", "cowsay", "cyclonedx_python_lib")]
        assert graph[pex] == sorted([*own, wheels["boolean_py"]] if pex == "moo.pex" else own)


def test_two_builds_give_byte_identical_sboms(builds):
    outs, _, _ = builds
    for sbom in WITH_SBOM.values():
        assert (outs["uv"] / sbom).read_bytes() == (outs["build"] / sbom).read_bytes(), sbom
    serials = {sbom_of(outs["uv"], pex)["serialNumber"] for pex in WITH_SBOM}
    assert len(serials) == 3 and all(s.startswith("urn:uuid:") for s in serials)


def test_a_reused_pex_gets_its_sbom_and_no_source_date_epoch_no_timestamp(builds):
    outs, outputs, _ = builds
    assert "reused hello.pex from the build cache" in outputs["reused"]
    assert sha256(next(outs["reused"].glob("hello-1.0-*.whl"))) != sha256(next(outs["uv"].glob("hello-1.0-*.whl")))
    for pex in WITH_SBOM:
        reused, first = sbom_of(outs["reused"], pex), sbom_of(outs["uv"], pex)
        assert "timestamp" not in reused["metadata"]  # and no wall clock
        assert first["metadata"].pop("timestamp")
        assert reused.pop("serialNumber") != first.pop("serialNumber")
        # The wheels the build returns differ (setuptools dated this one's entries otherwise), the one pex was
        # given does not: the project's component is the same, and so is the rest.
        assert reused == first


def test_a_platforms_markers_are_evaluated_as_pex_evaluates_them(sample):
    """pex gives a Windows platform's `platform_machine` as `amd64` (Windows itself says `AMD64`): the requirement
    whose marker asks for it is in the PEX, and the SBOM has the PEX depend on it; the one asking for `AMD64` is in
    neither."""
    project = sample("hello")
    text = (project.path / "pyproject.toml").read_text().replace("entry-points = [", 'entry-points = ["hello"]\n#')
    markers = "\"boolean.py; platform_machine == 'amd64'\", \"defusedxml; platform_machine == 'AMD64'\""
    project.pyproject(f'{text}sbom = true\nplatforms = ["win_amd64-cp-312-cp312"]\ndependencies = [{markers}]\n')
    out = project.path / "dist"
    project.build("uv", out, "--wheel")
    wheels = {wheel.split("-")[0]: wheel for wheel in pex_info(out / "hello.pex")["distributions"]}
    assert sorted(wheels) == ["boolean_py", "cowsay", "hello"]
    sbom = json.loads((out / "hello.cdx.json").read_text())
    graph = {d["ref"]: sorted(d.get("dependsOn", [])) for d in sbom["dependencies"]}
    assert graph["hello.pex"] == sorted(wheels.values())
    platforms = [p["value"] for p in sbom["metadata"]["properties"] if p["name"] == "pex-backend:platform"]
    assert platforms == ["win_amd64-cp-312-cp312"]


@pytest.mark.parametrize(
    "table, asks",
    [
        ({}, False),
        ({"sbom": False}, False),
        ({"sbom": True}, True),
        ({"overrides": {"hello": {"sbom": True}}}, True),
        ({"binaries": {"moo": {"script": "cowsay", "sbom": True}}}, True),
    ],
)
def test_cyclonedx_is_asked_for_only_with_sbom_on(table, asks):
    requires = pex_requirement(load({"tool": {"pexbin": {"entry-points": ["hello"], **table}}}), None)
    assert ("cyclonedx-python-lib>=11,<12" in requires) == asks, requires


def test_the_hook_asks_the_frontend_for_cyclonedx(sample):
    project = sample("hello", cold=True)  # pex asked for too: the build cache holds no copy of it
    project.pyproject((project.path / "pyproject.toml").read_text() + "sbom = true\n")
    command = "import json, pex_backend; print(json.dumps(pex_backend.get_requires_for_build_wheel()))"
    printed = run([sys.executable, "-c", command], cwd=project.path, env=project.env).stdout.splitlines()[-1]
    assert json.loads(printed) == ["pex==2.105.2", "cyclonedx-python-lib>=11,<12"]


def test_without_the_library_one_error_names_the_key(builds, sample, installer, wheelhouse, tmp_path):
    """pip without build isolation installs nothing the hook asks for. (The module's build cache holds pex's
    compiled copy, so the environment needs no pex.)"""
    bin_dir = installer(next(wheelhouse.glob("pex_backend-*.whl")))
    project = sample("hello")
    project.pyproject((project.path / "pyproject.toml").read_text() + "sbom = true\n")
    out = tmp_path / "out"
    command = [bin_dir / "python", "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", out, project.path]
    env = {**project.env, "PEXBIN_CACHE_DIR": str(builds[2])}
    result = run([*command, "-C", f"pexbin.output-dir={out}"], env=env, check=False)
    assert result.returncode != 0 and "Traceback" not in said(result), said(result)
    (error,) = [line for line in said(result).splitlines() if "pex-backend error:" in line]
    assert "tool.pexbin.sbom: true needs cyclonedx-python-lib>=11,<12 in the build environment" in error


def test_extras_asked_for_bring_their_requirements():
    """The graph takes an extra's requirements where a requirement asked for that extra, and only there."""

    def dist(name: str, *requires: str) -> Distribution:
        return Distribution(f"{name}-1-py3-none-any.whl", name, "1", "0" * 64, tuple(map(Requirement, requires)))

    dists = [
        dist("app", "lib[fast]"),
        dist("lib", 'speedy; extra == "fast"', 'slow; extra == "slow"', 'old; python_version < "3"'),
        dist("speedy"),
        dist("slow"),
        dist("old"),
    ]
    roots, edges = dependency_graph([Requirement("app")], dists, [{"python_version": "3.11"}])
    assert roots == {"app-1-py3-none-any.whl"}
    assert edges["lib-1-py3-none-any.whl"] == {"speedy-1-py3-none-any.whl"}
    assert edges["app-1-py3-none-any.whl"] == {"lib-1-py3-none-any.whl"}
