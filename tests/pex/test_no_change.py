"""A build with nothing changed: the PEX files already in the output directory are the cache's, hashed where they
are and left there; only the record is written again."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Dict, Tuple

from first_build import hello_built_fixture  # noqa: F401 (the fixture `hello_built`)
from pex.pip.version import PipVersion
from test_reliability import PEX_FILES, RECORD, assert_record_agrees, flip_a_byte

from pex_backend.backend.config.table import DEFAULT_PEX_VERSION, DEFAULT_PIP_VERSION


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
