"""`pexbin verify` in an environment uv made, which has no pip: the rebuild runs `uv build`."""

from __future__ import annotations

import sys

from conftest import run
from uv import find_uv_bin

SOURCE_DATE_EPOCH = "1700000000"


def test_verify_rebuilds_with_uv_where_the_environment_has_no_pip(sample, tmp_path):
    project = sample("hello")
    dist = tmp_path / "dist"
    project.env["SOURCE_DATE_EPOCH"] = SOURCE_DATE_EPOCH
    project.build("uv", dist)

    target = tmp_path / "venv"
    run([sys.executable, "-m", "uv", "venv", "-q", target], env=project.env)
    run([sys.executable, "-m", "uv", "pip", "install", "-q", "--python", target / "bin" / "python",
         "pex-backend[cli]"], env=project.env)  # fmt: skip
    assert run([target / "bin" / "python", "-c", "import pip"], check=False).returncode != 0
    only_uv = tmp_path / "only-uv"  # on PATH: uv, and no pip of any other environment
    only_uv.mkdir()
    (only_uv / "uv").symlink_to(find_uv_bin())
    env = {k: v for k, v in project.env.items() if k not in ("SOURCE_DATE_EPOCH", "UV")}
    env.update(PATH=f"{only_uv}:/usr/bin:/bin", PEXBIN_CACHE_DIR=str(tmp_path / "never-used"))

    result = run([target / "bin" / "pexbin", "verify", dist], env=env, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "verify: rebuilding from hello-1.0.tar.gz with uv (build cache off)" in result.stderr
    assert result.stdout.splitlines() == [
        "verified hello 1.0: the wheel and the 3 files rebuilt from hello-1.0.tar.gz are byte-identical to "
        "hello-1.0.pexbin.json"
    ]
    assert not (tmp_path / "never-used").exists()

    # Neither pip nor uv: one line saying so.
    env["PATH"] = "/usr/bin:/bin"
    result = run([target / "bin" / "pexbin", "verify", dist], env=env, check=False)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1] == (
        "pex-backend error: verify: rebuilding needs pip or uv, and this environment has neither: add pip "
        "(`python -m ensurepip`) or put uv on PATH"
    )
