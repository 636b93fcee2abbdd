"""`python -m pex_backend list | peek | dependencies | run` on sample projects, and the schema in validate-pyproject."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time

import pytest
from conftest import default_signals, run


def pexbin(project, command: str, *args: str, check: bool = True):
    return run(
        [sys.executable, "-m", "pex_backend", command, "--project", project.path, *args], env=project.env, check=check
    )


def test_list_shows_every_pex_with_its_entry_point_and_tags(sample):
    project = sample("fields")
    assert pexbin(project, "list").stdout.splitlines() == [
        "probe              probe                     cli,venv",
        "probe-packed       fields.probe:main         cli",
        "probe_py           src/fields/probe.py       cli",
        "probe_py-main      src/fields/probe.py:main  cli",
        "fields_probe-bare  fields.probe:bare         cli",
        "moo                cowsay                    cli",
    ]
    assert pexbin(project, "list", "--tag=venv").stdout.split() == ["probe", "probe", "cli,venv"]
    assert "probe " not in pexbin(project, "list", "--tag=cli,-venv").stdout
    assert len(pexbin(project, "list", "--tag=cli", "--tag=-venv").stdout.splitlines()) == 5
    assert pexbin(project, "list", "--documented").stdout.splitlines() == [
        "probe  probe   cli,venv",
        "  Runs from a venv",
        "moo    cowsay  cli",
        "  cowsay's own console script",
    ]


def test_peek_shows_the_final_fields_and_where_each_value_came_from(sample):
    project = sample("fields")
    probe = json.loads(pexbin(project, "peek", "probe").stdout)
    assert probe["runs"] == {"console_script": "probe"}
    assert probe["declared_at"] == "tool.pexbin.entry-points[0]"
    fields = probe["fields"]
    assert fields["execution-mode"] == {
        "value": "venv",
        "origin": "override",
        "key": 'tool.pexbin.overrides."probe".execution-mode',
    }
    assert fields["emit-warnings"] == {
        "value": True,
        "origin": "override",
        "key": 'tool.pexbin.overrides."probe, fields.probe:bare".emit-warnings',
    }
    assert fields["layout"] == {"value": "zipapp", "origin": "default"}
    assert fields["interpreter-constraints"] == {
        "value": [">=3.9"],
        "origin": "project",
        "key": "project.requires-python",
    }
    packed = json.loads(pexbin(project, "peek", "probe-packed").stdout)["fields"]
    assert packed["emit-warnings"] == {"value": False, "origin": "table", "key": "tool.pexbin.emit-warnings"}
    assert packed["output-name"]["origin"] == "override"
    moo = json.loads(pexbin(project, "peek", "moo").stdout)
    assert moo["runs"] == {"console_script": "cowsay"}
    assert moo["fields"]["description"]["key"] == "tool.pexbin.binaries.moo.description"


def test_list_and_peek_need_no_lockfile_and_what_resolves_names_the_missing_one(sample):
    project = sample("hello")
    pyproject = project.path / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + 'default-resolve = "default"\nresolves = { default = "pex.lock" }\n')
    assert pexbin(project, "list").stdout.split()[:2] == ["hello", "hello"]
    assert json.loads(pexbin(project, "peek", "hello").stdout)["fields"]["resolve"]["value"] == "default"
    for command in (["dependencies", "hello"], ["run", "hello"]):
        refused = pexbin(project, *command, check=False)
        assert refused.returncode == 1 and len(refused.stderr.splitlines()) == 1, refused.stderr
        assert "pex-backend error: tool.pexbin.resolves.default: 'pex.lock': no such file" in refused.stderr


def test_dependencies_are_resolved_per_platform(sample, foreign_wheels):
    project = sample("multi")
    found = json.loads(pexbin(project, "dependencies", "multi_main-run", "--json").stdout)
    assert found["project"] == "multi==1.0"
    assert list(found["targets"]) == [
        "linux_x86_64-cp-3.11.7-cp311",
        "linux_x86_64-cp-3.12.1-cp312",
        "macosx_11_0_arm64-cp-312-cp312",
    ]
    assert all(pins[0].startswith("charset-normalizer==3.") for pins in found["targets"].values())
    split = pexbin(project, "dependencies", "multi-split-macosx_11_0_arm64-cp-312-cp312").stdout
    assert split.splitlines()[0].startswith("multi-split-macosx_11_0_arm64-cp-312-cp312.pex for macosx_11_0_arm64")


def test_dependencies_leave_out_excluded_distributions(sample):
    project = sample("fields")
    assert pexbin(project, "dependencies", "probe").stdout.splitlines() == [
        "probe.pex for this machine (>=3.9), resolved from the package indexes:",
        "  fields==0.1 (the project's own wheel)",
        "  cowsay==6.1",
    ]
    excluded = json.loads(pexbin(project, "dependencies", "probe_py-main", "--json").stdout)
    assert excluded["targets"] == {"this machine (CPython>=3.9,<4)": []}
    assert excluded["excluded"] == ["cowsay"]


def test_dependencies_come_from_the_lockfile(sample):
    project = sample("hello")
    pyproject = project.path / "pyproject.toml"
    unlocked = pyproject.read_text()
    table = unlocked + 'default-resolve = "default"\nresolves = { default = "pex.lock" }\n'
    # Locked while the project asked for cowsay 6.0; the lock still satisfies `cowsay>=6` afterwards.
    pyproject.write_text(table.replace('"cowsay>=6"', '"cowsay==6.0"'))
    pexbin(project, "lock")
    pyproject.write_text(table)
    found = json.loads(pexbin(project, "dependencies", "hello", "--json").stdout)
    assert found["resolved_from"] == "lockfile pex.lock (resolve 'default')"
    assert found["targets"] == {"this machine (>=3.9)": ["cowsay==6.0"]}
    pyproject.write_text(unlocked)
    assert "cowsay==6.1" in pexbin(project, "dependencies", "hello").stdout  # the newest, without the lock


def test_run_passes_arguments_and_the_exit_code_through(sample):
    project = sample("ticker")
    first = pexbin(project, "run", "ticker-once", "--", "a", "--restart", "b c", check=False)
    assert (first.returncode, first.stdout) == (3, "tick v1: a --restart b c\n")
    assert "wrote ticker-once.pex" in first.stderr  # the build's lines stay off the program's stdout
    again = pexbin(project, "run", "ticker-once.pex", check=False)
    assert (again.returncode, again.stdout) == (0, "tick v1: \n")
    assert "reused ticker-once.pex from the build cache" in again.stderr


class Lines:
    """A process's output lines as they come, waited for with a deadline."""

    def __init__(self, stream) -> None:
        self.lines: queue.Queue = queue.Queue()
        self.seen: list = []
        threading.Thread(target=self.read, args=(stream,), daemon=True).start()

    def read(self, stream) -> None:
        for line in stream:
            self.lines.put(line)

    def wait_for(self, text: str, deadline: float) -> None:
        while not any(text in line for line in self.seen):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {text!r} in time; got {self.seen}")
            try:
                self.seen.append(self.lines.get(timeout=remaining))
            except queue.Empty:
                continue


def test_a_restartable_binary_is_rebuilt_and_restarted_when_a_source_changes(sample):
    project = sample("ticker")
    source = project.path / "ticker" / "__init__.py"
    command = [sys.executable, "-m", "pex_backend", "run", "ticker", "--project", project.path]
    process = subprocess.Popen(
        command,
        env=project.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=default_signals,
    )
    out, err = Lines(process.stdout), Lines(process.stderr)
    try:
        deadline = time.monotonic() + 120
        out.wait_for("tick v1: serving", deadline)
        source.write_text(source.read_text().replace("tick v1", "tick v2"))
        out.wait_for("tick v2: serving", deadline)
        err.wait_for("restarted ticker", deadline)
        process.send_signal(signal.SIGINT)  # Ctrl-C
        assert process.wait(timeout=30) == 130
    finally:
        process.kill()
    err.wait_for("stopped ticker", time.monotonic() + 5)
    out.wait_for("tick v2: stopped", time.monotonic() + 5)
    assert [line.strip() for line in out.seen] == [
        "tick v1: serving",
        "tick v1: stopped",  # stopped with SIGINT before the restart, so it could clean up
        "tick v2: serving",
        "tick v2: stopped",
    ]
    assert "ticker/__init__.py changed; rebuilding ticker" in "".join(err.seen)
    assert "Traceback" not in "".join(err.seen)


@pytest.mark.parametrize(
    "args, message",
    [
        (["peek", "tiker"], "NAME: no PEX named 'tiker' in this project; did you mean 'ticker'?"),
        (["peek"], "pexbin peek: the following arguments are required: NAME"),
        (["run", "ticker", "now"], "unrecognized arguments: now; the program's arguments go after `--`"),
        (["list", "--tag"], "pexbin list: argument --tag: expected one argument"),
    ],
)
def test_command_errors_are_one_line_naming_the_argument(sample, args, message):
    result = pexbin(sample("ticker"), *args, check=False)
    assert result.returncode in (1, 2)
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert message in result.stderr


@pytest.mark.parametrize(
    "args", [["peek", "hello", "--project"], ["list", "--project"], ["docs"]], ids=["peek", "list", "docs"]
)
def test_a_command_whose_reader_went_away_exits_quietly(sample, args):
    # As `pexbin peek hello | head -c 600` when head has read enough: the pipe's reading end is closed before the
    # command writes, which then gets EPIPE. It stops without a traceback and exits 141, as a shell reports a tool
    # that SIGPIPE ended.
    project = sample("hello")
    read_end, write_end = os.pipe()
    os.close(read_end)
    command = [sys.executable, "-m", "pex_backend", *args, *([project.path] if "--project" in args else [])]
    try:
        result = subprocess.run(
            command, env=project.env, stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=120
        )
    finally:
        os.close(write_end)
    assert (result.returncode, result.stderr) == (141, "")


def test_a_project_the_commands_cannot_read_is_named_in_one_line(sample, tmp_path):
    plain = pexbin(sample("plain"), "list", check=False)
    assert plain.returncode == 1 and len(plain.stderr.splitlines()) == 1
    assert "tool.pexbin: " in plain.stderr and "has no [tool.pexbin] table" in plain.stderr
    nowhere = run([sys.executable, "-m", "pex_backend", "list", "--project", tmp_path], check=False)
    assert "--project: " in nowhere.stderr and "no pyproject.toml there" in nowhere.stderr
    project = sample("ticker")
    pyproject = project.path / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('["pex-backend"]', '["pex-backend", "no-such-plugin>=1"]'))
    unbuildable = pexbin(project, "list", check=False)
    assert unbuildable.returncode == 1 and len(unbuildable.stderr.splitlines()) == 1
    assert "build-system.requires: " in unbuildable.stderr and "lacks no-such-plugin>=1" in unbuildable.stderr


def test_validate_pyproject_uses_the_installed_schema(installer, sample):
    scripts = installer("pex-backend", "validate-pyproject")
    project = sample("fields")
    pyproject = project.path / "pyproject.toml"
    assert run([scripts / "validate-pyproject", pyproject]).returncode == 0
    # The console script of the installed wheel.
    assert "probe  " in run([scripts / "pexbin", "list", "--project", project.path], env=project.env).stdout
    original = pyproject.read_text()
    for mistake, message in [
        (original.replace("layout = ", "layuot = "), "must not contain {'layuot'} properties"),
        (original.replace("emit-warnings = false", "emit-warnings = 0"), "`tool.pexbin.emit-warnings` must be"),
    ]:
        pyproject.write_text(mistake)
        rejected = run([scripts / "validate-pyproject", pyproject], check=False)
        assert rejected.returncode != 0
        assert message in rejected.stdout + rejected.stderr, rejected.stdout + rejected.stderr
