"""uv as an installing frontend: `uv pip install`, `uv tool install` and a non-editable `uv sync` build the wheel
alone (uv keeps nothing else), unless `-C pexbin.output-dir=DIR` asks for PEX files; `uv build` builds them all."""

from __future__ import annotations

import sys
from pathlib import Path

from conftest import listing, run, run_pex

HELLO = ["hello.pex", "hello_admin-main.pex", "report_py.pex"]
SKIPPED = "pex-backend: no PEX files: uv keeps only the wheel; set -C pexbin.output-dir=DIR on uv's command line"


def uv(*args: object, env: dict, cwd: Path | None = None):
    return run([sys.executable, "-m", "uv", *args], env=env, cwd=cwd)


def said(result) -> str:
    return result.stdout + result.stderr


def resolves(cache_dir: Path) -> list:
    return sorted(p.name for p in cache_dir.glob("v*/resolves/*"))


def test_uv_installs_build_no_pex_even_with_an_output_dir_exported(sample, tmp_path):
    project = sample("hello")
    exported = tmp_path / "exported"
    env = {**project.env, "PEXBIN_OUTPUT_DIR": str(exported)}
    target = tmp_path / "venv"
    uv("venv", "-q", target, env=env)

    installed = uv("pip", "install", "-v", "--python", target / "bin" / "python", project.path, env=env)
    assert SKIPPED in said(installed)
    assert "hello, Ann" in run([target / "bin" / "hello", "Ann"]).stdout

    tools = {**env, "UV_TOOL_DIR": str(tmp_path / "tools"), "UV_TOOL_BIN_DIR": str(tmp_path / "tool-bin")}
    assert SKIPPED in said(uv("tool", "install", "-v", project.path, env=tools))
    assert "hello, Bo" in run([tmp_path / "tool-bin" / "hello", "Bo"]).stdout

    # A cache of its own: uv would install the wheel it built for the tool.
    synced_env = {**env, "UV_PROJECT_ENVIRONMENT": str(tmp_path / "synced"), "UV_CACHE_DIR": str(tmp_path / "uv")}
    synced = uv("sync", "-v", "--no-editable", env=synced_env, cwd=project.path)
    assert SKIPPED in said(synced)
    assert "hello, Cy" in run([tmp_path / "synced" / "bin" / "hello", "Cy"]).stdout

    assert not exported.exists() and not list(tmp_path.rglob("*.pex"))
    assert resolves(Path(project.env["PEXBIN_CACHE_DIR"])) == []  # nothing resolved either

    # Asked for on uv's command line, an install builds them (uv's cache off, so that uv builds the wheel again).
    asked = tmp_path / "asked"
    uv("pip", "install", "--no-cache", "--reinstall", "--python", target / "bin" / "python",
       "-C", f"pexbin.output-dir={asked}", project.path, env=project.env)  # fmt: skip
    assert set(HELLO) <= set(listing(asked))
    assert "hello, Di" in run_pex(asked / "hello.pex", "Di").stdout

    # `uv build` keeps its output directory, and the PEX files in it.
    out = tmp_path / "dist"
    built = project.build("uv", out, "--wheel")
    assert SKIPPED not in said(built)
    assert set(HELLO) <= set(listing(out))
