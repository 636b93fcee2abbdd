"""`pexbin run`'s restart, timed: the seconds from saving a source file of the benchmark's project to the first
output of the program `pexbin run --restart` rebuilt and started again (`pex_backend/commands/run.py`)."""

from __future__ import annotations

import queue
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Dict, Optional, Tuple

STARTUP = 300
"""Seconds the first build (caches empty) and start may take."""
RESTART = 120
SETTLE = 1.0
"""Seconds left between a restart and the next save, so the watcher is looking again."""


class RestartError(Exception):
    pass


def reader(stream, lines: queue.Queue[Tuple[float, str]]) -> None:
    for line in stream:
        lines.put((time.monotonic(), line.rstrip("\n")))


def wait_for(lines: queue.Queue[Tuple[float, str]], text: str, timeout: float, process) -> float:
    """The time the first line equal to `text` was read."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            at, line = lines.get(timeout=0.1)
        except queue.Empty:
            if process.poll() is not None:
                raise RestartError(f"pexbin run exited with {process.returncode}") from None
            continue
        if line == text:
            return at
    raise RestartError(f"no {text!r} within {timeout:g} s")


def save(source: Path, generation: int) -> float:
    """Change the output of cmd1 to 'cmd1 rN'; the monotonic time the file was saved (closed)."""
    text = re.sub(r"click\.echo\('cmd1( r\d+)?'\)", f"click.echo('cmd1 r{generation}')", source.read_text())
    with open(source, "w") as file:
        file.write(text)
    return time.monotonic()


def measure(project: Path, env: Dict[str, str], repeat: int, log: Path) -> Dict:
    """Start `pexbin run cmd1 --restart` in `project` (K console scripts from bench/run.py's generate) and save
    its source `repeat` times; each run's seconds from the save to the restarted program's first line."""
    source = project / "src" / "benchapp" / "cli.py"
    command = [sys.executable, "-m", "pex_backend", "run", "cmd1", "--restart", "--project", str(project)]
    with open(log, "w") as errors:
        process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=errors, text=True)
        lines: queue.Queue[Tuple[float, str]] = queue.Queue()
        threading.Thread(target=reader, args=(process.stdout, lines), daemon=True).start()
        try:
            wait_for(lines, "cmd1", STARTUP, process)
            times = []
            for generation in range(1, repeat + 1):
                time.sleep(SETTLE)
                saved = save(source, generation)
                times.append(round(wait_for(lines, f"cmd1 r{generation}", RESTART, process) - saved, 2))
        except RestartError as error:
            tail = log.read_text(errors="replace").strip().splitlines()[-1:] if log.exists() else []
            raise RestartError(f"{error}{': ' + tail[0][:160] if tail else ''}") from None
        finally:
            stop(process)
    return {"median_s": round(statistics.median(times), 2), "times_s": times}


def stop(process: subprocess.Popen) -> Optional[int]:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            return process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
    return process.wait()
