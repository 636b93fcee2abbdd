"""docs/ci.md's recipe: its shell steps (the `sh ci-step` blocks) run against a sample project from the local
wheelhouse, as the build job, as a later build job on the restored cache at another path, and as the verify job
that has only `dist/`; both pipelines in the page hold the steps line for line."""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path
from typing import Dict, List

from conftest import ROOT, listing, run
from uv import find_uv_bin

CI = ROOT / "docs" / "ci.md"
HELLO = ["hello.pex", "hello_admin-main.pex", "report_py.pex"]
SBOMS = ["hello.cdx.json", "hello_admin-main.cdx.json", "report_py.cdx.json"]
COMMITTED = "2023-11-14T22:13:20+00:00"  # SOURCE_DATE_EPOCH 1700000000


def blocks(info: str) -> List[str]:
    return re.findall(rf"^```{re.escape(info)}\n(.*?)^```$", CI.read_text(), re.S | re.M)


def test_both_pipelines_hold_the_shell_steps():
    steps, pipelines = blocks("sh ci-step"), blocks("yaml")
    assert len(steps) == 2 and len(pipelines) == 2
    for pipeline in pipelines:
        lines = [line.strip() for line in pipeline.splitlines()]
        for step in steps:
            for line in step.splitlines():
                assert line.strip() in lines, line


def checkout(source: Path, where: Path) -> Path:
    shutil.copytree(source, where, ignore=shutil.ignore_patterns("dist", "pypi", "release", ".pexbin-cache"))
    return where


def job(step: str, cwd: Path, env: Dict[str, str]) -> str:
    result = run(["bash", "-euo", "pipefail", "-c", step], cwd=cwd, env=env)
    return result.stdout + result.stderr


def test_the_recipe_builds_publishes_reuses_its_cache_and_verifies(sample, tmp_path):
    build, verify = blocks("sh ci-step")
    project = sample("hello")
    pyproject = project.path / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("[tool.pexbin]\n", "[tool.pexbin]\nsbom = true\n"))
    tools = tmp_path / "tools"  # on PATH: uv and uvx, as setup-uv gives them
    tools.mkdir()
    for name in ("uv", "uvx"):
        (tools / name).symlink_to(Path(find_uv_bin()).with_name(name))
    env = {k: v for k, v in project.env.items() if k not in ("UV", "SOURCE_DATE_EPOCH", "PEXBIN_CACHE_DIR")}
    env["PATH"] = f"{tools}:/usr/bin:/bin"
    git = ["git", "-c", "user.name=ci", "-c", "user.email=ci@example.com"]
    run([*git, "init", "-q"], cwd=project.path)
    run([*git, "add", "-A"], cwd=project.path)
    dated = {**env, "GIT_COMMITTER_DATE": COMMITTED, "GIT_AUTHOR_DATE": COMMITTED}
    run([*git, "commit", "-q", "-m", "release"], cwd=project.path, env=dated)

    first = checkout(project.path, tmp_path / "job1" / "hello")
    said = job(build, first, {**env, "PEXBIN_CACHE_DIR": str(first / ".pexbin-cache")})
    assert "pex-backend: resolved" in said
    assert listing(first / "pypi") == ["hello-1.0-py3-none-any.whl", "hello-1.0.tar.gz"]
    assert listing(first / "release") == sorted(["SHA256SUMS", "hello-1.0.pexbin.json", *HELLO, *SBOMS])
    run(["sha256sum", "-c", "--quiet", "SHA256SUMS"], cwd=first / "release", env=env)
    online = {k: v for k, v in env.items() if k != "UV_OFFLINE"}  # uv publish refuses to run offline (--dry-run)
    published = run([sys.executable, "-m", "uv", "publish", "--dry-run", "--publish-url", "http://127.0.0.1:9/legacy/",
                     "--token", "unused", "pypi/*"], cwd=first, env=online)  # fmt: skip
    assert "Checking hello-1.0-py3-none-any.whl" in published.stderr
    assert "Checking hello-1.0.tar.gz" in published.stderr

    # The next run: another checkout at another path, the cache restored into it.
    second = checkout(project.path, tmp_path / "job2" / "hello")
    shutil.copytree(first / ".pexbin-cache", second / ".pexbin-cache", symlinks=True)
    said = job(build, second, {**env, "PEXBIN_CACHE_DIR": str(second / ".pexbin-cache")})
    assert "pex-backend: resolved" not in said
    for name in HELLO:
        assert f"pex-backend: reused {name} from the build cache" in said, said
    for name in [*HELLO, *SBOMS, "hello-1.0-py3-none-any.whl"]:
        assert (second / "dist" / name).read_bytes() == (first / "dist" / name).read_bytes(), name

    # The verify job has the build job's dist/ alone.
    third = tmp_path / "job3"
    shutil.copytree(first / "dist", third / "dist")
    said = job(verify, third, {**env, "PEXBIN_CACHE_DIR": str(tmp_path / "never-used")})
    assert "verified hello 1.0: the wheel and the 6 files rebuilt from hello-1.0.tar.gz are byte-identical" in said
    assert "rebuilding from hello-1.0.tar.gz with uv" in said
