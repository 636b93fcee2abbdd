"""sample_projects/hello as its first build leaves it: the state many tests start from, built once per test process
and copied for each test, which then changes its copy as it likes.

A helper module, not `tests/pex/conftest.py`: conftest files outside packages share the module name `conftest`, and
a second one would take the name the tests import `run`, `Project` and the rest from."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional

import pytest
from conftest import SAMPLES, Project, with_pex_copy


@dataclass
class FirstBuild:
    """A copy of the project, its build cache and `dist/` as `uv build --wheel` left them, and what it printed."""

    project: Project
    out: Path
    printed: str
    """What the first build printed, with Python's import timings of the backend's processes."""


PARTS = ("projects", "pexbin-cache", "dist")
"""Where `sample` puts a project and its build cache, and where the tests build to: the copy keeps those places."""

built: Optional[FirstBuild] = None
"""This process's first build of hello, kept under the session's temporary directory."""


def built_once(offline_env: Dict[str, str], pex_copy: Path, tmp_path_factory: pytest.TempPathFactory) -> FirstBuild:
    """`uv build --wheel` of hello with a new build cache holding pex's compiled copy (as `sample` gives it): made
    on the first call in this process, then kept (no key holds the project's path or the cache's, so a copy of the
    three is what the build left in place)."""
    global built
    if built is None:
        root = tmp_path_factory.mktemp("hello-first-build")
        project = Project(root / "projects" / "hello", {**offline_env, "PEXBIN_CACHE_DIR": str(root / "pexbin-cache")})
        shutil.copytree(SAMPLES / "hello", project.path)
        with_pex_copy(root / "pexbin-cache", pex_copy)
        # Python's import timings of the backend's processes (pex's workers print theirs into their own logs).
        timed = Project(project.path, {**project.env, "PYTHONPROFILEIMPORTTIME": "1"})
        result = timed.build("uv", root / "dist", "--wheel")
        built = FirstBuild(project, root / "dist", result.stdout + result.stderr)
    return built


@pytest.fixture(name="hello_built")
def hello_built_fixture(offline_env: Dict[str, str], pex_copy: Path, tmp_path_factory, tmp_path: Path) -> FirstBuild:
    """This test's own copy of hello's first build: the project, its build cache (symbolic links kept, every file
    copied: a test may damage an entry in place) and `dist/`."""
    first = built_once(offline_env, pex_copy, tmp_path_factory)
    root = first.out.parent
    for part in PARTS:
        shutil.copytree(root / part, tmp_path / part, symlinks=True)
    env = {**first.project.env, "PEXBIN_CACHE_DIR": str(tmp_path / "pexbin-cache")}
    return FirstBuild(Project(tmp_path / "projects" / "hello", env), tmp_path / "dist", first.printed)
