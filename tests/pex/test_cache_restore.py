"""A build cache restored elsewhere, as CI restores one (`actions/cache`: a tar of the directory, at another path or
on another machine of the same image), is reused: no resolve and no pex run for PEX files whose sources did not
change, and the same bytes."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Dict

from conftest import SAMPLES, Project

HELLO = ["hello.pex", "hello_admin-main.pex", "report_py.pex"]
LATER = 2_000_000_000  # 2033: the mtime a restore or a fresh checkout might give every file


def machine(tmp_path: Path, name: str, project: Project, wheelhouse: Path, cache: Path) -> Dict[str, str]:
    """The environment of a CI job: a HOME of its own (so an empty pex, uv and XDG cache), the restored build cache
    and the job's checkout of the wheelhouse."""
    home = tmp_path / name
    home.mkdir()
    # Python writes bytecode there, as it does on a CI machine (this test's own environment may say otherwise).
    dropped = ("PEX_ROOT", "UV_CACHE_DIR", "XDG_CACHE_HOME", "PYTHONDONTWRITEBYTECODE")
    env = {k: v for k, v in project.env.items() if k not in dropped}
    return {**env, "HOME": str(home), "PEXBIN_CACHE_DIR": str(cache), "PEXBIN_TIMINGS": "1",
            "PIP_FIND_LINKS": str(wheelhouse), "UV_FIND_LINKS": str(wheelhouse)}  # fmt: skip


def touch_all(directory: Path) -> None:
    for root, _, names in os.walk(directory):
        for name in names:
            os.utime(Path(root, name), (LATER, LATER), follow_symlinks=False)


def build(project: Project, out: Path) -> str:
    result = project.build("uv", out, "--wheel")
    return result.stdout + result.stderr


def test_a_cache_copied_to_another_path_and_home_is_reused(wheelhouse, offline_env, tmp_path):
    house = tmp_path / "wheelhouse"  # the job's own, its mtimes changed below as a fresh checkout would
    shutil.copytree(wheelhouse, house)
    first = Project(tmp_path / "job1" / "hello", offline_env)
    shutil.copytree(SAMPLES / "hello", first.path)
    first.env = machine(tmp_path, "home1", first, house, tmp_path / "job1" / "cache")
    said = build(first, tmp_path / "dist1")
    assert "pex-backend: resolved" in said

    # Another job: the cache restored at another path, mtimes kept (`cp -a`); another HOME; the same sources
    # checked out at another path, every mtime new, and so is the wheelhouse's.
    restored = tmp_path / "job2" / "cache"
    shutil.copytree(tmp_path / "job1" / "cache", restored, symlinks=True)
    second = Project(tmp_path / "job2" / "hello", offline_env)
    shutil.copytree(SAMPLES / "hello", second.path)
    touch_all(second.path)
    touch_all(house)
    second.env = machine(tmp_path, "home2", second, house, restored)
    said = build(second, tmp_path / "dist2")
    for name in HELLO:
        assert f"pex-backend: reused {name} from the build cache" in said, said
        assert (tmp_path / "dist2" / name).read_bytes() == (tmp_path / "dist1" / name).read_bytes()
    assert "pex-backend: resolved" not in said and "timing: pex building" not in said, said

    # A restore that changes every mtime (the cache's too): edited sources build from the restored resolve with
    # the restored copy of pex, which a second edit's build finds whole (its bytecode left as it was).
    touched = tmp_path / "job3" / "cache"
    shutil.copytree(tmp_path / "job1" / "cache", touched, symlinks=True)
    touch_all(touched)
    third = Project(tmp_path / "job3" / "hello", offline_env)
    shutil.copytree(SAMPLES / "hello", third.path)
    third.env = machine(tmp_path, "home3", third, house, touched)
    cli = third.path / "src" / "hello" / "cli.py"
    for edit in ("# one\n", "# two\n"):
        cli.write_text(cli.read_text() + edit)
        said = build(third, tmp_path / "dist3")
        assert "pex-backend: reused the resolve of hello==1.0's requirements from the build cache" in said, said
        assert "dropped a damaged build cache entry" not in said, said
        assert "pex-backend: resolved" not in said
