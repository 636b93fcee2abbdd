"""README promises about builds, each through a real frontend, running what it made."""

from __future__ import annotations

import hashlib
import json
import venv
from pathlib import Path

from conftest import SAMPLES, Project, listing, pex_info, run, run_pex
from packaging.utils import canonicalize_name, parse_wheel_filename

from pex_backend.cache import FORMAT

HELLO = ["hello.pex", "hello_admin-main.pex", "report_py.pex"]
MULTI_PLATFORMS = ["linux_x86_64-cp-3.11.7-cp311", "linux_x86_64-cp-3.12.1-cp312", "macosx_11_0_arm64-cp-312-cp312"]


def said(result) -> str:
    """What a build printed (uv passes the backend's output on stderr)."""
    return result.stdout + result.stderr


def copied(name: str, where: Path, env) -> Project:
    destination = where / name
    __import__("shutil").copytree(SAMPLES / name, destination)
    return Project(destination, env)


def cache_entries(cache_dir: Path, kind: str) -> list:
    where = cache_dir / f"v{FORMAT}" / kind
    return listing(where) if where.is_dir() else []


def test_pip_install_and_editable_installs_build_no_pex_even_with_an_output_dir_exported(sample, tmp_path):
    project = sample("hello")
    exported = tmp_path / "pexes"
    project.env = {**project.env, "PEXBIN_OUTPUT_DIR": str(exported)}
    target = tmp_path / "venv"
    venv.create(target, with_pip=True)
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
