"""How pex runs: its command line, in a few worker processes that each import pex once for many builds."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

from .errors import BuildError

JOBS = max(1, os.cpu_count() or 1)
WORKER = Path(__file__).with_name("pex_worker.py")


class PexWorkers:
    """Up to `size` long-lived `pex` processes; `run` takes an idle one (starting it if needed) for one build."""

    def __init__(self, size: int = JOBS) -> None:
        self.size = size
        self.idle: queue.Queue[subprocess.Popen[str]] = queue.Queue()
        self.started: List[subprocess.Popen[str]] = []
        self.lock = threading.Lock()

    def __enter__(self) -> PexWorkers:
        return self

    def __exit__(self, *exc_info: object) -> None:
        for process in self.started:
            if process.stdin:
                process.stdin.close()
        for process in self.started:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()

    def warm_up(self, count: int) -> None:
        """Start workers ahead of need, so that pex imports while something else (a resolve) runs."""
        for _ in range(min(count, self.size) - len(self.started)):
            self.idle.put(self.start())

    def start(self) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [sys.executable, str(WORKER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1
        )
        with self.lock:
            self.started.append(process)
        return process

    def take(self) -> subprocess.Popen[str]:
        try:
            return self.idle.get_nowait()
        except queue.Empty:
            with self.lock:
                room = len(self.started) < self.size
            return self.start() if room else self.idle.get()

    def run(self, args: Sequence[str], cwd: Path) -> Tuple[int, str]:
        """Run `pex ARGS` in `cwd`: its exit code and output."""
        process = self.take()
        assert process.stdin and process.stdout
        try:
            process.stdin.write(json.dumps({"args": list(args), "cwd": str(cwd)}) + "\n")
            process.stdin.flush()
            reply = process.stdout.readline()
        except OSError:
            reply = ""
        if not reply:
            with self.lock:
                self.started.remove(process)
            raise BuildError(f"the pex worker process stopped unexpectedly (exit code {process.poll()})")
        self.idle.put(process)
        result = json.loads(reply)
        return result["code"], result["output"]


def pex3(args: Sequence[str], cwd: Optional[Path] = None) -> Tuple[int, str]:
    """Run `pex3 ARGS` (lock, wheel, interpreter inspect): its exit code and output."""
    result = subprocess.run([sys.executable, "-m", "pex.cli", *args], cwd=cwd, capture_output=True, text=True)
    return result.returncode, result.stderr.strip() or result.stdout.strip()


def run_pex3(args: Sequence[str], what: str) -> None:
    code, output = pex3(args)
    if code != 0:
        raise BuildError(f"pex3 failed while {what}:\n{output}")
