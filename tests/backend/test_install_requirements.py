"""An install that will write no PEX files asks the frontend for no pex: `pip install .` (pip's build tracker in the
hook's environment says so before the wheel directory does) builds from a wheelhouse that has no pex."""

from __future__ import annotations

import shutil

from conftest import run


def test_pip_install_asks_for_no_pex_unless_pex_files_are_asked_for(sample, wheelhouse, tmp_path, new_venv):
    project = sample("hello")
    house = tmp_path / "wheelhouse"  # without pex (and uv): a build asking for either fails
    house.mkdir()
    for wheel in wheelhouse.iterdir():
        if not wheel.name.startswith(("pex-", "uv-")):
            shutil.copy2(wheel, house)
    env = {**project.env, "PIP_FIND_LINKS": str(house), "UV_FIND_LINKS": str(house)}
    target = tmp_path / "venv"
    new_venv(target)
    python = target / "bin" / "python"

    run([python, "-m", "pip", "install", project.path], env=env)
    assert "hello, Ann" in run([target / "bin" / "hello", "Ann"]).stdout

    asked = run([python, "-m", "pip", "install", "--force-reinstall", "--no-deps", "-C",
                 f"pexbin.output-dir={tmp_path / 'pexes'}", project.path], env=env, check=False)  # fmt: skip
    assert asked.returncode != 0
    # It asks for pex and uv, which this wheelhouse lacks: pip names the first it cannot find.
    said = asked.stdout + asked.stderr
    assert "No matching distribution found for pex==" in said or "No matching distribution found for uv>=" in said
