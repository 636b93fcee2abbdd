"""A build with nothing changed: the PEX files already in the output directory are the cache's, hashed where they
are and left there; only the record is written again."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import shutil
import sys
import time
from pathlib import Path
from typing import Dict, List, Tuple

from conftest import run, run_pex, with_pex_copy
from first_build import hello_built_fixture  # noqa: F401 (the fixture `hello_built`)
from pex.pip.version import PipVersion
from test_reliability import PEX_FILES, RECORD, assert_record_agrees, flip_a_byte, said

from pex_backend.backend.config.table import DEFAULT_PEX_VERSION, DEFAULT_PIP_VERSION
from pex_backend.pex.cache import FORMAT
from pex_backend.pex.cache_files import DigestsAhead


def identities(out: Path) -> Dict[str, Tuple[int, int]]:
    """Each PEX file's inode and mtime: what a copy renamed over it would change."""
    return {name: (os.stat(out / name).st_ino, os.stat(out / name).st_mtime_ns) for name in PEX_FILES}


def test_a_no_change_build_leaves_the_pex_files_in_place(hello_built, tmp_path):
    project, out = hello_built.project, hello_built.out
    before, record = identities(out), (out / RECORD).stat()
    # Python's import timings of the backend (pex's workers print theirs into their own logs).
    built = type(project)(project.path, {**project.env, "PYTHONPROFILEIMPORTTIME": "1"}).build("uv", out, "--wheel")
    said = built.stdout + built.stderr
    # No pex module imported but `pex.version`: the build's arguments need no answer from pex they do not know.
    assert not re.findall(r"\| +(pex\.(?!version\b)[\w.]+)$", said, re.MULTILINE), said
    assert all(f"reused {name} from the build cache" in said for name in PEX_FILES), said
    assert identities(out) == before
    assert (out / RECORD).stat().st_ino != record.st_ino  # the record is still written again, last
    assert_record_agrees(out)

    # A PEX edited by hand (its size unchanged) is not the cache's: it is replaced, and only it.
    flip_a_byte(out / "hello.pex")
    project.build("uv", out, "--wheel")
    after = identities(out)
    assert after["hello.pex"] != before["hello.pex"]
    assert {n: after[n] for n in PEX_FILES[1:]} == {n: before[n] for n in PEX_FILES[1:]}
    assert_record_agrees(out)

    # Every PEX is the bytes a build without the cache writes.
    plain = tmp_path / "plain"
    type(project)(project.path, {**project.env, "PEXBIN_NO_CACHE": "1"}).build("uv", plain, "--wheel")
    for name in PEX_FILES:
        assert (out / name).read_bytes() == (plain / name).read_bytes(), name


def test_the_pinned_pex_knows_the_pinned_pip():
    """What `args.pex_knows_pip` answers without importing pex's pip module."""
    import pex.version

    assert pex.version.__version__ == DEFAULT_PEX_VERSION
    assert DEFAULT_PIP_VERSION in [str(known) for known in PipVersion.values()]


def test_a_kept_interpreter_answer_is_checked_before_it_is_trusted(tmp_path):
    from pex_backend.backend.constraints import running_interpreter_matches

    answers = tmp_path / "answers"
    assert running_interpreter_matches([">=3.0"], str(answers)) is True
    (kept,) = answers.iterdir()
    stored = json.loads(kept.read_text())
    for spoiled in ({**stored, "matches": False, "identity": ["another python"]}, {**stored, "matches": "no"}):
        kept.write_text(json.dumps(spoiled))
        assert running_interpreter_matches([">=3.0"], str(answers)) is True
    kept.write_text(json.dumps({**stored, "matches": False}))  # a whole answer for this interpreter is taken
    assert running_interpreter_matches([">=3.0"], str(answers)) is False


def steps_of(printed: str) -> List[str]:
    return re.findall(r"pex-backend: timing: (.+) \d+\.\d{3} s", printed)


def pex_modules(printed: str) -> List[str]:
    """The pex modules the backend imported, from Python's import timings."""
    return re.findall(r"\| +(pex(?:\.[\w.]+)?)$", printed, re.MULTILINE)


def test_a_first_build_has_pex_s_worker_judge_the_interpreter_constraints(hello_built):
    """hello's `requires-python` is its interpreter constraint: the first build, with no answer kept, asks pex's
    worker whether the build interpreter meets it (the worker has pex imported), keeps the answer, and imports no
    more of pex itself than its version."""
    imported = set(pex_modules(hello_built.printed))
    assert "pex.version" in imported and not imported & {"pex.interpreter", "pex.interpreter_constraints"}, imported
    kept = list(Path(hello_built.project.env["PEXBIN_CACHE_DIR"]).rglob("matches-*.json"))
    assert [json.loads(answer.read_text())["matches"] for answer in kept] == [True]


def test_a_build_of_the_sources_the_last_one_built_runs_no_pex(hello_built):
    """Sources as the last successful build left them: no pex worker starts beside setuptools, and the build
    imports no pex, nor reads pex's copy; a file added, or the build files changed, and the worker starts again."""
    project, out = hello_built.project, hello_built.out
    timed = type(project)(project.path, {**project.env, "PEXBIN_TIMINGS": "1", "PYTHONPROFILEIMPORTTIME": "1"})
    # The first build of this copy: its directory is new to the cache, and the worker starts at once.
    assert "starting pex's first worker" in steps_of(said(timed.build("uv", out, "--wheel")))
    again = said(timed.build("uv", out, "--wheel"))
    assert all(f"reused {name} from the build cache" in again for name in PEX_FILES), again
    assert "starting pex's first worker" not in steps_of(again), again
    assert pex_modules(again) == [], again

    # A module added beside the listed ones (not in SOURCES.txt yet): its directory's time says so.
    (project.path / "src" / "hello" / "extra.py").write_text("VALUE = 1\n")
    added = said(timed.build("uv", out, "--wheel"))
    assert "starting pex's first worker" in steps_of(added), added
    assert "starting pex's first worker" not in steps_of(said(timed.build("uv", out, "--wheel")))
    # The project's build files are looked at too.
    pyproject = project.path / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + "\n")
    assert "starting pex's first worker" in steps_of(said(timed.build("uv", out, "--wheel")))

    # pex's copy is not read at all (a byte changed in it goes unseen), yet counts as used for `prune --days`.
    (copy,) = (Path(project.env["PEXBIN_CACHE_DIR"]) / f"v{FORMAT}" / "pex-copies").iterdir()
    flip_a_byte(copy / "pex" / "version.py")
    days_ago = time.time() - 3 * 86400
    os.utime(copy, (days_ago, days_ago))
    unread = said(timed.build("uv", out, "--wheel"))
    assert "dropped a damaged build cache entry" not in unread and pex_modules(unread) == [], unread
    assert copy.stat().st_mtime > days_ago + 86400


def test_a_wrong_guess_still_checks_pex_s_copy_and_builds_the_same_bytes(hello_built, tmp_path):
    """Sources as the last build left them, but the PEX files gone from the cache and from dist/ (a prune): the
    build, which then needs pex, checks pex's copy when it imports pex (damaged here: one clear error), and once
    pex is installed again writes the bytes of a build without the cache."""
    project, out = hello_built.project, hello_built.out
    project.build("uv", out, "--wheel")  # this copy's directory, known to the cache from now on
    cache = Path(project.env["PEXBIN_CACHE_DIR"]) / f"v{FORMAT}"
    for kind in ("pex", "bases"):
        shutil.rmtree(cache / kind)
    for name in PEX_FILES:
        (out / name).unlink()
    (copy,) = (cache / "pex-copies").iterdir()
    spoiled = copy / "pex" / "version.py"
    spoiled.write_bytes(spoiled.read_bytes()[:-1] + b"#")
    failed = said(project.build("uv", out, "--wheel", check=False))
    assert "dropped a damaged build cache entry (pex copy of pex" in failed, failed
    assert f"pex-backend error: pex {DEFAULT_PEX_VERSION} is not installed in the build environment" in failed
    assert "Traceback" not in failed
    assert not (out / "hello.pex").exists()

    project.build("uv", out, "--wheel")  # pex installed, as the error said
    assert "hello, Bob" in run_pex(out / "hello.pex", "Bob").stdout
    plain = tmp_path / "plain"
    type(project)(project.path, {**project.env, "PEXBIN_NO_CACHE": "1"}).build("uv", plain, "--wheel")
    for name in PEX_FILES:
        assert (out / name).read_bytes() == (plain / name).read_bytes(), name


# A setup.py that, while setuptools builds the wheel, changes a byte of the file FLIP_WHILE_BUILDING names (in place:
# its size and inode kept), after the build has had time to hash the PEX files in dist/ ahead.
FLIPPING_SETUP = """import os, sys, time
from setuptools import setup
if "bdist_wheel" in sys.argv and os.environ.get("FLIP_WHILE_BUILDING"):
    time.sleep(1)
    with open(os.environ["FLIP_WHILE_BUILDING"], "r+b") as file:
        file.seek(os.path.getsize(file.name) // 2)
        byte = file.read(1)[0]
        file.seek(-1, 1)
        file.write(bytes([byte ^ 0xFF]))
setup()
"""


def test_a_pex_changed_after_it_was_hashed_ahead_is_replaced(hello_built):
    """A build of unchanged sources hashes the PEX files in dist/ while setuptools builds the wheel; a hash is used
    only while the file is as it was when hashed: one changed meanwhile is hashed again, and replaced."""
    project, out = hello_built.project, hello_built.out
    (project.path / "setup.py").write_text(FLIPPING_SETUP)
    project.build("uv", out, "--wheel")
    clean = {name: (out / name).read_bytes() for name in PEX_FILES}
    env = {**project.env, "FLIP_WHILE_BUILDING": str(out / "hello.pex"), "PEXBIN_TIMINGS": "1"}
    printed = said(type(project)(project.path, env).build("uv", out, "--wheel"))
    assert "starting pex's first worker" not in steps_of(printed), printed  # the build expected no change
    assert "reused hello.pex from the build cache" in printed
    assert {name: (out / name).read_bytes() for name in PEX_FILES} == clean
    assert_record_agrees(out)


def test_digests_taken_ahead_are_given_only_for_the_file_as_it_was(tmp_path):
    old, fresh = tmp_path / "old.pex", tmp_path / "fresh.pex"
    old.write_bytes(b"a" * 100)
    long_ago = time.time_ns() - 60 * 10**9
    os.utime(old, ns=(long_ago, long_ago))
    fresh.write_bytes(b"b" * 100)
    ahead = DigestsAhead()
    ahead.start([old, fresh])
    assert ahead.taken[str(old)].result()[1] == hashlib.sha256(b"a" * 100).hexdigest()
    assert ahead.taken[str(fresh)].result() is None  # written just now: a second write could keep its times
    assert ahead.of(fresh) == hashlib.sha256(b"b" * 100).hexdigest()
    assert ahead.of(old) == hashlib.sha256(b"a" * 100).hexdigest()
    # Written again in place, its size and times put back: its status change time still tells.
    with open(old, "r+b") as file:
        file.write(b"c")
    os.utime(old, ns=(long_ago, long_ago))
    assert ahead.of(old) == hashlib.sha256(b"c" + b"a" * 99).hexdigest()


# Run without site-packages (`-S`: this checkout and what it imports on sys.path, no pex): a build environment when
# the build cache holds pex's copy.
LAZY_COPY = """
import json, sys
from pathlib import Path
from pex_backend.pex.cache import open_cache
from pex_backend.pex.workers import copy_on_import, forget_copy_on_import, importable_pex, pex_version
root, wanted = Path(sys.argv[1]), sys.argv[2]
cache = open_cache(root)
said = {"left": importable_pex(cache, wanted, lazily=True), "held": len(cache.held), "version": pex_version()}
said["imported"] = "pex" in sys.modules
forget_copy_on_import()  # the build's end
said["forgotten"] = [copy_on_import() is None, len(cache.held)]
cache.close()
cache = open_cache(root)  # a second build in this process, which imports pex
importable_pex(cache, wanted, lazily=True)
import pex.version
said["second"] = [pex.version.__version__, pex.__file__.startswith(str(root)), copy_on_import() is None]
print(json.dumps(said))
"""


def test_a_copy_left_unread_until_pex_is_imported(tmp_path, pex_copy):
    site = tmp_path / "site"
    site.mkdir()
    for name in ("packaging", "setuptools", "_distutils_hack", "tomli"):  # what the backend imports, but pex
        spec = importlib.util.find_spec(name)
        if spec and spec.submodule_search_locations:
            (site / name).symlink_to(spec.submodule_search_locations[0])
    cache = tmp_path / "cache"
    with_pex_copy(cache, pex_copy)
    paths = [str(Path(__file__).parents[2]), str(site)]
    code = f"import sys; sys.path[:0] = {paths!r}\n{LAZY_COPY}"
    result = run([sys.executable, "-I", "-S", "-c", code, str(cache), DEFAULT_PEX_VERSION])
    said = json.loads(result.stdout.splitlines()[-1])
    # Left for pex's import: held (so that `prune` keeps it), its version from its key, pex not imported.
    assert said["left"] is True and said["held"] == 1 and said["version"] == DEFAULT_PEX_VERSION
    assert said["imported"] is False
    # At the build's end the finder goes, and lets go of the copy.
    assert said["forgotten"] == [True, 0]
    # Imported, pex comes from the copy, checked; the finder is gone.
    assert said["second"] == [DEFAULT_PEX_VERSION, True, True]
