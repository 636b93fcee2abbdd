"""What makes a warm build cheap: no pex installed when the build cache has it; and where a build's time goes."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import List

import pytest
from conftest import TIMEOUT, run, run_pex
from first_build import hello_built_fixture  # noqa: F401 (the fixture `hello_built`)

from pex_backend.backend.config.table import DEFAULT_PEX_VERSION
from pex_backend.pex.cache import FORMAT

ASKED_FOR_PEX = f"pex=={DEFAULT_PEX_VERSION}"


def said(result) -> str:
    return result.stdout + result.stderr


def test_a_warm_build_installs_no_pex(sample, tmp_path):
    project = sample("hello", cold=True)  # the first build: pex installed, and its copy made
    out = tmp_path / "dist"
    # `python -m build` lists what it installs for get_requires_for_build_wheel.
    cold = said(project.build("build", out, "--wheel"))
    assert ASKED_FOR_PEX in cold
    assert "pex-backend: timing" not in cold
    # The build cache now holds pex's copy: nothing more is installed, and the build runs the copy.
    (project.path / "src" / "hello" / "cli.py").write_text(
        (project.path / "src" / "hello" / "cli.py").read_text().replace('f"hello, {name}"', 'f"hi, {name}"')
    )
    timed = type(project)(project.path, {**project.env, "PEXBIN_TIMINGS": "1"})
    warm = said(timed.build("build", out, "--wheel"))
    assert "pex==" not in warm, warm
    # PEXBIN_TIMINGS=1: each step and its time.
    steps = re.findall(r"pex-backend: timing: (.+) \d+\.\d{3} s", warm)
    for step in [
        "the get_requires_for_build_wheel hook",
        "pex's copy",
        "checking the inputs",
        "setuptools' wheel",
        "the build interpreter",
        "cache keys",
        "pex building the project's part of hello.pex",
        "splicing hello.pex",
        "pex building hello.pex",
        "PEX files",
        "publishing",
        "the build_wheel hook",
    ]:
        assert step in steps, steps
    assert "pex-backend: wrote hello.pex (" in warm
    assert "hi, Bob" in run_pex(out / "hello.pex", "Bob").stdout

    # With the cache turned off, the hook asks for pex though the copy is there.
    assert requires(project) == []
    assert requires(project, PEXBIN_NO_CACHE="1") == [ASKED_FOR_PEX]

    # Without pex installed, a bad interpreter constraint is still one line naming its key, before any work.
    pyproject = project.path / "pyproject.toml"
    good = pyproject.read_text()
    pyproject.write_text(good.replace("[tool.pexbin]\n", '[tool.pexbin]\ninterpreter-constraints = ["CPython>=>3"]\n'))
    bad = said(project.build("build", out, "--wheel", check=False))
    assert "pex==" not in bad
    assert "pex-backend error: tool.pexbin.interpreter-constraints[0]: 'CPython>=>3' is not an interpreter" in bad
    pyproject.write_text(good)

    # A copy with a file missing is seen as damaged: pex is asked for, and the build (after an edit, so pex runs)
    # drops the copy and makes it again; the next build installs no pex.
    cache = Path(project.env["PEXBIN_CACHE_DIR"]) / f"v{FORMAT}" / "pex-copies"
    (next(cache.iterdir()) / "pex" / "pep_427.py").unlink()
    cli = project.path / "src" / "hello" / "cli.py"
    cli.write_text(cli.read_text().replace('f"hi, {name}"', 'f"hey, {name}"'))
    repaired = said(project.build("build", out, "--wheel"))
    assert ASKED_FOR_PEX in repaired and "dropped a damaged build cache entry (pex copy of pex" in repaired
    assert "pex==" not in said(project.build("build", out, "--wheel"))

    # A damage the quick look cannot see (a changed byte, a file the same size): build_wheel's whole check
    # drops it, and there is no pex to fall back on: one clear error, and the next build installs pex. (After an
    # edit: a build of the sources the last one built checks the copy only if it imports pex; see test_no_change.)
    spoiled = next(cache.iterdir()) / "pex" / "version.py"
    spoiled.write_bytes(spoiled.read_bytes()[:-1] + b"#")
    cli.write_text(cli.read_text().replace('f"hey, {name}"', 'f"howdy, {name}"'))
    failed = said(project.build("build", out, "--wheel", check=False))
    assert "dropped a damaged build cache entry (pex copy of pex" in failed
    assert f"pex-backend error: pex {DEFAULT_PEX_VERSION} is not installed in the build environment" in failed
    assert "Traceback" not in failed
    assert ASKED_FOR_PEX in said(project.build("build", out, "--wheel"))
    # That build made the copy again (its first pex worker starts with the build, whether pex runs or not).
    assert requires(project) == []

    # The copy removed (as `pexbin cache prune` would), the hook asks for pex.
    for copy in cache.iterdir():
        shutil.rmtree(copy)
    assert requires(project) == [ASKED_FOR_PEX]


def requires(project, **env: str) -> list:
    """What get_requires_for_build_wheel asks for beyond setuptools' own, the hook called as a frontend calls it."""
    hook = "import json, pex_backend; print(json.dumps(pex_backend.get_requires_for_build_wheel()))"
    result = run([sys.executable, "-c", hook], cwd=project.path, env={**project.env, **env})
    return [r for r in json.loads(result.stdout.splitlines()[-1]) if r.startswith("pex")]


def test_a_pex_imported_from_a_zip_is_run_as_it_is_not_copied(tmp_path):
    """pex's compiled copy is a shortcut for a pex installed as files; one imported from a zip (run from a PEX, an
    egg) is not copied: one notice, and the workers import it as the build does."""
    import pex

    zipped = Path(shutil.make_archive(str(tmp_path / "pex"), "zip", Path(pex.__file__).parents[1], "pex"))
    code = (
        "import sys; from pathlib import Path; import pex; from pex_backend.pex.cache import open_cache; "
        "from pex_backend.pex.workers import WORKER, Interpreter, WorkerCommand; print(pex.__file__); "
        "command = WorkerCommand(open_cache(Path('c')), Interpreter(sys.executable, '.'), Path('.')); "
        "print(command() == [sys.executable, str(WORKER)] and command.copying is None)"
    )
    path = os.pathsep.join([str(zipped), str(Path(__file__).parents[2])])
    result = run([sys.executable, "-c", code], cwd=tmp_path, env={**os.environ, "PYTHONPATH": path})
    where, notice, copy = result.stdout.splitlines()
    assert where.startswith(str(zipped)) and copy == "True", result.stdout
    assert notice.startswith("pex-backend: notice: running pex from") and "not a compiled copy" in notice
    assert list((tmp_path / "c" / f"v{FORMAT}" / "pex-copies").glob("*")) == []


# A setup.py that holds setuptools' wheel build while the file HOLD_WHEEL exists, then fails if FAIL_WHEEL does.
HOLDING_SETUP = """import os, sys, time
from setuptools import setup
if "bdist_wheel" in sys.argv:  # build_wheel, not get_requires_for_build_wheel
    open(os.environ["HOLD_WHEEL"], "w").close()
while os.path.exists(os.environ["HOLD_WHEEL"]):
    time.sleep(0.05)
if "bdist_wheel" in sys.argv and os.path.exists(os.environ["FAIL_WHEEL"]):
    raise SystemExit("broken on purpose")
setup()
"""


def workers_of(cache: Path) -> List[int]:
    """The pex workers running with this build cache's compiled copy of pex."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(part.endswith(b"worker.py") for part in command) and any(str(cache).encode() in p for p in command):
            found.append(int(entry.name))
    return found


def wait_for(condition, what: str, seconds: float = 120):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)
    return condition()


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="reads the processes' command lines in /proc")
def test_pex_s_first_worker_starts_while_setuptools_builds_the_wheel(hello_built, tmp_path):
    """The first pex worker runs while setuptools builds the wheel; a build that fails or is killed then leaves no
    worker behind."""
    project, out = hello_built.project, hello_built.out  # built: the cache holds pex's copy, a worker starts at once
    hold, fail = tmp_path / "hold", tmp_path / "fail"
    timed = type(project)(project.path, {**project.env, "PEXBIN_TIMINGS": "1"})
    steps = re.findall(r"pex-backend: timing: (.+) \d+\.\d{3} s", said(timed.build("uv", out, "--wheel")))
    assert steps.index("starting pex's first worker") < steps.index("setuptools' wheel"), steps
    (project.path / "setup.py").write_text(HOLDING_SETUP)
    cache = Path(project.env["PEXBIN_CACHE_DIR"])
    command = [sys.executable, "-m", "uv", "build", "--wheel", "-o", str(out), str(project.path)]
    env = {**project.env, "HOLD_WHEEL": str(hold), "FAIL_WHEEL": str(fail)}
    for ending in ("killed", "failed"):
        build = subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            wait_for(hold.exists, "setuptools never ran setup.py")
            workers = wait_for(lambda: workers_of(cache), "no pex worker started while the wheel was being built")
            if ending == "killed":  # the backend alone: its worker is not killed with it
                os.kill(int(Path(f"/proc/{workers[0]}/stat").read_text().rsplit(")", 1)[1].split()[1]), signal.SIGKILL)
            else:
                fail.touch()
            hold.unlink()
            printed = build.communicate(timeout=TIMEOUT)[0].decode()
            assert build.returncode != 0 and ("broken on purpose" in printed or ending == "killed"), printed
            wait_for(lambda: not workers_of(cache), f"a build that {ending} left a pex worker behind", 20)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(build.pid, signal.SIGKILL)
