"""When things go wrong: a build killed while publishing, a damaged build cache, builds at once, the cache command."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Dict, List

from conftest import TIMEOUT, listing, run, run_pex
from first_build import hello_built_fixture  # noqa: F401 (the fixture `hello_built`)

from pex_backend.pex.cache import FORMAT

RECORD = "hello-1.0.pexbin.json"
PEX_FILES = ["hello.pex", "hello_admin-main.pex", "report_py.pex"]
VENDORED_PIP = Path(__import__("pex").__file__).parent / "vendor" / "_vendored" / "pip"


def said(result) -> str:
    return result.stdout + result.stderr


def files(out: Path) -> Dict[str, bytes]:
    """Every file below `out`, hidden ones too, by relative path."""
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def assert_record_agrees(out: Path) -> None:
    """The record names the wheel beside it and, for each PEX, a file in `out` with its sha256 and size."""
    record = json.loads((out / RECORD).read_text())
    assert (out / record["wheel"]).is_file()
    assert sorted(entry["file"] for entry in record["binaries"]) == PEX_FILES
    for entry in record["binaries"]:
        data = (out / entry["file"]).read_bytes()
        assert (hashlib.sha256(data).hexdigest(), len(data)) == (entry["sha256"], entry["size"]), entry["file"]


def hidden(out: Path) -> List[str]:
    """Hidden names in `out`, but the `.gitignore` uv writes there."""
    return [name for name in listing(out) if name.startswith(".") and name != ".gitignore"]


def cache_of(project) -> Path:
    return Path(project.env["PEXBIN_CACHE_DIR"]) / f"v{FORMAT}"


def edit_source(project, greeting: str) -> None:
    cli = project.path / "src" / "hello" / "cli.py"
    cli.write_text(re.sub(r'cowsay\.cow\(f"[^"]*"\)', f'cowsay.cow(f"{greeting}, {{name}}")', cli.read_text()))


def start(project, out: Path, flag: Path, **env: str) -> subprocess.Popen:
    """A `uv build` that stops right before its run of renames (the backend's test hook), in a process group of
    its own so that the test can kill all of it: uv, the backend and pex's workers."""
    command = [sys.executable, "-m", "uv", "build", "--wheel", "-o", str(out), str(project.path)]
    environ = {**project.env, "PEXBIN_TEST_PAUSE_BEFORE_PUBLISH": str(flag), **env}
    return subprocess.Popen(
        command, env=environ, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )


def paused(process: subprocess.Popen, flag: Path) -> subprocess.Popen:
    """The process, once its build waits before publishing."""
    deadline = time.monotonic() + 300
    while not flag.exists():
        assert process.poll() is None, process.communicate()[0].decode()
        assert time.monotonic() < deadline, "the build never reached the moment before publishing"
        time.sleep(0.1)
    return process


def start_paused(project, out: Path, flag: Path, **env: str) -> subprocess.Popen:
    return paused(start(project, out, flag, **env), flag)


def kill(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGKILL)
    process.communicate(timeout=TIMEOUT)


def test_a_build_killed_before_publishing_leaves_the_output_as_it_was(hello_built, tmp_path):
    project, out = hello_built.project, hello_built.out
    before = files(out)
    assert_record_agrees(out)

    # Killed with everything staged: staged in the cache's scratch area, so nothing of it is in dist/.
    edit_source(project, "hi")
    flag = tmp_path / "pause"
    build = start_paused(project, out, flag)
    assert files(out) == before
    assert len(listing(cache_of(project) / "tmp")) == 1
    kill(build)
    assert files(out) == before
    assert_record_agrees(out)

    # The next build removes the killed build's scratch directory, and publishes.
    flag.unlink()
    project.build("uv", out, "--wheel")
    assert listing(cache_of(project) / "tmp") == []
    assert hidden(out) == []
    assert_record_agrees(out)
    assert "hi, Bob" in run_pex(out / "hello.pex", "Bob").stdout

    # Without the cache, staging is a hidden directory in dist/; killed, it is left there, and only it.
    before = files(out)
    edit_source(project, "hey")
    kill(start_paused(project, out, flag, PEXBIN_NO_CACHE="1"))
    (leftover,) = hidden(out)
    assert leftover.startswith(".pexbin-staging-")
    assert {name: data for name, data in files(out).items() if not name.startswith(leftover)} == before
    assert_record_agrees(out)

    flag.unlink()
    project.env = {**project.env, "PEXBIN_NO_CACHE": "1"}
    project.build("uv", out, "--wheel")
    assert hidden(out) == []
    assert_record_agrees(out)
    assert "hey, Bob" in run_pex(out / "hello.pex", "Bob").stdout


def test_a_build_killed_inside_its_run_of_renames_leaves_no_record_that_lies(hello_built, tmp_path):
    """The run of renames: the old record out first, the wheel, each PEX, the new record in last. Killed before
    each of them, the output directory holds complete files only, and a record only while it tells the truth."""
    project, out = hello_built.project, hello_built.out
    before = files(out)
    edit_source(project, "hi")
    flag = tmp_path / "pause"
    seen = []
    for at in range(6):
        restore(out, before)  # each time from the first build's output: its record, to be renamed out first
        kill(start_paused(project, out, flag, PEXBIN_TEST_PAUSE_AT_RENAME=str(at)))
        flag.unlink()
        seen.append(files(out))
        assert (RECORD in seen[-1]) == (at == 0), at  # out before anything else moves, in after everything
        if at == 0:
            assert seen[-1] == before
    project.build("uv", out, "--wheel")
    after = files(out)
    assert_record_agrees(out)
    for at, found in enumerate(seen):
        visible = {name: data for name, data in found.items() if not name.startswith(".")}
        for name, data in visible.items():
            if name.endswith(".whl"):  # setuptools stamps it with the clock: a whole zip, not a given one
                assert zipfile.ZipFile(io.BytesIO(data)).testzip() is None, (at, name)
            else:
                assert data in (before.get(name), after.get(name)), (at, name)  # the old file or the new
    assert "hi, Bob" in run_pex(out / "hello.pex", "Bob").stdout


def as_built(pex: Path) -> Dict[str, bytes]:
    return {name: data for name, data in files(pex).items() if "__pycache__" not in name.split("/")}


def restore(out: Path, contents: Dict[str, bytes]) -> None:
    shutil.rmtree(out)
    for name, data in contents.items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_bytes(data)


def pex_entry(cache: Path, name: str) -> Path:
    return next(e for e in (cache / "pex").iterdir() if json.loads((e / "inputs.json").read_text())["binary"] == name)


def flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def test_damaged_cache_entries_are_dropped_and_built_again(hello_built, tmp_path):
    project, out = hello_built.project, hello_built.out
    clean = {name: (out / name).read_bytes() for name in PEX_FILES}
    cache = cache_of(project)

    # One damage per entry, each independent of the others.
    flip_a_byte(pex_entry(cache, "hello") / "hello.pex")
    admin = pex_entry(cache, "hello_admin-main") / "hello_admin-main.pex"
    admin.write_bytes(admin.read_bytes()[: admin.stat().st_size // 2])
    truncated = admin.stat().st_size
    (pex_entry(cache, "report_py") / "report_py.pex").unlink()
    (copy,) = (cache / "pex-copies").iterdir()
    copied = sorted(p for p in (copy / "pex").rglob("*") if p.is_file())
    for path in copied[::2]:
        path.unlink()
    (resolve,) = (cache / "resolves").iterdir()
    (wheel,) = (resolve / "resolve" / ".deps").glob("cowsay-*.whl")
    flip_a_byte(wheel)
    (interpreter,) = (cache / "interpreters").iterdir()
    (link,) = (p for p in interpreter.iterdir() if p.is_symlink())
    target = os.readlink(link)
    link.unlink()
    link.symlink_to(sys.executable)
    for name in PEX_FILES:  # else the build finds them in dist/ already (hashed there) and reads no entry of theirs
        (out / name).unlink()

    rebuilt = said(project.build("uv", out, "--wheel"))
    notices = sorted(line for line in rebuilt.splitlines() if "dropped a damaged build cache entry" in line)
    assert "Traceback" not in rebuilt
    assert len(notices) == 6, rebuilt
    expected = [
        "(pex hello.pex: hello.pex sha256 differs)",
        f"(pex hello_admin-main.pex: hello_admin-main.pex size differs ({truncated} bytes, not",
        "(pex report_py.pex: report_py.pex is missing)",
        "(pex copy of pex 2.",  # the build environment's pex
        f"(resolve of hello==1.0's requirements: resolve/.deps/{wheel.name} sha256 differs)",
        f"(interpreter link {link.name}: {link.name} points to {sys.executable}, not {target})",
    ]
    for part in expected:
        assert any(part in line for line in notices), (part, notices)
    for line in notices:
        assert line.startswith("pex-backend: dropped a damaged build cache entry (")
        assert line.endswith("); building it again")
    assert "pex-backend: resolved hello==1.0's requirements" in rebuilt
    # Byte for byte what the clean build gave, and the record agrees with it.
    assert {name: (out / name).read_bytes() for name in PEX_FILES} == clean
    assert_record_agrees(out)
    assert listing(cache / "tmp") == []

    # The cache is whole again: the next build reuses every entry, with no notice.
    again = said(project.build("uv", out, "--wheel"))
    assert "dropped" not in again and "resolved" not in again
    assert {name: (out / name).read_bytes() for name in PEX_FILES} == clean


def test_two_builds_at_once_into_one_output_directory(sample, tmp_path):
    one = sample("hello")
    two = type(one)(tmp_path / "second" / "hello", one.env)
    __import__("shutil").copytree(one.path, two.path)
    edit_source(two, "hello from two")  # different bytes, so a mix of the two builds would show
    out = tmp_path / "dist"
    flags = [tmp_path / "one.pause", tmp_path / "two.pause"]
    running = [start(project, out, flag) for project, flag in ((one, flags[0]), (two, flags[1]))]
    for process, flag in zip(running, flags):
        paused(process, flag)
    for flag in flags:  # both publish at the same moment
        flag.unlink()
    outputs = [process.communicate(timeout=TIMEOUT)[0].decode() for process in running]
    assert [process.returncode for process in running] == [0, 0], outputs
    assert hidden(out) == []
    assert_record_agrees(out)
    greeting = run_pex(out / "hello.pex", "Bob").stdout
    assert "hello, Bob" in greeting or "hello from two, Bob" in greeting
    assert "Traceback" not in "".join(outputs)
    assert listing(cache_of(one) / "tmp") == []


def pexbin(project, *args: str, check: bool = True):
    return run([sys.executable, "-m", "pex_backend", *args], env=project.env, check=check)


def test_cache_command_shows_the_cache_and_prunes_it_while_a_build_runs(hello_built, tmp_path):
    project, out = hello_built.project, hello_built.out
    cache = Path(project.env["PEXBIN_CACHE_DIR"])
    shown = pexbin(project, "cache").stdout.splitlines()
    assert shown[0] == f"build cache: {cache} (format v{FORMAT})"
    rows = {line.split()[0]: line.split()[1:] for line in shown[1:]}
    kinds = ("resolves", "pex", "bases", "pex-copies", "uv-copies", "interpreters", "sibling-proofs", "part-proofs")
    kinds += ("scratch",)
    # Two bases (the first of each family, for later edits); one proof: hello's two module entry points are
    # siblings, the second built by pex too and compared. No copy of uv: the frontend (uv build) has one.
    assert [rows[kind][0] for kind in kinds] == ["1", "3", "2", "1", "0", "1", "1", "0", "0"]
    assert rows["total"][:2] == ["9", "entries"]
    # The backend's own modules, compiled once (by the first of the builds) and read by the others.
    assert rows["bytecode"][1] == "modules" and int(rows["bytecode"][0]) > 30
    assert pexbin(project, "cache", "--cache-dir", str(cache)).stdout.splitlines() == shown

    # By age: only the entry not used for longer than that goes.
    old = pex_entry(cache / f"v{FORMAT}", "report_py")
    os.utime(old, (time.time() - 3 * 86400,) * 2)
    assert pexbin(project, "cache", "prune", "--days", "7").stdout.startswith("removed 0 entries unused for 7 days")
    pruned = pexbin(project, "cache", "prune", "--days=2").stdout
    assert pruned.startswith("removed 1 entry unused for 2 days (")
    assert not old.exists() and len(listing(cache / f"v{FORMAT}" / "pex")) == 2
    modules = sorted((cache / f"v{FORMAT}" / "bytecode").iterdir())
    os.utime(modules[0], (time.time() - 3 * 86400,) * 2)  # the backend's bytecode goes by age too
    assert pexbin(project, "cache", "prune", "--days=2").stdout.startswith("removed 0 entries unused for 2 days (")
    assert sorted((cache / f"v{FORMAT}" / "bytecode").iterdir()) == modules[1:]

    # While a build runs, `--all` keeps what it uses (the PEX entries it reused, pex's copy, the interpreter
    # link), removes the rest (the resolve, the three bases (report_py's now too) and the proof it did not need),
    # and the build finishes with whole entries.
    project.build("uv", out, "--wheel")
    flag = tmp_path / "pause"
    build = start_paused(project, out, flag)
    busy = pexbin(project, "cache", "prune", "--all").stdout
    assert busy.startswith("removed 5 entries (") and busy.rstrip().endswith(
        "; kept 5 entries in use by a running build"
    )
    flag.unlink()
    assert build.wait(timeout=TIMEOUT) == 0, build.communicate()[0].decode()
    assert_record_agrees(out)
    everything = pexbin(project, "cache", "prune", "--all").stdout
    assert everything.startswith("removed 5 entries (")
    assert [line.split()[:2] for line in pexbin(project, "cache").stdout.splitlines()[1:]] == [
        [kind, "0"] for kind in (*kinds[:-1], "bytecode", "scratch", "total")
    ]

    # Mistakes are one line.
    for args, message in [
        (["prune"], "one of the arguments --days --all is required"),
        (["prune", "--days", "soon"], "argument --days: expected a number of days (0 or more), got 'soon'"),
        (["prune", "--days", "-1"], "argument --days: expected a number of days (0 or more), got '-1'"),
    ]:
        result = pexbin(project, "cache", *args, check=False)
        assert result.returncode == 2
        assert result.stderr.splitlines() == [
            f"pex-backend error: pexbin cache prune: {message} (see pexbin cache prune --help)"
        ]


def test_resolve_keys_cover_every_pip_config_file_pip_reads(tmp_path):
    """Asked of pip itself: pex's vendored pip and this environment's own, with the XDG variables set."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env.update(
        HOME=str(tmp_path / "home"),
        XDG_CONFIG_HOME=str(tmp_path / "xdg-home"),
        XDG_CONFIG_DIRS=f"{tmp_path / 'xdg-a'}{os.pathsep}{tmp_path / 'xdg-b'}",
    )
    ask = "from pip._internal.configuration import Configuration; import json; " + (
        "print(json.dumps([f for _, fs in Configuration(isolated=False).iter_config_files() for f in fs]))"
    )
    vendored = f"import sys; sys.path.insert(0, {str(VENDORED_PIP)!r}); {ask}"
    ours = (
        "from pex_backend.backend.compose.keys import pip_configuration_files as f; import json; "
        "print(json.dumps([*map(str, f())]))"
    )
    (tmp_path / "pip.conf").write_text("")  # an existing PIP_CONFIG_FILE: pip then reads no user file
    for extra in ({}, {"PIP_CONFIG_FILE": str(tmp_path / "pip.conf")}):
        listed = set(json.loads(run([sys.executable, "-c", ours], env={**env, **extra}).stdout))
        for pip in (vendored, ask):
            asked = json.loads(run([sys.executable, "-c", pip], env={**env, **extra}).stdout)
            assert set(asked) <= listed, (pip, extra)
        assert str(tmp_path / "xdg-a" / "pip" / "pip.conf") in listed
    devnull = run([sys.executable, "-c", ours], env={**env, "PIP_CONFIG_FILE": os.devnull}).stdout
    assert json.loads(devnull) == []


def tree_sha256(path: Path) -> str:
    """The record's sha256 of a directory layout: that of its sorted (path, file sha256) listing."""
    listing_text = "".join(
        f"{p.relative_to(path).as_posix()}\0{hashlib.sha256(p.read_bytes()).hexdigest()}\n"
        for p in sorted(path.rglob("*"))
        if p.is_file()
    )
    return hashlib.sha256(listing_text.encode()).hexdigest()


def test_directory_layouts_are_published_whole_and_reused(hello_built, tmp_path):
    project, out = hello_built.project, hello_built.out
    pyproject = project.path / "pyproject.toml"
    zipapps = pyproject.read_text()
    layouts = zipapps + '[tool.pexbin.overrides]\n"hello.admin:main" = { layout = "packed" }\n'
    layouts += '"src/hello/tools/report.py" = { layout = "loose" }\n'

    def check(greeting: str) -> None:
        record = json.loads((out / RECORD).read_text())
        for entry in record["binaries"]:
            path = out / entry["file"]
            assert entry["sha256"] == (
                tree_sha256(path) if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
            )
        assert {e["file"]: e["layout"] for e in record["binaries"]} == {
            "hello.pex": "zipapp",
            "hello_admin-main.pex": "packed",
            "report_py.pex": "loose",
        }
        assert (out / "report_py.pex").is_dir() and (out / "hello_admin-main.pex").is_dir()
        assert hidden(out) == [] and listing(cache_of(project) / "tmp") == []
        assert greeting in run_pex(out / "hello.pex", "Bob").stdout
        assert run_pex(out / "report_py.pex").stdout.startswith("report: cowsay")

    # An older version's record names these files too: it goes when they change.
    (out / "hello-0.9.pexbin.json").write_text((out / RECORD).read_text().replace('"1.0"', '"0.9"'))
    pyproject.write_text(layouts)  # files replaced by directories
    project.build("uv", out, "--wheel")
    check("hello, Bob")
    assert not (out / "hello-0.9.pexbin.json").exists()
    # Less the bytecode Python writes into a loose PEX it runs (`check` runs them): what the build wrote.
    built = {name: as_built(out / name) for name in ("hello_admin-main.pex", "report_py.pex")}
    edit_source(project, "hi")  # directories replaced by directories
    project.build("uv", out, "--wheel")
    check("hi, Bob")
    # Back to the first sources: the cache keeps only the newest PEX of each binary, so they are built again, to the
    # same bytes.
    edit_source(project, "hello")
    assert "pex-backend: wrote report_py.pex (" in said(project.build("uv", out, "--wheel"))
    check("hello, Bob")
    assert {name: as_built(out / name) for name in built} == built
    for name in built:  # gone from dist/: the cached ones, copied out of the cache whole
        shutil.rmtree(out / name)
    again = said(project.build("uv", out, "--wheel"))
    assert "pex-backend: reused report_py.pex from the build cache" in again
    check("hello, Bob")
    assert {name: as_built(out / name) for name in built} == built
