"""`python -m pex_backend run` on `sample_projects/ticker`: once, restarting through a failed rebuild, and SIGTERM."""

from __future__ import annotations

import queue
import signal
import subprocess
import sys
import time

import pytest
from conftest import default_signals, run
from test_commands import Lines

STARTUP = 120
"""Seconds the first build and start of the program may take."""


def run_command(project, name: str, *args: str) -> list:
    return [sys.executable, "-m", "pex_backend", "run", name, "--project", project.path, *args]


def started(project, name: str, *args: str):
    """`run NAME ARGS`, with its stdout and stderr lines as they come."""
    process = subprocess.Popen(
        run_command(project, name, *args),
        env=project.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=default_signals,
    )
    return process, Lines(process.stdout), Lines(process.stderr)


def seen_count(lines: Lines, text: str, count: int, deadline: float) -> None:
    """Wait until `count` of the lines seen hold `text`."""
    while sum(text in line for line in lines.seen) < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"{text!r} not {count} times in time; got {lines.seen}")
        try:
            lines.seen.append(lines.lines.get(timeout=0.1))
        except queue.Empty:
            continue


def everything(lines: Lines) -> str:
    """All the lines of a process that has ended."""
    while True:
        try:
            lines.seen.append(lines.lines.get(timeout=0.5))
        except queue.Empty:
            return "".join(lines.seen)


def test_no_restart_runs_a_restartable_binary_once_with_its_exit_code(sample):
    project = sample("ticker")
    pyproject = project.path / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + '"ticker-once" = { restartable = true }\n')
    # Restarting, it would wait for a change after the program exits, and this would time out.
    command = run_command(project, "ticker-once", "--no-restart", "--", "a", "b")
    once = run(command, env=project.env, check=False, timeout=STARTUP)
    assert (once.returncode, once.stdout) == (2, "tick v1: a b\n")
    assert "restarts when a source" not in once.stderr


def test_a_failed_rebuild_keeps_the_program_running_until_a_good_one(sample):
    project = sample("ticker")
    pyproject = project.path / "pyproject.toml"
    source = project.path / "ticker" / "__init__.py"
    good = pyproject.read_text()
    process, out, err = started(project, "ticker")
    try:
        deadline = time.monotonic() + STARTUP
        out.wait_for("tick v1: serving", deadline)
        pyproject.write_text(good.replace('tags = ["dev"]', "tags = [3]"))
        err.wait_for("keeps running the previous build until the next change", time.monotonic() + 60)
        assert "pex-backend: error: tool.pexbin.tags[0]: expected a string, got the number 3\n" in err.seen
        source.write_text(source.read_text().replace("tick v1", "tick v2"))  # still the bad table: no restart
        seen_count(err, "keeps running the previous build", 2, time.monotonic() + 60)
        assert everything(out).splitlines() == ["tick v1: serving"]  # not stopped: it runs on
        pyproject.write_text(good)
        out.wait_for("tick v2: serving", time.monotonic() + 60)
        err.wait_for("restarted ticker", time.monotonic() + 10)
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 130
    finally:
        process.kill()
        process.wait(timeout=10)
    assert "Traceback" not in everything(err)
    # The first program ran through both failed rebuilds, and was stopped only for the good one.
    assert everything(out).splitlines() == [
        "tick v1: serving",
        "tick v1: stopped",
        "tick v2: serving",
        "tick v2: stopped",
    ]


# Stopped by a signal, `run` exits as a shell reports a process that signal ended (128 + N), restarting or not,
# although the program it stopped exited with 0 (it cleaned up).
@pytest.mark.parametrize(
    "restart, signum, code",
    [("--restart", signal.SIGTERM, 143), ("--no-restart", signal.SIGTERM, 143), ("--no-restart", signal.SIGINT, 130)],
)
def test_a_signal_stops_the_program_cleanly_and_sets_the_exit_code(sample, restart, signum, code):
    project = sample("ticker")
    process, out, err = started(project, "ticker", restart)
    try:
        out.wait_for("tick v1: serving", time.monotonic() + STARTUP)
        process.send_signal(signum)
        exited = process.wait(timeout=30)
    finally:
        process.kill()
        process.wait(timeout=10)
    assert everything(out).splitlines() == ["tick v1: serving", "tick v1: stopped"]  # SIGINT first: it cleaned up
    stderr = everything(err)
    assert exited == code, stderr
    assert "Traceback" not in stderr
