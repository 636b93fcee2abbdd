"""README promises about builds, each through a real frontend, running what it made."""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from pathlib import Path

import pytest
from conftest import SAMPLES, Project, listing, needs, needs_linux_x86_64, needs_vendored_pip, pex_info, run, run_pex
from packaging.utils import canonicalize_name, parse_wheel_filename

from pex_backend.pex.cache import FORMAT

HELLO = ["hello.pex", "hello_admin-main.pex", "report_py.pex"]
MULTI_PLATFORMS = ["linux_x86_64-cp-3.11.7-cp311", "linux_x86_64-cp-3.12.1-cp312", "macosx_11_0_arm64-cp-312-cp312"]


def said(result) -> str:
    """What a build printed (uv passes the backend's output on stderr)."""
    return result.stdout + result.stderr


def copied(name: str, where: Path, env) -> Project:
    """A copy of a sample project for a module's fixture, with a build cache of its own."""
    destination = where / name
    shutil.copytree(SAMPLES / name, destination)
    return Project(destination, {**env, "PEXBIN_CACHE_DIR": str(where / "pexbin-cache")})


def pexbin(project: Project, command: str, *args: str, check: bool = True):
    return run(
        [sys.executable, "-m", "pex_backend", command, "--project", project.path, *args], env=project.env, check=check
    )


def with_table(project: Project, table: str) -> None:
    """Replace the project's `[tool.pexbin]` (and everything after it) by `table`."""
    text = (project.path / "pyproject.toml").read_text()
    project.pyproject(text[: text.index("[tool.pexbin]")] + table)


def pex_files(out: Path) -> list:
    return [name for name in listing(out) if name.endswith(".pex")]


def cache_entries(cache_dir: Path, kind: str) -> list:
    where = cache_dir / f"v{FORMAT}" / kind
    return listing(where) if where.is_dir() else []


def test_pip_install_and_editable_installs_build_no_pex_even_with_an_output_dir_exported(sample, tmp_path, new_venv):
    project = sample("hello")
    exported = tmp_path / "pexes"
    project.env = {**project.env, "PEXBIN_OUTPUT_DIR": str(exported)}
    target = tmp_path / "venv"
    new_venv(target)
    python = target / "bin" / "python"

    installed = run([python, "-m", "pip", "install", "-v", project.path], env=project.env)
    assert "pex-backend: no PEX files: pip keeps only the wheel" in said(installed)
    assert "hello, Ann" in run([target / "bin" / "hello", "Ann"]).stdout
    editable = run([python, "-m", "pip", "install", "-v", "-e", project.path], env=project.env)
    assert "build_editable" in said(editable)  # PEP 660: the editable hook, which builds no PEX
    imported = "import sys; sys.argv[1:] = ['x']; import hello.admin as a; a.main()"
    assert "admin: x" in run([python, "-c", imported]).stdout
    assert not exported.exists() and not list(tmp_path.rglob("*.pex"))
    assert cache_entries(Path(project.env["PEXBIN_CACHE_DIR"]), "resolves") == []  # nothing resolved either

    # Asked for on pip's command line, PEX files are built (where the exported variable says: it wins).
    wheels = tmp_path / "wheels"
    project.build("pip-wheel", wheels, "-C", f"pexbin.output-dir={tmp_path / 'asked'}")
    assert listing(wheels) == ["hello-1.0-py3-none-any.whl"]
    assert not (tmp_path / "asked").exists()
    assert set(HELLO) <= set(listing(exported))
    assert "hello, Bob" in run_pex(exported / "hello.pex", "Bob").stdout
    # Any other frontend takes the exported variable alone.
    out = tmp_path / "dist"
    for name in HELLO:
        (exported / name).unlink()
    project.build("uv", out, "--wheel")
    assert [name for name in listing(out) if name != ".gitignore"] == ["hello-1.0-py3-none-any.whl"]  # uv's
    assert set(HELLO) <= set(listing(exported))
    assert "hello, Cy" in run_pex(exported / "hello.pex", "Cy").stdout


def pins_inside(pex: Path) -> list:
    """`name==version` of every distribution in the PEX, read from its wheel file names."""
    pins = set()
    for wheel in pex_info(pex)["distributions"]:
        name, version, _, _ = parse_wheel_filename(wheel)
        pins.add(f"{canonicalize_name(name)}=={version}")
    return sorted(pins)


def checked_record(out: Path, record_name: str) -> dict:
    """The build record, every binary's fields checked against its file and PEX-INFO; by file name."""
    record = json.loads((out / record_name).read_text())
    assert (out / record["wheel"]).is_file()
    by_file = {}
    for entry in record["binaries"]:
        pex = out / entry["file"]
        assert pex.is_file(), entry["file"]
        assert entry["sha256"] == hashlib.sha256(pex.read_bytes()).hexdigest(), entry["file"]
        assert entry["size"] == pex.stat().st_size, entry["file"]
        info = pex_info(pex)
        assert entry["interpreter_constraints"] == info["interpreter_constraints"], entry["file"]
        assert entry["pex_version"] == info["build_properties"]["pex_version"]
        assert sorted(entry["requirements"]) == pins_inside(pex), entry["file"]
        by_file[entry["file"]] = entry
    assert sorted(by_file) == sorted(name for name in listing(out) if name.endswith(".pex"))
    return by_file


def test_the_build_record_describes_each_file(sample, tmp_path):
    project = sample("hello")
    out = tmp_path / "dist"
    project.build("uv", out, "--wheel")
    record = checked_record(out, "hello-1.0.pexbin.json")
    written = {name: (entry["entry_point"], entry["runs"]) for name, entry in record.items()}
    assert written == {
        "hello.pex": ("hello", "hello"),
        "hello_admin-main.pex": ("hello.admin:main", "hello.admin:main"),
        "report_py.pex": ("src/hello/tools/report.py", "hello.tools.report"),
    }
    assert [pex_info(out / name)["entry_point"] for name in HELLO] == [
        "hello.cli:main",  # the console script's target
        "hello.admin:main",
        "hello.tools.report",
    ]
    for entry in record.values():
        assert entry["interpreter_constraints"] == [">=3.9"]  # requires-python
        assert entry["platforms"] == [] and entry["complete_platforms"] == []
        assert entry["requirements"] == ["cowsay==6.1", "hello==1.0"]
    assert "hello, Eve" in run_pex(out / "hello.pex", "Eve").stdout


def test_bare_module_and_flat_layout_file_entry_points(sample, tmp_path):
    project = sample("flat")
    out = tmp_path / "dist"
    project.build("uv", out, "--wheel")
    assert [name for name in listing(out) if name.endswith(".pex")] == ["cli_py-main.pex", "flatpkg_tool.pex"]
    tool = run_pex(out / "flatpkg_tool.pex", "a", "b", check=False)
    assert (tool.returncode, tool.stdout) == (2, "tool as __main__ of flatpkg: a b\n")
    assert run_pex(out / "cli_py-main.pex", "x").stdout == "cli main of flatpkg.cli: x\n"
    assert pex_info(out / "flatpkg_tool.pex")["entry_point"] == "flatpkg.tool"
    assert pex_info(out / "cli_py-main.pex")["entry_point"] == "flatpkg.cli:main"
    record = checked_record(out, "flat-0.3.pexbin.json")
    assert record["cli_py-main.pex"]["entry_point"] == "flatpkg/cli.py:main"
    assert record["flatpkg_tool.pex"]["requirements"] == ["flat==0.3"]


def test_cache_dir_no_cache_skip_and_tags_settings(sample, tmp_path):
    project = sample("hello")
    pyproject = project.path / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text() + '[tool.pexbin.overrides]\n"hello" = { tags = ["cli"] }\n'
        '"hello.admin:main" = { tags = ["admin"] }\n'
    )
    xdg = tmp_path / "xdg"  # where the default cache would be
    base = {k: v for k, v in project.env.items() if k != "PEXBIN_CACHE_DIR"}
    cache = tmp_path / "given-cache"
    given = ["-C", f"pexbin.cache-dir={cache}"]

    def build(out: str, *args: str, **env: str) -> str:
        project.env = {**base, "XDG_CACHE_HOME": str(xdg), **env}
        return said(project.build("uv", tmp_path / out, "--wheel", *args))

    # The environment wins over each config-setting: PEXBIN_TAGS over pexbin.tags, PEXBIN_SKIP over pexbin.skip.
    first = build(
        "one", *given, "-C", "pexbin.tags=admin", "-C", "pexbin.skip=true", PEXBIN_TAGS="cli", PEXBIN_SKIP="0"
    )
    assert pex_files(tmp_path / "one") == ["hello.pex"]
    assert [b["file"] for b in json.loads((tmp_path / "one" / "hello-1.0.pexbin.json").read_text())["binaries"]] == [
        "hello.pex"
    ]
    assert "pex-backend: resolved hello==1.0's requirements (" in first  # for the one PEX selected
    assert (len(cache_entries(cache, "resolves")), len(cache_entries(cache, "pex"))) == (1, 1)
    assert not xdg.exists()

    # `-tag` leaves out the binaries with that tag; the others come from the given cache's resolve.
    second = build("two", *given, PEXBIN_TAGS="-cli")
    assert pex_files(tmp_path / "two") == ["hello_admin-main.pex", "report_py.pex"]
    assert "pex-backend: reused the resolve of hello==1.0's requirements from the build cache" in second
    assert (len(cache_entries(cache, "resolves")), len(cache_entries(cache, "pex"))) == (1, 3)
    assert "admin: go" in run_pex(tmp_path / "two" / "hello_admin-main.pex", "go").stdout

    # No cache: a changed source is resolved afresh (the cache is not read) and nothing new is kept (not written).
    entries = {kind: cache_entries(cache, kind) for kind in ("resolves", "pex")}
    cli = project.path / "src" / "hello" / "cli.py"
    cli.write_text(cli.read_text().replace('f"hello, {name}"', 'f"hi, {name}"'))
    uncached = build("three", *given, "-C", "pexbin.no-cache=true")
    assert "pex-backend: resolved hello==1.0's requirements once for 3 PEX files" in uncached
    assert "reused" not in uncached
    assert pex_files(tmp_path / "three") == sorted(HELLO)
    assert "hi, Bo" in run_pex(tmp_path / "three" / "hello.pex", "Bo").stdout
    assert {kind: cache_entries(cache, kind) for kind in ("resolves", "pex")} == entries
    assert not xdg.exists()

    skipped = build("four", *given, "-C", "pexbin.skip=false", PEXBIN_SKIP="1")
    assert "pex-backend: no PEX files: PEX files turned off by pexbin.skip" in skipped
    assert [name for name in listing(tmp_path / "four") if name != ".gitignore"] == ["hello-1.0-py3-none-any.whl"]
    assert {kind: cache_entries(cache, kind) for kind in ("resolves", "pex")} == entries


def pip_versions_used(pex_root: Path) -> list:
    """The pips pex installed (or unpacked, its vendored one) under PEX_ROOT to resolve with."""
    return sorted(path.name for path in pex_root.glob("pip/*/*"))


@pytest.fixture(scope="module")
def vendored_pip_build(tmp_path_factory, offline_env):
    needs_vendored_pip()
    """hello built with `pip-version = "vendored"` in a PEX_ROOT of its own; `hello.cli:main` with
    `inherit-path = "prefer"`."""
    where = tmp_path_factory.mktemp("vendored")
    project = copied("hello", where, {**offline_env, "PEX_ROOT": str(where / "pex-root")})
    with_table(
        project,
        '[tool.pexbin]\nentry-points = ["hello", "hello.cli:main"]\npip-version = "vendored"\nresolver = "pip"\n'
        '[tool.pexbin.overrides]\n"hello.cli:main" = { inherit-path = "prefer" }\n',
    )
    out = where / "dist"
    project.build("uv", out, "--wheel")
    return out, where / "pex-root"


def test_pip_version(vendored_pip_build, sample, tmp_path):
    out, pex_root = vendored_pip_build
    assert pip_versions_used(pex_root) == ["20.3.4-patched"]
    assert "hello, Vi" in run_pex(out / "hello.pex", "Vi").stdout
    # Without the field: the pinned default.
    project = sample("hello")
    pyproject = project.path / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("[tool.pexbin]\n", '[tool.pexbin]\nresolver = "pip"\n'))
    project.env = {**project.env, "PEX_ROOT": str(tmp_path / "pex-root")}
    project.build("uv", tmp_path / "dist", "--wheel")
    assert "26.0.1" in pip_versions_used(tmp_path / "pex-root")


def test_inherit_path_prefer_sees_the_environment_first(vendored_pip_build, tmp_path):
    out, _ = vendored_pip_build
    fake = tmp_path / "site" / "cowsay"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("def cow(text):\n    print('the environment\\'s cowsay:', text)\n")
    env = {**__import__("os").environ, "PYTHONPATH": str(fake.parent), "PEX_ROOT": str(tmp_path / "pex-root")}
    assert pex_info(out / "hello_cli-main.pex")["inherit_path"] == "prefer"
    assert run_pex(out / "hello_cli-main.pex", "Al", env=env).stdout == "the environment's cowsay: hello, Al\n"
    own = run_pex(out / "hello.pex", "Al", env=env).stdout  # the PEX's own cowsay 6.1
    assert "hello, Al" in own and "the environment" not in own


def test_several_named_resolves_each_from_its_lockfile(sample, tmp_path):
    project = sample("hello")
    with_table(
        project,
        '[tool.pexbin]\nentry-points = ["src/hello/tools/report.py", "hello.tools.report"]\n'
        'resolves = { old = "locks/old.lock", new = "locks/new.lock" }\n[tool.pexbin.overrides]\n'
        '"src/hello/tools/report.py" = { resolve = "old", dependencies = ["cowsay==6.0"] }\n'
        '"hello.tools.report" = { resolve = "new" }\n',
    )
    locked = pexbin(project, "lock").stdout
    assert "resolve 'old': cowsay>=6, cowsay==6.0" in locked and "resolve 'new': cowsay>=6)" in locked
    out = tmp_path / "dist"
    built = said(project.build("uv", out, "--wheel"))
    assert built.count("pex-backend: resolved hello==1.0's requirements (") == 2  # one resolve per lockfile
    record = checked_record(out, "hello-1.0.pexbin.json")
    assert record["report_py.pex"]["requirements"] == ["cowsay==6.0", "hello==1.0"]
    assert record["hello_tools_report.pex"]["requirements"] == ["cowsay==6.1", "hello==1.0"]
    assert run_pex(out / "hello_tools_report.pex").stdout.startswith("report: cowsay 6.1 on Python")
    assert run_pex(out / "report_py.pex").stdout.startswith("report: cowsay 6.0 on Python")


def test_a_lock_for_platforms_builds_every_platform_and_the_record_says_so(sample, tmp_path, foreign_wheels, pythons):
    needs(pythons, "3.11")
    needs_linux_x86_64()
    project = sample("multi")
    pyproject = project.path / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace(
            "[tool.pexbin]\n", '[tool.pexbin]\ndefault-resolve = "default"\nresolves = { default = "multi.lock" }\n'
        )
    )
    pexbin(project, "lock")
    lock = json.loads((project.path / "multi.lock").read_text())
    assert len(lock["locked_resolves"]) == len(MULTI_PLATFORMS)  # one per platform
    locked = {r["project_name"]: r["version"] for res in lock["locked_resolves"] for r in res["locked_requirements"]}
    out = tmp_path / "dist"
    project.build("uv", out, "--wheel")
    record = checked_record(out, "multi-1.0.pexbin.json")
    assert record["multi_main-run.pex"]["platforms"] == MULTI_PLATFORMS
    for platform in MULTI_PLATFORMS:
        assert record[f"multi-split-{platform}.pex"]["platforms"] == [platform]
    for entry in record.values():
        assert entry["requirements"] == [f"charset-normalizer=={locked['charset-normalizer']}", "multi==1.0"]
    # The multiplatform PEX runs under a local Python it targets.
    assert run([pythons["3.11"], out / "multi_main-run.pex"]).stdout == "utf_8 on Python 3.11\n"


def test_the_cli_extra_brings_pex_and_without_it_commands_that_run_pex_say_so(installer, wheelhouse, sample, tmp_path):
    wheel = next(wheelhouse.glob("pex_backend-*.whl"))
    project = sample("hello")
    with_cli = installer(f"{wheel}[cli]")
    written = tmp_path / "here.json"
    run([with_cli / "pexbin", "inspect-platform", "-o", written], env=project.env)
    assert {"marker_environment", "compatible_tags"} <= set(json.loads(written.read_text()))
    listed = run([with_cli / "pexbin", "list", "--project", project.path], env=project.env).stdout
    assert listed.split() == [
        "hello",
        "hello",
        "hello_admin-main",
        "hello.admin:main",
        "report_py",
        "src/hello/tools/report.py",
    ]

    without = installer(wheel)
    assert run([without / "python", "-c", "import importlib.util as u; print(u.find_spec('pex'))"]).stdout == "None\n"
    for command in (
        ["inspect-platform", "-o", tmp_path / "x.json"],
        ["dependencies", "hello", "--project", project.path],
    ):
        failed = run([without / "pexbin", *command], env=project.env, check=False)
        assert failed.returncode == 1
        assert failed.stderr.splitlines() == [
            f"pex-backend error: `{command[0]}` runs pex, which is not installed here: pip install 'pex-backend[cli]'"
        ]
    assert "hello" in run([without / "pexbin", "list", "--project", project.path], env=project.env).stdout
