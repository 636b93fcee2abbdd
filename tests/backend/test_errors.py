"""Mistakes stop the build with one line naming the key; failed builds leave earlier artifacts alone."""

from __future__ import annotations

from pathlib import Path

from conftest import listing, run_pex


def append_to_table(project, lines: str) -> None:
    """Add keys to the sample's `[tool.pexbin]` table, which is its last table."""
    path = project.path / "pyproject.toml"
    path.write_text(path.read_text() + lines + "\n")


def failure(project, out: Path):
    result = project.build("uv", out, "--wheel", check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "Traceback" not in output
    errors = [line for line in output.splitlines() if line.startswith("pex-backend error:")]
    assert len(errors) == 1, output
    return errors[0], output


def test_bad_table_is_one_line_naming_the_key(sample, tmp_path):
    project = sample("hello")
    append_to_table(project, 'execution_mode = "fast"')
    line, _ = failure(project, tmp_path / "dist")
    assert line == (
        "pex-backend error: tool.pexbin.execution_mode: expected one of 'zipapp', 'venv', got the string 'fast'"
    )
    assert not (tmp_path / "dist").exists() or listing(tmp_path / "dist") == []


def test_entry_points_that_do_not_exist_are_named(sample, tmp_path):
    project = sample("hello")
    text = (project.path / "pyproject.toml").read_text()
    project.pyproject(text.replace('"src/hello/tools/report.py"]', '"hello.admin:nomain", "hello.nothere"]'))
    line, _ = failure(project, tmp_path / "dist")
    assert line == (
        "pex-backend error: tool.pexbin.entry-points[2]: 'hello.admin:nomain': "
        "module 'hello.admin' in the wheel defines no 'nomain'"
    )
    project.pyproject(text.replace('"src/hello/tools/report.py"]', '"hello.nothere"]'))
    line, _ = failure(project, tmp_path / "dist")
    assert line == (
        "pex-backend error: tool.pexbin.entry-points[2]: 'hello.nothere' is neither a console script "
        "of the wheel (it has: hello) nor a module in it"
    )
    project.pyproject(text.replace('"src/hello/tools/report.py"]', '"src/hello/tools/gone.py"]'))
    line, _ = failure(project, tmp_path / "dist")
    assert (
        line
        == "pex-backend error: tool.pexbin.entry-points[2]: 'src/hello/tools/gone.py': no such file in the project root"
    )
    assert listing(tmp_path / "dist") == []


def test_interpreter_constraints_no_local_interpreter_meets(sample, tmp_path):
    project = sample("hello")
    append_to_table(project, 'interpreter-constraints = ["CPython==2.6.*"]')
    line, _ = failure(project, tmp_path / "dist")
    assert line == (
        "pex-backend error: tool.pexbin.interpreter-constraints: no interpreter on this machine satisfies "
        "CPython==2.6.*; install one, or set `platforms` or `complete-platforms` to build for other machines"
    )


def test_two_binaries_with_one_name_are_named_both(sample, tmp_path):
    project = sample("hello")
    append_to_table(project, '[tool.pexbin.binaries."hello_admin-main"]\nentry-point = "hello.cli:main"')
    line, _ = failure(project, tmp_path / "dist")
    assert line == (
        "pex-backend error: tool.pexbin.binaries.hello_admin-main: gives the file name 'hello_admin-main'.pex, "
        "as tool.pexbin.entry-points[1] does; set `output-name` in an override for one of them"
    )


def test_a_failed_build_leaves_earlier_artifacts_alone(sample, tmp_path):
    project = sample("hello")
    out = tmp_path / "dist"
    project.build("uv", out, "--wheel")
    before = {name: (out / name).read_bytes() for name in listing(out)}

    append_to_table(project, 'dependencies = ["no-such-dist-anywhere>=1"]')
    (project.path / "src" / "hello" / "cli.py").write_text("def main():\n    print('changed')\n")
    line, output = failure(project, out)
    assert line.startswith("pex-backend error: uv failed while resolving hello==1.0's requirements")
    assert "no-such-dist-anywhere" in output  # the resolver's own message comes through
    assert {name: (out / name).read_bytes() for name in listing(out)} == before
    assert "hello, Ann" in run_pex(out / "hello.pex", "Ann").stdout
