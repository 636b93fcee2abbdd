"""Every `pex_binaries` field, observed on the PEX files of one build of `sample_projects/fields`."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest
from conftest import SAMPLES, Project, listing, needs_vendored_pip, pex_info, run, run_pex, with_pex_copy

from pex_backend.backend.config.load import load
from pex_backend.backend.plan import overrides_by_entry_point
from pex_backend.errors import ConfigError


@pytest.fixture(scope="module")
def fields_build(tmp_path_factory, offline_env, pex_copy):
    """`sample_projects/fields` built once, with a build cache of its own (holding pex's copy, as after a first
    build): the project and the directory the build wrote. A test that builds again works on a copy."""
    where = tmp_path_factory.mktemp("fields")
    shutil.copytree(SAMPLES / "fields", where / "fields")
    with_pex_copy(where / "pexbin-cache", pex_copy)
    project = Project(where / "fields", {**offline_env, "PEXBIN_CACHE_DIR": str(where / "pexbin-cache")})
    out = where / "dist"
    project.build("uv", out, "--wheel")
    return project, out


@pytest.fixture(scope="module")
def built(fields_build):
    return fields_build[1]


def probe(pex: Path, tmp_path: Path, **env: str) -> dict:
    environ = {**os.environ, "PEX_ROOT": str(tmp_path / "pex-root"), **env}
    environ.pop("PYTHONPATH", None) if "PYTHONPATH" not in env else None
    output = run_pex(pex, env=environ).stdout
    return dict(line.split(": ", 1) for line in output.splitlines())


def test_every_binary_is_written(built):
    assert [n for n in listing(built) if n.endswith(".pex")] == [
        "fields_probe-bare.pex",
        "moo.pex",
        "probe-packed.pex",
        "probe.pex",
        "probe_py-main.pex",
        "probe_py.pex",
    ]


def test_execution_mode_venv(built, tmp_path):
    # A venv-mode PEX runs from a virtual environment it creates under PEX_ROOT; a zipapp one does not.
    pex_root = str(tmp_path / "pex-root")
    assert probe(built / "probe.pex", tmp_path)["prefix"].startswith(pex_root)
    assert pex_info(built / "probe.pex")["venv"] is True
    assert not probe(built / "probe_py-main.pex", tmp_path)["prefix"].startswith(pex_root)
    assert pex_info(built / "probe_py-main.pex")["venv"] is False


def test_layouts_packed_and_loose_are_runnable_directories(built, tmp_path):
    packed, loose = built / "probe-packed.pex", built / "probe_py.pex"
    assert packed.is_dir() and (packed / "__main__.py").is_file() and (packed / ".bootstrap").is_file()
    assert any(p.is_file() for p in (packed / ".deps").iterdir())  # each dependency is one zip
    assert loose.is_dir() and (loose / ".bootstrap").is_dir()
    assert any(p.is_dir() for p in (loose / ".deps").iterdir())  # each dependency is a tree of files
    assert probe(packed, tmp_path)["cowsay"] == "yes"
    assert probe(loose, tmp_path)["cowsay"] == "yes"
    assert (built / "probe.pex").is_file()


def test_strip_pex_env(built, tmp_path):
    assert probe(built / "probe-packed.pex", tmp_path)["PEX_ROOT"] == "kept"
    assert pex_info(built / "probe-packed.pex")["strip_pex_env"] is False
    assert probe(built / "probe_py-main.pex", tmp_path)["PEX_ROOT"] == "stripped"


def test_inherit_path(built, tmp_path):
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "extra_module.py").write_text("")
    assert probe(built / "probe_py-main.pex", tmp_path, PYTHONPATH=str(extra))["extra_module"] == "yes"
    assert pex_info(built / "probe_py-main.pex")["inherit_path"] == "fallback"
    assert probe(built / "probe-packed.pex", tmp_path, PYTHONPATH=str(extra))["extra_module"] == "no"


def test_dependencies_exclusion_and_include_requirements(built, tmp_path):
    assert probe(built / "probe_py-main.pex", tmp_path)["cowsay"] == "no"
    assert pex_info(built / "probe_py-main.pex")["excluded"] == ["cowsay"]
    assert probe(built / "fields_probe-bare.pex", tmp_path)["cowsay"] == "no"
    assert list(pex_info(built / "fields_probe-bare.pex")["distributions"]) == ["fields-0.1-py3-none-any.whl"]
    assert len(pex_info(built / "probe.pex")["distributions"]) == 2


def test_include_tools(built, tmp_path):
    environ = {**os.environ, "PEX_TOOLS": "1", "PEX_ROOT": str(tmp_path / "root")}
    assert "venv" in run([sys.executable, built / "probe_py.pex", "--help"], env=environ).stdout
    assert pex_info(built / "probe_py.pex")["includes_tools"] is True
    assert pex_info(built / "probe_py-main.pex")["includes_tools"] is False


def test_shebang_and_interpreter_constraints(built):
    with open(built / "probe_py-main.pex", "rb") as pex:
        assert pex.readline() == b"#!/usr/bin/env python3\n"
    assert pex_info(built / "probe_py-main.pex")["interpreter_constraints"] == [
        "CPython<4,>=3.9"
    ]  # as pex normalises it
    # Without the field, the project's requires-python.
    assert pex_info(built / "probe.pex")["interpreter_constraints"] == [">=3.9"]


def test_emit_warnings_from_table_and_comma_joined_override(built):
    assert pex_info(built / "probe-packed.pex")["emit_warnings"] is False
    assert pex_info(built / "probe.pex")["emit_warnings"] is True
    assert pex_info(built / "fields_probe-bare.pex")["emit_warnings"] is True


def test_single_binary_runs_a_dependency_console_script(built):
    assert "hi there" in run_pex(built / "moo.pex", "-t", "hi there").stdout


def test_description_and_tags_in_the_record(built):
    record = json.loads((built / "fields-0.1.pexbin.json").read_text())
    by_file = {b["file"]: b for b in record["binaries"]}
    assert by_file["probe.pex"]["description"] == "Runs from a venv"
    assert by_file["moo.pex"]["description"] == "cowsay's own console script"
    assert by_file["probe.pex"]["tags"] == ["cli", "venv"]
    assert by_file["moo.pex"]["tags"] == ["cli"]
    assert by_file["probe_py-main.pex"]["requirements"] == ["fields==0.1"]


def test_tags_select_binaries(fields_build, tmp_path):
    built_project, _ = fields_build
    cache = Path(built_project.env["PEXBIN_CACHE_DIR"])
    # The module's project and build cache, copied: the binaries the tags select are reused from it.
    project = Project(tmp_path / "fields", {**built_project.env, "PEXBIN_CACHE_DIR": str(tmp_path / "pexbin-cache")})
    shutil.copytree(built_project.path, project.path)
    shutil.copytree(cache, tmp_path / "pexbin-cache", symlinks=True)
    out = tmp_path / "dist"
    project.build("uv", out, "--wheel", "-C", "pexbin.tags=cli,-venv", "-C", "pexbin.output-dir=" + str(out))
    pex_files = [n for n in listing(out) if n.endswith(".pex")]
    assert "probe.pex" not in pex_files and len(pex_files) == 5


def fields_config(overrides: dict):
    return load({"tool": {"pexbin": {"entry-points": ["a.py", "b.py:main"], "overrides": overrides}}})


def test_override_keys_must_be_entry_points():
    loaded = fields_config({"a.py": {"layout": "loose"}, "c.py, d.py": {"tags": ["x"]}})
    with pytest.raises(ConfigError) as caught:
        overrides_by_entry_point(loaded, ["a.py", "b.py:main"])
    assert str(caught.value) == (
        "tool.pexbin.overrides: keys name entry points that are not in `entry-points`: 'c.py', 'd.py' "
        "(known: a.py, b.py:main)"
    )


def test_a_field_overridden_twice_names_entry_point_field_and_values():
    loaded = fields_config({"a.py": {"layout": "loose"}, "a.py,b.py:main": {"layout": "packed", "tags": ["x"]}})
    with pytest.raises(ConfigError) as caught:
        overrides_by_entry_point(loaded, ["a.py", "b.py:main"])
    assert str(caught.value) == (
        "tool.pexbin.overrides.\"a.py,b.py:main\": field 'layout' of entry point 'a.py' is overridden twice: "
        "'loose' by tool.pexbin.overrides.\"a.py\" and 'packed' here"
    )
    loaded = fields_config({"a.py": {"layout": "loose"}, "a.py,b.py:main": {"tags": ["x"]}})
    layers = overrides_by_entry_point(loaded, ["a.py", "b.py:main"])
    assert [dict(values) for _, values in layers["a.py"]] == [{"layout": "loose"}, {"tags": ("x",)}]


def test_ignore_errors_builds_despite_a_requirement_conflict(sample, tmp_path, offline_env):
    needs_vendored_pip()  # its legacy resolver lets a conflict through to pex's own check
    conflicting = tmp_path / "oldcow"
    (conflicting / "oldcow").mkdir(parents=True)
    (conflicting / "oldcow" / "__init__.py").write_text("")
    (conflicting / "pyproject.toml").write_text(
        '[project]\nname = "oldcow"\nversion = "1.0"\ndependencies = ["cowsay<6"]\n'
        '[tool.setuptools]\npackages = ["oldcow"]\n'
    )
    links = tmp_path / "links"
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", links, conflicting])

    project = sample("hello")
    # About pip's resolvers: pip resolves (uv, the default, refuses the conflict in its own words).
    table = f'dependencies = ["oldcow"]\nfind-links = ["{links.as_posix()}"]\nresolver = "pip"\n'
    text = (project.path / "pyproject.toml").read_text()
    # The default (modern) pip refuses the conflict itself, whatever `ignore-errors` says.
    project.pyproject(text + table + "ignore-errors = true\n")
    refused = project.build("uv", tmp_path / "refused", "--wheel", check=False)
    assert refused.returncode != 0
    assert "oldcow 1.0 depends on cowsay<6" in refused.stdout + refused.stderr

    # The legacy resolver lets it through to pex's own check, which `ignore-errors` skips.
    vendored = text + table + 'pip-version = "vendored"\n'
    project.pyproject(vendored)
    failed = project.build("uv", tmp_path / "dist", "--wheel", check=False)
    assert failed.returncode != 0
    assert "oldcow 1.0 requires cowsay<6" in failed.stdout + failed.stderr

    project.pyproject(vendored + "ignore-errors = true\n")
    out = tmp_path / "dist"
    project.build("uv", out, "--wheel")
    assert pex_info(out / "hello.pex")["ignore_errors"] is True
    assert "hello, Zed" in run_pex(out / "hello.pex", "Zed").stdout
