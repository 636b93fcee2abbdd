"""The build cache: what a rebuild reuses, what a change rebuilds, and two builds at once."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path
from typing import Dict, List

import pytest
from conftest import TIMEOUT, Project, listing, pex_info, run, run_pex, with_setuptools_backend
from first_build import hello_built_fixture  # noqa: F401 (the fixture `hello_built`)

from pex_backend.backend.config.table import DEFAULT_PIP_VERSION
from pex_backend.commands import cli
from pex_backend.pex.cache import FORMAT, MANIFEST, BuildCache, open_cache
from pex_backend.pex.cache_files import fcntl

HELLO = ["hello.pex", "hello_admin-main.pex", "report_py.pex"]


def said(result) -> str:
    """What a build printed (uv passes the backend's output on stderr)."""
    return result.stdout + result.stderr


def contents(out: Path) -> Dict[str, bytes]:
    return {name: (out / name).read_bytes() for name in HELLO}


def reused(out: Path) -> Dict[str, bool]:
    record = json.loads((out / "hello-1.0.pexbin.json").read_text())
    return {entry["file"]: entry["reused"] for entry in record["binaries"]}


def test_a_rebuild_reuses_what_did_not_change_and_only_that(hello_built):
    project, out, first = hello_built.project, hello_built.out, hello_built.printed
    assert "pex-backend: resolved hello==1.0's requirements once for 3 PEX files" in first
    built = contents(out)

    # The same inputs: every PEX comes from the cache, byte for byte, and nothing is resolved.
    again = said(project.build("uv", out, "--wheel"))
    assert "resolved" not in again
    for name in HELLO:
        assert f"pex-backend: reused {name} from the build cache" in again
    assert contents(out) == built
    assert reused(out) == dict.fromkeys(HELLO, True)

    # One binary's field changed: that binary alone is built, from the cached resolve.
    pyproject = project.path / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + '\n[tool.pexbin.overrides."hello"]\nemit-warnings = false\n')
    changed = said(project.build("uv", out, "--wheel"))
    assert "pex-backend: reused the resolve of hello==1.0's requirements from the build cache" in changed
    assert "pex-backend: wrote hello.pex (" in changed
    assert reused(out) == {"hello.pex": False, "hello_admin-main.pex": True, "report_py.pex": True}
    assert pex_info(out / "hello.pex")["emit_warnings"] is False
    assert contents(out)["report_py.pex"] == built["report_py.pex"]

    # A source file changed: the wheel differs, so every PEX is built again, still from the cached resolve.
    cli = project.path / "src" / "hello" / "cli.py"
    cli.write_text(cli.read_text().replace('f"hello, {name}"', 'f"hello again, {name}"'))
    edited = said(project.build("uv", out, "--wheel"))
    assert "pex-backend: reused the resolve of hello==1.0's requirements from the build cache" in edited
    assert reused(out) == dict.fromkeys(HELLO, False)
    assert "hello again, Bob" in run_pex(out / "hello.pex", "Bob").stdout

    # A requirement changed: resolved again.
    pyproject.write_text(pyproject.read_text().replace('["cowsay>=6"]', '["cowsay>=6", "packaging>=20"]'))
    required = said(project.build("uv", out, "--wheel"))
    assert "pex-backend: resolved hello==1.0's requirements once for 3 PEX files" in required
    assert any(name.startswith("packaging-") for name in pex_info(out / "hello.pex")["distributions"])

    # Turned off, the cache is neither read nor written.
    project.env = {**project.env, "PEXBIN_NO_CACHE": "1"}
    uncached = said(project.build("uv", out, "--wheel"))
    assert "reused" not in uncached
    assert "pex-backend: resolved" in uncached


def test_two_builds_at_once_share_one_cache(sample, tmp_path):
    one = sample("hello")
    two = Project(tmp_path / "second" / "hello", one.env)
    shutil.copytree(one.path, two.path)
    cache = Path(one.env["PEXBIN_CACHE_DIR"]) / f"v{FORMAT}"
    # Build one stops with everything staged (the backend's test hook), holding its cache entries and its scratch
    # directory, until the test lets it go: build two runs from start to end in that time.
    flag = tmp_path / "one-is-waiting"
    first = subprocess.Popen(
        [sys.executable, "-m", "uv", "build", "--wheel", "-o", tmp_path / "one", one.path],
        env={**one.env, "PEXBIN_TEST_PAUSE_BEFORE_PUBLISH": str(flag)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + TIMEOUT
        while not flag.exists():
            assert first.poll() is None, first.communicate()[0].decode()
            assert time.monotonic() < deadline, "build one never reached the moment before publishing"
            time.sleep(0.1)
        assert len(listing(cache / "tmp")) == 1  # build one's scratch directory, its PEX files staged there
        second = said(two.build("uv", tmp_path / "two", "--wheel"))
        assert first.poll() is None  # still waiting, nothing published (uv writes its .gitignore first)
        assert set(listing(tmp_path / "one")) <= {".gitignore"}
    finally:
        flag.unlink(missing_ok=True)
    output = first.communicate(timeout=TIMEOUT)[0].decode()
    assert first.returncode == 0, output
    # Build two took what build one had put in the cache, while build one was using it.
    for name in HELLO:
        assert f"pex-backend: reused {name} from the build cache" in second
    assert reused(tmp_path / "two") == dict.fromkeys(HELLO, True)
    assert reused(tmp_path / "one") == dict.fromkeys(HELLO, False)
    assert contents(tmp_path / "one") == contents(tmp_path / "two")
    for out in (tmp_path / "one", tmp_path / "two"):
        assert "hello, Bob" in run_pex(out / "hello.pex", "Bob").stdout
    assert len(listing(cache / "pex")) == len(HELLO)
    assert len(listing(cache / "resolves")) == 1
    assert listing(cache / "tmp") == []


def test_edits_leave_one_pex_entry_per_binary_and_builds_stay_byte_identical(hello_built, tmp_path):
    project, out = hello_built.project, hello_built.out
    entries = Path(project.env["PEXBIN_CACHE_DIR"]) / f"v{FORMAT}" / "pex"
    cli = project.path / "src" / "hello" / "cli.py"
    for edit in range(4):  # the first build (the fixture's), then three edits: each edit's PEX files supersede the last
        if edit:
            cli.write_text(cli.read_text() + f"# edit {edit}\n")
            project.build("uv", out, "--wheel")
        inputs = [json.loads((entries / name / "inputs.json").read_text()) for name in listing(entries)]
        assert sorted(f"{item['binary']}.pex" for item in inputs) == sorted(HELLO), edit
    built = contents(out)
    again = said(project.build("uv", out, "--wheel"))
    for name in HELLO:
        assert f"pex-backend: reused {name} from the build cache" in again
    assert contents(out) == built
    project.env = {**project.env, "PEXBIN_NO_CACHE": "1"}
    project.build("uv", tmp_path / "uncached", "--wheel")
    assert contents(tmp_path / "uncached") == built


def dated_1980(wheel: Path, directory: Path) -> Path:
    """The wheel with every entry dated 1980-01-01 (pex keeps a wheel's dates in the PEX; the backend gives pex its
    wheel so): written here, not with the backend's own copy, so that a change to the wheel on the way shows."""
    directory.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as source, zipfile.ZipFile(directory / wheel.name, "w") as target:
        for info in source.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            entry.compress_type, entry.external_attr = info.compress_type, info.external_attr
            entry.create_system = info.create_system
            target.writestr(entry, source.read(info))
    return directory / wheel.name


# Each PEX of sample_projects/hello and how a user would ask pex for it: a console script, a module's function,
# and a file of the project (its module `hello.tools.report`).
DIRECT = {
    "hello.pex": ["--console-script", "hello"],
    "hello_admin-main.pex": ["--entry-point", "hello.admin:main"],
    "report_py.pex": ["--entry-point", "hello.tools.report"],
}


@pytest.mark.parametrize("resolver", ["pip", "uv"])
def test_each_pex_is_what_pex_builds_for_that_entry_point(sample, tmp_path, wheelhouse, resolver):
    project = sample("hello")
    pyproject = project.path / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("[tool.pexbin]\n", f'[tool.pexbin]\nresolver = "{resolver}"\n'))
    out = tmp_path / "dist"
    project.build("uv", out)  # the sdist, then the wheel and the PEX files from it
    # The published sdist, unpacked and built by setuptools' own backend.
    with tarfile.open(out / "hello-1.0.tar.gz") as sdist:
        sdist.extractall(tmp_path / "unpacked", filter="data")
    source = tmp_path / "unpacked" / "hello-1.0"
    with_setuptools_backend(source)
    Project(source, project.env).build("uv", tmp_path / "wheel", "--wheel")
    # That wheel, built by pex directly with the interpreter, constraints and pip the backend resolves with.
    wheel = dated_1980(tmp_path / "wheel" / "hello-1.0-py3-none-any.whl", tmp_path / "direct")
    constraints = pex_info(out / "hello.pex")["interpreter_constraints"]
    assert constraints == [">=3.9"]
    resolving = [arg for c in constraints for arg in ("--interpreter-constraint", c)]
    resolving += ["--python", sys.executable, "--python-path", Path(sys.executable).parent]
    sources: List[object] = [wheel]
    if resolver == "pip":
        resolving += ["--no-pypi", "--find-links", wheelhouse, "--pip-version", DEFAULT_PIP_VERSION]
    else:
        # uv installs the pins into a venv of the interpreter; pex takes its distributions as wheels, and builds each
        # PEX from them and the project's wheel.
        venv, resolve = tmp_path / "venv", tmp_path / "resolve"
        uv = [sys.executable, "-m", "uv"]
        run([*uv, "venv", "-q", "--python", sys.executable, venv], env=project.env)
        run([*uv, "pip", "install", "-q", "--python", venv / "bin" / "python", "cowsay==6.1"], env=project.env)
        taken = ["cowsay==6.1", "--venv-repository", venv, "--no-pre-install-wheels", "--layout=loose", "-o", resolve]
        run([sys.executable, "-m", "pex", *taken], env=project.env)
        sources = ["--pre-resolved-dists", resolve / ".deps", "--pre-resolved-dists", wheel, "hello==1.0"]
    for name, entry_point in DIRECT.items():
        direct = tmp_path / "direct" / name
        run([sys.executable, "-m", "pex", *sources, *entry_point, *resolving, "-o", direct], env=project.env)
        assert pex_info(direct) == pex_info(out / name), name
        assert direct.read_bytes() == (out / name).read_bytes(), name


def entry_in(cache: BuildCache, key: str, text: str) -> Path:
    filled = cache.fresh()
    (filled / "file.txt").write_text(text)
    return cache.publish(filled, "pex", key, {"text": text})


def without_locks(monkeypatch) -> None:
    """The system call failing as it does on NFS without lockd: pex-backend's own code and setuptools' unchanged."""

    def flock(fd: int, operation: int) -> None:
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    monkeypatch.setattr(fcntl, "flock", flock)


@pytest.mark.skipif(fcntl is None, reason="a system without advisory locks")
def test_without_file_locks_a_build_says_so_once_and_prune_removes_nothing(tmp_path, monkeypatch, capsys):
    root = tmp_path / "cache"
    cache = open_cache(root)
    assert cache is not None
    for n in range(3):
        entry_in(cache, f"key{n}", f"entry {n}")
    cache.close()
    assert capsys.readouterr().out == ""

    without_locks(monkeypatch)
    cache = open_cache(root)
    assert cache is not None
    assert all(cache.checked("pex", f"key{n}", f"entry {n}") for n in range(3))
    entry_in(cache, "key3", "entry 3")
    cache.close()
    assert capsys.readouterr().out.splitlines() == [
        f"pex-backend: notice: the build cache's file system takes no file locks ({root}): builds keep what they "
        "supersede there, and `pexbin cache prune` removes nothing from it"
    ]

    for args in (["--all"], ["--days", "0"]):
        with pytest.raises(SystemExit) as exit:
            cli.main(["cache", "prune", "--cache-dir", str(root), *args])
        assert exit.value.code == 1
        assert capsys.readouterr().err.splitlines() == [
            f"pex-backend error: {root} is on a file system that takes no file locks, so the entries a running "
            "build is using cannot be told apart from the others: nothing was removed"
        ]
    assert len(listing(root / f"v{FORMAT}" / "pex")) == 4


@pytest.mark.skipif(fcntl is None, reason="a system without advisory locks")
def test_a_damaged_entry_another_build_holds_is_dropped_only_once_it_lets_go(tmp_path, capsys):
    cache = open_cache(tmp_path / "cache")
    assert cache is not None
    entry = entry_in(cache, "key", "whole")
    cache.close()
    (entry / "file.txt").write_text("wrong")
    holding = "import fcntl, os, sys; fd = os.open(sys.argv[1], os.O_RDONLY); fcntl.flock(fd, fcntl.LOCK_SH); "
    holding += "print('holding', flush=True); sys.stdin.read()"
    other = subprocess.Popen(
        [sys.executable, "-c", holding, entry / MANIFEST], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert other.stdout and other.stdout.readline() == "holding\n"
        cache = open_cache(tmp_path / "cache")
        assert cache is not None
        assert cache.checked("pex", "key", "pex entry") is None
        assert (entry / "file.txt").read_text() == "wrong"  # still where the other build may be reading it
    finally:
        other.communicate("", timeout=TIMEOUT)
    assert cache.checked("pex", "key", "pex entry") is None
    assert not entry.exists()
    cache.close()
    assert capsys.readouterr().out.splitlines() == [
        "pex-backend: another build holds a damaged build cache entry (pex entry: file.txt sha256 differs); building "
        "it again",
        "pex-backend: dropped a damaged build cache entry (pex entry: file.txt sha256 differs); building it again",
    ]
