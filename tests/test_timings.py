"""`PEXBIN_TIMINGS=1`: one whole line per step, also when binaries build in parallel threads."""

from __future__ import annotations

import re
import sys

from conftest import run

# Two steps ending at once in two threads, many times, as two binaries of a group finish their steps together.
THREADS = """
import threading
from pex_backend.timings import report
def steps(name):
    for _ in range(5000):
        report(name, 0.0)
threads = [threading.Thread(target=steps, args=(name,)) for name in ("splicing hello.pex", "deriving baa.pex")]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
"""


def test_steps_ending_in_parallel_threads_print_whole_lines():
    # Unbuffered, as where PYTHONUNBUFFERED=1 reaches the build (CI images, containers): each write is a system call,
    # where another thread's write gets in most often.
    result = run([sys.executable, "-c", THREADS], env={"PEXBIN_TIMINGS": "1", "PYTHONUNBUFFERED": "1"})
    lines = result.stdout.splitlines()
    step = re.compile(r"pex-backend: timing: (splicing hello\.pex|deriving baa\.pex) \d+\.\d{3} s")
    assert len(lines) == 10000 and all(step.fullmatch(line) for line in lines), [
        line for line in lines if not step.fullmatch(line)
    ][:3]
